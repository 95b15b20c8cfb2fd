"""Crash test of delivery: a dispatcher process killed with SIGKILL at random moments, again and
again, loses no message, and whatever it sends twice is the very same message.

This is the promise of `crisisflow.dispatch` (at least once, never silently lost): a message is
marked sent only after the server accepted it, so a crash between the two can only resend it,
with the same bytes and the same Message-ID, which mail clients use to drop the copy. SIGKILL is
the honest crash: no handler, no `finally`, no flush. The dispatcher runs as the real
`crisisflow worker` in a process of its own; the receiving server runs in a thread here and
counts what arrives.

The helpers that fill the outbox are shared with the benchmarks in ``benchmarks/``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from crisisflow import mail
from crisisflow import models as m
from crisisflow.mailbox import free_port
from crisisflow.store import Store
from crisisflow.store_outbox import insert_outbox, outbox_counts

SENDER = mail.address("UBND huyện Vĩnh Linh", "crisisflow@vinhlinh.example")
SUBJECT = "[VL-2026-014] Thông báo khẩn: sạt lở bờ kè Cửa Tùng, đề nghị phối hợp ứng phó"
BODY = """\
Kính gửi các đồng chí,

Hồi 07 giờ 40 sáng nay, đoạn bờ kè Cửa Tùng bị sụt lún khoảng 15 m; không có thiệt hại về người.
Đề nghị không phát ngôn với báo chí khi chưa có ý kiến của người phát ngôn của UBND huyện,
và chuyển mọi yêu cầu phỏng vấn về Phòng Văn hóa và Thông tin trước 10 giờ 00.

