"""A press office's year, on a simulated clock, on both sides of 1 July 2026 and across Tết 2027:
every due time and every count of the yearly report against a count made by hand."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import docx

from crisisflow.app import App

from .conftest import FakeClock, own, through, walk

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PRESS = {"press_agency": "Báo Tuổi Trẻ", "press_email": "toasoan@tuoitre.example"}


def at(clock: FakeClock, *moment: int) -> None:
    clock.now = datetime(*moment, tzinfo=TZ).astimezone(UTC)  # type: ignore[misc]


def due(app: App, ref: str, clock: str) -> datetime:
    found = {d["clock"]: d for d in app.records.show(ref)["deadlines"]}[clock]
    return datetime.fromisoformat(found["due_at"]).astimezone(TZ)


def local(*moment: int) -> datetime:
    return datetime(*moment, tzinfo=TZ)  # type: ignore[misc]


def step(app: App, ref: str, trigger: str, person: str | None = None, **kwargs: Any) -> None:
    app.incidents.advance(ref, trigger, actor=own(app, person), **kwargs)


def inquiry(app: App, kind: str, question: str) -> str:
    given = {**PRESS, "request_kind": kind, "question": question}
    return app.incidents.open("press-inquiry", "Hỏi", given=given, actor=own(app, None)).ref


def answer(app: App, ref: str) -> None:
    step(app, ref, "answer", given={"answer": "Đã bàn giao 85% mặt bằng."})
    step(app, ref, "submit")
    step(app, ref, "approve", "chu-tich")
    step(app, ref, "send", "chu-tich")


def refuse(app: App, ref: str) -> None:
    step(app, ref, "refuse", given={"refusal_ground": "under_inspection"}, note="Đang thanh tra.")
    step(app, ref, "submit")
    step(app, ref, "approve", "chu-tich")
    step(app, ref, "send", "chu-tich")


def conference(app: App, kind: str, starts: str) -> str:
    given = {"topic": "Dự án đường ven biển", "venue": "Hội trường", "conference_at": starts}
    ref = app.incidents.open(
        "press-conference", "Họp báo", given={**given, "event_kind": kind}, actor=own(app, None)
    ).ref
    if kind == "press_conference":
        step(app, ref, "submit_notice")
        step(app, ref, "approve_notice", "chu-tich")
        step(app, ref, "send_notice", "chu-tich")
    else:
        step(app, ref, "prepare_briefing")
    step(app, ref, "submit")
    points = "Thông điệp: tiến độ đạt 85%.\n"
    app.statements.edit(ref, "talking_points", points, actor=own(app, None))
    app.statements.submit(ref, "talking_points", actor=own(app, None))
    step(app, ref, "approve", "chu-tich")
    step(app, ref, "invite", "chu-tich")
    return ref


def rumour_decided(app: App, trigger: str, given: dict[str, str]) -> str:
    ref = app.incidents.open("rumour", "Tin đồn", actor=own(app, None)).ref
    step(app, ref, "assess")
    step(app, ref, "check", given={"spread": "high", "field_unit": "phong-vhtt"})
    step(app, ref, "decide", given={"verified_facts": "Không có cơ sở."})
    step(app, ref, trigger, given=given, note="Quyết định của Chủ tịch.")
    return ref


def test_a_year_of_the_press_office_counts_as_the_hand_count(app: App, clock: FakeClock) -> None:
    # Before the 2026 window (15 Dec 2025 - 14 Dec 2026): counted in 2025 only.
    at(clock, 2025, 12, 10, 9)
    answer(app, inquiry(app, "question", "Câu hỏi năm trước"))

    # 2 March 2026: a question, answered; due 30 days after receipt.
    at(clock, 2026, 3, 2, 9)
    asked = inquiry(app, "question", "Tiến độ giải phóng mặt bằng?")
    assert due(app, asked, "press_reply") == local(2026, 4, 1, 9)
    clock.advance(days=3)
    answer(app, asked)

    # 20 June 2026: a forwarded petition under the Press Law's 30 days; refused on 5 July.
    at(clock, 2026, 6, 20, 9)
    petition = inquiry(app, "petition", "Bạn đọc kiến nghị về tiền bồi thường.")
    assert due(app, petition, "forwarded_petition") == local(2026, 7, 20, 9)
    at(clock, 2026, 7, 5, 9)
    refuse(app, petition)

    # 1 December 2026: a question the press agency withdraws (a request, never answered).
    at(clock, 2026, 12, 1, 9)
    step(app, inquiry(app, "question", "Câu hỏi rút lại"), "withdraw", note="Rút qua điện thoại.")

    # A press conference on 10 September (notice due 9 Sept 09:00) and a briefing, both held.
    at(clock, 2026, 9, 1, 9)
    held = conference(app, "press_conference", "10/09/2026 09:00")
    assert due(app, held, "conference_notice") == local(2026, 9, 9, 9)
    step(app, held, "hold", given={"outcome": "12 cơ quan báo chí dự."})
    briefing = conference(app, "briefing", "01/10/2026 15:00")
    step(app, briefing, "hold", given={"outcome": "Giao ban quý III."})
    planned = conference(app, "press_conference", "20/12/2026 09:00")  # held in 2027's window

    # The Chairman names a new regular spokesperson on 14 September at 16:00: announced within
    # 24 hours (Decree 244/2026 Art. 3(3)), published the next morning.
    at(clock, 2026, 9, 15, 8)
    given = {"speaker": "chu-tich", "assigned_at": "14/09/2026 16:00", "decision": "88/QĐ-UBND"}
    announced = app.incidents.open(
        "spokesperson-announcement", "Người phát ngôn", given=given, actor=own(app, None)
    ).ref
    assert due(app, announced, "spokesperson_contact") == local(2026, 9, 15, 16)
    step(app, announced, "submit")
    step(app, announced, "approve", "chu-tich")
    step(app, announced, "publish", "chu-tich")

    # Rumours: one referred to the police, one only watched: no 24 h statement was owed.
    at(clock, 2026, 8, 3, 9)
    rumour_decided(app, "refer", {"refer_to": "police"})
    rumour_decided(app, "monitor_only", {})

    # A media crisis reported by the press, answered on time, with a correction request sent.
    at(clock, 2026, 10, 5, 9)
    crisis = app.incidents.open("media-crisis", "Báo đưa tin sạt lở", actor=own(app, None)).ref
    walk(app, crisis, through("monitor"))
    step(app, crisis, "request_correction", note="Báo X đưa sai số liệu.")
    text = app.statements.show(crisis, "correction_request")["text"]
    filled = text.replace("........................................ (tên cơ quan báo chí)", "Báo X")
    app.statements.edit(crisis, "correction_request", filled, actor=own(app, None))
    app.statements.submit(crisis, "correction_request", actor=own(app, None))
    app.statements.approve(crisis, "correction_request", actor=own(app, "chu-tich"))
    app.statements.publish(
        crisis, "correction_request", "written_reply", actor=own(app, "chu-tich")
    )
    # A false alarm dismissed, and a policy draft: neither is an ad-hoc incident.
    dismissed = app.incidents.open("media-crisis", "Báo động giả", actor=own(app, None)).ref
    step(app, dismissed, "triage")
    step(app, dismissed, "dismiss", note="Tin cũ.")
    app.incidents.open("policy-draft", "Dự thảo quy định", actor=own(app, None))

    # 20 December 2026, in 2027's window: the conference planned in September is held.
    at(clock, 2026, 12, 20, 10)
    step(app, planned, "hold", given={"outcome": "Họp báo cuối năm."})
    # 25 January 2027: a petition received before Tết; 15 working days end on 22 February.
    at(clock, 2027, 1, 25, 9)
    tet = inquiry(app, "petition", "Kiến nghị trước Tết")
    assert due(app, tet, "forwarded_petition") == local(2027, 2, 22, 9)

    report = app.reports.yearly_counts(2026)
    assert report["counts"] == {
        "press_conferences": 1,  # held on 10 September (the one held on 20 December is 2027's)
        "briefings": 1,
        "press_requests": 3,  # March, June, December (the withdrawn one asked too)
        "replies": 2,  # answered in March, refused in July
        "incidents": 3,  # two rumours and one crisis; not the false alarm, not the policy draft
        "incidents_with_statement": 1,
        "incidents_under_24h_rule": 1,  # the referral and the monitoring owed no statement
        "statements_on_time": 1,
        "untrue_items": 1,  # the crisis came from the press; the rumours from Facebook
        "correction_requests": 1,
        "entered_on_behalf": 0,
        "approvals_on_behalf": 0,
        "publications_on_behalf": 0,
    }
    assert report["basis"] == "Điều 10 Nghị định số 244/2026/NĐ-CP của Chính phủ"
    assert app.reports.yearly_counts(2025)["counts"]["press_requests"] == 1
    assert app.reports.yearly_counts(2025)["basis"].startswith("Nghị định số 09/2017/NĐ-CP")
    later = app.reports.yearly_counts(2027)["counts"]
    # A conference counts where it was held; a request where it was received.
    assert (later["press_requests"], later["press_conferences"], later["replies"]) == (1, 1, 0)

    document = docx.Document(io.BytesIO(app.reports.yearly_docx(2026)))
    words = "\n".join(p.text for p in document.paragraphs)
    assert "đã trả lời 2/3 đề nghị" in words and "Điều 10 Nghị định số 244/2026/NĐ-CP" in words
