"""Statement rows: versions, actions, written authorisations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import models as m


def add_statement_version(
    conn: Connection,
    incident_id: int,
    kind: str,
    values: dict[str, Any],
    corrects_id: int | None = None,
    new: bool = False,
    series: int = 1,
) -> int:
    """Add the next numbered version of the incident's current statement of ``kind`` (the
    first of a new statement, when the caller knows there is none or starts the next of the
    kind's ``series``: ``new``); return the version's number."""
    st, sv = m.statements, m.statement_versions
    sid = None
    if not new:
        sid = conn.execute(
            sa.select(st.c.id)
            .where(st.c.incident_id == incident_id, st.c.kind == kind)
            .order_by(st.c.id.desc())
            .limit(1)
        ).scalar()
    if sid is None:
        sid = conn.execute(
            st.insert(),
            {
                "incident_id": incident_id,
                "kind": kind,
                "created_at": values["created_at"],
                "corrects_id": corrects_id,
                "series": series,
            },
        ).inserted_primary_key[0]  # type: ignore[index]
        number = 1
    else:
        last = conn.execute(sa.select(sa.func.max(sv.c.number)).where(sv.c.statement_id == sid))
        number = int(last.scalar() or 0) + 1
    conn.execute(sv.insert(), {**values, "statement_id": sid, "number": number})
    return number


def statements_of(conn: Connection, incident_id: int) -> Sequence[Any]:
    st, sv = m.statements, m.statement_versions
    return conn.execute(
        sa.select(
            st.c.kind,
            st.c.series,
            sv.c.number,
            sv.c.title,
            sv.c.text,
            sv.c.text_hash,
            sv.c.template,
            sv.c.lang,
            sv.c.author,
            sv.c.created_at,
        )
        .join(sv, sv.c.statement_id == st.c.id)
        .where(st.c.incident_id == incident_id)
        .order_by(st.c.id, sv.c.number)
    ).all()


def statement_records(
    conn: Connection, incident_id: int, kind: str | None = None
) -> tuple[list[Any], list[Any], list[Any]]:
    """An incident's statements (or its one of ``kind``), their versions and their actions."""
    st, sv, sa_ = m.statements, m.statement_versions, m.statement_actions
    query = sa.select(st).where(st.c.incident_id == incident_id)
    if kind is not None:
        query = query.where(st.c.kind == kind)
    heads = conn.execute(query.order_by(st.c.id)).all()
    ids = [h.id for h in heads]
    if not ids:
        return [], [], []
    versions = conn.execute(
        sa.select(sv).where(sv.c.statement_id.in_(ids)).order_by(sv.c.statement_id, sv.c.number)
    ).all()
    actions = conn.execute(
        sa.select(sa_).where(sa_.c.statement_id.in_(ids)).order_by(sa_.c.id)
    ).all()
    return list(heads), list(versions), list(actions)


_ACTION_COLUMNS = [c for c in m.statement_actions.c if c.name != "statement_id"]
_OTHERS = m.statement_versions.alias("others")
_LATEST = (
    sa.select(sa.func.max(_OTHERS.c.number))
    .where(_OTHERS.c.statement_id == m.statements.c.id)
    .scalar_subquery()
)
_SERIES = m.statements.alias("series")
_NEWEST = (  # the kind's current statement: the latest of its series
    sa.select(sa.func.max(_SERIES.c.id))
    .where(
        _SERIES.c.incident_id == sa.bindparam("incident_id"),
        _SERIES.c.kind == sa.bindparam("kind"),
    )
    .scalar_subquery()
)
# The statement, its current version and every action on it, in one round trip: one row per
# action (or one row with no action).
_CURRENT = (
    sa.select(
        m.statements.c.id,
        m.statements.c.incident_id,
        m.statements.c.kind,
        m.statements.c.corrects_id,
        m.statements.c.series,
        *[c for c in m.statement_versions.c if c.name != "id"],
        *[c.label("a_" + c.name) for c in _ACTION_COLUMNS],
    )
    .join(m.statement_versions, m.statement_versions.c.statement_id == m.statements.c.id)
    .outerjoin(m.statement_actions, m.statement_actions.c.statement_id == m.statements.c.id)
    .where(
        m.statements.c.id == _NEWEST,
        m.statement_versions.c.number == _LATEST,
    )
    .order_by(m.statement_actions.c.id)
)


def statement_current(
    conn: Connection, incident_id: int, kind: str
) -> tuple[list[Any], list[Any], list[Any]]:
    """Like statement_records for one statement, with only its current version: what a step
    that submits, approves or publishes it needs, in one query."""
    rows = conn.execute(_CURRENT, {"incident_id": incident_id, "kind": kind}).all()
    if not rows:
        return [], [], []
    head = rows[0]  # holds the statement and its version
    actions = [
        SimpleNamespace(
            statement_id=head.statement_id,
            **{c.name: getattr(r, "a_" + c.name) for c in _ACTION_COLUMNS},
        )
        for r in rows
        if r.a_id is not None
    ]
    return [head], [head], actions


def add_statement_action(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(m.statement_actions.insert(), values)


_AUTHORISATIONS_OF = (
    sa.select(m.authorisations)
    .where(m.authorisations.c.incident_id == sa.bindparam("incident_id"))
    .order_by(m.authorisations.c.id)
)


def authorisations_of(conn: Connection, incident_id: int) -> Sequence[Any]:
    return conn.execute(_AUTHORISATIONS_OF, {"incident_id": incident_id}).all()


def authorised_incidents(conn: Connection, person: str, now: datetime) -> set[int]:
    """The incidents for which ``person`` holds a written authorisation valid at ``now``."""
    a = m.authorisations
    query = sa.select(a.c.incident_id).where(
        a.c.person == person, a.c.valid_from <= now, a.c.valid_until > now
    )
    return set(conn.execute(query).scalars())


def add_authorisation(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(m.authorisations.insert(), values)