Văn phòng HĐND và UBND huyện Vĩnh Linh
"""

MESSAGES = 2000
KILLS = 10
SEED = 20261126
LEASE = 2.0  # seconds: the claims of a killed dispatcher come back this soon
# Claims and settles every 50 messages rather than the default 200, so that within one short
# run the kills land in every phase: claiming, sending, recording results.
BATCH = 50
KILL_DELAY = (0.05, 0.6)  # seconds of sending before the SIGKILL
RELAY_LATENCY = 0.01  # seconds per message at the server: <= 400/s over the 4 default connections
FINISH_WITHIN = 120.0


def outbox_rows(count: int, tag: str) -> list[dict[str, Any]]:
    """``count`` outbox rows due now, each a real ~2.5 KB message (Vietnamese text, plain and
    HTML) whose Message-ID header is the row's ``message_id``, as `crisisflow open` writes."""
    now = datetime.now(UTC)
    rows = []
    for n in range(count):
        name, email = f"Cán bộ số {n}", f"u{n}@vinhlinh.example"
        composed = mail.compose(
            sender=SENDER,
            recipient=mail.address(name, email),
            subject=SUBJECT,
            body=BODY,
            ref=f"VL-{tag}-{n}",
            when=now,
        )
        rows.append(
            {
                "incident_id": None,
                "dedupe_key": f"{tag}:{n}",
                "message_id": composed.message_id,
                "sender": SENDER.email,
                "recipient": email,
                "recipient_name": name,
                "subject": composed.subject,
                "template": tag,
                "raw": composed.raw,
                "status": m.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    return rows


def queue_messages(database_url: str, rows: list[dict[str, Any]]) -> None:
    """Put prepared rows straight into the outbox, skipping the playbooks that would compose
    them: the delivery side is what is under test."""
    db = Store(database_url)
    try:
        with db.writing() as conn:
            insert_outbox(conn, rows)
    finally:
        db.dispose()


class Counting:
    """aiosmtpd handler: how often each Message-ID arrived, and every distinct (recipients,
    bytes) it arrived with. Runs on the server's thread; read it once the sender is gone,
    except ``total``, an int the test polls to see delivery under way.

    Like a real relay, it takes a moment to accept each message (a relay writes it to disk
    before it says 250). That also caps the rate at connections / latency on any machine, so
    the 2,000 messages last long enough for every kill to land in the middle of delivery."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.total = 0
        self.received: Counter[str] = Counter()
        self.variants: defaultdict[str, set[tuple[tuple[str, ...], str]]] = defaultdict(set)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.latency)
        content = envelope.original_content
        message_id = str(BytesHeaderParser().parsebytes(content)["Message-ID"])
        self.received[message_id] += 1
        self.variants[message_id].add(
            (tuple(envelope.rcpt_tos), hashlib.sha256(content).hexdigest())
        )
        self.total += 1
        return "250 2.0.0 OK"


@pytest.fixture
def counting_server() -> Iterator[tuple[Counting, int]]:
    handler = Counting(RELAY_LATENCY)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), ready_timeout=10)
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def unfinished(db: Store) -> int:
    """Messages not yet recorded as delivered (or given up)."""
    with db.reading() as conn:
        counts = outbox_counts(conn)
    return counts.get(m.PENDING, 0) + counts.get(m.SENDING, 0)


@pytest.mark.slow
def test_killed_dispatcher_loses_no_message_and_resends_the_same(
    workspace: Path, db_url: str, counting_server: tuple[Counting, int], tmp_path: Path
) -> None:
    rows = outbox_rows(MESSAGES, "crash")
    queue_messages(db_url, rows)
    handler, port = counting_server
    env = {
        **os.environ,
        "CRISISFLOW_HOME": str(workspace),
        "CRISISFLOW_DATABASE_URL": db_url,
        "CRISISFLOW_SMTP_HOST": "127.0.0.1",
        "CRISISFLOW_SMTP_PORT": str(port),
        "CRISISFLOW_SMTP_SECURITY": "none",
        "CRISISFLOW_LEASE_SECONDS": str(LEASE),
        "CRISISFLOW_DISPATCH_BATCH": str(BATCH),
        "CRISISFLOW_WORKER_INTERVAL": "0.2",
    }
    log_path = tmp_path / "worker.log"  # every run's stderr, shown when an assertion fails
    db = Store(db_url)
    rng = random.Random(SEED)
    worker: subprocess.Popen[bytes] | None = None
    with log_path.open("ab") as log:

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-m", "crisisflow", "worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

        def log_tail() -> str:
            return log_path.read_text("utf-8", "replace")[-3000:]

        try:
            for kill in range(KILLS):
                before = handler.total
                worker = start()
                # Kill while it sends, not while Python starts: wait for its first delivery
                # (after a kill, what is left may be held by the dead until the lease runs out).
                started = wait_for(lambda before=before: handler.total > before, LEASE + 30)
                assert started, f"run {kill}: nothing delivered\n{log_tail()}"
                time.sleep(rng.uniform(*KILL_DELAY))
                worker.kill()
                assert worker.wait() == -signal.SIGKILL, f"run {kill} ended early\n{log_tail()}"
                assert unfinished(db), f"the queue ran dry after {kill + 1} kills; send more"
            worker = start()
            finished = wait_for(lambda: unfinished(db) == 0, FINISH_WITHIN)
            assert finished, f"{unfinished(db)} messages still queued\n{log_tail()}"
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0, log_tail()
            with db.reading() as conn:
                assert outbox_counts(conn) == {m.SENT: MESSAGES}
        finally:
            if worker is not None and worker.poll() is None:
                worker.kill()
                worker.wait()
            db.dispose()

    expected = {
        r["message_id"]: ((r["recipient"],), hashlib.sha256(r["raw"]).hexdigest()) for r in rows
    }
    assert set(handler.received) - set(expected) == set(), "a message from nowhere"
    lost = set(expected) - set(handler.received)
    assert not lost, f"{len(lost)} messages never arrived, e.g. {sorted(lost)[:3]}"
    # Same Message-ID is not enough: every copy must be the stored message, byte for byte.
    changed = [mid for mid, seen in handler.variants.items() if seen != {expected[mid]}]
    assert not changed, f"{len(changed)} messages arrived altered, e.g. {changed[:3]}"
    resent = sum(1 for count in handler.received.values() if count > 1)
    print(
        f"{KILLS} kills: {MESSAGES} messages, {handler.total} deliveries, "
        f"{handler.total - MESSAGES} duplicates ({resent} messages received more than once)"
    )
