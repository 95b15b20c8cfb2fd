"""Incident rows: pinned playbooks, references, the optimistic update, events, lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from . import models as m


def pin_playbook(
    conn: Connection,
    *,
    hash: str,
    playbook_id: str,
    version: int,
    filename: str,
    source: str,
    compiled: str,
    now: datetime,
) -> None:
    """Store a playbook version once, by its hash. Two first incidents of a new version may be
    opened at once (on PostgreSQL both see it missing): the second insert then does nothing."""
    values = {
        "hash": hash,
        "playbook_id": playbook_id,
        "version": version,
        "filename": filename,
        "source": source,
        "compiled": compiled,
        "created_at": now,
    }
    insert_unless_there(conn, m.playbook_versions, values)


def insert_unless_there(conn: Connection, table: sa.Table, values: dict[str, Any]) -> None:
    """Insert a row, or nothing if one with its primary key is there (committed or not)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).values(values).on_conflict_do_nothing())


def pinned_playbook(conn: Connection, hash: str) -> Row[Any] | None:
    return conn.execute(
        sa.select(m.playbook_versions).where(m.playbook_versions.c.hash == hash)
    ).first()


def next_reference_number(conn: Connection, prefix: str, year: int) -> int:
    counters = m.reference_counters
    bumped = conn.execute(
        counters.update()
        .where(counters.c.prefix == prefix, counters.c.year == year)
        .values(last=counters.c.last + 1)
        .returning(counters.c.last)
    ).scalar()
    if bumped is not None:
        return int(bumped)
    conn.execute(counters.insert().values(prefix=prefix, year=year, last=1))
    return 1


_BY_REF = sa.select(m.incidents).where(m.incidents.c.ref == sa.bindparam("ref"))
_BY_REF_LOCKED = _BY_REF.with_for_update()


def incident_by_ref(conn: Connection, ref: str, *, lock: bool = False) -> Any:
    return conn.execute(_BY_REF_LOCKED if lock else _BY_REF, {"ref": ref}).first()


def incident_by_id(conn: Connection, incident_id: int) -> Any:
    return conn.execute(sa.select(m.incidents).where(m.incidents.c.id == incident_id)).one()


def insert_incident(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(m.incidents.insert(), values).inserted_primary_key[0])  # type: ignore[index]


@lru_cache(maxsize=64)
def _update_statement(table: sa.Table, columns: tuple[str, ...]) -> Any:
    """UPDATE table SET columns WHERE id = :_id, built once per set of columns."""
    return (
        table.update()
        .where(table.c.id == sa.bindparam("_id"))
        .values(**{k: sa.bindparam("v_" + k) for k in columns})
    )


def update_by_id(conn: Connection, table: sa.Table, row_id: int, values: dict[str, Any]) -> None:
    statement = _update_statement(table, tuple(sorted(values)))
    conn.execute(statement, {"_id": row_id, **{"v_" + k: v for k, v in values.items()}})


@lru_cache(maxsize=64)
def _versioned_update(columns: tuple[str, ...]) -> Any:
    inc = m.incidents
    return (
        inc.update()
        .where(inc.c.id == sa.bindparam("_id"), inc.c.version == sa.bindparam("_expected"))
        .values(version=sa.bindparam("_new"), **{k: sa.bindparam("v_" + k) for k in columns})
    )


def update_incident(
    conn: Connection, incident_id: int, expected_version: int, values: dict[str, Any]
) -> bool:
    """Optimistic lock: write only if nobody changed the incident since it was read."""
    statement = _versioned_update(tuple(sorted(values)))
    params = {"_id": incident_id, "_expected": expected_version, "_new": expected_version + 1}
    params.update({"v_" + k: v for k, v in values.items()})
    return conn.execute(statement, params).rowcount == 1


def insert_event(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(m.events.insert(), values).inserted_primary_key[0])  # type: ignore[index]


def events_of(conn: Connection, incident_id: int) -> Sequence[Any]:
    return conn.execute(
        sa.select(m.events).where(m.events.c.incident_id == incident_id).order_by(m.events.c.seq)
    ).all()


