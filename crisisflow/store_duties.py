"""Rows of the recurring duties: what was sent or done, once per duty and period."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import models as m


def notices_of(conn: Connection, duty: str, period: int) -> Sequence[Any]:
    d = m.duty_notices
    return conn.execute(
        sa.select(d).where(d.c.duty == duty, d.c.period == period).order_by(d.c.id)
    ).all()


def insert_notice(conn: Connection, values: dict[str, Any]) -> None:
    """One notice (or the duty done); a second of the same key is refused by the unique key."""
    conn.execute(m.duty_notices.insert(), values)
