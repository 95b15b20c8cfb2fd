"""Opening an incident, firing a trigger on it, adding a note: the incident commands.

A command is one write transaction: it reads the incident under lock (PostgreSQL's row lock;
SQLite's writer lock), and what the step's guards and actions need, decides, renders and
writes. Two officers acting at once are served in turn: the second decides from the state the
first left. The version check on the incident row stays as a guard against any writer that
did not take the lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .. import audit, authority, history, machine, store_incidents
from .. import facts as factlib
from ..actor import Actor
from ..errors import ConflictError, InvalidInput
from ..i18n import _
from ..incident_view import IncidentView, stamps_from_json, stamps_to_json
from ..later import Later
from . import effects
from .assignments import Authorised, refuse_role_assignments, refuse_unqualified
from .lookup import incident_and_clocks, incident_row, next_steps
from .records import on_behalf_decisions

if TYPE_CHECKING:
    from datetime import datetime

    from ..deadlines import Clocks
    from ..playbook import Playbook
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
            **actor.audit(),
            **effects,
        },
    )


def _step_clocks(
    conn: Any,
    keeper: Clocks,
    incident_id: int,
    playbook: Playbook,
    model: machine.IncidentModel,
    clocks: list[Any],
) -> list[dict[str, Any]]:
    """What the fired step does to the incident's clocks: those it decides nothing is owed
    on end first, then entering its state starts, stops and re-measures the others."""
    changes: list[dict[str, Any]] = []
    closing = [e for e in model.effects if isinstance(e, machine.CloseClock)]
    if closing:
        changes, clocks = keeper.close(conn, clocks, closing, model.note, model.now)
    state = playbook.states[model.state]
    if state.deadlines or state.stop_clocks or state.final or model.stamps_changed:
        changes += keeper.on_enter(
            conn, incident_id, playbook, model.state, model.stamps, model.now, clocks, model.facts
        )
    return changes


# Opening a matter a few minutes after it arrived is not backdating it.
BACKDATING_GRACE = timedelta(minutes=5)


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
        received_at: str | None = None,
    ) -> Outcome:
        """Open an incident of ``playbook_id`` and enter its initial state. The office received
        the matter now, or at ``received_at`` (earlier, said in ``note``): the legal clocks
        count from then."""
        app = self.app
        playbook = app.catalogue.load(playbook_id)
        now = app.clock()
        title = factlib.clean_text(title, _("--title"))
        if not title:
            raise InvalidInput(_("--title: give the incident a short title"))
        note = clean_note(note)
        roles = authority.acting_roles(actor, app.directory.roles_of)  # --as lends none
        refuse_role_assignments(playbook, given or {}, None, set(roles))
        facts = factlib.with_defaults(
            playbook, factlib.apply(playbook, {}, given or {}, app.directory, app.tz)
        )
        refuse_unqualified(playbook, given or {}, facts, app.directory, None)  # none authorised yet
        model = machine.IncidentModel(
            ref="",
            state=playbook.initial,
            facts=facts,
            stamps=self._opening_stamps(occurred_at, received_at, note, now),
            now=now,
            actor=actor.person,
            note=note,
        )
        machine.enter_initial(playbook, model)
        writer = effects.Writer(app, actor)
        compiled = app.catalogue.compiled(playbook)  # YAML, parsed before the lock is taken
        with app.store.writing() as conn:
            model.ref = self._new_reference(conn, playbook, compiled, now)
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
            # A new incident has no statements: every draft of its first state is a first one.
            drafts = frozenset(e.kind for e in model.effects if isinstance(e, machine.Draft))
            fresh = effects.Known(looked_up=drafts)
            writer.write(
                conn, incident, incident_id, event, event_id, rendered, model, outcome, fresh
            )
            outcome.clocks = app.clock_keeper.on_enter(
                conn, incident_id, playbook, model.state, model.stamps, now, [], model.facts
            )
        outcome.next = next_steps(playbook, model.state)
        return outcome

    def _opening_stamps(
        self, occurred_at: str | None, received_at: str | None, note: str | None, now: datetime
    ) -> dict[str, datetime]:
        # Until told otherwise, a matter occurred when it was received, and was received when
        # it was opened: a clock counted from either then runs out no later than the law allows.
        tz = self.app.tz
        received = factlib.parse_time(received_at, tz, "--received-at") if received_at else now
        if received > now:
            raise InvalidInput(_("--received-at: {time} is in the future").format(time=received_at))
        if received < now - BACKDATING_GRACE and not note:
            raise InvalidInput(
                _(
                    "--received-at: {time} is earlier than now; say with --note how the matter "
                    "reached the office then"
                ).format(time=received_at)
            )
        occurred = factlib.parse_time(occurred_at, tz, "--occurred-at") if occurred_at else None
        if occurred is not None and occurred > now:
            raise InvalidInput(_("--occurred-at: {time} is in the future").format(time=occurred_at))
        if occurred is not None and occurred > received:
            raise InvalidInput(
                _("--occurred-at: {time} is after the matter was received ({received})").format(
                    time=occurred_at, received=received_at or _("now")
                )
            )
        return {"opened_at": now, "occurred_at": occurred or received, "received_at": received}

    def _new_reference(self, conn: Any, playbook: Playbook, compiled: str, now: datetime) -> str:
        store_incidents.pin_playbook(
            conn,
            hash=playbook.source_hash,
            playbook_id=playbook.id,
            version=playbook.version,
            filename=playbook.filename,
            source=playbook.source,
            compiled=compiled,
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
        expect_text: tuple[str, str] | None = None,
        confirm_unchanged: bool = False,
    ) -> Outcome:
        """Fire ``trigger`` on incident ``ref``; refused or conflicting, nothing changes.
        ``expect_text`` (statement kind, SHA-256) refuses the step unless that statement's
        current text is the one the actor saw: an approval binds to what was on screen.
        ``confirm_unchanged``: approve a text that was returned and not changed since.

        One write transaction reads the incident under lock, decides, and writes: two officers
        acting at once are served one after the other, the second from the state the first
        left (refused if the trigger no longer applies)."""
        app = self.app
        note = clean_note(note)
        writer = effects.Writer(app, actor, confirm_unchanged=confirm_unchanged)
        keeper, directory = app.clock_keeper, app.directory  # loaded before the transaction
        limits = keeper.pack.limits
        with authority.explaining_entry(actor), app.store.writing() as conn:
            row, clocks = incident_and_clocks(conn, ref)
            if expect_state and row.state != expect_state:
                raise ConflictError(
                    _(
                        "{ref} is in state {state!r}, not {expected!r}: someone moved it; "
                        "check `crisisflow show {ref}`"
                    ).format(ref=row.ref, state=row.state, expected=expect_state)
                )
            playbook = app.catalogue.pinned(conn, row.playbook_hash)
            transition = playbook.transition(row.state, trigger)
            known = writer.read_for(conn, row, playbook, transition)
            if expect_text is not None:
                effects.require_text(known, row.ref, *expect_text)
            if transition is not None:  # else firing says what is allowed now
                refuse_role_assignments(playbook, given or {}, transition, set(known.roles))
            model = machine.IncidentModel(
                ref=row.ref,
                state=row.state,
                facts=factlib.apply(playbook, row.facts, given or {}, directory, app.tz),
                stamps=stamps_from_json(row.stamps),
                now=app.clock(),
                actor=actor.person,
                actor_roles=known.roles,
                note=note,
                statements=known.kinds,
                approved_statements=known.approved,
                limits=limits,
            )
            app.catalogue.machines.fire(playbook, model, trigger)
            authorised = Authorised(conn, row, model.now)
            refuse_unqualified(playbook, given or {}, model.facts, directory, authorised)
            outcome = self._write_step(conn, row, playbook, model, writer, known, clocks)
            outcome.clocks = _step_clocks(conn, keeper, row.id, playbook, model, clocks)
        outcome.next = next_steps(playbook, model.state)
        return outcome

    @staticmethod
    def _write_step(
        conn: Any,
        row: Any,
        playbook: Playbook,
        model: machine.IncidentModel,
        writer: effects.Writer,
        known: effects.Known,
        clocks: list[Any],
    ) -> Outcome:
        """Write the fired step: the incident, its event, its drafts, statement actions and
        e-mails, inside the caller's transaction; ``clocks``: the incident's, as read."""

        def decisions() -> list[dict[str, Any]]:  # read only if a template lists them
            events = store_incidents.events_of(conn, row.id)
            return on_behalf_decisions(e._mapping for e in events)

        incident = IncidentView(
            row.ref,
            row.title,
            playbook,
            model.state,
            model.facts,
            model.stamps,
            row.opened_at,
            Later(decisions),
            clocks,
        )
        rendered = writer.render(incident, model, trigger=model.fired)
        changed = {k: v for k, v in model.facts.items() if row.facts.get(k) != v}
        event = history.next_event(
            row,
            at=model.now,
            actor=writer.actor.person,
            kind="transition",
            trigger=model.fired,
            from_state=row.state,
            to_state=model.state,
            note=model.note,
            data={
                **({"set": changed} if changed else {}),
                **rendered.summary(),
                **effects.statement_steps(model.effects, known),
                **writer.actor.audit(),
            },
        )
        event_id = history.commit_event(
            conn,
            row,
            event,
            state=model.state,
            facts=model.facts,
            stamps=stamps_to_json(model.stamps),
            closed_at=model.now if playbook.states[model.state].final else None,
        )
        outcome = Outcome(row.ref, row.state, model.state)
        writer.write(conn, incident, row.id, event, event_id, rendered, model, outcome, known)
        return outcome

    def note(self, ref: str, text: str, *, actor: Actor) -> int:
        """Add a note to the incident's history; return its event number. A note depends on
        no state, so a concurrent change never refuses it: it is appended under the row lock."""
        text = factlib.clean_text(text, _("note"), multiline=True, limit=factlib.MAX_LONGTEXT)
        if not text:
            raise InvalidInput(_("the note is empty"))
        now = self.app.clock()
        with self.app.store.writing() as conn:
            row = incident_row(conn, ref, lock=True)
            event = history.append(
                conn,
                row.id,
                locked=row,
                at=now,
                actor=actor.person,
                kind="note",
                note=text,
                data=actor.audit(),
            )
        return int(event["seq"])
