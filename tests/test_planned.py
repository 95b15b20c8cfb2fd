"""Planned communication: a press conference with its notice owed 24 hours before it starts (a
backward clock), invitations the press can put in a calendar, approved talking points that stay
inside; the announcement of the regular spokesperson within 24 hours of the decision."""

from __future__ import annotations

import email
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import sqlalchemy as sa

from crisisflow import models
from crisisflow.app import App
from crisisflow.errors import TransitionRefused

from .conftest import FakeClock, bind_login, own
from .test_cli import run

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CONFERENCE = {
    "topic": "Tiến độ dự án đường ven biển",
    "conference_at": "10/12/2026 09:00",
    "venue": "Hội trường UBND huyện",
}
TALKING_POINTS = "Thông điệp: dự án đạt 85% khối lượng.\nCâu hỏi dự kiến: kinh phí.\n"


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)  # type: ignore[misc]


def clocks(app: App, ref: str) -> dict[str, dict[str, Any]]:
    return {d["clock"]: d for d in app.records.show(ref)["deadlines"]}


def step(app: App, ref: str, trigger: str, person: str | None = None, **kwargs: Any) -> None:
    app.incidents.advance(ref, trigger, actor=own(app, person), **kwargs)


def plan(app: App, **given: str) -> str:
    return app.incidents.open(
        "press-conference", "Họp báo", given={**CONFERENCE, **given}, actor=own(app, None)
    ).ref


def notify_province(app: App, ref: str) -> None:
    step(app, ref, "submit_notice")
    step(app, ref, "approve_notice", "chu-tich")
    step(app, ref, "send_notice", "chu-tich")


def outbox(app: App, ref: str) -> list[Any]:
    with app.store.reading() as conn:
        incident = conn.execute(
            sa.select(models.incidents.c.id).where(models.incidents.c.ref == ref)
        ).scalar()
        return list(
            conn.execute(sa.select(models.outbox).where(models.outbox.c.incident_id == incident))
        )


def test_the_notice_is_owed_24_hours_before_the_conference(app: App, clock: FakeClock) -> None:
    clock.now = local(2026, 12, 7, 9).astimezone(UTC)
    ref = plan(app)
    notice = clocks(app, ref)["conference_notice"]
    assert notice["rule"] == "press_conference.notice"
    assert datetime.fromisoformat(notice["due_at"]) == local(2026, 12, 9, 9)  # 10 Dec 09:00 - 24 h
    clock.now = local(2026, 12, 8, 15).astimezone(UTC)
    notify_province(app, ref)
    assert clocks(app, ref)["conference_notice"]["status"] == "met"
    to = [(r.recipient, r.template) for r in outbox(app, ref) if r.template == "to-roles"]
    assert to == [("vhttdl@quangtri.example", "to-roles")]  # the press authority, no one else


def test_a_conference_planned_too_late_shows_its_notice_overdue_at_once(
    app: App, clock: FakeClock
) -> None:
    clock.now = local(2026, 12, 9, 14).astimezone(UTC)
    ref = plan(app)  # 19 hours before it starts: the notice was due 5 hours ago
    assert clocks(app, ref)["conference_notice"]["seconds_left"] < 0
    escalated = [n for n in app.clocks.tick() if n["clock"] == "conference_notice"]
    assert [n["notice"] for n in escalated] == ["escalate:1"]
    notify_province(app, ref)
    assert clocks(app, ref)["conference_notice"]["status"] == "missed"


def test_a_briefing_owes_no_notice(app: App) -> None:
    conference = plan(app)
    with pytest.raises(TransitionRefused, match="event_kind must be one of briefing"):
        step(app, conference, "prepare_briefing")
    briefing = plan(app, event_kind="briefing")
    assert "conference_notice" not in clocks(app, briefing)
    with pytest.raises(TransitionRefused, match="event_kind must be one of press_conference"):
        step(app, briefing, "submit_notice")
    step(app, briefing, "prepare_briefing")
    assert app.records.show(briefing)["state"] == "notified"


def test_the_press_is_invited_with_a_calendar_entry_and_talking_points_stay_inside(
    app: App, clock: FakeClock
) -> None:
    clock.now = local(2026, 12, 7, 9).astimezone(UTC)
    ref = plan(app)
    notify_province(app, ref)
    step(app, ref, "submit")
    with pytest.raises(TransitionRefused, match=r"talking_points v1, line \d+, still has a blank"):
        step(app, ref, "approve", "chu-tich")
    app.statements.edit(ref, "talking_points", TALKING_POINTS, actor=own(app, None))
    app.statements.submit(ref, "talking_points", actor=own(app, None))
    step(app, ref, "approve", "chu-tich")
    step(app, ref, "invite", "chu-tich")
    invitations = [r for r in outbox(app, ref) if r.template == "press"]
    assert sorted(r.recipient for r in invitations) == sorted(p.email for p in app.directory.press)
    event = next(
        icalendar.Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")[0]
        for part in email.message_from_bytes(bytes(invitations[0].raw)).walk()
        if part.get_content_type() == "text/calendar"
    )
    assert event.decoded("DTSTART") == local(2026, 12, 10, 9)
    assert "Tiến độ dự án đường ven biển" in str(event["SUMMARY"])
    raw = b"".join(bytes(r.raw) for r in outbox(app, ref))
    assert "85% khối lượng".encode() not in raw  # the talking points go to nobody outside
    step(app, ref, "hold", given={"outcome": "12 cơ quan báo chí dự; 9 câu hỏi."})
    shown = app.records.show(ref)
    assert shown["state"] == "held" and "held_at" in shown["timestamps"]


