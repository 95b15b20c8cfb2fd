"""Playbooks: YAML data → validated, immutable playbook objects.

A playbook is pure data. Nothing in it names Python code: guards and actions are chosen from the
allow-lists below by key, and their arguments are plain values. Loading collects every problem it
finds (``file:line: message``) before refusing, so staff can fix a file in one pass.
The format is documented key by key in the README.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import PlaybookError, Problem
from .i18n import _

# What a guard or an action may be: the key of a one-entry mapping in the YAML.
GUARDS = ("actor_is", "fact_in", "fact_set", "stamped", "has_statement", "statement_approved")
# What a step may do to a statement drafted earlier, as `statement --…` commands would.
STATEMENT_STEPS = ("submit_statement", "approve_statement", "reject_statement", "publish_statement")
ACTIONS = ("notify", "draft", "stamp", *STATEMENT_STEPS)
FACT_TYPES = (
    "text",
    "longtext",
    "url",
    "email",
    "choice",
    "integer",
    "boolean",
    "datetime",
    "person",
    "unit",
)
LANGUAGES = ("vi", "en")

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ID_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
PREFIX_RE = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")
TEMPLATE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$")
# Names the machine's model object already uses; a trigger or state may not shadow them.
RESERVED = frozenset(
    {
        "state",
        "trigger",
        "facts",
        "stamps",
        "actor",
        "effects",
        "refusals",
        "context",
        "note",
        "title",
    }
)


class Localized(dict[str, str]):
    """A text in several languages; ``text.get_lang('en')`` falls back to Vietnamese."""

    def get_lang(self, lang: str) -> str:
        return self.get(lang) or self.get("vi") or next(iter(self.values()), "")


@dataclass(frozen=True)
class Fact:
    name: str
    type: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    label: Localized = field(default_factory=Localized)


@dataclass(frozen=True)
class Step:
    """A guard or an action: allow-listed ``kind`` with its plain-data argument."""

    kind: str
    arg: Any
    line: int


@dataclass(frozen=True)
class State:
    name: str
    title: Localized
    owner: str | None
    on_enter: tuple[Step, ...]
    final: bool
    line: int
    deadlines: tuple[str, ...] = ()  # clocks that start when the state is entered
    stop_clocks: tuple[str, ...] = ()  # clocks that reaching the state stops (met or missed)


@dataclass(frozen=True)
class Transition:
    trigger: str
    sources: tuple[str, ...]
    dest: str
    title: Localized
    requires: tuple[str, ...]
    guards: tuple[Step, ...]
    actions: tuple[Step, ...]
    line: int


@dataclass(frozen=True)
class Playbook:
    id: str
    version: int
    title: Localized
    reference_prefix: str
    roles: dict[str, Localized]
    facts: dict[str, Fact]
    initial: str
    states: dict[str, State]
    transitions: tuple[Transition, ...]
    source: str = field(repr=False)
    source_hash: str
    filename: str
    escalation: tuple[str, ...] = ()  # who hears of an overdue clock, in turn

    def transitions_from(self, state: str) -> list[Transition]:
        return [t for t in self.transitions if state in t.sources]

    def transition(self, state: str, trigger: str) -> Transition | None:
        return next((t for t in self.transitions_from(state) if t.trigger == trigger), None)

    def transition_by_trigger(self, trigger: str) -> Transition | None:
        return next((t for t in self.transitions if t.trigger == trigger), None)

    def steps(self) -> Iterable[Step]:
        """Every guard and action, wherever it stands."""
        for state in self.states.values():
            yield from state.on_enter
        for transition in self.transitions:
            yield from transition.guards
            yield from transition.actions

    def templates(self) -> Iterable[tuple[str, int]]:
        """Every template the playbook uses, with the line that names it."""
        for state in self.states.values():
            for step in state.on_enter:
                if step.kind in ("notify", "draft"):
                    yield step.arg["template"], step.line
        for transition in self.transitions:
            for step in transition.actions:
                if step.kind in ("notify", "draft"):
                    yield step.arg["template"], step.line


_DURATION_RE = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> int | None:
    """'90m', '2h', '3d' → seconds; None if it is not such a duration."""
    match = _DURATION_RE.match(str(value)) if isinstance(value, str | int) else None
    if match is None or int(match.group(1)) <= 0:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def content_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


class _Reader:
    """Walks the parsed YAML, collecting problems with their lines instead of stopping."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.filename, line, message))

    @staticmethod
    def line(node: Any, key: str | int | None = None, default: int = 1) -> int:
        if key is not None and hasattr(node, "line_of"):
            return int(node.line_of(key))
        return int(getattr(node, "line", default))

    def mapping(self, node: Any, where: str, line: int) -> dict[str, Any] | None:
        if isinstance(node, dict):
            return node
        self.problem(line, _("{where} must be a mapping").format(where=where))
        return None

    def keys(
        self, node: dict[str, Any], where: str, allowed: Iterable[str], required: Iterable[str] = ()
    ) -> None:
        allowed = tuple(allowed)
        for key in node:
            if key not in allowed:
                self.problem(
                    self.line(node, key),
                    _("{where}: unknown key {key!r}; expected one of: {keys}").format(
                        where=where, key=key, keys=", ".join(allowed)
                    ),
                )
        for key in required:
            if key not in node:
                self.problem(
                    self.line(node),
                    _("{where}: missing required key {key!r}").format(where=where, key=key),
                )

    def names(
        self, value: Any, where: str, line: int, pattern: re.Pattern[str] = NAME_RE
    ) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            self.problem(line, _("{where} must be a name or a list of names").format(where=where))
            return ()
        for item in items:
            if not pattern.match(item):
                self.problem(
                    line,
                    _(
                        "{where}: {name!r} is not a valid name (lower-case letters, digits, _)"
                    ).format(where=where, name=item),
                )
        return tuple(items)

    def localized(self, value: Any, where: str, line: int) -> Localized:
        if isinstance(value, str):
            return Localized(vi=value)
        if (
            isinstance(value, dict)
            and value
            and all(k in LANGUAGES and isinstance(v, str) for k, v in value.items())
        ):
            return Localized(value)
        self.problem(
            line, _("{where} must be a text or a mapping {{vi: ..., en: ...}}").format(where=where)
        )
        return Localized()


