"""Who may come in: web sessions, one-time sign-in links and the requests for them, used
e-mail links, TOTP secrets. Tokens are never stored, only their keyed hashes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import models as m

_DAY = timedelta(days=1)

# --- sign-in ---------------------------------------------------------------------------------


def count_requests(
    conn: Connection, since: datetime, address_hash: str, client: str
) -> tuple[int, int]:
    """Sign-in requests since ``since``: (for this address, from this client). On PostgreSQL
    the address and the client are locked until the transaction ends, so that two requests
    at once cannot both count below the limit (SQLite writers already go one at a time)."""
    r = m.sign_in_requests
    if conn.dialect.name == "postgresql":  # counted and recorded one request at a time
        for key in (address_hash, client):
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(key))))
    recent = sa.select(
        sa.func.count().filter(r.c.address_hash == address_hash),
        sa.func.count().filter(r.c.client == client),
    ).where(r.c.at >= since)
    by_address, by_client = conn.execute(recent).one()
    return int(by_address), int(by_client)


def record_request(conn: Connection, address_hash: str, client: str, at: datetime) -> None:
    r = m.sign_in_requests
    conn.execute(r.insert().values(address_hash=address_hash, client=client, at=at))
    # What is older than a day counts for no limit any more.
    conn.execute(r.delete().where(r.c.at < at - _DAY))


def insert_sign_in_link(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(m.sign_in_links.insert().values(**values))


def take_sign_in_link(conn: Connection, token_hash: str, now: datetime) -> Any:
    """The unused, unexpired link with this hash, marked used; None if there is none."""
    links = m.sign_in_links
    return conn.execute(
        links.update()
        .where(
            links.c.token_hash == token_hash,
            links.c.used_at.is_(None),
            links.c.expires_at > now,
        )
        .values(used_at=now)
        .returning(links.c.person)
    ).one_or_none()


# --- sessions --------------------------------------------------------------------------------


def insert_session(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(m.web_sessions.insert().values(**values))


_SESSION = sa.select(
    m.web_sessions,
    sa.exists().where(m.totp_secrets.c.person == m.web_sessions.c.person).label("second_factor"),
).where(m.web_sessions.c.token_hash == sa.bindparam("token_hash"))


def session_by_hash(conn: Connection, token_hash: str) -> Any:
    """The session with this hash, and whether its person enrolled a second factor (every
    request asks: the statement is built once)."""
    return conn.execute(_SESSION, {"token_hash": token_hash}).one_or_none()


def touch_session(conn: Connection, session_id: int, now: datetime) -> None:
    s = m.web_sessions
    conn.execute(s.update().where(s.c.id == session_id).values(last_seen_at=now))


def revoke_sessions(
    conn: Connection, now: datetime, *, ids: Sequence[int] = (), person: str | None = None
) -> list[int]:
    """End the sessions named by id, or all of ``person``'s; the ids ended."""
    s = m.web_sessions
    which = s.c.id.in_(list(ids)) if person is None else s.c.person == person
    done = conn.execute(
        s.update().where(which, s.c.revoked_at.is_(None)).values(revoked_at=now).returning(s.c.id)
    )
    return sorted(row.id for row in done)


def session_ids(conn: Connection, ids: Sequence[int]) -> set[int]:
    """Which of these session ids exist."""
    s = m.web_sessions
    return set(conn.execute(sa.select(s.c.id).where(s.c.id.in_(list(ids)))).scalars())


def sessions(conn: Connection, since: datetime, limit: int) -> Sequence[Any]:
    """Sessions created since ``since``, newest first."""
    s = m.web_sessions
    query = sa.select(s).where(s.c.created_at >= since).order_by(s.c.id.desc()).limit(limit)
    return conn.execute(query).all()


# --- e-mailed links and second factors -----------------------------------------------------


def link_used(conn: Connection, nonce: str) -> bool:
    u = m.used_links
    return conn.execute(sa.select(u.c.nonce).where(u.c.nonce == nonce)).first() is not None


def use_link(conn: Connection, nonce: str, purpose: str, now: datetime) -> None:
    """Mark a link used; a second use fails on the primary key (the caller's transaction)."""
    conn.execute(m.used_links.insert().values(nonce=nonce, purpose=purpose, used_at=now))


def totp_of(conn: Connection, person: str) -> Any:
    t = m.totp_secrets
    return conn.execute(sa.select(t).where(t.c.person == person)).one_or_none()


def save_totp(conn: Connection, person: str, secret: str, now: datetime) -> None:
    t = m.totp_secrets
    conn.execute(t.delete().where(t.c.person == person))
    conn.execute(
        t.insert().values(person=person, secret=secret, enrolled_at=now, last_step=None, failures=0)
    )


def restore_totp_step(conn: Connection, person: str, step: int, previous: int | None) -> None:
    """Give back a code that was used up by a change that then failed."""
    t = m.totp_secrets
    conn.execute(
        t.update().where(t.c.person == person, t.c.last_step == step).values(last_step=previous)
    )


def count_totp_failure(conn: Connection, person: str, now: datetime, since: datetime) -> None:
    """One more wrong code; counting starts again when the last one is older than ``since``."""
    t = m.totp_secrets
    fresh = sa.or_(t.c.failed_at.is_(None), t.c.failed_at < since)
    conn.execute(
        t.update()
        .where(t.c.person == person)
        .values(failures=sa.case((fresh, 1), else_=t.c.failures + 1), failed_at=now)
    )


def spend_totp_step(conn: Connection, person: str, step: int) -> bool:
    """Record that the code of ``step`` was used; False if it (or a later one) was already."""
    t = m.totp_secrets
    done = conn.execute(
        t.update()
        .where(t.c.person == person, sa.or_(t.c.last_step.is_(None), t.c.last_step < step))
        .values(last_step=step, failures=0)
    )
    return done.rowcount == 1
