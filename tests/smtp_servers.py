"""Real SMTP servers on 127.0.0.1 for delivery tests: a recorder that can be told to refuse,
stall or hang up, one that answers 421 to every connection, one that refuses credentials."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from crisisflow.mailbox import free_port


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it accepts, and misbehaves on request."""

    refuse: dict[str, str] = field(default_factory=dict)  # recipient → reply, e.g. "550 ..."
    rcpt_reply: str | None = None  # answer every RCPT with this
    stall: float = 0.0  # seconds to sit on DATA before answering
    hang_up: bool = False  # close the connection instead of answering DATA
    received: list[bytes] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.stall:
            await asyncio.sleep(self.stall)
        if self.hang_up:
            server.transport.close()
            return "421 closing"  # never reaches the client: the line is already down
        self.received.append(envelope.original_content)
        return "250 2.0.0 OK"

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[misc]
            for raw in self.received
        ]


@contextmanager
def smtp_server(handler: Recorder, **options: Any) -> Iterator[int]:
    """Run ``handler`` behind aiosmtpd on a free loopback port; yield the port."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@contextmanager
def refusing_credentials(handler: Recorder) -> Iterator[int]:
    """A server that requires AUTH and refuses every user name and password."""

    def authenticator(*_args: Any) -> AuthResult:
        return AuthResult(success=False, handled=False)

    with smtp_server(
        handler, auth_required=True, auth_require_tls=False, authenticator=authenticator
    ) as port:
        yield port


class _Busy(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(b"421 4.3.2 Service not available, try again later\r\n")


@contextmanager
def busy_server() -> Iterator[int]:
    """A server that answers 421 to every connection and hangs up."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Busy)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