def _read_fact(r: _Reader, name: str, node: Any, line: int) -> Fact | None:
    where = _("fact {name!r}").format(name=name)
    if not NAME_RE.match(name) or name in RESERVED:
        r.problem(line, _("{where}: not a valid fact name (or a reserved one)").format(where=where))
    spec = r.mapping(node, where, line)
    if spec is None:
        return None
    r.keys(spec, where, ("type", "required", "default", "choices", "label"), ("type",))
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
    if kind == "choice":
        raw = spec.get("choices")
        if not isinstance(raw, list) or not raw or not all(isinstance(c, str) for c in raw):
            r.problem(
                r.line(spec, "choices"),
                _("{where}: a choice needs a list of choices").format(where=where),
            )
        else:
            choices = tuple(raw)
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
    return Fact(name, kind, bool(required), default, choices, label)


def _read_steps(
    r: _Reader, node: Any, where: str, line: int, allowed: tuple[str, ...]
) -> tuple[Step, ...]:
    if node is None:
        return ()
    if not isinstance(node, list):
        r.problem(line, _("{where} must be a list").format(where=where))
        return ()
    steps = []
    for index, item in enumerate(node):
        item_line = r.line(node, index)
        if isinstance(item, str):  # a bare name, e.g. `- fact_set: x` written as `- x`
            r.problem(
                item_line,
                _("{where}: {item!r} needs an argument, e.g. `{item}: ...`").format(
                    where=where, item=item
                ),
            )
            continue
        if not isinstance(item, dict) or len(item) != 1:
            r.problem(
                item_line,
                _("{where}: each entry is a one-key mapping such as `{example}: ...`").format(
                    where=where, example=allowed[0]
                ),
            )
            continue
        ((kind, arg),) = item.items()
        if kind not in allowed:
            r.problem(
                item_line,
                _("{where}: {kind!r} is not allowed; allowed: {allowed}").format(
                    where=where, kind=kind, allowed=", ".join(allowed)
                ),
            )
            continue
        step = _check_step(r, kind, arg, item_line, where)
        if step is not None:
            steps.append(step)
    return tuple(steps)


