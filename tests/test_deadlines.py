"""Legal clocks on a simulated clock: rules by date, working days, reminders and escalations
sent once however often and however many workers tick, acknowledgements, the audit chain."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from crisisflow import models, rules
from crisisflow.app import App
from crisisflow.cli import cli
from crisisflow.config import load_settings, shipped
from crisisflow.errors import AuditBroken, InvalidInput

from .conftest import FakeClock, own

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
TITLE = "Tin sạt lở bờ kè Cửa Tùng"
PACK = rules.load(shipped("rules") / "vn.yaml")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)  # type: ignore[misc]


def clocks(app: App, ref: str) -> dict[str, dict[str, Any]]:
    return {d["clock"]: d for d in app.records.show(ref)["deadlines"]}


def at_verifying(app: App) -> str:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    app.incidents.advance(ref, "triage", actor=app.identify())
    app.incidents.advance(
        ref, "verify", given={"field_unit": "ubnd-cua-tung"}, actor=app.identify()
    )
    return ref


@pytest.mark.parametrize(
    "day, rule, hours_after_open",
    [
        (local(2026, 6, 30, 9, 0), "initial_info.occurred", 24 - 1),  # occurred 1 h before opening
        (local(2026, 7, 1, 9, 0), "initial_info.received", 24),  # received when it was opened
    ],
)
def test_the_rule_in_force_when_the_clock_starts_applies(
    app: App, clock: FakeClock, day: datetime, rule: str, hours_after_open: float
) -> None:
    clock.now = day.astimezone(UTC)
    ref = app.incidents.open(
        "media-crisis",
        TITLE,
        occurred_at=(day - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
        actor=app.identify(),
    ).ref
    clock.advance(minutes=30)
    app.incidents.advance(ref, "triage", actor=app.identify())
    measured = clocks(app, ref)["initial_info"]
    assert measured["rule"] == rule
    assert (
        "09/2017" in measured["basis"]
        if rule.endswith("occurred")
        else "244/2026" in (measured["basis"])
    )
    due = datetime.fromisoformat(measured["due_at"])
    assert due == day.astimezone(UTC) + timedelta(hours=hours_after_open)


def test_the_legal_clock_runs_from_receipt_and_a_backdated_receipt_says_why(
    app: App, clock: FakeClock
) -> None:
    clock.now = local(2026, 8, 3, 9, 0).astimezone(UTC)
    ref = app.incidents.open("rumour", TITLE, actor=app.identify()).ref  # nobody took it up yet
    measured = clocks(app, ref)["initial_info"]
    assert measured["rule"] == "initial_info.received" and measured["status"] == "running"
    assert datetime.fromisoformat(measured["due_at"]) == clock.now + timedelta(hours=24)
    before = app.records.list_incidents(include_closed=True)
    for kwargs, said in [
        ({"received_at": "03/08/2026 07:00"}, "--note"),  # backdated without saying why
        ({"received_at": "03/08/2026 10:00", "note": "Nhận qua điện thoại."}, "future"),
        (
            {"received_at": "03/08/2026 07:00", "occurred_at": "03/08/2026 08:00", "note": "x"},
            "after the matter was received",
        ),
    ]:
        with pytest.raises(InvalidInput, match=said):
            app.incidents.open("media-crisis", TITLE, actor=app.identify(), **kwargs)
    assert app.records.list_incidents(include_closed=True) == before
    late = app.incidents.open(
        "media-crisis",
        TITLE,
        received_at="03/08/2026 07:00",
        note="Phóng viên báo tin qua điện thoại lúc 07 giờ; vào sổ lúc 09 giờ.",
        actor=app.identify(),
    ).ref
    due = datetime.fromisoformat(clocks(app, late)["initial_info"]["due_at"])
    assert due == local(2026, 8, 4, 7, 0).astimezone(UTC)  # 24 h from receipt, not from typing


def test_several_rules_the_earliest_due_time_wins() -> None:
    stamps = {"received_at": local(2026, 8, 3, 8, 0), "impact_determined_at": local(2026, 8, 3, 6)}
    found = rules.measure(PACK, "initial_info", stamps, local(2026, 8, 3, 8), TZ)
    assert found is not None and found.rule.id == "initial_info.opinion"
    assert found.due_at == local(2026, 8, 4, 6)


def test_working_days_skip_weekends_tet_and_announced_days() -> None:
    rule = PACK.rules["forwarded_petition.measures"]  # 15 working days
    start = local(2027, 2, 1, 10, 0)  # a Monday; Tết runs 4–10 February 2027
    assert rules.due_at(rule, start, PACK.calendar, TZ) == local(2027, 3, 1, 10, 0)
    extra = rules.Calendar(
        days_off=frozenset({date(2027, 2, 15)}), working_days=frozenset({date(2027, 2, 13)})
    )
    assert rules.due_at(rule, start, extra, TZ) == local(2027, 3, 1, 10, 0)  # one off, one on
    five = PACK.rules["disclosure.default"]  # 5 working days, across 24/11 and a weekend
    assert rules.due_at(five, local(2026, 11, 20, 9), PACK.calendar, TZ) == local(2026, 11, 30, 9)


def test_clocks_start_on_entering_and_stop_met_or_missed(app: App, clock: FakeClock) -> None:
    ref = at_verifying(app)
    assert {c: d["status"] for c, d in clocks(app, ref).items()} == {
        "initial_info": "running",
        "verify": "running",
    }
    clock.advance(hours=3)  # the 2 h verification target has passed
    assert clocks(app, ref)["verify"]["status"] == "overdue"
    app.incidents.advance(
        ref, "assess", given={"verified_facts": "Đã xác minh."}, actor=app.identify()
    )
    assert clocks(app, ref)["verify"]["status"] == "missed"
    other = at_verifying(app)
    app.incidents.advance(
        other, "assess", given={"verified_facts": "Đã xác minh."}, actor=app.identify()
    )
    assert clocks(app, other)["verify"]["status"] == "met"
    app.incidents.advance(
        other, "assign_spokesperson", given={"spokesperson": "chu-tich"}, actor=app.identify()
    )
    app.incidents.advance(other, "skip_holding", note="Mức độ thấp.", actor=app.identify())
    app.incidents.advance(other, "submit", actor=app.identify())
    app.incidents.advance(other, "approve", actor=own(app, "chu-tich"))
    app.incidents.advance(
        other, "publish", given={"publish_channel": "portal"}, actor=own(app, "chu-tich")
    )
    assert clocks(app, other)["initial_info"]["status"] == "met"


def sent_notices(app: App) -> list[tuple[int, str, str]]:
    dl, dn = models.deadlines, models.deadline_notices
    with app.store.reading() as conn:
        rows = conn.execute(
            sa.select(dl.c.id, dl.c.clock, dn.c.key).join(dl, dl.c.id == dn.c.deadline_id)
        ).all()
    return sorted((row.id, row.clock, row.key) for row in rows)


def test_reminders_and_escalations_are_sent_once_however_often_tick_runs(
    app: App, clock: FakeClock
) -> None:
    ref = at_verifying(app)
    assert app.clocks.tick() == []
    clock.advance(minutes=61)  # past half of the 2 h verification clock
    first = app.clocks.tick()
    assert [(n["clock"], n["notice"]) for n in first] == [("verify", "remind:50%")]
    assert first[0]["to"] == ["cuatung@vinhlinh.example"]  # the unit that owns the task
    assert app.clocks.tick() == [] and app.clocks.tick() == []
    clock.advance(hours=1)  # overdue now: escalation level 1 goes to the coordinator
    escalated = app.clocks.tick()
    assert [(n["notice"], n["to"]) for n in escalated] == [
        ("escalate:1", ["vanphong@vinhlinh.example"])
    ]
    clock.advance(hours=2)
    assert [n["to"] for n in app.clocks.tick()] == [["phochutich@vinhlinh.example"]]
    clock.advance(hours=2)
    assert [n["to"] for n in app.clocks.tick()] == [["chutich@vinhlinh.example"]]
    events = [e["kind"] for e in app.records.show(ref)["events"]]
    assert events.count("reminder") == 1 and events.count("escalation") == 3
    assert app.records.audit(ref)[0]["broken_at"] is None


@pytest.mark.parametrize("playbook", ["rumour", "media-crisis"])
def test_the_legal_clock_reminds_the_office_and_the_spokesperson(
    app: App, clock: FakeClock, playbook: str
) -> None:
    ref = app.incidents.open(playbook, TITLE, actor=app.identify()).ref
    assert clocks(app, ref)["initial_info"]["owner"] == "monitor"  # its first state's owner
    clock.advance(hours=12, minutes=1)  # past half of the 24 hours
    sent = [n for n in app.clocks.tick() if n["clock"] == "initial_info"]
    # The office, and the directory's spokesperson until one is assigned; not the monitor.
    assert [(n["notice"], sorted(n["to"])) for n in sent] == [
        ("remind:50%", ["chutich@vinhlinh.example", "vanphong@vinhlinh.example"])
    ]
    reminder = [e for e in app.records.show(ref)["events"] if e["kind"] == "reminder"][-1]
    assert "coordinator, spokesperson" in reminder["note"]


def test_concurrent_workers_send_each_notice_once(workspace: Path, clock: FakeClock) -> None:
    apps = [App(load_settings(workspace), clock=clock) for _ in range(3)]
    for _ in range(4):
        at_verifying(apps[0])
    clock.advance(hours=5)
    start = threading.Barrier(len(apps))

    def worker(app: App) -> None:
        start.wait()
        app.clocks.tick()

    threads = [threading.Thread(target=worker, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    notices = sent_notices(apps[0])
    assert len(notices) == len(set(notices))
    with apps[0].store.reading() as conn:
        queued = conn.execute(
            sa.select(sa.func.count())
            .select_from(models.outbox)
            .where(models.outbox.c.template.like("mail/deadline-%"))
        ).scalar()
    # 4 incidents × the verification clock's reminder and escalations 1 and 2 (5 h in)
    assert queued == len(notices) == 4 * 3
    for app in apps:
        app.close()


def test_acknowledged_tasks_get_no_reminders_but_still_escalate(app: App, clock: FakeClock) -> None:
    ref = at_verifying(app)
    runner = CliRunner()
    env = {"CRISISFLOW_HOME": str(app.workspace)}
    bad = runner.invoke(cli, ["ack", ref, "--unit", "ubnd-ho-xa"], env=env)
    assert bad.exit_code == 8 and "owns no running task" in bad.stderr
    assert app.clocks.ack(ref, "ubnd-cua-tung", actor=app.identify()) == ["verify"]
    clock.advance(minutes=61)
    assert app.clocks.tick() == []
    clock.advance(hours=1)
    assert [n["notice"] for n in app.clocks.tick()] == ["escalate:1"]


def test_list_overdue_and_due_within(app: App, clock: FakeClock) -> None:
    ref = at_verifying(app)
    assert app.records.clocks_due(None) == []
    assert [d["clock"] for d in app.records.clocks_due(timedelta(hours=3))] == ["verify"]
    clock.advance(hours=2, minutes=1)
    assert [(d["clock"], d["overdue"]) for d in app.records.clocks_due(None)] == [("verify", True)]
    env = {"CRISISFLOW_HOME": str(app.workspace)}  # the command line runs on the wall clock
    runner = CliRunner()
    listed = runner.invoke(cli, ["list", "--due-within", "3000d"], env=env).stdout
    assert ref in listed and "verify" in listed and "initial_info" in listed
    bad = runner.invoke(cli, ["list", "--due-within", "soon"], env=env)
    assert bad.exit_code == 8 and "duration" in bad.stderr


def test_audit_verify_finds_a_changed_or_removed_event(app: App) -> None:
    ref = at_verifying(app)
    runner = CliRunner()
    env = {"CRISISFLOW_HOME": str(app.workspace)}
    assert runner.invoke(cli, ["audit", "verify"], env=env).exit_code == 0
    events = models.events
    with app.store.writing() as conn:
        conn.execute(events.update().where(events.c.seq == 2).values(actor="someone-else"))
    result = runner.invoke(cli, ["audit", "verify", ref], env=env)
    assert result.exit_code == 13 and "BROKEN at event 2" in result.stdout
    assert "does not verify" in result.stderr
    other = at_verifying(app)
    app.incidents.note(other, "Ghi chú sẽ bị xóa lén.", actor=app.identify())
    with app.store.writing() as conn:
        incident = conn.execute(
            sa.select(models.incidents.c.id).where(models.incidents.c.ref == other)
        ).scalar()
        conn.execute(events.delete().where(events.c.incident_id == incident, events.c.seq == 4))
    with pytest.raises(AuditBroken, match=other) as broken:
        app.records.audit(other)
    assert broken.value.results[0]["broken_at"] == 4


RUMOUR_TO_DECISION = [
    ("assess", {}),
    ("check", {"given": {"spread": "high", "field_unit": "phong-vhtt"}}),
    ("decide", {"given": {"verified_facts": "Tin đồn không có cơ sở."}}),
]


@pytest.mark.parametrize(
    "trigger, given, outcome",
    [
        ("monitor_only", {}, "not_required"),  # do not amplify: nothing is to be said
        ("refer", {"refer_to": "police"}, "handed_over"),  # the police take the matter
        ("hand_over", {}, "handed_over"),  # a media-crisis incident takes it over
    ],
)
def test_a_rumour_clock_closed_by_a_decision_is_never_met_and_escalates_no_more(
    app: App, clock: FakeClock, trigger: str, given: dict[str, str], outcome: str
) -> None:
    clock.now = local(2026, 8, 3, 9, 0).astimezone(UTC)
    ref = app.incidents.open("rumour", TITLE, actor=app.identify()).ref
    for step, kwargs in RUMOUR_TO_DECISION:
        app.incidents.advance(ref, step, actor=app.identify(), **kwargs)  # type: ignore[arg-type]
    reason = "Tin lan truyền hẹp; phát ngôn sẽ khuếch đại tin đồn."
    done = app.incidents.advance(ref, trigger, given=given, note=reason, actor=app.identify())
    assert {"clock": "initial_info", "change": outcome} in [
        {k: c[k] for k in ("clock", "change")} for c in done.clocks
    ]
    measured = clocks(app, ref)["initial_info"]
    assert measured["status"] == outcome and measured["outcome_note"] == reason
    assert (
        f"why: {reason}"
        in CliRunner()
        .invoke(cli, ["show", ref], env={"CRISISFLOW_HOME": str(app.workspace)})
        .stdout
    )
    clock.advance(hours=30)  # long past its due time
    assert not [n for n in app.clocks.tick() if n["ref"] == ref and n["clock"] == "initial_info"]
    counts = app.reports.yearly_counts(2026)["counts"]
    assert counts["incidents_under_24h_rule"] == 0 and counts["statements_on_time"] == 0
