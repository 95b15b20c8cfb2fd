"""The incident as templates and a step's effects see it: its facts, times and clocks, read
from the stored row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .playbook import Playbook


@dataclass(frozen=True)
class IncidentView:
    """The incident as one step's effects see it (after its state change)."""

    ref: str
    title: str
    playbook: Playbook
    state: str
    facts: dict[str, Any]
    stamps: dict[str, datetime]
    opened_at: datetime
    # Decisions entered on behalf so far (the records' on_behalf_decisions), for the review.
    on_behalf: Sequence[dict[str, Any]] = ()
    # The incident's clock rows as stored: a text quotes the rule it is measured by.
    clocks: Sequence[Any] = ()


def stamps_from_json(raw: dict[str, str]) -> dict[str, datetime]:
    return {k: datetime.fromisoformat(v) for k, v in raw.items()}


def stamps_to_json(stamps: dict[str, datetime]) -> dict[str, str]:
    return {k: v.astimezone(UTC).isoformat() for k, v in stamps.items()}


def view_of(row: Any, playbook: Playbook, clocks: Sequence[Any] = ()) -> IncidentView:
    """A stored incident row (and its clock rows) as templates see it."""
    return IncidentView(
        row.ref,
        row.title,
        playbook,
        row.state,
        row.facts,
        stamps_from_json(row.stamps),
        row.opened_at,
        clocks=clocks,
    )


def clock_card(row: Any) -> dict[str, Any]:
    """What a template knows of one clock: the rule it is measured by, its legal basis, when it
    started and when it is due."""
    return {
        "rule": row.rule,
        "title": row.title,
        "basis": row.basis,
        "started_at": row.started_at,
        "due_at": row.due_at,
        "status": row.status,
    }