def _check_step(r: _Reader, kind: str, arg: Any, line: int, where: str) -> Step | None:
    where = f"{where} {kind}"
    if kind in ("notify", "draft"):
        spec = r.mapping(arg, where, line)
        if spec is None:
            return None
        extra = ("to",) if kind == "notify" else ("kind",)
        optional = ("due",) if kind == "notify" else ()
        r.keys(spec, where, ("template", *extra, *optional), ("template", *extra))
        template = spec.get("template")
        if not isinstance(template, str) or not TEMPLATE_RE.match(template):
            r.problem(
                r.line(spec, "template", line),
                _("{where}: template must be a name like mail/new-incident").format(where=where),
            )
            return None
        if kind == "notify":
            to = r.names(spec.get("to"), where + " to", r.line(spec, "to", line))
            due = None
            if "due" in spec:
                due = parse_duration(spec["due"])
                if due is None:
                    r.problem(
                        r.line(spec, "due", line),
                        _("{where}: due must be a duration such as 90m, 2h or 3d").format(
                            where=where
                        ),
                    )
            return Step(kind, {"to": to, "template": template, "due": due}, line)
        statement = r.names(spec.get("kind"), where + " kind", r.line(spec, "kind", line))
        if len(statement) != 1:
            r.problem(line, _("{where}: kind must be one statement name").format(where=where))
            return None
        return Step(kind, {"kind": statement[0], "template": template}, line)
    if kind in ("actor_is",):
        return Step(kind, r.names(arg, where, line), line)
    if kind in (
        "stamp",
        "fact_set",
        "stamped",
        "has_statement",
        "statement_approved",
        *STATEMENT_STEPS,
    ):
        names = r.names(arg, where, line)
        return Step(kind, names[0], line) if len(names) == 1 else None
    if kind == "fact_in":
        spec = r.mapping(arg, where, line)
        if spec is None or len(spec) != 1:
            if spec is not None:
                r.problem(line, _("{where}: write {{fact: [values]}}").format(where=where))
            return None
        ((fact, values),) = spec.items()
        if not isinstance(values, list) or not values:
            r.problem(
                line, _("{where}: {fact} needs a list of values").format(where=where, fact=fact)
            )
            return None
        return Step(kind, {"fact": fact, "values": tuple(values)}, line)
    raise AssertionError(kind)  # pragma: no cover - allow-lists and this function agree


CLOCK_RE = re.compile(r"^[a-z][a-z0-9_.]{0,62}$")


def _clock_names(
    r: _Reader, spec: dict[str, Any], key: str, where: str, line: int
) -> tuple[str, ...]:
    return r.names(spec.get(key, []), f"{where} {key}", r.line(spec, key, line), CLOCK_RE)


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
)
_STATE_KEYS = ("title", "owner", "on_enter", "final", "deadlines", "stop_clocks")
_TRANSITION_KEYS = ("trigger", "source", "dest", "title", "requires", "guards", "actions", "stamp")


