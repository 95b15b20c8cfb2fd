"""The queries behind the yearly spokesperson report (Decree 244/2026/NĐ-CP, Art. 10); what
each count means is the rule pack's `reports: yearly:` and the README's definitions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import models as m
from .clock_status import CANCELLED, HANDED_OVER, MET, NOT_REQUIRED
from .incident_view import stamps_from_json
from .rules import YearlyReport


def yearly_counts(
    conn: Connection, start: datetime, end: datetime, kinds: YearlyReport
) -> dict[str, int]:
    """The counts of the yearly spokesperson report for the window [start, end): each incident
    once, in the window that holds its receipt."""
    every = _incidents(conn)
    received = [i for i in every if start <= i.received < end]
    return {
        **_incident_counts(conn, received, kinds),
        **_press_counts(received, kinds),
        **_events_held(every, start, end, kinds),
        "correction_requests": _count(
            conn,
            sa.select(sa.func.count())
            .select_from(m.statements.join(m.statement_actions))
            .where(
                m.statements.c.kind.in_(kinds.correction_request_kinds),
                m.statement_actions.c.action == "published",
                m.statement_actions.c.at >= start,
                m.statement_actions.c.at < end,
            ),
        ),
        **_on_behalf_counts(conn, start, end),
    }


@dataclass(frozen=True)
class _Incident:
    id: int
    playbook_id: str
    state: str
    facts: dict[str, Any]
    stamps: dict[str, datetime]
    received: datetime


def _incidents(conn: Connection) -> list[_Incident]:
    inc = m.incidents
    rows = conn.execute(
        sa.select(
            inc.c.id, inc.c.playbook_id, inc.c.state, inc.c.facts, inc.c.stamps, inc.c.opened_at
        )
    ).all()
    found = []
    for row in rows:
        stamps = stamps_from_json(row.stamps or {})
        received = stamps.get("received_at", row.opened_at)  # older incidents: when opened
        found.append(
            _Incident(row.id, row.playbook_id, row.state, row.facts or {}, stamps, received)
        )
    return found


def _count(conn: Connection, query: Any) -> int:
    return int(conn.execute(query).scalar() or 0)


def _incident_counts(
    conn: Connection, received: list[_Incident], kinds: YearlyReport
) -> dict[str, int]:
    st, act, dl = m.statements, m.statement_actions, m.deadlines
    adhoc = [
        i
        for i in received
        if i.playbook_id in kinds.incident_playbooks and i.state not in kinds.dismissed_states
    ]
    ids = [i.id for i in adhoc]
    spoke = set(
        conn.execute(
            sa.select(st.c.incident_id)
            .distinct()
            .select_from(st.join(act))
            .where(st.c.incident_id.in_(ids), act.c.action == "published")
        ).scalars()
    )
    legal = dict(
        conn.execute(
            sa.select(dl.c.incident_id, dl.c.status).where(
                dl.c.incident_id.in_(ids), dl.c.clock == kinds.legal_clock
            )
        ).all()
    )
    # A clock nothing was owed on (cancelled, not required, handed over) is no case of it.
    owed = [s for s in legal.values() if s not in (CANCELLED, NOT_REQUIRED, HANDED_OVER)]
    untrue = set(
        conn.execute(
            sa.select(st.c.incident_id)
            .distinct()
            .where(st.c.incident_id.in_(ids), st.c.kind.in_(kinds.untrue_kinds))
        ).scalars()
    )
    return {
        "incidents": len(adhoc),
        "incidents_with_statement": len(spoke),
        "incidents_under_24h_rule": len(owed),
        "statements_on_time": owed.count(MET),
        "untrue_items": sum(1 for i in adhoc if i.id in untrue and _from_press(i, kinds)),
    }


def _from_press(incident: _Incident, kinds: YearlyReport) -> bool:
    """Whether the item came from the press: one of the pack's FACT=VALUE pairs holds."""
    pairs = (p.partition("=") for p in kinds.press_sources)
    return any(str(incident.facts.get(fact)) == value for fact, _sep, value in pairs)


def _press_counts(received: list[_Incident], kinds: YearlyReport) -> dict[str, int]:
    """The press's requests received, and the replies to them."""
    requests = [i for i in received if i.playbook_id in kinds.request_playbooks]
    return {
        "press_requests": len(requests),
        "replies": sum(1 for i in requests if kinds.reply_stamp in i.stamps),
    }


def _events_held(
    every: list[_Incident], start: datetime, end: datetime, kinds: YearlyReport
) -> dict[str, int]:
    """The press conferences and briefings held in the window (whenever planned)."""
    events = [
        str(i.facts.get(kinds.event_fact))
        for i in every
        if i.playbook_id in kinds.event_playbooks
        and start <= i.stamps.get(kinds.held_stamp, end) < end
    ]
    return {
        "press_conferences": sum(1 for e in events if e in kinds.conference_events),
        "briefings": sum(1 for e in events if e in kinds.briefing_events),
    }


def on_behalf_entries(conn: Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Each step recorded for someone who decided it elsewhere (approved by phone), with its
    incident: the report lists them."""
    ev, inc = m.events, m.incidents
    rows = conn.execute(
        sa.select(inc.c.ref, ev.c.at, ev.c.actor, ev.c.kind, ev.c.trigger, ev.c.data)
        .select_from(ev.join(inc, inc.c.id == ev.c.incident_id))
        .where(ev.c.at >= start, ev.c.at < end, ev.c.data["on_behalf"].as_string().is_not(None))
        .order_by(ev.c.at)
    ).all()
    return [
        {
            "ref": r.ref,
            "at": r.at,
            "person": r.actor,
            "step": r.trigger or r.kind,
            "entered_by": r.data.get("entered_by"),
            "on_behalf": r.data.get("on_behalf"),
        }
        for r in rows
    ]


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
