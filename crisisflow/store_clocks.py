"""Deadline rows: clocks, their notices, and what is due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import models as m
from .store_incidents import update_by_id

# --- deadlines ---------------------------------------------------------------------------------


_DEADLINES_OF = (
    sa.select(m.deadlines)
    .where(m.deadlines.c.incident_id == sa.bindparam("incident_id"))
    .order_by(m.deadlines.c.id)
)


def deadlines_of(conn: Connection, incident_id: int) -> Sequence[Any]:
    return conn.execute(_DEADLINES_OF, {"incident_id": incident_id}).all()


class ClockRow:
    """A clock read together with its incident: attribute access and ``_mapping``, as a row."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
        self._mapping = values


_CLOCK_PREFIX = "clock__"
_INCIDENT_WITH_CLOCKS = (
    sa.select(m.incidents, *(c.label(_CLOCK_PREFIX + c.name) for c in m.deadlines.c))
    .outerjoin(m.deadlines, m.deadlines.c.incident_id == m.incidents.c.id)
    .where(m.incidents.c.ref == sa.bindparam("ref"))
    .order_by(m.deadlines.c.id)
    .with_for_update(of=m.incidents)
)


def incident_with_clocks(conn: Connection, ref: str) -> tuple[Any, list[ClockRow]]:
    """The incident ``ref`` locked, and its clocks, in one statement (a step that may start or
    stop clocks needs both, and each statement is a round trip); (None, []) if there is none."""
    rows = conn.execute(_INCIDENT_WITH_CLOCKS, {"ref": ref}).all()
    if not rows:
        return None, []
    cut = len(_CLOCK_PREFIX)
    clocks = [
        ClockRow({k[cut:]: v for k, v in r._mapping.items() if k.startswith(_CLOCK_PREFIX)})
        for r in rows
        if r.clock__id is not None
    ]
    return rows[0], clocks


def deadline_by_id(conn: Connection, deadline_id: int) -> Any:
    dl = m.deadlines
    return conn.execute(sa.select(dl).where(dl.c.id == deadline_id).with_for_update()).one()


def insert_deadline(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(m.deadlines.insert(), values)


def update_deadline(conn: Connection, deadline_id: int, values: dict[str, Any]) -> None:
    update_by_id(conn, m.deadlines, deadline_id, values)


def deadlines_due(conn: Connection, now: datetime, limit: int) -> list[int]:
    """Running clocks that owe a notice by ``now`` (an index range scan)."""
    dl = m.deadlines
    query = (
        sa.select(dl.c.id)
        .where(dl.c.status == "running", dl.c.next_notice_at <= now)
        .order_by(dl.c.next_notice_at)
        .limit(limit)
    )
    return [int(i) for i in conn.execute(query).scalars()]


def notice_keys(conn: Connection, deadline_id: int) -> set[str]:
    dn = m.deadline_notices
    return set(conn.execute(sa.select(dn.c.key).where(dn.c.deadline_id == deadline_id)).scalars())


def insert_notice(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(m.deadline_notices.insert(), values)


def running_due_before(conn: Connection, until: datetime, limit: int) -> Sequence[Any]:
    """Incidents with a running clock due before ``until``, soonest first."""
    dl, inc = m.deadlines, m.incidents
    return conn.execute(
        sa.select(
            inc.c.ref,
            inc.c.playbook_id,
            inc.c.state,
            inc.c.title,
            inc.c.opened_at,
            dl.c.clock,
            dl.c.rule,
            dl.c.due_at,
        )
        .join(inc, inc.c.id == dl.c.incident_id)
        .where(dl.c.status == "running", dl.c.due_at <= until)
        .order_by(dl.c.due_at)
        .limit(limit)
    ).all()


def running_of(conn: Connection, incident_ids: list[int]) -> Sequence[Any]:
    """The running clocks of these incidents, soonest due first."""
    d = m.deadlines
    query = (
        sa.select(d)
        .where(d.c.incident_id.in_(incident_ids), d.c.status == "running")
        .order_by(d.c.due_at)
    )
    return conn.execute(query).all() if incident_ids else []
