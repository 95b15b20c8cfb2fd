"""Reading playbook data (parsed YAML, or the JSON pinned with an incident) into validated
playbook objects, collecting every problem with its line."""

from __future__ import annotations

from typing import Any

from . import policy
from .errors import Problem
from .i18n import Localized, _
from .playbook import (
    ACTIONS,
    FACT_TYPES,
    GUARDS,
    ID_RE,
    PREFIX_RE,
    RESERVED,
    Fact,
    Playbook,
    State,
    Step,
    Transition,
    content_hash,
)
from .playbook_steps import CLOCK_RE, read_steps
from .reader import NAME_RE, Reader


def _read_fact(
    r: Reader, name: str, node: Any, line: int, roles: dict[str, Localized]
) -> Fact | None:
    where = _("fact {name!r}").format(name=name)
    if not NAME_RE.match(name) or name in RESERVED:
        r.problem(line, _("{where}: not a valid fact name (or a reserved one)").format(where=where))
    spec = r.mapping(node, where, line)
    if spec is None:
        return None
    r.keys(spec, where, ("type", "required", "default", "choices", "label", "holds"), ("type",))
    kind = spec.get("type")
    if kind not in FACT_TYPES:
        r.problem(
            r.line(spec, "type"),
            _("{where}: type must be one of: {types}").format(
                where=where, types=", ".join(FACT_TYPES)
            ),
        )
        return None
    choices: tuple[str, ...] = ()
    labels: dict[str, Localized] = {}
    if kind == "choice":
        choices, labels = _choices(r, spec, where)
    elif "choices" in spec:
        r.problem(
            r.line(spec, "choices"),
            _("{where}: choices only go with type choice").format(where=where),
        )
    default = spec.get("default")
    if default is not None and choices and default not in choices:
        r.problem(
            r.line(spec, "default"),
            _("{where}: default {value!r} is not one of the choices").format(
                where=where, value=default
            ),
        )
    required = spec.get("required", False)
    if not isinstance(required, bool):
        r.problem(
            r.line(spec, "required"),
            _("{where}: required must be true or false").format(where=where),
        )
    label = r.localized(spec.get("label", name), where + " label", r.line(spec, "label"))
    holds = spec.get("holds")
    if holds is not None and (kind != "person" or holds not in roles):
        r.problem(
            r.line(spec, "holds"),
            _("{where}: holds names a role of this playbook, and goes with type person").format(
                where=where
            ),
        )
        holds = None
    return Fact(name, kind, bool(required), default, choices, label, holds, labels)


def _choices(
    r: Reader, spec: dict[str, Any], where: str
) -> tuple[tuple[str, ...], dict[str, Localized]]:
    """A choice fact's codes, and their labels when given as {code: {vi: ..., en: ...}} (how
    documents print the code)."""
    raw = spec.get("choices")
    labels: dict[str, Localized] = {}
    if isinstance(raw, dict):
        labels = {
            str(code): r.localized(text, f"{where} choice {code}", r.line(raw, code))
            for code, text in raw.items()
        }
        raw = list(raw)
    if not isinstance(raw, list) or not raw or not all(isinstance(c, str) for c in raw):
        r.problem(
            r.line(spec, "choices"),
            _("{where}: a choice needs a list of choices").format(where=where),
        )
        return (), {}
    return tuple(raw), labels


def _clock_names(
    r: Reader, spec: dict[str, Any], key: str, where: str, line: int
) -> tuple[str, ...]:
    return r.names(spec.get(key, []), f"{where} {key}", r.line(spec, key, line), CLOCK_RE)


def _deadlines(
    r: Reader, spec: dict[str, Any], where: str, line: int
) -> tuple[tuple[str, ...], dict[str, tuple[str, tuple[str, ...]]]]:
    """A state's `deadlines:`: clock names, or `{clock: NAME, when: {FACT: [values]}}` for a
    clock that runs only for some incidents (a petition's, not a question's)."""
    node, where = spec.get("deadlines", []), f"{where} deadlines"
    at = r.line(spec, "deadlines", line)
    if not isinstance(node, list) or not all(isinstance(i, str | dict) for i in node):
        return r.names(node, where, at, CLOCK_RE), {}
    names: list[str] = []
    when: dict[str, tuple[str, tuple[str, ...]]] = {}
    for index, item in enumerate(node):
        item_line = r.line(node, index, at)
        if isinstance(item, str):
            names += r.names(item, where, item_line, CLOCK_RE)
            continue
        r.keys(item, where, ("clock", "when"), ("clock", "when"))
        clock = r.names(item.get("clock", ""), where + " clock", item_line, CLOCK_RE)
        condition = item.get("when")
        if not (isinstance(condition, dict) and len(condition) == 1):
            r.problem(item_line, _("{where}: write when: {{FACT: [values]}}").format(where=where))
            continue
        ((fact, values),) = condition.items()
        if not isinstance(values, list) or not values:
            r.problem(
                item_line,
                _("{where}: {fact} needs a list of values").format(where=where, fact=fact),
            )
            continue
        if len(clock) == 1:
            names.append(clock[0])
            when[clock[0]] = (str(fact), tuple(str(v) for v in values))
    return tuple(names), when


