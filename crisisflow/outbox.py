"""Composed messages become pending outbox rows, written in the transaction of the change
that caused them (the transactional outbox): a crash loses none and sends none too early."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import store_outbox


def rows(
    mails: list[dict[str, Any]],
    incident_id: int | None,
    event_id: int | None,
    key: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """Composed messages as pending outbox rows; ``key`` makes each dedupe key unique. A
    message's ``priority`` (higher is sent first: an approval request) defaults to 0."""
    return [
        {
            **m,
            "priority": m.get("priority", 0),
            "incident_id": incident_id,
            "event_id": event_id,
            "dedupe_key": f"{key}/{m['template']}/{m['recipient']}",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "claimed_until": None,
            "claimed_by": None,
            "last_error": None,
            "created_at": now,
            "sent_at": None,
        }
        for m in mails
    ]


def queue(
    conn: Any,
    mails: list[dict[str, Any]],
    incident_id: int | None,
    key: str,
    now: datetime,
    event_id: int | None = None,
) -> None:
    """Insert ``mails`` as pending rows, inside the caller's transaction."""
    store_outbox.insert_outbox(conn, rows(mails, incident_id, event_id, key, now))
