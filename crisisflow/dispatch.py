"""Delivering the outbox: claim what is due, send it over a few persistent connections, record
each result; once (cron) or continuously (the worker).

At least once, never silently lost: a message is marked sent only after the server accepted
it, so a crash between the two resends it later with the same bytes and Message-ID. Claims
carry a lease and a token: a crashed dispatcher's claims return to the queue when the lease
runs out, and a late dispatcher cannot record results for rows it no longer holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import history, store
from . import models as m
from .errors import DeliveryConfigError
from .i18n import _
from .smtp import Connection, Result, SmtpConfig, Verdict
from .store import Store

ACTOR = "crisisflow-dispatch"


@dataclass(frozen=True)
class Policy:
    connections: int = 4
    batch: int = 200
    lease: float = 120.0
    max_attempts: int = 12
    retry_base: float = 30.0
    retry_cap: float = 3600.0

    def backoff(self, attempts: int) -> float:
        """Exponential, capped, with jitter so that retries from one outage spread out."""
        delay: float = min(self.retry_cap, self.retry_base * 2 ** max(0, attempts - 1))
        return delay * random.uniform(0.5, 1.0)


@dataclass
class Report:
    sent: int = 0
    retried: int = 0
    dead: list[dict[str, Any]] = field(default_factory=list)
    released: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retried + len(self.dead) + self.released

    def add(self, other: Report) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.dead += other.dead
        self.released += other.released


class Dispatcher:
    """Sends what is due from one database through one SMTP relay."""

    def __init__(
        self,
        database_url: str,
        smtp: SmtpConfig,
        policy: Policy,
        clock: Callable[[], datetime],
    ) -> None:
        # The database is used from one thread of its own, so sending never waits on a commit
        # and SQLite connections never cross threads.
        self.store = Store(database_url)
        self.db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crisisflow-db")
        self.smtp = smtp
        self.policy = policy
        self.clock = clock
        self.connections = [Connection(smtp) for _ in range(max(1, policy.connections))]
        self.token = uuid.uuid4().hex

    async def _db(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.db, function, *args)

    # --- database side ---------------------------------------------------------------------

    def _claim(self, limit: int) -> list[Any]:
        now = self.clock()
        with self.store.writing() as conn:
            rows = store.claim_due(
                conn,
                now=now,
                lease_until=now + timedelta(seconds=self.policy.lease),
                token=self.token,
                limit=limit,
            )
        return list(rows)

    def _settle(self, outcomes: list[tuple[Any, Result]], report: Report) -> None:
        now = self.clock()
        plain, dead = [], []
        for row, result in outcomes:
            if result.verdict is Verdict.SENT:
                plain.append(
                    {
                        "id": row.id,
                        "status": m.SENT,
                        "next": now,
                        "sent_at": now,
                        "reply": result.reply,
                    }
                )
                report.sent += 1
            elif result.verdict is Verdict.CONFIG:  # not the message's fault: no attempt used
                plain.append(
                    {
                        "id": row.id,
                        "status": m.PENDING,
                        "next": now,
                        "refund": 1,
                        "reply": result.reply,
                    }
                )
                report.released += 1
            elif result.verdict is Verdict.RETRY and row.attempts < self.policy.max_attempts:
                later = now + timedelta(seconds=self.policy.backoff(row.attempts))
                plain.append(
                    {"id": row.id, "status": m.PENDING, "next": later, "reply": result.reply}
                )
                report.retried += 1
            else:
                dead.append((row, result))
        with self.store.writing() as conn:
            store.settle(conn, self.token, plain)
            for row, result in dead:
                held = store.settle(
                    conn,
                    self.token,
                    [{"id": row.id, "status": m.DEAD, "next": now, "reply": result.reply}],
                )
                if held and row.incident_id is not None:
                    # Undeliverable mail belongs in the incident's history, for all to see.
                    history.append(
                        conn,
                        row.incident_id,
                        at=now,
                        actor=ACTOR,
                        kind="message_dead",
                        note=_("undeliverable to {to}: {reply}").format(
                            to=row.recipient, reply=result.reply
                        ),
                        data={
                            "outbox_id": row.id,
                            "message_id": row.message_id,
                            "attempts": row.attempts,
                        },
                    )
                report.dead.append({"id": row.id, "to": row.recipient, "reply": result.reply})

    # --- sending side ------------------------------------------------------------------------

    async def run_once(self, stop: asyncio.Event | None = None) -> Report:
        """Send everything due now (and what falls due meanwhile), then return."""
        stop = stop or asyncio.Event()
        report = Report()
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=self.policy.batch)
        done: list[tuple[Any, Result]] = []
        config_error: list[Result] = []

        async def flush() -> None:
            if done:
                batch = done[:]
                done.clear()
                await self._db(self._settle, batch, report)

        async def produce() -> None:
            while not stop.is_set() and not config_error:
                rows = await self._db(self._claim, self.policy.batch)
                if not rows:
                    break
                for row in rows:
                    await queue.put(row)
            for _sender in self.connections:
                await queue.put(None)

        async def send(connection: Connection) -> None:
            while (row := await queue.get()) is not None:
                if stop.is_set() or config_error:
                    done.append(
                        (row, Result(Verdict.CONFIG, _("not sent: the dispatcher stopped")))
                    )
                    continue
                result = await connection.send(row.sender, row.recipient, row.raw)
                if result.verdict is Verdict.CONFIG:
                    config_error.append(result)
                done.append((row, result))
                if len(done) >= self.policy.batch:
                    await flush()

        try:
            await asyncio.gather(produce(), *(send(c) for c in self.connections))
        finally:
            await flush()
        if config_error:
            raise DeliveryConfigError(
                _(
                    "SMTP {host}:{port} ({security}): {reply}; nothing more was sent and no "
                    "message used an attempt; check the smtp_* settings"
                ).format(
                    host=self.smtp.host,
                    port=self.smtp.port,
                    security=self.smtp.security,
                    reply=config_error[0].reply,
                )
            )
        return report

    async def run_forever(
        self, stop: asyncio.Event, idle: float, on_report: Callable[[Report], None] | None = None
    ) -> Report:
        """The worker: deliver until ``stop`` is set, resting ``idle`` seconds when nothing
        is due."""
        total = Report()
        while not stop.is_set():
            report = await self.run_once(stop)
            total.add(report)
            if on_report and report.handled:
                on_report(report)
            if not report.handled:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle)
        return total

    async def close(self) -> None:
        for connection in self.connections:
            await connection.close()
        await self._db(self.store.dispose)
        self.db.shutdown(wait=True)
