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

from . import history, store_outbox
from . import models as m
from .errors import DeliveryConfigError
from .i18n import _
from .smtp import Connection, Result, SmtpConfig, Verdict
from .store import Store

ACTOR = "crisisflow-dispatch"


@dataclass(frozen=True)
class Claim:
    """A row this dispatcher holds, under which token, until when."""

    row: Any
    token: str
    lease_until: datetime


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

    async def _db(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.db, function, *args)

    # --- database side ---------------------------------------------------------------------

    def _claim(self, limit: int) -> list[Claim]:
        """Claim due rows under a token of their own: if this dispatcher ever holds a row
        again after its lease ran out, results recorded under the old claim miss it."""
        now = self.clock()
        token = uuid.uuid4().hex
        lease_until = now + timedelta(seconds=self.policy.lease)
        with self.store.writing() as conn:
            rows = store_outbox.claim_due(
                conn, now=now, lease_until=lease_until, token=token, limit=limit
            )
        return [Claim(row, token, lease_until) for row in rows]

    def _settle(self, outcomes: list[tuple[Claim, Result]], report: Report) -> None:
        now = self.clock()
        plain: dict[str, list[dict[str, Any]]] = {}
        dead = []
        for claim, result in outcomes:
            row = claim.row
            entry: dict[str, Any] = {"id": row.id, "reply": result.reply, "next": now}
            if result.verdict is Verdict.SENT:
                entry.update(status=m.SENT, sent_at=now)
                report.sent += 1
            elif result.verdict is Verdict.CONFIG:  # not the message's fault: no attempt used
                entry.update(status=m.PENDING, refund=1)
                report.released += 1
            elif result.verdict is Verdict.RETRY and row.attempts < self.policy.max_attempts:
                later = now + timedelta(seconds=self.policy.backoff(row.attempts))
                entry.update(status=m.PENDING, next=later)
                report.retried += 1
            else:
                dead.append((claim, result))
                continue
            plain.setdefault(claim.token, []).append(entry)
        with self.store.writing() as conn:
            for token, entries in plain.items():
                store_outbox.settle(conn, token, entries)
            for claim, result in dead:
                row = claim.row
                held = store_outbox.settle(
                    conn,
                    claim.token,
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
        config_error: list[Result] = []
        skipped: list[datetime] = []
        while True:
            skipped.clear()
            await self._round(stop, report, config_error, skipped)
            if not skipped or stop.is_set() or config_error:
                break
            # Rows left unsent come back when their lease runs out: wait for them.
            wait = (max(skipped) - self.clock()).total_seconds()
            await asyncio.sleep(min(max(wait, 0.0) + 0.05, self.policy.lease))
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

    async def _round(
        self,
        stop: asyncio.Event,
        report: Report,
        config_error: list[Result],
        skipped: list[datetime],
    ) -> None:
        """Claim and send until nothing is due; note claims left unsent (lease too short)."""
        await _Round(self, stop, report, config_error, skipped).run()

    async def run_forever(
        self,
        stop: asyncio.Event,
        idle: float,
        on_report: Callable[[Report], None] | None = None,
        between: Callable[[], int] | None = None,
    ) -> Report:
        """The worker: deliver until ``stop`` is set, running ``between`` (the clock's tick)
        before each round and resting ``idle`` seconds when nothing is due."""
        total = Report()
        while not stop.is_set():
            queued = between() if between else 0
            report = await self.run_once(stop)
            total.add(report)
            if on_report and report.handled:
                on_report(report)
            if not report.handled and not queued:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle)
        return total

    async def close(self) -> None:
        for connection in self.connections:
            await connection.close()
        await self._db(self.store.dispose)
        self.db.shutdown(wait=True)


class _Round:
    """One round of a dispatcher: a producer claims due rows into a short queue, one sender
    per connection sends them, and results are recorded in batches and every few seconds.

    A claim is sent only while well inside its lease, and results are recorded soon after:
    otherwise a slow relay could let a lease run out on a row still queued here, or sent but
    not yet recorded, and the row would be claimed and sent again."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        stop: asyncio.Event,
        report: Report,
        config_error: list[Result],
        skipped: list[datetime],
    ) -> None:
        self.d = dispatcher
        self.stop, self.report = stop, report
        self.config_error, self.skipped = config_error, skipped
        # A short queue: claimed rows wait in the producer's hand, at most one claim's worth.
        self.queue: asyncio.Queue[Claim | None] = asyncio.Queue(maxsize=len(dispatcher.connections))
        self.done: list[tuple[Claim, Result]] = []
        lease = dispatcher.policy.lease
        self.margin = timedelta(seconds=min(lease * 0.25, 10.0))
        self.flush_every = self.margin.total_seconds() / 2
        self.finished = asyncio.Event()
        self.started = asyncio.get_running_loop().time()
        self.completed = 0

    async def run(self) -> None:
        try:
            await asyncio.gather(self._deliver(), self._flush_regularly())
        finally:
            await self._flush()

    def _claim_size(self) -> int:
        """No more than the relay is seen to take in half a lease (a few at first)."""
        policy, senders = self.d.policy, len(self.d.connections)
        elapsed = asyncio.get_running_loop().time() - self.started
        if not self.completed or elapsed <= 0:
            return min(policy.batch, 2 * senders)
        fit = int(self.completed / elapsed * policy.lease * 0.5)
        return max(senders, min(policy.batch, fit))

    async def _flush(self) -> None:
        if self.done:
            batch = self.done[:]
            self.done.clear()
            await self.d._db(self.d._settle, batch, self.report)

    async def _flush_regularly(self) -> None:
        while not self.finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.finished.wait(), timeout=self.flush_every)
            await self._flush()

    async def _produce(self) -> None:
        while not self.stop.is_set() and not self.config_error:
            claims = await self.d._db(self.d._claim, self._claim_size())
            if not claims:
                break
            for claim in claims:
                await self.queue.put(claim)
        for _sender in self.d.connections:
            await self.queue.put(None)

    async def _send(self, connection: Connection) -> None:
        while (claim := await self.queue.get()) is not None:
            if self.stop.is_set() or self.config_error:
                stopped = Result(Verdict.CONFIG, _("not sent: the dispatcher stopped"))
                self.done.append((claim, stopped))
                continue
            if self.d.clock() >= claim.lease_until - self.margin:
                self.skipped.append(claim.lease_until)  # leave it to the next claim
                continue
            row = claim.row
            result = await connection.send(row.sender, row.recipient, row.raw)
            self.completed += 1
            if result.verdict is Verdict.CONFIG:
                self.config_error.append(result)
            self.done.append((claim, result))
            if len(self.done) >= self.d.policy.batch:
                await self._flush()

    async def _deliver(self) -> None:
        try:
            await asyncio.gather(self._produce(), *(self._send(c) for c in self.d.connections))
        finally:
            self.finished.set()
