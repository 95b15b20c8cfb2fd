"""Reading incidents: one incident as `show --json` gives it, the list, the clocks that run
out, and the verification of every audit chain. Nothing here writes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .. import audit, clock_status, store_clocks, store_incidents, store_outbox, store_statements
from ..errors import AuditBroken
from ..history import iso
from ..i18n import _
from ..refs import clean_ref
from .lookup import incident_row, next_steps

if TYPE_CHECKING:
    from . import App


class Records:
    def __init__(self, app: App) -> None:
        self.app = app

    def show(self, ref: str) -> dict[str, Any]:
        """The stable JSON view of one incident (documented in the README)."""
        with self.app.store.reading() as conn:
            return self.view(conn, incident_row(conn, ref))

    def view(self, conn: Any, row: Any) -> dict[str, Any]:
        """``show`` of an incident row already read, in the caller's transaction."""
        playbook = self.app.catalogue.pinned(conn, row.playbook_hash)
        events = store_incidents.events_of(conn, row.id)
        statement_rows = store_statements.statements_of(conn, row.id)
        messages = store_outbox.messages_of(conn, row.id)
        clocks = store_clocks.deadlines_of(conn, row.id)
        state = playbook.states[row.state]
        return {
            "ref": row.ref,
            "title": row.title,
            "playbook": {
                "id": playbook.id,
                "version": playbook.version,
                "hash": playbook.source_hash,
                "title": dict(playbook.title),
            },
            "state": row.state,
            "state_title": dict(state.title),
            "owner": state.owner,
            "final": state.final,
            "facts": row.facts,
            "timestamps": row.stamps,
            "opened_at": iso(row.opened_at),
            "updated_at": iso(row.updated_at),
            "closed_at": iso(row.closed_at),
            "version": row.version,
            "allowed": next_steps(playbook, row.state),
            "events": [_event(e) for e in events],
            "statements": _statements(statement_rows),
            "messages": [_message(msg) for msg in messages],
            "undeliverable": sum(1 for msg in messages if msg.status == "dead"),
            "deadlines": clock_status.view(list(clocks), self.app.clock()),
        }

    def clocks_due(self, within: timedelta | None, limit: int = 200) -> list[dict[str, Any]]:
        """Incidents with a running clock that is overdue (``within`` None) or due within
        ``within`` from now, soonest first."""
        now = self.app.clock()
        with self.app.store.reading() as conn:
            rows = store_clocks.running_due_before(conn, now + (within or timedelta(0)), limit)
        return [
            {
                "ref": r.ref,
                "playbook": r.playbook_id,
                "state": r.state,
                "title": r.title,
                "clock": r.clock,
                "rule": r.rule,
                "due_at": iso(r.due_at),
                "overdue": r.due_at < now,
            }
            for r in rows
        ]

    def audit(self, ref: str | None = None) -> list[dict[str, Any]]:
        """Recompute every incident's (or one incident's) hash chain; name the first broken
        link of each, and list the entries someone typed in for another person."""
        with self.app.store.reading() as conn:
            refs = [clean_ref(ref)] if ref else store_incidents.all_refs(conn)
            results = []
            for each in refs:
                row = incident_row(conn, each)
                events = [e._mapping for e in store_incidents.events_of(conn, row.id)]
                broken = audit.first_broken(row.ref, events)
                if broken is None and events and events[-1]["hash"] != row.head_hash:
                    broken = int(events[-1]["seq"]) + 1  # the newest event was removed
                results.append(
                    {
                        "ref": row.ref,
                        "events": len(events),
                        "broken_at": broken,
                        "entered": [{**x, "at": iso(x["at"])} for x in entered_for_others(events)],
                    }
                )
        broken_refs = [r["ref"] for r in results if r["broken_at"] is not None]
        if broken_refs:
            raise AuditBroken(
                _(
                    "the history of {refs} does not verify: it was changed after it was written"
                ).format(refs=", ".join(broken_refs)),
                results,
            )
        return results

    def list_incidents(
        self, *, state: str | None = None, include_closed: bool = False, limit: int = 200
    ) -> list[dict[str, Any]]:
        with self.app.store.reading() as conn:
            rows = store_incidents.list_incidents(
                conn, state=state, include_closed=include_closed, limit=limit
            )
        return [
            {
                "ref": r.ref,
                "playbook": r.playbook_id,
                "state": r.state,
                "title": r.title,
                "opened_at": iso(r.opened_at),
                "updated_at": iso(r.updated_at),
                "closed_at": iso(r.closed_at),
                "undeliverable": int(r.undeliverable),
            }
            for r in rows
        ]


def entered_for_others(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The events someone typed in for another person: with ``--as PERSON`` (``on_behalf``
    None: the entry lends PERSON no rights), or with ``--on-behalf`` (``on_behalf`` is the
    note saying how and when PERSON decided). ``at`` is as given: a datetime, or ISO text."""
    found = []
    for e in events:
        data = e["data"] or {}
        if not data.get("entered_by"):
            continue
        found.append(
            {
                "seq": e["seq"],
                "at": e["at"],
                "person": e["actor"],
                "entered_by": data["entered_by"],
                "on_behalf": data.get("on_behalf"),
                "step": e["trigger"] or e["kind"],
                "statement": data.get("statement"),
                "note": e["note"],
            }
        )
    return found


def on_behalf_decisions(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The decisions a person took elsewhere (approved by phone) and someone else entered
    for them with ``--on-behalf``: who decided, who entered it, the step, the note, when."""
    return [e for e in entered_for_others(events) if e["on_behalf"] is not None]


def _event(e: Any) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": iso(e.at),
        "actor": e.actor,
        "kind": e.kind,
        "trigger": e.trigger,
        "from": e.from_state,
        "to": e.to_state,
        "note": e.note,
        "data": e.data,
        "hash": e.hash,
    }


def _message(msg: Any) -> dict[str, Any]:
    return {
        "id": msg.id,
        "message_id": msg.message_id,
        "to": msg.recipient,
        "to_name": msg.recipient_name,
        "subject": msg.subject,
        "template": msg.template,
        "status": msg.status,
        "attempts": msg.attempts,
        "next_attempt_at": iso(msg.next_attempt_at),
        "last_error": msg.last_error,
        "created_at": iso(msg.created_at),
        "sent_at": iso(msg.sent_at),
    }


def _statements(rows: Any) -> list[dict[str, Any]]:
    statements: dict[tuple[str, int], dict[str, Any]] = {}
    for s in rows:  # a kind's later series are the statements that followed a published one
        entry = statements.setdefault(
            (s.kind, s.series), {"kind": s.kind, "series": s.series, "versions": []}
        )
        entry["versions"].append(
            {
                "number": s.number,
                "title": s.title,
                "text": s.text,
                "sha256": s.text_hash,
                "template": s.template,
                "lang": s.lang,
                "author": s.author,
                "created_at": iso(s.created_at),
            }
        )
    return list(statements.values())