def test_a_cancelled_conference_owes_no_notice(app: App) -> None:
    ref = plan(app)
    step(app, ref, "cancel", note="Lùi họp báo sang năm 2027.")
    notice = clocks(app, ref)["conference_notice"]
    assert (notice["status"], notice["outcome_note"]) == (
        "not_required",
        "Lùi họp báo sang năm 2027.",
    )


def test_the_spokesperson_is_announced_within_24_hours_of_the_decision(
    app: App, clock: FakeClock
) -> None:
    clock.now = local(2026, 12, 8, 8).astimezone(UTC)
    given = {
        "speaker": "chu-tich",
        "assigned_at": "07/12/2026 16:00",
        "decision": "125/QĐ-UBND",
    }
    ref = app.incidents.open(
        "spokesperson-announcement", "Người phát ngôn", given=given, actor=own(app, None)
    ).ref
    contact = clocks(app, ref)["spokesperson_contact"]
    assert datetime.fromisoformat(contact["due_at"]) == local(2026, 12, 8, 16)
    step(app, ref, "submit")
    step(app, ref, "approve", "chu-tich")
    step(app, ref, "publish", "chu-tich", given={"publish_channel": "portal"})
    text = app.statements.show(ref, "spokesperson_announcement")["text"]
    for line in (
        "Họ và tên: Lê Văn An",
        "Số điện thoại: 0233 3823 456",
        "chutich@vinhlinh.example",
    ):
        assert line in text
    assert clocks(app, ref)["spokesperson_contact"]["status"] == "met"
    with pytest.raises(TransitionRefused, match="holds no role spokesperson"):  # the duty officer
        app.incidents.open(
            "spokesperson-announcement",
            "Người phát ngôn",
            given={**given, "speaker": "truc-ban"},
            actor=own(app, None),
        )


def test_a_phone_number_in_the_directory_is_checked(workspace: Path) -> None:
    path = workspace / "directory.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("phone: 0233 3823 456", "phone: gọi Văn phòng"),
        encoding="utf-8",
    )
    out = run(workspace, "open", "media-crisis", "--title", "Thử", code=3)
    assert "directory.yaml:" in out.stderr and "is not a telephone number" in out.stderr


def walk_cli(
    workspace: Path, playbook: str, given: dict[str, str], steps: list[tuple[str, ...]]
) -> str:
    """Open and walk through the command line, as the Chairman: each step an `advance`
    trigger, or a `statement` command (REF stands for the incident)."""
    bind_login(workspace, "chu-tich")
    sets = [a for k, v in given.items() for a in ("--set", f"{k}={v}")]
    ref = json.loads(run(workspace, "open", playbook, "--title", "Thử", *sets, "--json").stdout)[
        "ref"
    ]
    points = workspace / "points.txt"
    points.write_text(TALKING_POINTS, encoding="utf-8")
    named = {"REF": ref, "POINTS": str(points)}
    for trigger, *args in steps:
        if trigger == "statement":
            run(workspace, "statement", *(named.get(a, a) for a in args))
        else:
            run(workspace, "advance", ref, trigger, *args)
    return str(ref)


EDIT_POINTS = [
    ("statement", "edit", "REF", "talking_points", "--file", "POINTS"),
    ("statement", "submit", "REF", "talking_points"),
]


FAR = {
    **CONFERENCE,
    "conference_at": (datetime.now(TZ) + timedelta(days=5)).strftime("%d/%m/%Y 09:00"),
}


