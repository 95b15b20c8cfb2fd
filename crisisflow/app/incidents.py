"""Opening an incident, firing a trigger on it, adding a note: the incident commands.

A command reads the incident (and what its guards need) first, decides and renders without
holding a lock, then writes in one transaction that succeeds only if nobody changed the
incident in between (optimistic locking: a race ends in ConflictError, never a lost change).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import audit, history, machine, store_incidents
from .. import facts as factlib
from ..actor import Actor
from ..drafting import IncidentView, stamps_from_json
from ..errors import ConflictError, InvalidInput
from ..i18n import _
from . import effects
from .lookup import incident_row, next_steps

if TYPE_CHECKING:
    from datetime import datetime

    from ..playbook import Playbook, Transition
    from . import App


@dataclass
class Outcome:
    """What a command did, for the caller to show."""

    ref: str
    from_state: str | None
    to_state: str
    drafted: list[dict[str, Any]] = field(default_factory=list)
    statement_steps: list[dict[str, Any]] = field(default_factory=list)
    clocks: list[dict[str, Any]] = field(default_factory=list)
    queued: list[dict[str, Any]] = field(default_factory=list)
    next: list[dict[str, Any]] = field(default_factory=list)


def stamps_to_json(stamps: dict[str, datetime]) -> dict[str, str]:
    from datetime import UTC

    return {k: v.astimezone(UTC).isoformat() for k, v in stamps.items()}


def clean_note(note: str | None) -> str | None:
    if not note:
        return None
    return factlib.clean_text(note, "--note", multiline=True, limit=factlib.MAX_LONGTEXT)


def _opening_event(
    incident: IncidentView, model: machine.IncidentModel, actor: Actor, effects: dict[str, Any]
) -> dict[str, Any]:
    """The first event of an incident's history, which starts its hash chain."""
    playbook = incident.playbook
    return history.event_row(
        0,
        incident.ref,
        seq=1,
        prev_hash=audit.GENESIS,
        at=model.now,
        actor=actor.person,
        kind="opened",
        to_state=model.state,
        note=model.note,
        data={
            "playbook_version": playbook.version,
            "playbook_hash": playbook.source_hash,
            "via": actor.via,
            **effects,
        },
    )


