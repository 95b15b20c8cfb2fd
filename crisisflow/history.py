"""An incident's history: appending hash-chained events.

The incident row holds the chain's head (``head_hash``) and a version that counts its events,
so the next event's number and predecessor are known without reading the events.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import audit, store_incidents
from . import models as m
from .errors import ConflictError
from .i18n import _


def iso(value: datetime | None) -> str | None:
    """A stored time as the JSON views give it (ISO 8601, UTC), or None."""
    return value.isoformat() if value else None


def plain_json(value: Any) -> Any:
    """A JSON-safe copy (tuples → lists, datetimes → ISO text), as it will read back."""
    return json.loads(
        json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else list(v))
    )


def event_row(
    incident_id: int, ref: str, *, seq: int, prev_hash: str, **fields: Any
) -> dict[str, Any]:
    """An event row, its hash chained to the incident's previous event."""
    fields["seq"] = seq
    fields["data"] = plain_json(fields.get("data") or {})
    for name in ("trigger", "from_state", "to_state", "note"):
        fields.setdefault(name, None)
    digest = audit.event_hash(ref, prev_hash, fields)
    return {"incident_id": incident_id, "prev_hash": prev_hash, "hash": digest, **fields}


def next_event(row: Any, **fields: Any) -> dict[str, Any]:
    """The incident row's next event: its number follows the row's version, its hash chains
    to the row's head."""
    return event_row(row.id, row.ref, seq=row.version + 1, prev_hash=row.head_hash, **fields)


def append(
    conn: Connection,
    incident_id: int,
    *,
    at: datetime,
    actor: str,
    kind: str,
    locked: Any = None,
    **fields: Any,
) -> dict[str, Any]:
    """Append an event that depends on no state (a note, a message sent, a reminder) inside
    the caller's transaction. The row lock orders it with concurrent commands, so it is never
    refused as a conflict; ``locked`` is the incident row when the caller already holds it."""
    row = locked
    if row is None:
        inc = m.incidents
        row = conn.execute(
            sa.select(inc.c.ref, inc.c.version, inc.c.head_hash)
            .where(inc.c.id == incident_id)
            .with_for_update()
        ).one()
    event = event_row(
        incident_id,
        row.ref,
        seq=row.version + 1,
        prev_hash=row.head_hash,
        at=at,
        actor=actor,
        kind=kind,
        **fields,
    )
    values = {"head_hash": event["hash"], "updated_at": at}
    if not store_incidents.update_incident(conn, incident_id, row.version, values):
        raise ConflictError(
            _("{ref} changed while its history was written; try again").format(ref=row.ref)
        )
    store_incidents.insert_event(conn, event)
    return event


def commit_event(conn: Connection, row: Any, event: dict[str, Any], **values: Any) -> int:
    """Write ``event`` and the incident's new head (and ``values``), only if nobody changed
    the incident since ``row`` was read (optimistic lock); return the event's id."""
    values = {"head_hash": event["hash"], "updated_at": event["at"], **values}
    if not store_incidents.update_incident(conn, row.id, row.version, values):
        raise ConflictError(
            _(
                "{ref} was changed by someone else while you worked; nothing was done, "
                "check `crisisflow show {ref}` and try again"
            ).format(ref=row.ref)
        )
    return store_incidents.insert_event(conn, event)
