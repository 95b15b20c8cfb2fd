"""A playbook compiled into a ``transitions`` machine, driving a plain model object.

The machine never sees the database, a template or the network. Guards read the model; actions
only record *effects* (a stamp, an e-mail to queue, a statement to draft) that the app carries out
in the same transaction as the state change. Every callback handed to ``transitions`` is a Python
closure built here from an allow-listed name, never a string, so no YAML text can name code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, cast

from transitions import EventData, Machine

from .errors import TransitionRefused
from .i18n import _
from .playbook import STATEMENT_STEPS, Playbook, Step, Transition

# What each allow-listed statement step records against the statement's current text.
RECORDED_AS = dict(
    zip(STATEMENT_STEPS, ("submitted", "approved", "rejected", "published"), strict=True)
)


@dataclass(frozen=True)
class Notify:
    roles: tuple[str, ...]
    template: str
    cause: str  # the state entered or the trigger fired
    due_seconds: int | None = None  # the task's deadline, counted from now


@dataclass(frozen=True)
class Draft:
    kind: str
    template: str


@dataclass(frozen=True)
class CloseClock:
    """End a running clock as ``outcome`` (not_required, handed_over), for the step's note."""

    clock: str
    outcome: str


@dataclass(frozen=True)
class StatementStep:
    """Submit, approve, reject or publish the current version of a statement."""

    kind: str
    action: str  # submitted | approved | rejected | published


@dataclass
class IncidentModel:
    """What the machine may see of an incident, plus what this command brings."""

    ref: str
    state: str
    facts: dict[str, Any]
    stamps: dict[str, datetime]
    now: datetime
    actor: str | None = None
    actor_roles: frozenset[str] = frozenset()
    note: str | None = None
    statements: frozenset[str] = frozenset()
    approved_statements: frozenset[str] = frozenset()
    effects: list[Notify | Draft | StatementStep | CloseClock] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    fired: str | None = None  # the trigger, once it has fired
    new_stamps: set[str] = field(default_factory=set)  # times this step recorded
    limits: Mapping[str, Any] = field(default_factory=dict)  # the rule pack's, by id

    @property
    def stamps_changed(self) -> bool:
        return bool(self.new_stamps)


_FIELDS = tuple(f.name for f in fields(IncidentModel))


def _stamp(name: str) -> Callable[[IncidentModel], None]:
    def stamp(model: IncidentModel) -> None:
        if name not in model.stamps:  # a time is recorded once: the first occurrence counts
            model.stamps[name] = model.now
            model.new_stamps.add(name)

    return stamp


def _count(name: str) -> Callable[[IncidentModel], None]:
    """One more time the step happened, kept as a fact only the engine sets."""

    def count(model: IncidentModel) -> None:
        model.facts[name] = int(model.facts.get(name) or 0) + 1

    return count


Callback = Callable[[EventData], Any]
Predicate = Callable[[IncidentModel], "str | None"]  # None passes; a text is the refusal


def _guard(step: Step) -> Predicate:
    """An allow-listed guard as a predicate that explains itself when it refuses."""
    kind, arg = step.kind, step.arg

    def actor_is(m: IncidentModel) -> str | None:
        if m.actor_roles & set(arg):
            return None
        return _("only {roles} may do this, and {actor} holds none of these roles").format(
            roles=" / ".join(arg), actor=m.actor or _("nobody")
        )

    def fact_in(m: IncidentModel) -> str | None:
        fact, values = arg["fact"], arg["values"]
        if m.facts.get(fact) in values:
            return None
        return _("{fact} must be one of {values}, it is {value!r}").format(
            fact=fact, values=", ".join(map(str, values)), value=m.facts.get(fact)
        )

    def fact_set(m: IncidentModel) -> str | None:
        if m.facts.get(arg) not in (None, ""):
            return None
        return _("{fact} must be set first (--set {fact}=...)").format(fact=arg)

    def stamped(m: IncidentModel) -> str | None:
        return None if arg in m.stamps else _("{stamp} has not been recorded yet").format(stamp=arg)

    def within_limit(m: IncidentModel) -> str | None:
        limit = m.limits.get(arg["limit"])
        if limit is None:
            return _("the rule pack declares no limit {limit}; add it under limits:").format(
                limit=arg["limit"]
            )
        done = int(m.facts.get(arg["count"]) or 0)
        if done < limit.most:
            return None
        return _("{count}: {done} of at most {most} ({basis})").format(
            count=arg["count"], done=done, most=limit.most, basis=limit.basis
        )

    def has_statement(m: IncidentModel) -> str | None:
        if arg in m.statements:
            return None
        return _("no {kind} statement has been drafted yet").format(kind=arg)

    def statement_approved(m: IncidentModel) -> str | None:
        if arg in m.approved_statements:
            return None
        return _(
            "the current text of {kind} is not approved (`crisisflow statement show REF {kind}`)"
        ).format(kind=arg)

    guards: dict[str, Predicate] = {
        "actor_is": actor_is,
        "fact_in": fact_in,
        "fact_set": fact_set,
        "stamped": stamped,
        "has_statement": has_statement,
        "statement_approved": statement_approved,
        "within_limit": within_limit,
    }
    return guards[kind]  # playbook.GUARDS and this table agree


