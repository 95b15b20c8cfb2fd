"""Delivering the outbox to real SMTP servers on loopback, including servers that fail."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from crisisflow import models, store, store_outbox
from crisisflow.app import App
from crisisflow.cli import cli
from crisisflow.config import load_settings
from crisisflow.errors import DeliveryConfigError, UndeliverableMail

from .conftest import MEDIA_CRISIS_PATH, FakeClock, through, walk
from .smtp_servers import Recorder, busy_server, refusing_credentials, smtp_server

TITLE = "Báo điện tử phản ánh sạt lở bờ kè Cửa Tùng"


def app_on(workspace: Path, clock: FakeClock, port: int, **settings: Any) -> App:
    overrides = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_timeout": 5.0,
        **settings,
    }
    return App(load_settings(workspace, overrides), clock=clock)


def outbox(app: App) -> list[Any]:
    with app.store.reading() as conn:
        return list(conn.execute(sa.select(models.outbox).order_by(models.outbox.c.id)))


def queue_some_mail(app: App) -> str:
    """An incident up to verification: 2 messages (coordinator, then the field unit)."""
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    app.incidents.advance(ref, "triage", actor=app.identify())
    app.incidents.advance(
        ref, "verify", given={"field_unit": "ubnd-cua-tung"}, actor=app.identify()
    )
    return ref


def test_every_queued_message_is_delivered_with_its_headers(
    workspace: Path, clock: FakeClock
) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        app = app_on(workspace, clock, port)
        ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
        walk(app, ref, MEDIA_CRISIS_PATH)
        report = app.delivery.dispatch()
    rows = outbox(app)
    assert (
        report.sent == len(rows) == len(recorder.received) == 21
    )  # 17 tasks; the holding and the initial information each to 2 in the press
    assert {r.status for r in rows} == {"sent"}
    by_id = {m["Message-ID"]: m for m in recorder.messages()}
    assert set(by_id) == {r.message_id for r in rows}
    for row in rows:
        msg = by_id[row.message_id]
        assert msg["To"].addresses[0].addr_spec == row.recipient
        # The office's own mail is headed by the reference; the press gets the title alone.
        assert msg["Subject"] == row.subject
        assert msg["Subject"].startswith(f"[{ref}]") == (row.template != "press")
        assert msg["References"] == f"<incident.{ref.lower()}@vinhlinh.example>"
        assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
    press = [by_id[r.message_id] for r in rows if r.template == "press"]
    for kind in ("holding_statement", "initial_info"):  # exactly the approved texts go out
        approved = app.statements.show(ref, kind)
        copies = [m for m in press if m["Subject"] == approved["title"]]
        assert sorted(m["To"].addresses[0].addr_spec for m in copies) == [
            "thoisu@qrt.example",
            "toasoan@baoquangtri.example",
        ]
        for msg in copies:
            body = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
            # The approved text as issued: its register number written in, nothing else.
            assert body == approved["issued_text"] and approved["status"] == "published"
            assert approved["text"] == approved["issued_text"].replace(
                f"Số: {approved['number']}", f"Số:      /{approved['number'].split('/')[1]}"
            )
    task = next(m for m in by_id.values() if "Phiếu giao nhiệm vụ" in m["Subject"])
    calendar = icalendar.Calendar.from_ical(next(task.iter_attachments()).get_content())
    event = next(iter(calendar.walk("VEVENT")))
    assert event.decoded("dtstart") == clock.now + timedelta(hours=2)  # the 2 h verify target
    app.close()


def test_421_on_connect_is_retried_later_then_delivered(workspace: Path, clock: FakeClock) -> None:
    with busy_server() as port:
        app = app_on(workspace, clock, port)
        queue_some_mail(app)
        report = app.delivery.dispatch()
    assert report.sent == 0 and report.retried == 2
    rows = outbox(app)
    assert {r.status for r in rows} == {"pending"} and {r.attempts for r in rows} == {1}
    assert all("421" in r.last_error for r in rows)
    assert all(r.next_attempt_at > clock.now for r in rows)
    app.close()
    recorder = Recorder()
    with smtp_server(recorder) as port:
        app = app_on(workspace, clock, port)
        assert app.delivery.dispatch().sent == 0  # not due yet: the backoff holds
        clock.advance(minutes=2)
        assert app.delivery.dispatch().sent == 2
    assert len(recorder.received) == 2
    app.close()


def test_451_to_rcpt_is_transient(workspace: Path, clock: FakeClock) -> None:
    with smtp_server(Recorder(rcpt_reply="451 4.3.0 Mailbox busy")) as port:
        app = app_on(workspace, clock, port)
        queue_some_mail(app)
        report = app.delivery.dispatch()
    assert report.retried == 2 and not report.dead
    assert all(r.status == "pending" and r.last_error.startswith("451") for r in outbox(app))
    app.close()


def test_550_for_one_recipient_is_dead_shown_and_can_be_retried(
    workspace: Path, clock: FakeClock
) -> None:
    recorder = Recorder(refuse={"cuatung@vinhlinh.example": "550 5.1.1 No such user"})
    with smtp_server(recorder) as port:
        app = app_on(workspace, clock, port)
        ref = queue_some_mail(app)
        with pytest.raises(UndeliverableMail, match="1 message could not be delivered") as failed:
            app.delivery.dispatch()
    report = failed.value.report
    assert report.sent == 1 and [d["to"] for d in report.dead] == ["cuatung@vinhlinh.example"]
    data = app.records.show(ref)
    assert data["undeliverable"] == 1
    dead = data["events"][-1]
    assert dead["kind"] == "message_dead" and "550 5.1.1 No such user" in dead["note"]
    assert app.records.list_incidents()[0]["undeliverable"] == 1
    runner = CliRunner()
    env = {"CRISISFLOW_HOME": str(workspace)}
    listed = runner.invoke(cli, ["outbox", "--status", "dead"], env=env)
    assert "550 5.1.1 No such user" in listed.stdout
    assert "undeliverable mail: 1" in runner.invoke(cli, ["list"], env=env).stdout
    assert "could not be delivered" in runner.invoke(cli, ["show", ref], env=env).stdout
    dead_id = str(report.dead[0]["id"])
    assert runner.invoke(cli, ["outbox", "retry", dead_id], env=env).exit_code == 0
    assert [r.status for r in outbox(app)] == ["sent", "pending"]
    app.close()


def test_hang_up_mid_data_resends_the_same_message(workspace: Path, clock: FakeClock) -> None:
    recorder = Recorder(hang_up=True)
    with smtp_server(recorder) as port:
        app = app_on(workspace, clock, port)
        queue_some_mail(app)
        first_ids = [r.message_id for r in outbox(app)]
        assert app.delivery.dispatch().retried == 2
        recorder.hang_up = False
        clock.advance(minutes=2)
        assert app.delivery.dispatch().sent == 2
    assert sorted(m["Message-ID"] for m in recorder.messages()) == sorted(first_ids)
    app.close()


def test_server_stalling_past_the_timeout_is_transient(workspace: Path, clock: FakeClock) -> None:
    with smtp_server(Recorder(stall=3.0)) as port:
        app = app_on(workspace, clock, port, smtp_timeout=0.5, smtp_connections=2)
        queue_some_mail(app)
        report = app.delivery.dispatch()
    assert report.retried == 2
    assert all("Timeout" in r.last_error for r in outbox(app))
    app.close()


# The test server asks for AUTH over plain text on loopback; aiosmtpd rightly warns.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_refused_credentials_stop_sending_without_using_attempts(
    workspace: Path, clock: FakeClock
) -> None:
    recorder = Recorder()
    with refusing_credentials(recorder) as port:
        app = app_on(
            workspace, clock, port, smtp_user="crisisflow", smtp_password="wrong-horse-battery"
        )
        queue_some_mail(app)
        with pytest.raises(DeliveryConfigError, match="authentication refused") as caught:
            app.delivery.dispatch()
    assert "wrong-horse-battery" not in str(caught.value)
    rows = outbox(app)
    assert {(r.status, r.attempts) for r in rows} == {("pending", 0)}
    assert recorder.received == []
    app.close()


def test_starttls_required_but_not_offered_sends_nothing(workspace: Path, clock: FakeClock) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        app = app_on(workspace, clock, port, smtp_security="starttls")
        queue_some_mail(app)
        with pytest.raises(DeliveryConfigError, match="STARTTLS extension not supported"):
            app.delivery.dispatch()
    assert recorder.received == []
    assert {(r.status, r.attempts) for r in outbox(app)} == {("pending", 0)}
    app.close()


def test_a_message_failing_every_time_ends_dead_after_max_attempts(
    workspace: Path, clock: FakeClock
) -> None:
    with busy_server() as port:
        app = app_on(workspace, clock, port, max_attempts=3)
        ref = queue_some_mail(app)
        for attempt in range(1, 4):
            if attempt < 3:
                assert app.delivery.dispatch().retried == 2
            else:  # the last attempt declares them dead
                with pytest.raises(UndeliverableMail):
                    app.delivery.dispatch()
            clock.advance(hours=2)
    assert {(r.status, r.attempts) for r in outbox(app)} == {("dead", 3)}
    assert app.records.show(ref)["undeliverable"] == 2
    app.close()


def test_cli_dispatch_reports_undeliverable_mail_with_its_exit_code(
    workspace: Path, clock: FakeClock
) -> None:
    recorder = Recorder(refuse={"vanphong@vinhlinh.example": "550 5.7.1 Rejected"})
    with smtp_server(recorder) as port:
        app = app_on(workspace, clock, port)
        app.incidents.open("media-crisis", TITLE, actor=app.identify())
        env = {"CRISISFLOW_HOME": str(workspace), "CRISISFLOW_SMTP_PORT": str(port)}
        result = CliRunner().invoke(cli, ["dispatch"], env=env)
    assert result.exit_code == 12
    assert "UNDELIVERABLE" in result.stdout and "550 5.7.1 Rejected" in result.stdout
    assert "1 message could not be delivered" in result.stderr
    app.close()


def test_expired_claims_return_to_the_queue_and_late_results_are_ignored(
    workspace: Path, clock: FakeClock
) -> None:
    app = app_on(workspace, clock, 1)
    queue_some_mail(app)
    lease = clock.now + timedelta(seconds=60)
    with app.store.writing() as conn:
        first = store_outbox.claim_due(conn, now=clock.now, lease_until=lease, token="a", limit=10)
        assert (
            store_outbox.claim_due(conn, now=clock.now, lease_until=lease, token="b", limit=10)
            == []
        )
    clock.advance(seconds=61)  # dispatcher "a" crashed
    with app.store.writing() as conn:
        second = store_outbox.claim_due(conn, now=clock.now, lease_until=lease, token="b", limit=10)
        late = [{"id": r.id, "status": "sent", "next": clock.now} for r in first]
        assert store_outbox.settle(conn, "a", late) == 0
    assert [r.id for r in second] == [r.id for r in first]
    assert {r.attempts for r in second} == {2}
    app.close()


def test_two_dispatchers_never_claim_the_same_row(workspace: Path, clock: FakeClock) -> None:
    app = app_on(workspace, clock, 1)
    with app.store.writing() as conn:
        conn.execute(
            models.outbox.insert(),
            [
                {
                    "dedupe_key": f"k{n}",
                    "message_id": f"<{n}@t>",
                    "sender": "a@t.example",
                    "recipient": f"u{n}@t.example",
                    "recipient_name": "u",
                    "subject": "s",
                    "template": "t",
                    "raw": b"x",
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": clock.now,
                    "created_at": clock.now,
                }
                for n in range(600)
            ],
        )
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def dispatcher(token: str) -> None:
        database = store.Store(app.settings.database_url)
        start.wait()
        while True:
            with database.writing() as conn:
                rows = store_outbox.claim_due(
                    conn,
                    now=clock.now,
                    lease_until=clock.now + timedelta(minutes=5),
                    token=token,
                    limit=7,
                )
            if not rows:
                break
            claimed[token] += [r.id for r in rows]
            time.sleep(0.001)  # let the other dispatcher in between claims
        database.dispose()

    threads = [threading.Thread(target=dispatcher, args=(t,)) for t in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = claimed["a"] + claimed["b"]
    assert len(everything) == len(set(everything)) == 600
    assert claimed["a"] and claimed["b"]
    app.close()


def test_mailbox_sink_keeps_what_it_receives(workspace: Path, clock: FakeClock) -> None:
    probe = App(load_settings(workspace), clock=clock)
    with probe.delivery.sink(port=0) as sink:
        app = app_on(workspace, clock, sink.port)
        queue_some_mail(app)
        assert app.delivery.dispatch().sent == 2
    env = {"CRISISFLOW_HOME": str(workspace)}
    listed = CliRunner().invoke(cli, ["mailbox", "list", "--json"], env=env)
    received = __import__("json").loads(listed.stdout)
    # Two connections deliver at once: the order within one second is the sink's to choose.
    addresses = [r["to"] for r in received]
    assert sorted(addresses) == ["cuatung@vinhlinh.example", "vanphong@vinhlinh.example"]
    number = str(addresses.index("cuatung@vinhlinh.example") + 1)
    shown = CliRunner().invoke(cli, ["mailbox", "show", number], env=env)
    assert "Phiếu giao nhiệm vụ" in shown.stdout and "KC-2026-0001.ics" in shown.stdout
    raw = CliRunner().invoke(cli, ["mailbox", "show", number, "--raw"], env=env)
    stored = next(
        path.read_bytes()
        for path in (workspace / "mailbox" / "new").iterdir()
        if path.name.startswith(received[int(number) - 1]["key"])
    )
    assert raw.stdout_bytes == stored  # byte for byte, not re-serialised
    missing = CliRunner().invoke(cli, ["mailbox", "show", "99"], env=env)
    assert missing.exit_code == 5
    app.close()
    probe.close()


def test_a_slow_relay_never_gets_a_message_twice_from_one_dispatcher(workspace: Path) -> None:
    """Claims outliving their lease must not be claimed and sent again by their own holder."""
    recorder = Recorder(stall=0.1)
    with smtp_server(recorder) as port:
        app = app_on(workspace, FakeClock(), port)
        queue_some_mail(app)
        for n in range(1, 5):
            app.incidents.open("media-crisis", f"{TITLE} {n}", actor=app.identify())
        app.close()
        real = App(
            load_settings(
                workspace,
                {
                    "smtp_port": port,
                    "smtp_security": "none",
                    "smtp_connections": 1,
                    "lease_seconds": 0.5,
                    "dispatch_batch": 10,
                },
            )
        )
        report = real.delivery.dispatch()
    ids = [m["Message-ID"] for m in recorder.messages()]
    assert report.sent == len(ids) == len(set(ids)) == 6
    assert {r.status for r in outbox(real)} == {"sent"}
    real.close()


def test_a_pending_approval_request_is_claimed_before_older_bulk_mail(
    workspace: Path, clock: FakeClock
) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        app = app_on(workspace, clock, port, dispatch_batch=1, smtp_connections=1)
        for _n in range(3):
            queue_some_mail(app)  # bulk mail, due first
        clock.advance(minutes=10)
        ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
        walk(app, ref, through("submit"))  # its last step submits: the approval request
        rows = outbox(app)
        # The holding statement's approval request, the first of two: it goes out ahead of
        # the bulk mail queued before it.
        request = next(r for r in rows if r.template == "mail/approval-request")
        assert request.priority == 10
        others = [r for r in rows if r.template != "mail/approval-request"]
        assert {r.priority for r in others} == {0}
        assert min(r.next_attempt_at for r in rows) < request.next_attempt_at
        with app.store.writing() as conn:  # one claim, as a busy dispatcher makes it
            first = store_outbox.claim_due(
                conn, now=clock.now, lease_until=clock.now, token="t", limit=1
            )
        assert [r.id for r in first] == [request.id]
        clock.advance(seconds=1)  # the claim's lease runs out: the row is due again
        report = app.delivery.dispatch()
    assert report.sent == len(rows)
    assert recorder.messages()[0]["Message-ID"] == request.message_id  # sent first, too
    app.close()