_TOP_KEYS = (
    "id",
    "version",
    "title",
    "description",
    "reference_prefix",
    "roles",
    "facts",
    "initial",
    "states",
    "transitions",
    "escalation",
    "reminders",
    "statements",
    "templates",
)
_REQUIRED = ("id", "version", "title", "reference_prefix", "initial", "states", "transitions")
_STATE_KEYS = ("title", "owner", "on_enter", "final", "deadlines", "stop_clocks")
_TRANSITION_KEYS = ("trigger", "source", "dest", "title", "requires", "guards", "actions", "stamp")


def build(data: Any, source: str, filename: str) -> tuple[Playbook | None, list[Problem]]:
    """Validate parsed playbook data; return the playbook, or None and the problems."""
    r = Reader(filename)
    top = r.mapping(data, _("the playbook"), r.line(data))
    if top is None:
        return None, r.problems
    r.keys(top, _("playbook"), _TOP_KEYS, _REQUIRED)
    pb_id, version, prefix = _identity(r, top)
    title = r.localized(top.get("title"), "title", r.line(top, "title"))
    roles = _roles(r, top)
    facts = _facts(r, top, roles)
    states = _states(r, top)
    transitions = _transitions(r, top)
    rules = policy.read(
        r,
        top.get("statements"),
        top.get("templates"),
        r.line(top, "statements"),
        r.line(top, "templates"),
    )
    initial = top.get("initial")
    reminders = _reminders(r, top)
    if r.problems:
        return None, r.problems
    return Playbook(
        id=str(pb_id),
        version=int(version),
        title=title,
        reference_prefix=str(prefix),
        roles=roles,
        facts=facts,
        initial=initial if isinstance(initial, str) else "",
        states=states,
        transitions=tuple(transitions),
        source=source,
        source_hash=content_hash(source),
        filename=filename,
        escalation=r.names(top.get("escalation", []), "escalation", r.line(top, "escalation")),
        reminders=reminders,
        policy=rules,
    ), []


