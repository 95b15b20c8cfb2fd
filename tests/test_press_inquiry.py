"""The press-inquiry playbook: a press agency's request logged, answered or refused, sent to that
agency alone; its clocks by the kind of request and the law in force; feedback rounds within the
Press Law's limit; a correction with the press agency's 2 days. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crisisflow.app import App
from crisisflow.errors import InvalidInput, TransitionRefused

from .conftest import FakeClock, bind_login, own
from .test_cli import run

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
AGENCY = {
    "press_agency": "Báo Tuổi Trẻ",
    "press_email": "toasoan@tuoitre.example",
    "journalist": "Lê Văn Phóng",
    "question": "Tiến độ giải phóng mặt bằng dự án đường ven biển đến nay ra sao?",
}


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)  # type: ignore[misc]


def clocks(app: App, ref: str) -> dict[str, dict[str, Any]]:
    return {d["clock"]: d for d in app.records.show(ref)["deadlines"]}


def open_request(app: App, **given: str) -> str:
    return app.incidents.open(
        "press-inquiry", "Hỏi về đường ven biển", given={**AGENCY, **given}, actor=own(app, None)
    ).ref


def step(app: App, ref: str, trigger: str, person: str | None = None, **kwargs: Any) -> None:
    app.incidents.advance(ref, trigger, actor=own(app, person), **kwargs)


def answer(app: App, ref: str) -> None:
    step(app, ref, "assign", given={"info_unit": "phong-tckh"})
    step(app, ref, "answer", given={"answer": "Đã bàn giao 85% mặt bằng."})
    step(app, ref, "submit")
    step(app, ref, "approve", "chu-tich")
    step(app, ref, "send", "chu-tich")


# Due times counted by hand from the rule pack: 30 calendar days for a question; a forwarded
# petition 30 days under the Press Law until 30 June 2026, then 15 working days (Decree
# 237/2026). Received Monday 25 January 2027: working days 26-29 Jan (4), 1-3 Feb (7); Tết
# closes 4-10 Feb (29 Tết to mùng 5, with the weekend); 11-12 Feb (9), 15-19 Feb (14), Monday
# 22 February the 15th.
@pytest.mark.parametrize(
    "received, kind, name, rule, due",
    [
        (local(2026, 6, 20, 9), "question", "press_reply", "reply_on_press", local(2026, 7, 20, 9)),
        (
            local(2026, 6, 20, 9),
            "petition",
            "forwarded_petition",
            "forwarded_petition.measures.old",
            local(2026, 7, 20, 9),
        ),
        (
            local(2027, 1, 25, 9),
            "petition",
            "forwarded_petition",
            "forwarded_petition.measures",
            local(2027, 2, 22, 9),
        ),
    ],
)
def test_the_request_starts_the_clock_of_its_kind_from_receipt(
    app: App, clock: FakeClock, received: datetime, kind: str, name: str, rule: str, due: datetime
) -> None:
    clock.now = received.astimezone(UTC)
    ref = open_request(app, request_kind=kind)
    measured = clocks(app, ref)
    assert set(measured) == {name}  # a question has no petition clock, and the reverse
    assert measured[name]["rule"] == rule
    assert datetime.fromisoformat(measured[name]["due_at"]) == due


def test_a_request_received_earlier_is_measured_from_its_receipt(
    app: App, clock: FakeClock
) -> None:
    clock.now = local(2026, 12, 7, 9).astimezone(UTC)
    with pytest.raises(InvalidInput, match="--note"):
        app.incidents.open(
            "press-inquiry",
            "Hỏi",
            given=AGENCY,
            received_at="2026-12-04 15:30",
            actor=own(app, None),
        )
    with pytest.raises(InvalidInput, match="future"):
        app.incidents.open(
            "press-inquiry",
            "Hỏi",
            given=AGENCY,
            received_at="2026-12-08 09:00",
            note="công văn đến",
            actor=own(app, None),
        )
    ref = app.incidents.open(
        "press-inquiry",
        "Hỏi",
        given=AGENCY,
        received_at="2026-12-04 15:30",
        note="Công văn số 12/TTr đến Văn phòng chiều thứ Sáu",
        actor=own(app, None),
    ).ref
    due = datetime.fromisoformat(clocks(app, ref)["press_reply"]["due_at"])
    assert due == local(2027, 1, 3, 15, 30)


def test_the_approved_answer_goes_to_the_agency_that_asked_and_no_one_else(app: App) -> None:
    ref = open_request(app)
    answer(app, ref)
    shown = app.records.show(ref)
    out = [m for m in shown["messages"] if m["template"] == "requester"]
    assert [(m["to"], m["to_name"]) for m in out] == [("toasoan@tuoitre.example", "Báo Tuổi Trẻ")]
    press_list = {r.email for r in app.directory.press}
    assert press_list and not press_list & {m["to"] for m in shown["messages"]}
    published = shown["statements"][0]["versions"][-1]
    assert "Kính gửi: Báo Tuổi Trẻ" in published["text"]  # addressed to the agency by name
    assert "Đã bàn giao 85% mặt bằng." in published["text"]
    assert published["text"].count("Tiến độ giải phóng mặt bằng") == 1  # the question quoted
    assert shown["state"] == "answered"
    assert clocks(app, ref)["press_reply"]["status"] == "met"


def test_a_refusal_names_its_ground_and_is_approved_before_it_is_sent(app: App) -> None:
    ref = open_request(app, request_kind="petition")
    step(app, ref, "refuse", given={"refusal_ground": "under_inspection"}, note="Đang thanh tra.")
    step(app, ref, "submit")
    with pytest.raises(TransitionRefused, match="not allowed in state 'refusal_approval'"):
        step(app, ref, "send", "chu-tich")
    step(app, ref, "approve", "chu-tich")
    step(app, ref, "send", "chu-tich")
    shown = app.records.show(ref)
    text = shown["statements"][0]["versions"][-1]["text"]
    # The ground in words (its label), never its code.
    assert "vụ việc đang được thanh tra, kiểm tra" in text
    assert "kiến nghị do Quý cơ quan chuyển đến" in text
    assert "under_inspection" not in text
    assert clocks(app, ref)["forwarded_petition"]["status"] == "met"


def test_feedback_rounds_stop_at_the_press_laws_limit(app: App) -> None:
    ref = open_request(app)
    answer(app, ref)
    for n in range(1, 4):
        step(app, ref, "feedback", note=f"Trao đổi lần {n}")
    before = app.records.show(ref)
    with pytest.raises(TransitionRefused, match=r"feedback_rounds: 3 of at most 3 \(Luật Báo chí"):
        step(app, ref, "feedback", note="Lần thứ tư")
    after = app.records.show(ref)
    assert after["events"] == before["events"] and after["facts"]["feedback_rounds"] == 3
    with pytest.raises(InvalidInput, match="no fact 'feedback_rounds'"):
        step(app, ref, "close", given={"feedback_rounds": "0"})


def test_a_correction_request_gives_the_press_agency_two_days(app: App, clock: FakeClock) -> None:
    ref = open_request(app)
    answer(app, ref)
    step(
        app,
        ref,
        "request_correction",
        given={"press_item_url": "https://tuoitre.example/bai-1"},
        note="Bài ghi 50% mặt bằng; thực tế 85%.",
    )
    step(app, ref, "submit_correction")
    step(app, ref, "approve_correction", "chu-tich")
    sent_at = clock.advance(hours=1)
    step(app, ref, "send_correction", "chu-tich")
    measured = clocks(app, ref)["press_correction"]
    assert measured["rule"] == "press_correction.daily"
    assert datetime.fromisoformat(measured["due_at"]) - sent_at == timedelta(days=2)
    shown = app.records.show(ref)
    to = [m["to"] for m in shown["messages"] if m["template"] == "requester"]
    assert to == ["toasoan@tuoitre.example"] * 2  # the answer, then the correction request
    clock.advance(days=3)
    step(app, ref, "corrected", note="Báo đăng cải chính muộn")
    assert clocks(app, ref)["press_correction"]["status"] == "missed"


def test_a_withdrawn_request_owes_no_answer(app: App) -> None:
    ref = open_request(app)
    step(app, ref, "withdraw", note="Phóng viên rút câu hỏi qua điện thoại.")
    measured = clocks(app, ref)["press_reply"]
    assert (measured["status"], measured["outcome_note"]) == (
        "not_required",
        "Phóng viên rút câu hỏi qua điện thoại.",
    )


def cli_walk(workspace: Path, steps: list[tuple[str, ...]]) -> str:
    """Open a request through the command line and fire ``steps``, all as the Chairman."""
    bind_login(workspace, "chu-tich")
    given = [a for k, v in AGENCY.items() for a in ("--set", f"{k}={v}")]
    out = run(workspace, "open", "press-inquiry", "--title", "Hỏi", *given, "--json")
    ref = str(json.loads(out.stdout)["ref"])
    for trigger, *args in steps:
        run(workspace, "advance", ref, trigger, *args)
    return ref


@pytest.mark.parametrize(
    "steps, final",
    [
        (
            [
                ("assign", "--set", "info_unit=phong-tckh"),
                ("answer", "--set", "answer=Đã bàn giao 85% mặt bằng."),
                ("submit",),
                ("approve",),
                ("send",),
                ("feedback", "--note", "Báo hỏi thêm về kinh phí"),
                ("close",),
            ],
            "closed",
        ),
        (
            [
                ("refuse", "--set", "refusal_ground=under_investigation", "--note", "Điều tra"),
                ("submit",),
                ("reject", "--note", "Nêu rõ cơ quan điều tra."),
                ("submit", "--note", "Đã bổ sung."),
                ("approve", "--confirm-unchanged"),
                ("send",),
                ("request_correction", "--set", "press_item_url=https://a.vn/b", "--note", "Sai"),
                ("submit_correction",),
                ("approve_correction",),
                ("send_correction",),
                ("corrected", "--note", "Đã cải chính"),
                ("close",),
            ],
            "closed",
        ),
        ([("assign", "--set", "info_unit=phong-tckh"), ("withdraw", "--note", "Rút")], "withdrawn"),
    ],
    ids=["answered", "refused-and-corrected", "withdrawn"],
)
def test_the_cli_walks_each_way_to_a_final_state(
    workspace: Path, steps: list[tuple[str, ...]], final: str
) -> None:
    ref = cli_walk(workspace, steps)
    shown = json.loads(run(workspace, "show", ref, "--json").stdout)
    assert (shown["state"], shown["final"]) == (final, True)
    assert not [d for d in shown["deadlines"] if d["status"] == "running"]