def _requires(names: tuple[str, ...]) -> Predicate:
    def check(m: IncidentModel) -> str | None:
        missing = [
            n for n in names if not (m.note if n == "note" else m.facts.get(n) not in (None, ""))
        ]
        reasons = [
            _("needs --note TEXT") if n == "note" else _("needs --set {fact}=VALUE").format(fact=n)
            for n in missing
        ]
        return "; ".join(reasons) or None

    return check


def _condition(predicate: Predicate) -> Callback:
    def check(event: EventData) -> bool:
        model = cast(IncidentModel, event.model)
        reason = predicate(model)
        if reason is not None:
            model.refusals.append(reason)
        return reason is None

    return check


def _effect(step: Step, cause: str) -> Callable[[IncidentModel], Any]:
    kind, arg = step.kind, step.arg
    if kind == "stamp":
        return _stamp(arg)
    if kind == "count":
        return _count(arg)
    if kind == "notify":
        return lambda model: model.effects.append(
            Notify(arg["to"], arg["template"], cause, arg.get("due"))
        )
    if kind == "draft":
        return lambda model: model.effects.append(Draft(arg["kind"], arg["template"]))
    if kind == "close_clock":
        return lambda model: model.effects.append(CloseClock(arg["clock"], arg["as"]))
    if kind in RECORDED_AS:
        action = RECORDED_AS[kind]
        return lambda model: model.effects.append(StatementStep(arg, action))
    raise AssertionError(kind)  # pragma: no cover - playbook.ACTIONS and this agree


def _action(step: Step, cause: str) -> Callback:
    effect = _effect(step, cause)
    return lambda event: effect(cast(IncidentModel, event.model))


def _transition_spec(t: Transition) -> dict[str, Any]:
    predicates = ([_requires(t.requires)] if t.requires else []) + [_guard(g) for g in t.guards]
    conditions = [_condition(p) for p in predicates]
    return {
        "trigger": t.trigger,
        "source": list(t.sources),
        "dest": t.dest,
        "conditions": conditions,
        # `before` runs once the guards pass and before the destination's on_enter, so a
        # stamp made by the transition is visible to the e-mails the new state sends.
        "before": [_action(a, t.trigger) for a in t.actions],
    }


def compile_machine(playbook: Playbook) -> Machine:
    states = [
        {"name": s.name, "on_enter": [_action(a, s.name) for a in s.on_enter], "final": s.final}
        for s in playbook.states.values()
    ]
    return Machine(
        model=None,
        states=states,
        transitions=[_transition_spec(t) for t in playbook.transitions],
        initial=playbook.initial,
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=False,
        queued=False,
    )


class Machines:
    """Compiled machines by playbook content hash. Compiling is the costly part of firing a
    trigger; the catalogue that pins playbooks keeps one of these."""

    def __init__(self) -> None:
        # Per playbook: its machine and the one model object registered with it. Registering
        # a model adds a method per trigger to it, which costs more than firing; so the
        # registered model stays, and each firing lends it the incident's values.
        self._compiled: dict[str, tuple[Machine, IncidentModel]] = {}
        self._lock = threading.Lock()  # one firing at a time uses a machine's model

    def _machine_for(self, playbook: Playbook) -> tuple[Machine, IncidentModel]:
        found = self._compiled.get(playbook.source_hash)
        if found is None:
            machine = compile_machine(playbook)
            carrier = IncidentModel("", playbook.initial, {}, {}, datetime.min)
            machine.add_model(carrier, initial=playbook.initial)
            found = self._compiled[playbook.source_hash] = (machine, carrier)
        return found

    def fire(self, playbook: Playbook, model: IncidentModel, trigger: str) -> Transition:
        """Fire ``trigger`` on ``model``; raise TransitionRefused (model unchanged) if it may
        not."""
        transition = playbook.transition(model.state, trigger)
        if transition is None:
            raise TransitionRefused(_not_allowed(playbook, model, trigger))
        before = (model.state, dict(model.stamps), set(model.new_stamps))
        with self._lock:
            machine, carrier = self._machine_for(playbook)
            _lend(model, carrier)
            machine.set_state(model.state, model=carrier)
            try:
                fired = carrier.trigger(trigger)  # type: ignore[attr-defined]
            finally:
                _lend(carrier, model)
        model.fired = trigger if fired and not model.refusals else None
        if not fired or model.refusals:
            model.state, model.stamps, model.new_stamps = before
            model.effects.clear()
            reasons = "; ".join(dict.fromkeys(model.refusals)) or _("a guard refused")
            raise TransitionRefused(
                _("{ref}: {trigger!r} refused: {reasons}").format(
                    ref=model.ref, trigger=trigger, reasons=reasons
                )
            )
        return transition


def _lend(source: IncidentModel, target: IncidentModel) -> None:
    """Copy every field (the same lists and dicts: effects land in the source's own)."""
    for name in _FIELDS:
        setattr(target, name, getattr(source, name))


def _not_allowed(playbook: Playbook, model: IncidentModel, trigger: str) -> str:
    names = [t.trigger for t in playbook.transitions_from(model.state)]
    return _("{ref}: {trigger!r} is not allowed in state {state!r}; allowed now: {allowed}").format(
        ref=model.ref,
        trigger=trigger,
        state=model.state,
        allowed=", ".join(names) or _("nothing (final state)"),
    )


def enter_initial(playbook: Playbook, model: IncidentModel) -> None:
    """Run the initial state's on_enter actions for a newly opened incident."""
    for step in playbook.states[playbook.initial].on_enter:
        _effect(step, playbook.initial)(model)
