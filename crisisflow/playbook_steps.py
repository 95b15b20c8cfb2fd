"""Reading a playbook's guards and actions from data: each an allow-listed kind with its
argument checked, every problem collected with its line."""

from __future__ import annotations

import re
from typing import Any

from .i18n import _
from .playbook import CLOCK_OUTCOMES, STATEMENT_STEPS, Step, parse_duration
from .policy import TEMPLATE_RE
from .reader import Reader

CLOCK_RE = re.compile(r"^[a-z][a-z0-9_.]{0,62}$")


def read_steps(
    r: Reader, node: Any, where: str, line: int, allowed: tuple[str, ...]
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


def _check_step(r: Reader, kind: str, arg: Any, line: int, where: str) -> Step | None:
    where = f"{where} {kind}"
    if kind == "close_clock":
        return _close_clock(r, arg, line, where)
    if kind == "within_limit":
        return _within_limit(r, arg, line, where)
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
        "count",
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


def _close_clock(r: Reader, arg: Any, line: int, where: str) -> Step | None:
    """`close_clock: {clock: NAME, as: OUTCOME}`: the step ends a running clock as neither
    met nor missed."""
    spec = r.mapping(arg, where, line)
    if spec is None:
        return None
    r.keys(spec, where, ("clock", "as"), ("clock", "as"))
    clock, outcome = spec.get("clock"), spec.get("as")
    if not isinstance(clock, str) or not CLOCK_RE.match(clock):
        r.problem(
            r.line(spec, "clock", line),
            _("{where}: clock must be a clock name").format(where=where),
        )
        return None
    if outcome not in CLOCK_OUTCOMES:
        r.problem(
            r.line(spec, "as", line),
            _("{where}: as must be one of: {outcomes}").format(
                where=where, outcomes=", ".join(CLOCK_OUTCOMES)
            ),
        )
        return None
    return Step("close_clock", {"clock": clock, "as": outcome}, line)


def _within_limit(r: Reader, arg: Any, line: int, where: str) -> Step | None:
    """`within_limit: {count: NAME, limit: LIMIT}`: the step may happen while the times it was
    counted (`count: NAME`) stay below the rule pack's limit."""
    spec = r.mapping(arg, where, line)
    if spec is None:
        return None
    r.keys(spec, where, ("count", "limit"), ("count", "limit"))
    count = r.names(spec.get("count", ""), where + " count", r.line(spec, "count", line))
    limit = r.names(spec.get("limit", ""), where + " limit", r.line(spec, "limit", line), CLOCK_RE)
    if len(count) != 1 or len(limit) != 1:
        return None
    return Step("within_limit", {"count": count[0], "limit": limit[0]}, line)
