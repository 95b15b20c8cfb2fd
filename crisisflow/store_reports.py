"""The queries behind the yearly spokesperson report (Decree 244/2026/NĐ-CP, Art. 10); what
each count means is the rule pack's `reports: yearly:` and the README's definitions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import models as m
from .clock_status import CANCELLED, HANDED_OVER, MET, NOT_REQUIRED
from .rules import YearlyReport


def yearly_counts(
    conn: Connection, start: datetime, end: datetime, kinds: YearlyReport
) -> dict[str, int]:
    """The counts of the yearly spokesperson report for the window [start, end)."""
    return {
        **_incident_counts(conn, start, end, kinds),
        **_statement_counts(conn, start, end, kinds),
        **_on_behalf_counts(conn, start, end),
    }


def _count(conn: Connection, query: Any) -> int:
    return int(conn.execute(query).scalar() or 0)


def _incident_counts(
    conn: Connection, start: datetime, end: datetime, kinds: YearlyReport
) -> dict[str, int]:
    inc, st, act, dl = m.incidents, m.statements, m.statement_actions, m.deadlines
    opened = sa.and_(inc.c.opened_at >= start, inc.c.opened_at < end)
    legal_clocks = (
        sa.select(sa.func.count())
        .select_from(dl)
        .where(dl.c.clock == kinds.legal_clock, dl.c.started_at >= start, dl.c.started_at < end)
    )

    def count(query: Any) -> int:
        return _count(conn, query)

    return {
        "incidents": count(sa.select(sa.func.count()).select_from(inc).where(opened)),
        "incidents_with_statement": count(
            sa.select(sa.func.count(sa.distinct(inc.c.id)))
            .select_from(
                inc.join(st, st.c.incident_id == inc.c.id).join(act, act.c.statement_id == st.c.id)
            )
            .where(opened, act.c.action == "published")
        ),
        # A clock nothing was owed on (cancelled, not required, handed over) is no case of it.
        "incidents_under_24h_rule": count(
            legal_clocks.where(dl.c.status.not_in((CANCELLED, NOT_REQUIRED, HANDED_OVER)))
        ),
        "statements_on_time": count(legal_clocks.where(dl.c.status == MET)),
    }


def _statement_counts(
    conn: Connection, start: datetime, end: datetime, kinds: YearlyReport
) -> dict[str, int]:
    st, sv, act = m.statements, m.statement_versions, m.statement_actions
    published = sa.and_(act.c.action == "published", act.c.at >= start, act.c.at < end)

    def count(query: Any) -> int:
        return _count(conn, query)

    return {
        "press_conferences": count(
            sa.select(sa.func.count())
            .select_from(act)
            .where(published, act.c.channel.in_(kinds.conference_channels))
        ),
        "briefings": count(
            sa.select(sa.func.count())
            .select_from(act)
            .where(published, act.c.channel.in_(kinds.briefing_channels))
        ),
        "press_requests": count(
            sa.select(sa.func.count())
            .select_from(st.join(sv, sv.c.statement_id == st.c.id))
            .where(
                st.c.kind.in_(kinds.answer_kinds),
                sv.c.number == 1,
                sv.c.created_at >= start,
                sv.c.created_at < end,
            )
        ),
        "replies": count(
            sa.select(sa.func.count())
            .select_from(st.join(act, act.c.statement_id == st.c.id))
            .where(st.c.kind.in_(kinds.answer_kinds), published)
        ),
        "untrue_items": count(
            sa.select(sa.func.count(sa.distinct(st.c.incident_id)))
            .select_from(st)
            .where(
                st.c.kind.in_(kinds.untrue_kinds), st.c.created_at >= start, st.c.created_at < end
            )
        ),
        "correction_requests": count(
            sa.select(sa.func.count())
            .select_from(st.join(act, act.c.statement_id == st.c.id))
            .where(st.c.kind.in_(kinds.correction_request_kinds), published)
        ),
    }


def _on_behalf_counts(conn: Connection, start: datetime, end: datetime) -> dict[str, int]:
    """Steps recorded for the person who decided them elsewhere (approved by phone) and
    entered by someone else (``--on-behalf``): all of them, and the approvals and
    publications among them, counted apart from what people did themselves."""
    ev = m.events
    rows = conn.execute(
        sa.select(ev.c.kind, ev.c.data).where(
            ev.c.at >= start, ev.c.at < end, ev.c.data["on_behalf"].as_string().is_not(None)
        )
    ).all()
    counts = {"entered_on_behalf": 0, "approvals_on_behalf": 0, "publications_on_behalf": 0}
    for kind, data in rows:
        done = {s["action"] for s in data.get("statements", []) if not s.get("already")}
        if kind.startswith("statement_"):  # `statement approve|publish` (none is a repeat)
            done.add(kind.removeprefix("statement_"))
        counts["entered_on_behalf"] += 1
        counts["approvals_on_behalf"] += int("approved" in done)
        counts["publications_on_behalf"] += int("published" in done)
    return counts