def list_incidents(
    conn: Connection, *, state: str | None, include_closed: bool, limit: int
) -> Sequence[Any]:
    inc, ob = m.incidents, m.outbox
    undeliverable = (
        sa.select(sa.func.count())
        .where(ob.c.incident_id == inc.c.id, ob.c.status == m.DEAD)
        .scalar_subquery()
    )
    query = sa.select(
        inc.c.ref,
        inc.c.playbook_id,
        inc.c.state,
        inc.c.title,
        inc.c.opened_at,
        inc.c.updated_at,
        inc.c.closed_at,
        undeliverable.label("undeliverable"),
    )
    if state:
        query = query.where(inc.c.state == state)
    if not include_closed:
        query = query.where(inc.c.closed_at.is_(None))
    return conn.execute(query.order_by(inc.c.opened_at.desc(), inc.c.id.desc()).limit(limit)).all()


def event_time(conn: Connection, incident_id: int, seq: int) -> Any:
    """When event ``seq`` of the incident happened (None if it has no such event)."""
    ev = m.events
    query = sa.select(ev.c.at).where(ev.c.incident_id == incident_id, ev.c.seq == seq)
    return conn.execute(query).scalar_one_or_none()


def open_playbooks(conn: Connection) -> set[str]:
    """The pinned playbook versions open incidents run on."""
    inc = m.incidents
    query = sa.select(inc.c.playbook_hash).where(inc.c.closed_at.is_(None)).distinct()
    return set(conn.execute(query).scalars())


def open_incidents(conn: Connection, limit: int, offset: int = 0) -> Sequence[Any]:
    """Open incidents, newest first, with their pinned playbook and undeliverable mail."""
    inc, ob = m.incidents, m.outbox
    undeliverable = (
        sa.select(sa.func.count())
        .where(ob.c.incident_id == inc.c.id, ob.c.status == m.DEAD)
        .scalar_subquery()
    )
    query = (
        sa.select(
            inc.c.id,
            inc.c.ref,
            inc.c.title,
            inc.c.playbook_id,
            inc.c.playbook_hash,
            inc.c.state,
            inc.c.facts,
            inc.c.opened_at,
            undeliverable.label("undeliverable"),
        )
        .where(inc.c.closed_at.is_(None))
        .order_by(inc.c.opened_at.desc(), inc.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return conn.execute(query).all()


def _mail_marker(*where: Any) -> list[Any]:
    """What changes whenever mail (of these incidents) is queued, tried, sent or given up."""
    ob = m.outbox
    counted = [sa.func.count()] + [
        sa.func.count().filter(ob.c.status == status) for status in (m.PENDING, m.SENT, m.DEAD)
    ]
    return [
        sa.select(column).where(*where).scalar_subquery()
        for column in (*counted, sa.func.coalesce(sa.func.sum(ob.c.attempts), 0))
    ]


# Built once: a page is served many times for each time it is drawn.
_INCIDENT_STAMP = sa.select(
    m.incidents.c.id,
    m.incidents.c.version,
    *_mail_marker(m.outbox.c.incident_id == m.incidents.c.id),
).where(m.incidents.c.ref == sa.bindparam("ref"))

_OPEN_STAMP = sa.select(
    sa.select(sa.func.count()).where(m.incidents.c.closed_at.is_(None)).scalar_subquery(),
    sa.select(sa.func.max(m.incidents.c.updated_at)).scalar_subquery(),
    sa.select(sa.func.count()).where(m.outbox.c.status == m.DEAD).scalar_subquery(),
)


def incident_stamp(conn: Connection, ref: str) -> tuple[Any, ...] | None:
    """What an incident's page shows changes only when this does: its version (every event:
    a step, a note, a statement change, a clock's notice) and the state of its mail."""
    found = conn.execute(_INCIDENT_STAMP, {"ref": ref}).first()
    return tuple(found) if found is not None else None


def open_stamp(conn: Connection) -> tuple[Any, ...]:
    """The same for the list of open incidents: how many, the latest change to any incident
    (a step, a note, a closing), and the undeliverable mail the list counts. Each part is
    read from an index."""
    return tuple(conn.execute(_OPEN_STAMP).one())


def all_refs(conn: Connection) -> list[str]:
    inc = m.incidents
    return [str(r) for r in conn.execute(sa.select(inc.c.ref).order_by(inc.c.id)).scalars()]
