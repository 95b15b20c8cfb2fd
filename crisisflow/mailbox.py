"""A local mail sink: an SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it
receives in a Maildir, so a workspace can run end to end with no mail server at all."""

from __future__ import annotations

import email
import email.policy
import errno
import mailbox
import os
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
    """The sink, running in a thread of its own; use as a context manager. Port 0 means any
    free port: ``port`` is the one bound once the sink has started."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.folder = folder
        self.host = host
        self.port = port
        self.controller: Any = None

    def start(self) -> Sink:
        """Bind, then serve; a sink that cannot start leaves no socket, loop or thread."""
        try:
            if self.folder.exists() and not self.folder.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            handler = _Handler(self.folder)
        except OSError as exc:
            raise ConfigError(
                _("cannot keep mail in {folder}: {error}; check the folder").format(
                    folder=self.folder, error=_reason(exc)
                )
            ) from exc
        listener = self._listen()
        controller = _make_controller(handler, listener)
        try:
            controller.start()
        except Exception as exc:
            _abandon(controller, listener)
            raise ConfigError(
                _("mailbox on {host}:{port} did not start: {error}").format(
                    host=self.host, port=self.port, error=exc
                )
            ) from exc
        self.controller = controller
        return self

    def _listen(self) -> socket.socket:
        """A listening socket on host:port (closed again if that fails), its port reported."""
        if not 0 <= self.port <= 65535:
            raise ConfigError(
                _(
                    "mailbox port {port}: choose a port from 1 to 65535, or 0 for any free one"
                ).format(port=self.port)
            )
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            listener = socket.create_server((self.host, self.port), family=family)
        except OSError as exc:  # socket.create_server closes the socket when bind fails
            raise ConfigError(
                _(
                    "cannot listen on {host}:{port}: {error}; is another sink running? "
                    "choose another port with --port (0 picks a free one)"
                ).format(host=self.host, port=self.port, error=_reason(exc))
            ) from exc
        self.port = int(listener.getsockname()[1])
        return listener

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()  # closes the server, its socket and its event loop
            self.controller = None

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _reason(exc: OSError) -> str:
    return os.strerror(exc.errno).lower() if exc.errno else str(exc)


def _controller_class() -> type:
    from aiosmtpd.controller import Controller

    class SocketController(Controller):
        """aiosmtpd's threaded controller, serving on a socket already bound."""

        def __init__(self, handler: Any, listener: socket.socket, **kwargs: Any) -> None:
            self.listener = listener
            host, port = listener.getsockname()[:2]
            super().__init__(handler, hostname=host, port=port, **kwargs)

        def _create_server(self) -> Any:  # aiosmtpd's hook for how the server listens
            return self.loop.create_server(
                self._factory_invoker, sock=self.listener, ssl=self.ssl_context
            )

    return SocketController


def _make_controller(handler: Any, listener: socket.socket) -> Any:
    return _controller_class()(handler, listener, ready_timeout=10)


def _abandon(controller: Any, listener: socket.socket) -> None:
    """Undo a start that failed half-way: the thread, the event loop, the socket."""
    if controller._thread is not None:
        controller.stop(no_assert=True)  # its thread closes the server and the loop
    if not controller.loop.is_closed() and not controller.loop.is_running():
        controller.loop.close()
    listener.close()


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
    return _parse(stored_bytes(folder, key))


def stored_bytes(folder: Path, key: str) -> bytes:
    """One received message exactly as the sink stored it."""
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
    return bytes(box.get_bytes(key))
