"""Outbox rows: queued messages, claims with a lease, results, the duty officer's view."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import models as m


def insert_outbox(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(m.outbox.insert(), rows)


def messages_of(conn: Connection, incident_id: int) -> Sequence[Any]:
    ob = m.outbox
    return conn.execute(
        sa.select(
            ob.c.id,
            ob.c.message_id,
            ob.c.recipient,
            ob.c.recipient_name,
            ob.c.subject,
            ob.c.template,
            ob.c.status,
            ob.c.attempts,
            ob.c.next_attempt_at,
            ob.c.last_error,
            ob.c.created_at,
            ob.c.sent_at,
        )
        .where(ob.c.incident_id == incident_id)
        .order_by(ob.c.id)
    ).all()


# --- the outbox: claims with a lease, results, the duty officer's view ------------------------


def claim_due(
    conn: Connection, *, now: datetime, lease_until: datetime, token: str, limit: int
) -> Sequence[Any]:
    """Claim up to ``limit`` due messages in one statement and return them.

    Due means pending and its time has come, or held by a dispatcher whose lease ran out (it
    crashed). One UPDATE ... RETURNING over a sub-select: on PostgreSQL the sub-select skips
    rows other dispatchers hold locked, on SQLite the write transaction already excludes them.
    Selecting ids first and updating them after would let two dispatchers claim the same rows.
    """
    ob = m.outbox
    due = (
        sa.select(ob.c.id)
        .where(
            sa.or_(
                sa.and_(ob.c.status == m.PENDING, ob.c.next_attempt_at <= now),
                sa.and_(ob.c.status == m.SENDING, ob.c.claimed_until < now),
            )
        )
        .order_by(ob.c.priority.desc(), ob.c.next_attempt_at, ob.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    return conn.execute(
        ob.update()
        .where(ob.c.id.in_(due.scalar_subquery()))
        .values(
            status=m.SENDING,
            claimed_by=token,
            claimed_until=lease_until,
            attempts=ob.c.attempts + 1,
        )
        .returning(
            ob.c.id,
            ob.c.incident_id,
            ob.c.sender,
            ob.c.recipient,
            ob.c.raw,
            ob.c.attempts,
            ob.c.message_id,
        )
    ).all()


_SETTLE = (
    m.outbox.update()
    .where(m.outbox.c.id == sa.bindparam("_id"), m.outbox.c.claimed_by == sa.bindparam("_token"))
    .values(
        status=sa.bindparam("_status"),
        attempts=m.outbox.c.attempts - sa.bindparam("_refund"),
        next_attempt_at=sa.bindparam("_next"),
        sent_at=sa.bindparam("_sent_at"),
        last_error=sa.bindparam("_reply"),
        claimed_by=None,
        claimed_until=None,
    )
)


def settle(conn: Connection, token: str, results: list[dict[str, Any]]) -> int:
    """Record delivery results for rows this dispatcher still holds; return how many were.

    Each result: ``id``, ``status``, ``next`` (next attempt time), ``sent_at``, ``reply``,
    ``refund`` (1 when the attempt must not count, e.g. a configuration error)."""
    if not results:
        return 0
    params = [
        {
            "_id": r["id"],
            "_token": token,
            "_status": r["status"],
            "_refund": r.get("refund", 0),
            "_next": r["next"],
            "_sent_at": r.get("sent_at"),
            "_reply": r.get("reply"),
        }
        for r in results
    ]
    return int(conn.execute(_SETTLE, params).rowcount)


def outbox_rows(
    conn: Connection, *, status: str | None, ref: str | None, limit: int
) -> Sequence[Any]:
    ob, inc = m.outbox, m.incidents
    query = (
        sa.select(
            ob.c.id,
            inc.c.ref,
            ob.c.recipient,
            ob.c.recipient_name,
            ob.c.subject,
            ob.c.status,
            ob.c.attempts,
            ob.c.next_attempt_at,
            ob.c.last_error,
            ob.c.message_id,
            ob.c.created_at,
            ob.c.sent_at,
        )
        .select_from(ob.outerjoin(inc, inc.c.id == ob.c.incident_id))
        .order_by(ob.c.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(ob.c.status == status)
    if ref:
        query = query.where(inc.c.ref == ref)
    return conn.execute(query).all()


def outbox_counts(conn: Connection) -> dict[str, int]:
    ob = m.outbox
    rows = conn.execute(sa.select(ob.c.status, sa.func.count()).group_by(ob.c.status)).all()
    return {status: int(count) for status, count in rows}


def requeue(conn: Connection, *, ids: list[int] | None, now: datetime) -> list[int]:
    """Put dead messages (these ids, or all of them) back in the queue with fresh attempts."""
    ob = m.outbox
    query = ob.update().where(ob.c.status == m.DEAD)
    if ids is not None:
        query = query.where(ob.c.id.in_(ids))
    result = conn.execute(
        query.values(status=m.PENDING, attempts=0, next_attempt_at=now).returning(ob.c.id)
    )
    return sorted(int(i) for i in result.scalars())
