"""What a stored clock says now: running, overdue, met, missed or cancelled, and the view of
an incident's clocks that `show --json` gives. Kept apart from the clock keeper so that
reading an incident loads no rule pack."""

from __future__ import annotations

from datetime import datetime
from typing import Any

RUNNING, MET, MISSED, CANCELLED = "running", "met", "missed", "cancelled"
# Ended by a decision that nothing is owed (playbook `close_clock`), never counted as met.
NOT_REQUIRED, HANDED_OVER = "not_required", "handed_over"


def status_of(row: Any, now: datetime) -> str:
    """running, overdue, met, missed, cancelled, not_required or handed_over."""
    if row.status == RUNNING and now > row.due_at:
        return "overdue"
    return str(row.status)


def view(rows: list[Any], now: datetime) -> list[dict[str, Any]]:
    """The clocks as `show --json` gives them."""
    return [
        {
            "clock": d.clock,
            "rule": d.rule,
            "title": d.title,
            "basis": d.basis,
            "owner": d.owner,
            "started_at": d.started_at.isoformat(),
            "due_at": d.due_at.isoformat(),
            "status": status_of(d, now),
            "stopped_at": d.stopped_at.isoformat() if d.stopped_at else None,
            "seconds_left": int((d.due_at - now).total_seconds()) if d.status == RUNNING else None,
            "acknowledged_by": d.acknowledged_by,
            "outcome_note": d.outcome_note,
        }
        for d in rows
    ]
