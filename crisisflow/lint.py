"""Whole-playbook checks that need more than one key at a time: names that must refer to
something declared, states nobody can reach, states nobody can leave, ambiguous triggers."""

from __future__ import annotations

from collections.abc import Callable

from .errors import Problem
from .i18n import _
from .playbook import STATEMENT_STEPS, Playbook, Step


def check(
    playbook: Playbook,
    template_exists: Callable[[str], bool] | None = None,
    clock_exists: Callable[[str], bool] | None = None,
) -> list[Problem]:
    problems: list[Problem] = []
    file = playbook.filename

    def problem(line: int, message: str) -> None:
        problems.append(Problem(file, line, message))

    states = playbook.states
    roles = playbook.roles
    facts = playbook.facts
    if playbook.initial not in states:
        problem(
            1,
            _("initial state {state!r} is not defined under states").format(state=playbook.initial),
        )

    def check_role(role: str, line: int, where: str) -> None:
        if role not in roles:
            problem(
                line,
                _("{where}: unknown role {role!r}; declare it under roles").format(
                    where=where, role=role
                ),
            )

    def check_steps(steps: tuple[Step, ...], where: str) -> None:
        for step in steps:
            if step.kind == "notify":
                for role in step.arg["to"]:
                    check_role(role, step.line, where)
            elif step.kind == "actor_is":
                for role in step.arg:
                    check_role(role, step.line, where)
            elif step.kind in ("fact_set", "fact_in"):
                fact = step.arg if step.kind == "fact_set" else step.arg["fact"]
                if fact not in facts:
                    problem(
                        step.line,
                        _("{where}: unknown fact {fact!r}").format(where=where, fact=fact),
                    )
                elif step.kind == "fact_in" and facts[fact].choices:
                    for value in step.arg["values"]:
                        if value not in facts[fact].choices:
                            problem(
                                step.line,
                                _("{where}: {value!r} is not a choice of {fact}").format(
                                    where=where, value=value, fact=fact
                                ),
                            )

    for state in states.values():
        where = _("state {name!r}").format(name=state.name)
        if state.owner is not None:
            check_role(state.owner, state.line, where)
        check_steps(state.on_enter, where)

    seen: dict[tuple[str, str], int] = {}
    for t in playbook.transitions:
        where = _("transition {trigger!r}").format(trigger=t.trigger)
        if t.dest not in states:
            problem(
                t.line, _("{where}: unknown dest state {state!r}").format(where=where, state=t.dest)
            )
        for source in t.sources:
            if source not in states:
                problem(
                    t.line,
                    _("{where}: unknown source state {state!r}").format(where=where, state=source),
                )
            elif states[source].final:
                problem(
                    t.line,
                    _("{where}: leaves final state {state!r}").format(where=where, state=source),
                )
            key = (source, t.trigger)
            if key in seen:
                problem(
                    t.line,
                    _(
                        "{where}: trigger defined twice from state {state!r} (first at line {line})"
                    ).format(where=where, state=source, line=seen[key]),
                )
            seen[key] = t.line
        for name in t.requires:
            if name != "note" and name not in facts:
                problem(
                    t.line,
                    _("{where}: requires unknown fact {fact!r} (or `note`)").format(
                        where=where, fact=name
                    ),
                )
        check_steps(t.guards, where)
        check_steps(t.actions, where)

    reachable = {playbook.initial}
    frontier = [playbook.initial]
    while frontier:
        current = frontier.pop()
        for t in playbook.transitions_from(current):
            if t.dest in states and t.dest not in reachable:
                reachable.add(t.dest)
                frontier.append(t.dest)
    for state in states.values():
        if state.name not in reachable:
            problem(
                state.line,
                _("state {name!r} is unreachable from {initial!r}").format(
                    name=state.name, initial=playbook.initial
                ),
            )
        if not state.final and not playbook.transitions_from(state.name):
            problem(
                state.line,
                _(
                    "state {name!r} is not final but has no way out; add a "
                    "transition or mark it `final: true`"
                ).format(name=state.name),
            )
    if states and not any(s.final for s in states.values()):
        problem(1, _("no state is final; mark the end states `final: true`"))

    drafted = {s.arg["kind"] for s in playbook.steps() if s.kind == "draft"}
    for step in playbook.steps():
        if step.kind in (*STATEMENT_STEPS, "has_statement", "statement_approved") and (
            step.arg not in drafted
        ):
            problem(
                step.line,
                _("{kind}: no step drafts a statement {name!r}; add a draft action for it").format(
                    kind=step.kind, name=step.arg
                ),
            )

    for role in playbook.escalation:
        check_role(role, 1, _("escalation"))
    started = {c for s in states.values() for c in s.deadlines}
    for state in states.values():
        for clock in state.deadlines:
            if clock_exists is not None and not clock_exists(clock):
                problem(
                    state.line,
                    _("state {name!r}: no rule in the rule pack measures clock {clock!r}").format(
                        name=state.name, clock=clock
                    ),
                )
        for clock in state.stop_clocks:
            if clock not in started:
                problem(
                    state.line,
                    _("state {name!r}: stops clock {clock!r} that no state starts").format(
                        name=state.name, clock=clock
                    ),
                )

    if template_exists is not None:
        for template, line in playbook.templates():
            if not template_exists(template):
                problem(
                    line,
                    _(
                        "unknown template {name!r}: no templates/{name}.vi.* or "
                        "templates/{name}.en.*"
                    ).format(name=template),
                )
    return sorted(problems, key=lambda p: p.line)
