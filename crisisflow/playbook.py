"""Playbooks: YAML data → validated, immutable playbook objects.

A playbook is pure data. Nothing in it names Python code: guards and actions are chosen from the
allow-lists below by key, and their arguments are plain values. Loading collects every problem it
finds (``file:line: message``) before refusing, so staff can fix a file in one pass.
The format is documented key by key in the README.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .i18n import Localized
from .policy import Policy

# What a guard or an action may be: the key of a one-entry mapping in the YAML.
GUARDS = (
    "actor_is",
    "fact_in",
    "fact_set",
    "stamped",
    "has_statement",
    "statement_approved",
    "within_limit",
)
# What a step may do to a statement drafted earlier, as `statement --…` commands would.
STATEMENT_STEPS = ("submit_statement", "approve_statement", "reject_statement", "publish_statement")
ACTIONS = ("notify", "draft", "stamp", "count", "close_clock", *STATEMENT_STEPS)
# How a clock ends when nothing is owed any more, besides met or missed (`close_clock`): the
# office decided not to speak (do not amplify a rumour), or the matter went to another body.
CLOCK_OUTCOMES = ("not_required", "handed_over")
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

ID_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
PREFIX_RE = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")
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


@dataclass(frozen=True)
class Fact:
    name: str
    type: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    label: Localized = field(default_factory=Localized)
    # A person fact that names who fills a role: the person must hold ``holds`` already, in
    # the directory or by a written authorisation valid for the incident.
    holds: str | None = None
    choice_labels: dict[str, Localized] = field(default_factory=dict)  # code → label

    def choice_label(self, code: str, lang: str, channels: Mapping[str, Localized]) -> str:
        """``code`` in ``lang``: its own label, else the channel it names, else the code."""
        label = self.choice_labels.get(code) or channels.get(code)
        return label.get_lang(lang) if label else code


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
    # A clock of ``deadlines`` that starts only when a fact holds one of some values.
    deadline_when: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
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
    # Who is reminded of a clock before it runs out, when not the owner of the state that
    # started it (the rumour's 24 hours: the office and the spokesperson, not the monitor).
    reminders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)  # who approves and publishes, and where

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
        for name in self.policy.templates.values():
            yield name, self.policy.line


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
