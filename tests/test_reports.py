"""Reports: the after-action review, and yearly counts equal to a hand count."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from click.testing import CliRunner

from crisisflow import actor as actors
from crisisflow.actor import Actor
from crisisflow.app import App
from crisisflow.cli import cli

from .conftest import MEDIA_CRISIS_PATH, FakeClock, own, through, walk


def to_approval(holding_channel: str = "portal") -> list[tuple[str, dict[str, object]]]:
    """Up to the initial information awaiting approval, the holding statement published on
    ``holding_channel``."""
    return [
        (t, {"given": {"publish_channel": holding_channel}}) if t == "publish_holding" else (t, kw)
        for t, kw in through("submit")
    ]


def fill_blanks(app: App, ref: str, kind: str, addressee: str) -> None:
    """The officer writes in who the document goes to, where the template left dots."""
    text = app.statements.show(ref, kind)["text"]
    filled = re.sub(r"\.{4,}", addressee, text)
    app.statements.edit(ref, kind, filled, actor=app.identify())


HELD = len(through("publish_holding"))  # the steps up to the holding statement published
PUBLISH = [
    ("approve", {"actor": "chu-tich"}),
    ("publish", {"given": {"publish_channel": "press_release"}, "actor": "chu-tich"}),
]


def test_yearly_counts_equal_a_hand_count(app: App, clock: FakeClock) -> None:
    clock.now = datetime(2025, 12, 10, 2, 0, tzinfo=UTC)  # before the 2026 window opens
    walk(
        app,
        app.incidents.open("media-crisis", "Vụ việc năm trước", actor=app.identify()).ref,
        to_approval() + PUBLISH,
    )

    clock.now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    on_time = app.incidents.open(
        "media-crisis", "Đúng hạn", actor=app.identify()
    ).ref  # published within 24 h
    walk(app, on_time, to_approval("interview") + PUBLISH)
    app.incidents.advance(on_time, "monitor", actor=app.identify())
    app.incidents.advance(
        on_time, "request_correction", note="Báo X đưa sai số liệu.", actor=app.identify()
    )
    fill_blanks(app, on_time, "correction_request", "Báo X")
    app.statements.submit(on_time, "correction_request", actor=app.identify())
    app.statements.approve(on_time, "correction_request", actor=own(app, "chu-tich"))
    app.statements.publish(
        on_time, "correction_request", "written_reply", actor=own(app, "chu-tich")
    )

    late = app.incidents.open(
        "media-crisis", "Trễ hạn", actor=app.identify()
    ).ref  # published after 30 hours
    walk(app, late, to_approval("briefing")[:HELD])
    clock.advance(hours=30)
    walk(app, late, to_approval()[HELD:] + PUBLISH)

    dismissed = app.incidents.open("media-crisis", "Không cần xử lý", actor=app.identify()).ref
    app.incidents.advance(dismissed, "triage", actor=app.identify())
    by_phone = "Chủ tịch đồng ý dừng xử lý qua điện thoại lúc 16:00"
    on_behalf = Actor("chu-tich", actors.CLI_AS, entered_by="truc-ban", on_behalf=by_phone)
    app.incidents.advance(dismissed, "dismiss", note=by_phone, actor=on_behalf)

    counts = app.reports.yearly_counts(2026)["counts"]
    assert counts == {
        "incidents": 2,  # a false alarm dismissed is no incident
        "incidents_with_statement": 2,
        "incidents_under_24h_rule": 2,
        "statements_on_time": 1,
        "press_conferences": 0,  # conferences and briefings are those held, not channels used
        "briefings": 0,
        "press_requests": 0,
        "replies": 0,
        "untrue_items": 1,
        "correction_requests": 1,
        "entered_on_behalf": 1,
        "approvals_on_behalf": 0,
        "publications_on_behalf": 0,
    }
    assert app.reports.yearly_counts(2025)["counts"]["incidents"] == 1
    text = app.reports.yearly(2026, "md")
    assert "BÁO CÁO" in text and "2026" in text


def test_after_action_review_in_markdown_and_html(app: App, workspace: object) -> None:
    ref = app.incidents.open(
        "media-crisis", "Tiêu đề <script>alert(1)</script>", actor=app.identify()
    ).ref
    walk(app, ref, MEDIA_CRISIS_PATH)
    md = app.reports.after_action(ref, "md")  # in the workspace's language, Vietnamese
    for section in (
        "## Diễn biến",
        "## Thời hạn",
        "## Văn bản",
        "## Thư điện tử",
        "## Ai đã làm gì",
    ):
        assert section in md
    assert md.startswith("# Báo cáo rút kinh nghiệm vụ việc") and "Timeline" not in md
    assert "initial_info.received" in md and "| met |" in md and "chu-tich" in md
    english = app.reports.after_action(ref, "md", "en")
    for section in ("## Timeline", "## Clocks", "## Statements", "## E-mail", "## Who did what"):
        assert section in english
    page = app.reports.after_action(ref, "html")
    assert '<html lang="vi">' in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    env = {"CRISISFLOW_HOME": str(app.workspace)}
    result = CliRunner().invoke(cli, ["report", ref, "--format", "json"], env=env)
    assert result.exit_code == 8 and "yearly" in result.stderr
    result = CliRunner().invoke(cli, ["report", "yearly"], env=env)
    assert result.exit_code == 8 and "--year" in result.stderr
    result = CliRunner().invoke(
        cli, ["report", "yearly", "--year", "2026", "--format", "json"], env=env
    )
    assert result.exit_code == 0 and '"incidents"' in result.stdout
