"""Sending stored messages over SMTP with aiosmtplib, and saying what each failure means.

Every failure is sorted into one of three kinds, because each asks for a different response:

- transient (4xx replies, dropped connections, timeouts): try the message again later;
- permanent (a 5xx reply about this message or recipient): give the message up as dead and
  show it to the duty officer;
- configuration (authentication refused, TLS not offered or not trusted, the relay refusing
  our sender): stop sending altogether, without charging the messages an attempt.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field
from enum import Enum

import aiosmtplib

from .i18n import _

IDLE_LIMIT = 15.0  # seconds an idle connection is trusted before it is reopened


class Verdict(Enum):
    SENT = "sent"
    RETRY = "retry"
    DEAD = "dead"
    CONFIG = "config"


@dataclass(frozen=True)
class Result:
    verdict: Verdict
    reply: str


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # starttls | tls | none
    user: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0
    helo: str = "localhost"


def _reply(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}"


def classify(exc: BaseException) -> Result:
    """What a failed SMTP exchange means for the message (see the module docstring)."""
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return Result(
            Verdict.CONFIG,
            _("authentication refused: {reply}").format(reply=_reply(exc.code, exc.message)),
        )
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return Result(
            Verdict.CONFIG, _("the server does not support it: {error}").format(error=exc)
        )
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, ssl.SSLError) or isinstance(cause, ssl.SSLError):
        return Result(Verdict.CONFIG, _("TLS failed: {error}").format(error=cause or exc))
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refusal = exc.recipients[0] if exc.recipients else None
        if refusal is None:  # pragma: no cover - aiosmtplib always names the recipients
            return Result(Verdict.RETRY, str(exc))
        return _by_code(refusal.code, refusal.message)
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        if exc.code >= 500:
            return Result(
                Verdict.CONFIG,
                _("the relay refuses our sender {sender}: {reply}").format(
                    sender=exc.sender, reply=_reply(exc.code, exc.message)
                ),
            )
        return Result(Verdict.RETRY, _reply(exc.code, exc.message))
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError | aiosmtplib.SMTPHeloError):
        if exc.code >= 500:
            return Result(
                Verdict.CONFIG,
                _("the server refuses to talk to us: {reply}").format(
                    reply=_reply(exc.code, exc.message)
                ),
            )
        return Result(Verdict.RETRY, _reply(exc.code, exc.message))
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _by_code(exc.code, exc.message)
    if isinstance(exc, aiosmtplib.SMTPException | OSError | TimeoutError):
        return Result(Verdict.RETRY, f"{type(exc).__name__}: {exc}".strip())
    raise exc


def _by_code(code: int, message: str) -> Result:
    return Result(Verdict.DEAD if code >= 500 else Verdict.RETRY, _reply(code, message))


class Connection:
    """One persistent SMTP connection; discarded after any error, reopened when needed."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.client: aiosmtplib.SMTP | None = None
        self.last_used = 0.0

    async def _open(self) -> aiosmtplib.SMTP:
        cfg = self.config
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            use_tls=cfg.security == "tls",
            start_tls=cfg.security == "starttls",  # required: never falls back to plain text
            timeout=cfg.timeout,
            local_hostname=cfg.helo,
            username=cfg.user or None,
            password=cfg.password or None,
        )
        await client.connect()
        return client

    async def send(self, sender: str, recipient: str, raw: bytes) -> Result:
        try:
            if self.client is not None and time.monotonic() - self.last_used > IDLE_LIMIT:
                await self.close()  # servers drop idle connections; do not lose a message to it
            if self.client is None:
                self.client = await self._open()
        except aiosmtplib.SMTPException as exc:
            await self.close()
            if type(exc) is aiosmtplib.SMTPException:
                # Raised bare while connecting when the server lacks what the settings demand
                # (STARTTLS, an AUTH method): sending anyway would be sending insecurely.
                return Result(Verdict.CONFIG, str(exc))
            return classify(exc)
        except Exception as exc:
            await self.close()
            return classify(exc)
        try:
            _refused, reply = await self.client.sendmail(sender, [recipient], raw)
            self.last_used = time.monotonic()
            return Result(Verdict.SENT, reply)
        except Exception as exc:
            await self.close()
            return classify(exc)

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            if client.is_connected:
                await client.quit(timeout=min(self.config.timeout, 5.0))
        except Exception:
            client.close()
