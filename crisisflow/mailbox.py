"""A local mail sink: an SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it
receives in a Maildir, so a workspace can run end to end with no mail server at all."""

from __future__ import annotations

import email
import email.policy
import mailbox
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from .errors import ConfigError, NotFoundError
from .i18n import _

ENVELOPE_HEADER = "X-Crisisflow-Envelope-To"


class _Handler:
    """aiosmtpd handler: store each message with its envelope recipients."""

    def __init__(self, folder: Path) -> None:
        self.maildir = mailbox.Maildir(folder, create=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        header = f"{ENVELOPE_HEADER}: {', '.join(envelope.rcpt_tos)}\r\n".encode("ascii", "replace")
        self.maildir.add(header + envelope.original_content)
        return "250 2.0.0 Message accepted"


class Sink:
    """The sink, running in a thread of its own; use as a context manager."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.folder = folder
        self.host = host
        self.port = port or free_port(host)
        self.controller: Any = None

    def start(self) -> Sink:
        from aiosmtpd.controller import Controller

        self.controller = Controller(
            _Handler(self.folder), hostname=self.host, port=self.port, ready_timeout=10
        )
        try:
            self.controller.start()
        except (OSError, RuntimeError) as exc:
            raise ConfigError(
                _("cannot listen on {host}:{port}: {error}; is another sink running?").format(
                    host=self.host, port=self.port, error=exc
                )
            ) from exc
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Stored:
    key: str
    received_at: datetime
    to: str
    subject: str
    sender: str
    message_id: str
    incident: str
    size: int


def _parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def messages(folder: Path) -> list[Stored]:
    """What the sink received, oldest first."""
    if not folder.is_dir():
        return []
    box = mailbox.Maildir(folder, create=False)
    found = []
    for key in box.iterkeys():
        raw = box.get_bytes(key)
        msg = _parse(raw)
        found.append(
            Stored(
                key=key,
                received_at=datetime.fromtimestamp(box.get_message(key).get_date(), UTC),
                to=str(msg.get(ENVELOPE_HEADER, msg.get("To", ""))),
                subject=str(msg.get("Subject", "")),
                sender=str(msg.get("From", "")),
                message_id=str(msg.get("Message-ID", "")),
                incident=str(msg.get("X-Crisisflow-Incident", "")),
                size=len(raw),
            )
        )
    return sorted(found, key=lambda s: (s.received_at, s.key))


def message(folder: Path, key: str) -> EmailMessage:
    """One received message, by its Maildir key or its number in `messages()` (from 1)."""
    if key.isdigit():
        listed = messages(folder)
        if 1 <= int(key) <= len(listed):
            key = listed[int(key) - 1].key
    box = mailbox.Maildir(folder, create=False) if folder.is_dir() else None
    if box is None or key not in box:
        raise NotFoundError(
            _("no message {key} in {folder}; see `crisisflow mailbox list`").format(
                key=key, folder=folder
            )
        )
    return _parse(box.get_bytes(key))