def build(data: Any, source: str, filename: str) -> tuple[Playbook | None, list[Problem]]:
    """Validate parsed playbook data; return the playbook, or None and the problems."""
    r = _Reader(filename)
    top = r.mapping(data, _("the playbook"), r.line(data))
    if top is None:
        return None, r.problems
    r.keys(
        top,
        _("playbook"),
        _TOP_KEYS,
        ("id", "version", "title", "reference_prefix", "initial", "states", "transitions"),
    )
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
    title = r.localized(top.get("title"), "title", r.line(top, "title"))

    roles: dict[str, Localized] = {}
    raw_roles = r.mapping(top.get("roles", {}), "roles", r.line(top, "roles")) or {}
    for name, label in raw_roles.items():
        if not NAME_RE.match(str(name)):
            r.problem(
                r.line(raw_roles, name), _("role {name!r} is not a valid name").format(name=name)
            )
        roles[str(name)] = r.localized(label, f"role {name}", r.line(raw_roles, name))

    facts: dict[str, Fact] = {}
    raw_facts = r.mapping(top.get("facts", {}), "facts", r.line(top, "facts")) or {}
    for name, spec in raw_facts.items():
        fact = _read_fact(r, str(name), spec, r.line(raw_facts, name))
        if fact is not None:
            facts[fact.name] = fact

    states: dict[str, State] = {}
    raw_states = r.mapping(top.get("states"), "states", r.line(top, "states")) or {}
    for name, spec in raw_states.items():
        line = r.line(raw_states, name)
        where = _("state {name!r}").format(name=name)
        if not NAME_RE.match(str(name)) or name in RESERVED:
            r.problem(
                line, _("{where}: not a valid state name (or a reserved one)").format(where=where)
            )
        spec = {} if spec is None else r.mapping(spec, where, line)
        if spec is None:
            continue
        r.keys(spec, where, _STATE_KEYS)
        owner = spec.get("owner")
        if owner is not None and not isinstance(owner, str):
            r.problem(
                r.line(spec, "owner", line),
                _("{where}: owner must be one role").format(where=where),
            )
            owner = None
        final = spec.get("final", False)
        if not isinstance(final, bool):
            r.problem(
                r.line(spec, "final", line),
                _("{where}: final must be true or false").format(where=where),
            )
        states[name] = State(
            name=name,
            title=r.localized(
                spec.get("title", name), where + " title", r.line(spec, "title", line)
            ),
            owner=owner,
            on_enter=_read_steps(
                r,
                spec.get("on_enter"),
                where + " on_enter",
                r.line(spec, "on_enter", line),
                ACTIONS,
            ),
            final=bool(final),
            line=line,
            deadlines=_clock_names(r, spec, "deadlines", where, line),
            stop_clocks=_clock_names(r, spec, "stop_clocks", where, line),
        )

    transitions: list[Transition] = []
    raw_transitions = top.get("transitions")
    if not isinstance(raw_transitions, list):
        r.problem(r.line(top, "transitions"), _("transitions must be a list"))
        raw_transitions = []
    for index, spec in enumerate(raw_transitions):
        line = r.line(raw_transitions, index)
        spec = r.mapping(spec, _("transition"), line)
        if spec is None:
            continue
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
            continue
        actions = _read_steps(
            r, spec.get("actions"), where + " actions", r.line(spec, "actions", line), ACTIONS
        )
        if "stamp" in spec:  # shorthand for `actions: [stamp: name]`
            stamp = r.names(spec["stamp"], where + " stamp", r.line(spec, "stamp", line))
            actions = tuple(Step("stamp", s, r.line(spec, "stamp", line)) for s in stamp) + actions
        dest = spec.get("dest")
        transitions.append(
            Transition(
                trigger=trigger,
                sources=r.names(
                    spec.get("source"), where + " source", r.line(spec, "source", line)
                ),
                dest=dest if isinstance(dest, str) else "",
                title=r.localized(
                    spec.get("title", trigger), where + " title", r.line(spec, "title", line)
                ),
                requires=r.names(
                    spec.get("requires", []), where + " requires", r.line(spec, "requires", line)
                ),
                guards=_read_steps(
                    r, spec.get("guards"), where + " guards", r.line(spec, "guards", line), GUARDS
                ),
                actions=actions,
                line=line,
            )
        )
    initial = top.get("initial")
    if r.problems:
        return None, r.problems
    return Playbook(
        id=str(pb_id),
        version=int(version),  # type: ignore[arg-type]  # checked above
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
    ), []


def parse_text(
    source: str,
    filename: str,
    template_exists: Callable[[str], bool] | None = None,
    clock_exists: Callable[[str], bool] | None = None,
) -> Playbook:
    """Load and lint a playbook from YAML text; raise PlaybookError listing every problem."""
    from . import lint, yamlfile

    data, problem = yamlfile.parse(source, filename)
    if problem:
        raise PlaybookError([problem])
    playbook, problems = build(data, source, filename)
    if playbook is not None:
        problems = lint.check(playbook, template_exists, clock_exists)
    if problems:
        raise PlaybookError(problems)
    assert playbook is not None
    return playbook


def load_file(
    path: Path,
    template_exists: Callable[[str], bool] | None = None,
    clock_exists: Callable[[str], bool] | None = None,
) -> Playbook:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlaybookError(
            [Problem(str(path), 1, _("cannot read: {error}").format(error=exc))]
        ) from exc
    return parse_text(source, str(path), template_exists, clock_exists)


def to_json(playbook: Playbook) -> str:
    """The pinned form stored with incidents: the source and its parsed data as JSON."""
    from . import yamlfile

    data, _problem = yamlfile.parse(playbook.source, playbook.filename)
    return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)


def from_pinned(compiled: str, source: str, filename: str) -> Playbook:
    """Rebuild a pinned playbook from its stored JSON, without YAML (every command's fast path)."""
    playbook, problems = build(json.loads(compiled), source, filename)
    if playbook is None:
        raise PlaybookError(problems)
    return playbook
