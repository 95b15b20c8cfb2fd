"""Recurring duties of the rule pack (the yearly spokesperson report before 20 December):
listed with their due time, reminded by tick once each, done by the office."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crisisflow.app import App
from crisisflow.errors import InvalidInput, NotFoundError

from .conftest import FakeClock, own
from .test_cli import run

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def at(clock: FakeClock, *moment: int) -> None:
    clock.now = datetime(*moment, tzinfo=TZ).astimezone(UTC)  # type: ignore[misc]


def duty_notices(app: App) -> list[str]:
    return [n["notice"] for n in app.clocks.tick() if n["clock"] == "yearly_report"]


def test_the_yearly_report_is_due_before_20_december_and_reminded_once_each(
    app: App, clock: FakeClock
) -> None:
    at(clock, 2026, 12, 1, 9)
    (duty,) = app.duties.upcoming()
    assert (duty["duty"], duty["period"]) == ("yearly_report", 2026)
    assert datetime.fromisoformat(duty["due_at"]) == datetime(2026, 12, 19, 17, tzinfo=TZ)
    assert "Điều 10" in duty["basis"]
    assert duty_notices(app) == []  # more than 7 days ahead
    at(clock, 2026, 12, 12, 17, 1)
    assert duty_notices(app) == ["remind:7d"]
    assert duty_notices(app) == []  # once, however often tick runs
    at(clock, 2026, 12, 17, 18)
    sent = [n for n in app.clocks.tick() if n["clock"] == "yearly_report"]
    assert [(n["notice"], n["to"]) for n in sent] == [("remind:2d", ["vanphong@vinhlinh.example"])]
    at(clock, 2026, 12, 19, 17, 30)
    assert duty_notices(app) == ["overdue"]
    assert app.duties.upcoming()[0]["sent"] == ["remind:7d", "remind:2d", "overdue"]
    with pytest.raises(InvalidInput, match="--note"):
        app.duties.done("yearly_report", "  ", actor=own(app, None))
    with pytest.raises(NotFoundError, match="yearly_report"):
        app.duties.done("monthly_report", "Số 1", actor=own(app, None))
    done = app.duties.done("yearly_report", "Báo cáo số 45/BC-UBND", actor=own(app, None))
    assert done["period"] == 2026
    (next_one,) = app.duties.upcoming()
    assert (next_one["period"], next_one["sent"]) == (2027, [])
    assert duty_notices(app) == []  # done: nothing more until next December


def test_a_reminder_that_was_skipped_sends_only_the_latest(app: App, clock: FakeClock) -> None:
    at(clock, 2026, 12, 18, 9)  # the worker was down until 1 day before
    assert duty_notices(app) == ["remind:2d"]
    at(clock, 2026, 12, 18, 9, 5)
    assert duty_notices(app) == []  # the 7-day reminder it missed is not sent late
    at(clock, 2026, 12, 20, 9)
    assert duty_notices(app) == ["overdue"]


def test_the_duties_command(workspace: Path) -> None:
    listed = json.loads(run(workspace, "duties", "--json").stdout)
    assert [d["duty"] for d in listed] == ["yearly_report"]
    assert "yearly_report" in run(workspace, "duties").stdout
    out = run(workspace, "duties", "done", "yearly_report", "--note", "Báo cáo số 45/BC-UBND")
    assert "done" in out.stdout
    run(workspace, "duties", "done", "nope", "--note", "x", code=5)
