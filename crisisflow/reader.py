"""Walking parsed YAML data (playbooks, rule packs) and collecting every problem with its
line, instead of stopping at the first."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .errors import Problem
from .i18n import Localized, _

LANGUAGES = ("vi", "en")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class Reader:
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
