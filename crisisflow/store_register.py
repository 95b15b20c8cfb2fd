"""Rows of the document register: the next number of a register, and the numbers given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import models as m
from .store_incidents import insert_unless_there


def take_number(conn: Connection, year: int, symbol: str) -> int:
    """The next number of the register of ``year`` and ``symbol``, inside the caller's
    transaction. The counter row's update locks it until commit, so two publications on one
    register take consecutive numbers (PostgreSQL waits on the row; SQLite has one writer)."""
    counters = m.register_counters
    insert_unless_there(conn, counters, {"year": year, "symbol": symbol, "last_number": 0})
    taken = conn.execute(
        counters.update()
        .where(counters.c.year == year, counters.c.symbol == symbol)
        .values(last_number=counters.c.last_number + 1)
        .returning(counters.c.last_number)
    ).scalar_one()
    return int(taken)


def add_entry(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(m.register_entries.insert(), values)


def entry_of(conn: Connection, statement_id: int, version: int) -> Any:
    e = m.register_entries
    return conn.execute(
        sa.select(e).where(e.c.statement_id == statement_id, e.c.version == version)
    ).first()


def entries(conn: Connection, year: int | None = None) -> Sequence[Any]:
    """Every number given (of ``year``), with its incident's reference and statement kind."""
    e, s, i = m.register_entries, m.statements, m.incidents
    query = (
        sa.select(e, s.c.kind, i.c.ref)
        .join(s, s.c.id == e.c.statement_id)
        .join(i, i.c.id == s.c.incident_id)
        .order_by(e.c.year, e.c.symbol, e.c.number)
    )
    if year is not None:
        query = query.where(e.c.year == year)
    return conn.execute(query).all()


def numbers_of(conn: Connection, incident_id: int) -> dict[tuple[int, int], Any]:
    """(statement id, version) → its register entry, for an incident's statements."""
    e, s = m.register_entries, m.statements
    rows = conn.execute(
        sa.select(e).join(s, s.c.id == e.c.statement_id).where(s.c.incident_id == incident_id)
    ).all()
    return {(r.statement_id, r.version): r for r in rows}
