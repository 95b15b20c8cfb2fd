"""Whole-playbook checks that need more than one key at a time: names that must refer to
something declared, states nobody can reach, states nobody can leave, ambiguous triggers, and
a statement policy that the playbook's steps can live with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import Problem
from .i18n import _
from .playbook import STATEMENT_STEPS, Playbook, Step

Exists = Callable[[str], bool]


def check(
    playbook: Playbook, template_exists: Exists | None = None, clock_exists: Exists | None = None
) -> list[Problem]:
    linter = _Linter(playbook)
    linter.states()
    linter.transitions()
    linter.reachability()
    linter.statements()
    linter.policy()
    linter.clocks(clock_exists)
    if template_exists is not None:
        linter.templates(template_exists)
    return sorted(linter.problems, key=lambda p: p.line)


class _Linter:
    def __init__(self, playbook: Playbook) -> None:
        self.playbook = playbook
        self.problems: list[Problem] = []

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.playbook.filename, line, message))

    def role(self, role: str, line: int, where: str) -> None:
        if role not in self.playbook.roles:
            self.problem(
                line,
                _("{where}: unknown role {role!r}; declare it under roles").format(
                    where=where, role=role
                ),
            )

    def fact(self, fact: str, line: int, where: str) -> bool:
        if fact in self.playbook.facts:
            return True
        self.problem(line, _("{where}: unknown fact {fact!r}").format(where=where, fact=fact))
        return False

    def steps(self, steps: tuple[Step, ...], where: str) -> None:
        for step in steps:
            if step.kind in ("notify", "actor_is"):
                for role in step.arg["to"] if step.kind == "notify" else step.arg:
                    self.role(role, step.line, where)
            elif step.kind == "fact_set":
                self.fact(step.arg, step.line, where)
            elif step.kind == "fact_in":
                self.choices(step.arg["fact"], step.arg["values"], step.line, where)

    def choices(self, fact: str, values: tuple[Any, ...], line: int, where: str) -> None:
        """``fact`` exists, and each of ``values`` is one of its choices (if it has any)."""
        if not self.fact(fact, line, where):
            return
        choices = self.playbook.facts[fact].choices
        for value in values if choices else ():
            if value not in choices:
                self.problem(
                    line,
                    _("{where}: {value!r} is not a choice of {fact}").format(
                        where=where, value=value, fact=fact
                    ),
                )

    def states(self) -> None:
        pb = self.playbook
        if pb.initial not in pb.states:
            message = _("initial state {state!r} is not defined under states")
            self.problem(1, message.format(state=pb.initial))
        for state in pb.states.values():
            where = _("state {name!r}").format(name=state.name)
            if state.owner is not None:
                self.role(state.owner, state.line, where)
            self.steps(state.on_enter, where)
        if pb.states and not any(s.final for s in pb.states.values()):
            self.problem(1, _("no state is final; mark the end states `final: true`"))
        for role in pb.escalation:
            self.role(role, 1, _("escalation"))
        for clock, roles in pb.reminders.items():
            for role in roles:
                self.role(role, 1, _("reminders {clock}").format(clock=clock))

    def transitions(self) -> None:
        states, seen = self.playbook.states, dict[tuple[str, str], int]()
        for t in self.playbook.transitions:
            where = _("transition {trigger!r}").format(trigger=t.trigger)
            if t.dest not in states:
                message = _("{where}: unknown dest state {state!r}")
                self.problem(t.line, message.format(where=where, state=t.dest))
            for source in t.sources:
                if source not in states:
                    message = _("{where}: unknown source state {state!r}")
                    self.problem(t.line, message.format(where=where, state=source))
                elif states[source].final:
                    message = _("{where}: leaves final state {state!r}")
                    self.problem(t.line, message.format(where=where, state=source))
                if (source, t.trigger) in seen:
                    message = _(
                        "{where}: trigger defined twice from state {state!r} (first at line {line})"
                    )
                    first = seen[(source, t.trigger)]
                    self.problem(t.line, message.format(where=where, state=source, line=first))
                seen[(source, t.trigger)] = t.line
            for name in t.requires:
                if name != "note" and name not in self.playbook.facts:
                    message = _("{where}: requires unknown fact {fact!r} (or `note`)")
                    self.problem(t.line, message.format(where=where, fact=name))
            self.steps(t.guards, where)
            self.steps(t.actions, where)

    def reachability(self) -> None:
        pb = self.playbook
        reachable, frontier = {pb.initial}, [pb.initial]
        while frontier:
            for t in pb.transitions_from(frontier.pop()):
                if t.dest in pb.states and t.dest not in reachable:
                    reachable.add(t.dest)
                    frontier.append(t.dest)
        for state in pb.states.values():
            if state.name not in reachable:
                message = _("state {name!r} is unreachable from {initial!r}")
                self.problem(state.line, message.format(name=state.name, initial=pb.initial))
            if not state.final and not pb.transitions_from(state.name):
                message = _(
                    "state {name!r} is not final but has no way out; add a "
                    "transition or mark it `final: true`"
                )
                self.problem(state.line, message.format(name=state.name))

    def statements(self) -> None:
        drafted = {s.arg["kind"] for s in self.playbook.steps() if s.kind == "draft"}
        for step in self.playbook.steps():
            if step.kind in (*STATEMENT_STEPS, "has_statement", "statement_approved") and (
                step.arg not in drafted
            ):
                message = _(
                    "{kind}: no step drafts a statement {name!r}; add a draft action for it"
                )
                self.problem(step.line, message.format(kind=step.kind, name=step.arg))

    def policy(self) -> None:
        """The `statements:` section: its roles, kinds, channels and facts exist, and every
        statement step has what it needs (an approver to approve, publishers to publish)."""
        pb, policy = self.playbook, self.playbook.policy
        where, line = "statements", policy.line
        for role in (*([policy.approver] if policy.approver else []), *policy.publishers):
            self.role(role, line, where)
        for role in policy.grants:
            self.role(role, line, where)
        for roles in policy.to_roles.values():
            for role in roles:
                self.role(role, line, where + " to_roles")
        drafted = {s.arg["kind"] for s in pb.steps() if s.kind == "draft"}
        for kind in policy.press:
            if kind not in drafted:
                message = _("statements press: no step drafts a statement {name!r}")
                self.problem(line, message.format(name=kind))
        kinds = {s.kind for s in pb.steps()}
        approving = {"approve_statement", "reject_statement", "statement_approved"}
        if kinds & approving and not policy.approver:
            self.problem(line, _("statements: name the approver role (`approver: ROLE`)"))
        if policy.grants and "authorisation" not in policy.templates:
            message = _(
                "statements: authorisation_grants needs the letter it is written in "
                "(`templates: authorisation: NAME`)"
            )
            self.problem(line, message)
        if "publish_statement" in kinds and not (policy.publishers and policy.channel_fact):
            message = _(
                "statements: a publish step needs `publishers: [ROLES]` and "
                "`publish_facts: {channel: FACT}`"
            )
            self.problem(line, message)
        self.publish_facts()

    def publish_facts(self) -> None:
        policy, facts = self.playbook.policy, self.playbook.facts
        where, line = "statements publish_facts", policy.line
        if policy.channel_fact and self.fact(policy.channel_fact, line, where):
            unknown = [c for c in facts[policy.channel_fact].choices if c not in policy.channels]
            if facts[policy.channel_fact].type != "choice" or unknown:
                message = _(
                    "{where}: {fact} must be a choice of the channels declared under "
                    "statements channels (not: {unknown})"
                )
                self.problem(
                    line,
                    message.format(
                        where=where, fact=policy.channel_fact, unknown=", ".join(unknown) or "-"
                    ),
                )
        for kind, fact in policy.invitations.items():
            at = f"statements invitations {kind}"
            if self.fact(fact, line, at) and facts[fact].type != "datetime":
                message = _("{where}: {fact} must be a fact of type datetime (the event's time)")
                self.problem(line, message.format(where=at, fact=fact))
        for fact in filter(None, (policy.requester_fact, policy.requester_name_fact)):
            self.fact(fact, line, where)
        url = policy.url_fact
        if url and self.fact(url, line, where) and facts[url].type != "url":
            message = _("{where}: {fact} must be a fact of type url")
            self.problem(line, message.format(where=where, fact=policy.url_fact))

    def clocks(self, clock_exists: Exists | None) -> None:
        states = self.playbook.states
        started = {c for s in states.values() for c in s.deadlines}
        by_command = self.playbook.policy.authorisation_clock
        if by_command and clock_exists is not None and not clock_exists(by_command):
            message = _(
                "statements authorisation_clock: no rule in the rule pack measures {clock!r}"
            )
            self.problem(self.playbook.policy.line, message.format(clock=by_command))
        for state in states.values():
            for clock in state.deadlines:
                if clock_exists is not None and not clock_exists(clock):
                    message = _("state {name!r}: no rule in the rule pack measures clock {clock!r}")
                    self.problem(state.line, message.format(name=state.name, clock=clock))
            for clock, (fact, values) in state.deadline_when.items():
                self.choices(fact, values, state.line, f"state {state.name!r} {clock}")
            for clock in state.stop_clocks:
                if clock not in started:
                    message = _("state {name!r}: stops clock {clock!r} that no state starts")
                    self.problem(state.line, message.format(name=state.name, clock=clock))
        for clock in self.playbook.reminders:
            if clock not in started:
                message = _("reminders: no state starts clock {clock!r}")
                self.problem(1, message.format(clock=clock))
        counted = {s.arg for s in self.playbook.steps() if s.kind == "count"}
        for step in self.playbook.steps():
            if step.kind == "within_limit":
                self.limit(step, counted, clock_exists)
            if step.kind == "close_clock" and step.arg["clock"] not in started:
                message = _("close_clock: closes clock {clock!r} that no state starts")
                self.problem(step.line, message.format(clock=step.arg["clock"]))
        if started and not self.playbook.escalation:
            message = _("escalation: a playbook with clocks names who hears when one runs out")
            self.problem(1, message)
        templates = self.playbook.policy.templates
        if started and not {"reminder", "escalation"} <= set(templates):
            message = _(
                "templates: a playbook with clocks names its `reminder` and `escalation` templates"
            )
            self.problem(self.playbook.policy.line, message)

    def limit(self, step: Step, counted: set[str], exists: Exists | None) -> None:
        """A `within_limit` guard counts what a `count` action counts, against a limit the
        rule pack declares; the count is the engine's, so no fact may share its name."""
        count, limit = step.arg["count"], step.arg["limit"]
        if count not in counted:
            message = _("within_limit: no step counts {count!r}; add `count: {count}` to one")
            self.problem(step.line, message.format(count=count))
        if count in self.playbook.facts:
            message = _("within_limit: {count!r} is kept by the engine; it cannot be a fact too")
            self.problem(step.line, message.format(count=count))
        if exists is not None and not exists(limit):
            message = _("within_limit: the rule pack declares no limit {limit!r}")
            self.problem(step.line, message.format(limit=limit))

    def templates(self, exists: Exists) -> None:
        for template, line in self.playbook.templates():
            if not exists(template):
                message = _(
                    "unknown template {name!r}: no templates/{name}.vi.* or templates/{name}.en.*"
                )
                self.problem(line, message.format(name=template))