def _reminders(r: Reader, top: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """`reminders: {CLOCK: [roles]}`."""
    if "reminders" not in top:
        return {}
    spec = r.mapping(top["reminders"], "reminders", r.line(top, "reminders")) or {}
    return {
        str(clock): r.names(roles, f"reminders {clock}", r.line(spec, clock))
        for clock, roles in spec.items()
    }


def _identity(r: Reader, top: dict[str, Any]) -> tuple[Any, Any, Any]:
    pb_id = top.get("id")
    if "id" in top and (not isinstance(pb_id, str) or not ID_RE.match(pb_id)):
        r.problem(r.line(top, "id"), _("id must be lower-case letters, digits and dashes"))
    version = top.get("version")
    if "version" in top and (
        not isinstance(version, int) or isinstance(version, bool) or version < 1
    ):
        r.problem(r.line(top, "version"), _("version must be a whole number from 1"))
    prefix = top.get("reference_prefix")
    if "reference_prefix" in top and (not isinstance(prefix, str) or not PREFIX_RE.match(prefix)):
        r.problem(
            r.line(top, "reference_prefix"),
            _("reference_prefix must be 1-8 capital letters or digits, e.g. KC"),
        )
    return pb_id, version, prefix


def _roles(r: Reader, top: dict[str, Any]) -> dict[str, Localized]:
    roles: dict[str, Localized] = {}
    raw_roles = r.mapping(top.get("roles", {}), "roles", r.line(top, "roles")) or {}
    for name, label in raw_roles.items():
        if not NAME_RE.match(str(name)):
            r.problem(
                r.line(raw_roles, name), _("role {name!r} is not a valid name").format(name=name)
            )
        roles[str(name)] = r.localized(label, f"role {name}", r.line(raw_roles, name))
    return roles


def _facts(r: Reader, top: dict[str, Any], roles: dict[str, Localized]) -> dict[str, Fact]:
    facts: dict[str, Fact] = {}
    raw_facts = r.mapping(top.get("facts", {}), "facts", r.line(top, "facts")) or {}
    for name, spec in raw_facts.items():
        fact = _read_fact(r, str(name), spec, r.line(raw_facts, name), roles)
        if fact is not None:
            facts[fact.name] = fact
    return facts


def _states(r: Reader, top: dict[str, Any]) -> dict[str, State]:
    states: dict[str, State] = {}
    raw_states = r.mapping(top.get("states"), "states", r.line(top, "states")) or {}
    for name, spec in raw_states.items():
        state = _state(r, name, spec, r.line(raw_states, name))
        if state is not None:
            states[name] = state
    return states


def _state(r: Reader, name: str, spec: Any, line: int) -> State | None:
    where = _("state {name!r}").format(name=name)
    if not NAME_RE.match(str(name)) or name in RESERVED:
        r.problem(
            line, _("{where}: not a valid state name (or a reserved one)").format(where=where)
        )
    spec = {} if spec is None else r.mapping(spec, where, line)
    if spec is None:
        return None
    r.keys(spec, where, _STATE_KEYS)
    owner = spec.get("owner")
    if owner is not None and not isinstance(owner, str):
        r.problem(
            r.line(spec, "owner", line), _("{where}: owner must be one role").format(where=where)
        )
        owner = None
    final = spec.get("final", False)
    if not isinstance(final, bool):
        r.problem(
            r.line(spec, "final", line),
            _("{where}: final must be true or false").format(where=where),
        )
    on_enter_line = r.line(spec, "on_enter", line)
    deadlines, deadline_when = _deadlines(r, spec, where, line)
    return State(
        name=name,
        title=r.localized(spec.get("title", name), where + " title", r.line(spec, "title", line)),
        owner=owner,
        on_enter=read_steps(r, spec.get("on_enter"), where + " on_enter", on_enter_line, ACTIONS),
        final=bool(final),
        line=line,
        deadlines=deadlines,
        deadline_when=deadline_when,
        stop_clocks=_clock_names(r, spec, "stop_clocks", where, line),
    )


def _transitions(r: Reader, top: dict[str, Any]) -> list[Transition]:
    raw_transitions = top.get("transitions")
    if not isinstance(raw_transitions, list):
        r.problem(r.line(top, "transitions"), _("transitions must be a list"))
        return []
    transitions = []
    for index, spec in enumerate(raw_transitions):
        line = r.line(raw_transitions, index)
        mapping = r.mapping(spec, _("transition"), line)
        transition = _transition(r, mapping, line) if mapping is not None else None
        if transition is not None:
            transitions.append(transition)
    return transitions


def _transition(r: Reader, spec: dict[str, Any], line: int) -> Transition | None:
    trigger = spec.get("trigger")
    where = _("transition {trigger!r}").format(trigger=trigger)
    r.keys(spec, where, _TRANSITION_KEYS, ("trigger", "source", "dest"))
    if not isinstance(trigger, str) or not NAME_RE.match(trigger) or trigger in RESERVED:
        r.problem(
            r.line(spec, "trigger", line),
            _(
                "{where}: trigger must be a name (lower-case letters, digits, _) and "
                "not a reserved one"
            ).format(where=where),
        )
        return None
    actions = read_steps(
        r, spec.get("actions"), where + " actions", r.line(spec, "actions", line), ACTIONS
    )
    if "stamp" in spec:  # shorthand for `actions: [stamp: name]`
        stamp_line = r.line(spec, "stamp", line)
        stamp = r.names(spec["stamp"], where + " stamp", stamp_line)
        actions = tuple(Step("stamp", s, stamp_line) for s in stamp) + actions
    dest = spec.get("dest")
    return Transition(
        trigger=trigger,
        sources=r.names(spec.get("source"), where + " source", r.line(spec, "source", line)),
        dest=dest if isinstance(dest, str) else "",
        title=r.localized(
            spec.get("title", trigger), where + " title", r.line(spec, "title", line)
        ),
        requires=r.names(
            spec.get("requires", []), where + " requires", r.line(spec, "requires", line)
        ),
        guards=read_steps(
            r, spec.get("guards"), where + " guards", r.line(spec, "guards", line), GUARDS
        ),
        actions=actions,
        line=line,
    )