class IncidentCases:
    def __init__(self, app: App) -> None:
        self.app = app

    def open(
        self,
        playbook_id: str,
        title: str,
        *,
        actor: Actor,
        given: dict[str, str] | None = None,
        occurred_at: str | None = None,
        note: str | None = None,
    ) -> Outcome:
        """Open an incident of ``playbook_id`` and enter its initial state."""
        app = self.app
        playbook = app.catalogue.load(playbook_id)
        now = app.clock()
        title = factlib.clean_text(title, _("--title"))
        if not title:
            raise InvalidInput(_("--title: give the incident a short title"))
        note = clean_note(note)
        facts = factlib.with_defaults(
            playbook, factlib.apply(playbook, {}, given or {}, app.directory, app.tz)
        )
        model = machine.IncidentModel(
            ref="",
            state=playbook.initial,
            facts=facts,
            stamps=self._opening_stamps(occurred_at, now),
            now=now,
            actor=actor.person,
            note=note,
        )
        machine.enter_initial(playbook, model)
        writer = effects.Writer(app, playbook, actor)
        with app.store.writing() as conn:
            model.ref = self._new_reference(conn, playbook, now)
            incident = IncidentView(
                model.ref, title, playbook, model.state, facts, model.stamps, now
            )
            rendered = writer.render(incident, model, trigger=None)
            event = _opening_event(incident, model, actor, rendered.summary())
            event["incident_id"] = incident_id = store_incidents.insert_incident(
                conn, self._incident_values(incident, model, event, now)
            )
            event_id = store_incidents.insert_event(conn, event)
            outcome = Outcome(model.ref, None, model.state)
            writer.write(conn, incident, incident_id, event, event_id, rendered, model, outcome, {})
            outcome.clocks = app.clock_keeper.on_enter(
                conn, incident_id, playbook, model.state, model.stamps, now
            )
        outcome.next = next_steps(playbook, model.state)
        return outcome

    def _opening_stamps(self, occurred_at: str | None, now: datetime) -> dict[str, datetime]:
        # Until told otherwise, a matter occurred when it was opened: a clock counted from its
        # occurrence then runs out no later than the law allows.
        stamps = {"opened_at": now, "occurred_at": now}
        if occurred_at:
            stamps["occurred_at"] = factlib.parse_time(occurred_at, self.app.tz, "--occurred-at")
            if stamps["occurred_at"] > now:
                raise InvalidInput(
                    _("--occurred-at: {time} is in the future").format(time=occurred_at)
                )
        return stamps

    def _new_reference(self, conn: Any, playbook: Playbook, now: datetime) -> str:
        store_incidents.pin_playbook(
            conn,
            hash=playbook.source_hash,
            playbook_id=playbook.id,
            version=playbook.version,
            filename=playbook.filename,
            source=playbook.source,
            compiled=self.app.catalogue.compiled(playbook),
            now=now,
        )
        year = now.astimezone(self.app.tz).year
        number = store_incidents.next_reference_number(conn, playbook.reference_prefix, year)
        return f"{playbook.reference_prefix}-{year}-{number:04d}"

    @staticmethod
    def _incident_values(
        incident: IncidentView, model: machine.IncidentModel, event: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        playbook = incident.playbook
        return {
            "ref": incident.ref,
            "playbook_id": playbook.id,
            "playbook_hash": playbook.source_hash,
            "state": model.state,
            "title": incident.title,
            "facts": model.facts,
            "stamps": stamps_to_json(model.stamps),
            "version": 1,
            "head_hash": event["hash"],
            "opened_at": now,
            "updated_at": now,
            "closed_at": now if playbook.states[model.state].final else None,
        }

    def advance(
        self,
        ref: str,
        trigger: str,
        *,
        actor: Actor,
        note: str | None = None,
        given: dict[str, str] | None = None,
        expect_state: str | None = None,
    ) -> Outcome:
        """Fire ``trigger`` on incident ``ref``; refused or conflicting, nothing changes."""
        app = self.app
        note = clean_note(note)
        writer = effects.Writer(app, None, actor)
        with app.store.reading() as conn:
            row = incident_row(conn, ref)
            playbook = app.catalogue.pinned(conn, row.playbook_hash)
            transition = playbook.transition(row.state, trigger)
            known = writer.read_for(conn, row, playbook, transition)
        if expect_state and row.state != expect_state:
            raise ConflictError(
                _(
                    "{ref} is in state {state!r}, not {expected!r}: someone moved it; "
                    "check `crisisflow show {ref}`"
                ).format(ref=row.ref, state=row.state, expected=expect_state)
            )
        now = app.clock()
        facts = factlib.apply(playbook, row.facts, given or {}, app.directory, app.tz)
        model = machine.IncidentModel(
            ref=row.ref,
            state=row.state,
            facts=facts,
            stamps=stamps_from_json(row.stamps),
            now=now,
            actor=actor.person,
            actor_roles=known.roles,
            note=note,
            statements=known.kinds,
            approved_statements=known.approved,
        )
        app.catalogue.machines.fire(playbook, model, trigger)
        return self._write_step(row, playbook, transition, model, writer, known)

    def _write_step(
        self,
        row: Any,
        playbook: Playbook,
        transition: Transition | None,
        model: machine.IncidentModel,
        writer: effects.Writer,
        known: effects.Known,
    ) -> Outcome:
        trigger = transition.trigger if transition else None
        incident = IncidentView(
            row.ref, row.title, playbook, model.state, model.facts, model.stamps, row.opened_at
        )
        rendered = writer.render(incident, model, trigger=trigger)
        changed = {k: v for k, v in model.facts.items() if row.facts.get(k) != v}
        event = history.next_event(
            row,
            at=model.now,
            actor=writer.actor.person,
            kind="transition",
            trigger=trigger,
            from_state=row.state,
            to_state=model.state,
            note=model.note,
            data={
                **({"set": changed} if changed else {}),
                **rendered.summary(),
                **effects.statement_steps(model.effects),
                "via": writer.actor.via,
            },
        )
        outcome = Outcome(row.ref, row.state, model.state)
        state = playbook.states[model.state]
        stamps = stamps_to_json(model.stamps)
        with self.app.store.writing() as conn:
            event_id = history.commit_event(
                conn,
                row,
                event,
                state=model.state,
                facts=model.facts,
                stamps=stamps,
                closed_at=model.now if state.final else None,
            )
            writer.write(
                conn, incident, row.id, event, event_id, rendered, model, outcome, known.statements
            )
            if state.deadlines or state.stop_clocks or state.final or stamps != row.stamps:
                outcome.clocks = self.app.clock_keeper.on_enter(
                    conn, row.id, playbook, model.state, model.stamps, model.now
                )
        outcome.next = next_steps(playbook, model.state)
        return outcome

    def note(self, ref: str, text: str, *, actor: Actor) -> int:
        """Add a note to the incident's history; return its event number. A note depends on
        no state, so a concurrent change never refuses it: it is appended under the row lock."""
        text = factlib.clean_text(text, _("note"), multiline=True, limit=factlib.MAX_LONGTEXT)
        if not text:
            raise InvalidInput(_("the note is empty"))
        now = self.app.clock()
        with self.app.store.writing() as conn:
            row = incident_row(conn, ref)
            event = history.append(
                conn,
                row.id,
                at=now,
                actor=actor.person,
                kind="note",
                note=text,
                data={"via": actor.via},
            )
        return int(event["seq"])
