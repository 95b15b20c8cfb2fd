"""The delivery use cases: sending the outbox once or continuously, the duty officer's view
of it, and the local mail sink (``app.delivery``)."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import store_outbox
from ..errors import CrisisflowError, NotFoundError, UndeliverableMail
from ..history import iso
from ..i18n import _, ngettext
from ..refs import clean_ref

if TYPE_CHECKING:
    from ..dispatch import Dispatcher, Report
    from ..mailbox import Sink, Stored
    from . import App


class Delivery:
    def __init__(self, app: App) -> None:
        self.app = app

    def dispatcher(self) -> Dispatcher:
        from ..dispatch import Dispatcher, Policy
        from ..smtp import SmtpConfig

        s = self.app.settings
        smtp = SmtpConfig(
            host=s["smtp_host"],
            port=s["smtp_port"],
            security=s["smtp_security"],
            user=s["smtp_user"],
            password=s["smtp_password"],
            timeout=s["smtp_timeout"],
            helo=self.app.drafter.sender.domain,
        )
        policy = Policy(
            connections=s["smtp_connections"],
            batch=s["dispatch_batch"],
            lease=s["lease_seconds"],
            max_attempts=s["max_attempts"],
            retry_base=s["retry_base_seconds"],
            retry_cap=s["retry_cap_seconds"],
        )
        self.app.store  # noqa: B018 - the schema is checked when the store is first used
        return Dispatcher(s.database_url, smtp, policy, self.app.clock)

    def dispatch(self) -> Report:
        """Send what is due once, then return (safe under cron). Raises UndeliverableMail,
        carrying the report, when a message went dead."""
        import asyncio

        async def once() -> Report:
            dispatcher = self.dispatcher()
            try:
                return await dispatcher.run_once()
            finally:
                await dispatcher.close()

        report = asyncio.run(once())
        if report.dead:
            raise UndeliverableMail(
                ngettext(
                    "{n} message could not be delivered; see `crisisflow outbox --status dead`",
                    "{n} messages could not be delivered; see `crisisflow outbox --status dead`",
                    len(report.dead),
                ).format(n=len(report.dead)),
                report,
            )
        return report

    def run_worker(
        self,
        on_report: Callable[[Report], None] | None = None,
        on_problem: Callable[[str], None] | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> Report:
        """Deliver continuously until SIGINT or SIGTERM, then finish cleanly. A clock that
        cannot be ticked is told to ``on_problem`` (once per message) and delivery goes on.
        ``on_start`` is called once the signals are caught: from then on, they stop it
        cleanly."""
        import asyncio
        import signal

        told: set[str] = set()

        def tell(exc: CrisisflowError) -> None:
            if on_problem is not None and str(exc) not in told:
                told.add(str(exc))
                on_problem(str(exc))

        def tick() -> int:
            try:
                return len(self.app.clocks.tick(on_problem=tell))
            except CrisisflowError as exc:  # the database, say: the next round tries again
                tell(exc)
                return 0

        async def forever() -> Report:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            if on_start is not None:
                on_start()
            dispatcher = self.dispatcher()
            try:
                return await dispatcher.run_forever(
                    stop,
                    self.app.settings["worker_interval"],
                    on_report,
                    tick,
                )
            finally:
                await dispatcher.close()

        return asyncio.run(forever())

    def outbox(
        self, *, status: str | None = None, ref: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        with self.app.store.reading() as conn:
            rows = store_outbox.outbox_rows(
                conn, status=status, ref=clean_ref(ref) if ref else None, limit=limit
            )
        return [
            {
                "id": r.id,
                "incident": r.ref,
                "to": r.recipient,
                "to_name": r.recipient_name,
                "subject": r.subject,
                "status": r.status,
                "attempts": r.attempts,
                "next_attempt_at": iso(r.next_attempt_at),
                "last_reply": r.last_error,
                "message_id": r.message_id,
                "created_at": iso(r.created_at),
                "sent_at": iso(r.sent_at),
            }
            for r in rows
        ]

    def retry(self, ids: list[int] | None) -> list[int]:
        """Put dead messages (these ids, or every dead one) back in the queue."""
        with self.app.store.writing() as conn:
            requeued = store_outbox.requeue(conn, ids=ids, now=self.app.clock())
            missing = sorted(set(ids or ()) - set(requeued))
            if missing:  # raised inside the transaction: nothing is requeued
                raise NotFoundError(
                    _("no dead message {ids}; see `crisisflow outbox --status dead`").format(
                        ids=", ".join(map(str, missing))
                    )
                )
        return requeued

    # --- the local mail sink ---------------------------------------------------------------

    @property
    def mailbox_folder(self) -> Path:
        return self.app.workspace / "mailbox"

    def sink(self, port: int | None = None) -> Sink:
        from ..mailbox import Sink

        chosen = self.app.settings["mailbox_port"] if port is None else port  # 0: any free port
        return Sink(self.mailbox_folder, port=chosen)

    def received(self) -> list[Stored]:
        from ..mailbox import messages

        return messages(self.mailbox_folder)

    def received_message(self, key: str) -> EmailMessage:
        from ..mailbox import message

        return message(self.mailbox_folder, key)

    def received_bytes(self, key: str) -> bytes:
        """A received message as stored, byte for byte."""
        from ..mailbox import stored_bytes

        return stored_bytes(self.mailbox_folder, key)