@pytest.mark.parametrize(
    "playbook, given, steps, final",
    [
        (
            "press-conference",
            FAR,
            [
                ("submit_notice",),
                ("approve_notice",),
                ("send_notice",),
                ("cancel", "--note", "Hoãn"),
            ],
            "cancelled",
        ),
        (
            "press-conference",
            {**FAR, "event_kind": "briefing"},
            [("prepare_briefing",), ("cancel", "--note", "Hoãn giao ban")],
            "cancelled",
        ),
        (
            "press-conference",
            FAR,
            [
                ("submit_notice",),
                ("approve_notice",),
                ("send_notice",),
                ("submit",),
                *EDIT_POINTS,
                ("approve",),
                ("invite",),
                ("hold", "--set", "outcome=12 cơ quan báo chí dự"),
            ],
            "held",
        ),
        (
            "press-release",
            {"topic": "Khánh thành cầu", "content": "Ngày 19/12 khánh thành."},
            [("submit",), ("approve",), ("publish",)],
            "published",
        ),
        (
            "press-release",
            {"topic": "Khánh thành cầu", "content": "Ngày 19/12 khánh thành."},
            [("submit",), ("withdraw", "--note", "Lùi lễ khánh thành")],
            "withdrawn",
        ),
        (
            "disclosure",
            {"document": "Kế hoạch sử dụng đất", "information_created_at": "01/12/2026 08:00"},
            [
                ("submit",),
                ("approve",),
                ("publish", "--set", "publish_url=https://vinhlinh.example/ck/1"),
                ("close",),
            ],
            "closed",
        ),
        (
            "spokesperson-announcement",
            {
                "speaker": "chu-tich",
                "assigned_at": datetime.now(TZ).strftime("%d/%m/%Y %H:%M"),
            },
            [("submit",), ("approve",), ("publish",)],
            "published",
        ),
    ],
    ids=[
        "conference-cancelled",
        "briefing-cancelled",
        "conference-held",
        "release-published",
        "release-withdrawn",
        "disclosure-closed",
        "announcement-published",
    ],
)
def test_the_cli_walks_each_to_a_final_state(
    workspace: Path, playbook: str, given: dict[str, str], steps: list[tuple[str, ...]], final: str
) -> None:
    ref = walk_cli(workspace, playbook, given, steps)
    shown = json.loads(run(workspace, "show", ref, "--json").stdout)
    assert (shown["state"], shown["final"]) == (final, True)
    assert not [d for d in shown["deadlines"] if d["status"] == "running"]


def test_information_is_disclosed_within_5_working_days_and_a_complaint_answered_in_15(
    app: App, clock: FakeClock
) -> None:
    # Created Thursday 4 February 2027, the eve of Tết: 5 working days skip 4-10 Feb (29 Tết
    # to mùng 5, with the weekend) and the weekend of 13-14 Feb: 11, 12, 15, 16, 17 February.
    clock.now = local(2027, 2, 4, 10).astimezone(UTC)
    given = {
        "document": "Kế hoạch sử dụng đất năm 2027",
        "information_created_at": "04/02/2027 10:00",
    }
    ref = app.incidents.open("disclosure", "Công khai", given=given, actor=own(app, None)).ref
    due = datetime.fromisoformat(clocks(app, ref)["disclosure"]["due_at"])
    assert due == local(2027, 2, 17, 10)
    step(app, ref, "submit")
    step(app, ref, "approve", "chu-tich")
    url = "https://vinhlinh.example/ck/1"
    step(app, ref, "publish", "chu-tich", given={"publish_url": url})
    assert clocks(app, ref)["disclosure"]["status"] == "met"
    complaint = {
        "complainant": "Ông Nguyễn Văn Dân",
        "complainant_email": "dan@example.org",
        "complaint": "Diện tích đất ở ghi sai.",
    }
    step(app, ref, "complain", given=complaint)
    answer = datetime.fromisoformat(clocks(app, ref)["accuracy_complaint"]["due_at"])
    assert answer == clock.now + timedelta(days=15)
    step(app, ref, "submit_answer")
    with pytest.raises(TransitionRefused, match="still has a blank"):  # the check is written in
        step(app, ref, "approve_answer", "chu-tich")
    text = app.statements.show(ref, "complaint_answer")["text"]
    filled = text.replace(
        "[Kết quả kiểm tra; thông tin được đính chính, nếu có.]", "Diện tích đúng là 12 ha."
    )
    app.statements.edit(ref, "complaint_answer", filled, actor=own(app, None))
    app.statements.submit(ref, "complaint_answer", actor=own(app, None))
    step(app, ref, "approve_answer", "chu-tich")
    step(app, ref, "send_answer", "chu-tich", given={"publish_channel": "written_reply"})
    to = [r.recipient for r in outbox(app, ref) if r.template == "requester"]
    assert to == ["dan@example.org"]
    assert clocks(app, ref)["accuracy_complaint"]["status"] == "met"


def test_a_press_release_outside_an_incident_goes_to_the_press_once_approved(app: App) -> None:
    given = {"topic": "Khánh thành cầu Hiền Lương mới", "content": "Ngày 19/12/2026 khánh thành."}
    ref = app.incidents.open("press-release", "Thông cáo", given=given, actor=own(app, None)).ref
    step(app, ref, "submit")
    with pytest.raises(TransitionRefused, match="not allowed in state 'approval'"):
        step(app, ref, "publish", "chu-tich")
    step(app, ref, "approve", "chu-tich")
    step(app, ref, "publish", "chu-tich")
    shown = app.statements.show(ref, "press_release")
    assert shown["title"] == "Khánh thành cầu Hiền Lương mới"
    assert "Ngày 19/12/2026 khánh thành." in shown["text"] and shown["status"] == "published"
    press = sorted(r.recipient for r in outbox(app, ref) if r.template == "press")
    assert press == sorted(p.email for p in app.directory.press)
