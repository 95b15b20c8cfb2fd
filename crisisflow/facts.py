"""Typed incident facts: parse ``--set key=value`` text into the value a playbook declares, and
times written the way duty officers write them."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from .directory import EMAIL_RE, Directory
from .errors import InvalidInput
from .i18n import _
from .playbook import Fact, Playbook

MAX_TEXT = 500
MAX_LONGTEXT = 20_000
_URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_TRUE = {"true", "yes", "1", "on", "có", "co"}
_FALSE = {"false", "no", "0", "off", "không", "khong"}
_TIME_FORMATS = (
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%H:%M %d/%m/%Y",
    "%Y-%m-%d",
    "%d/%m/%Y",
)


def clean_text(value: str, what: str, *, multiline: bool = False, limit: int = MAX_TEXT) -> str:
    """NFC, stripped, bounded; one line unless ``multiline``; no control characters."""
    value = unicodedata.normalize("NFC", value).strip()
    if not multiline and ("\n" in value or "\r" in value):
        raise InvalidInput(_("{what}: must be one line").format(what=what))
    if any(
        unicodedata.category(c) == "Cc" and c not in "\n\t" for c in value.replace("\r\n", "\n")
    ):
        raise InvalidInput(_("{what}: contains control characters").format(what=what))
    if len(value) > limit:
        raise InvalidInput(
            _("{what}: longer than {limit} characters").format(what=what, limit=limit)
        )
    return value


def parse_time(text: str, tz: ZoneInfo, what: str) -> datetime:
    """ISO 8601 (with or without offset) or Vietnamese dd/mm/yyyy [HH:MM]; naive means ``tz``."""
    text = text.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _TIME_FORMATS:
            try:
                value = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise InvalidInput(
                _(
                    "{what}: {text!r} is not a time; write 2026-11-26 08:30 or 26/11/2026 08:30"
                ).format(what=what, text=text)
            ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def parse_value(fact: Fact, raw: str, directory: Directory, tz: ZoneInfo) -> Any:
    what = _("fact {name}").format(name=fact.name)
    kind = fact.type
    if kind == "text":
        return clean_text(raw, what)
    if kind == "longtext":
        return clean_text(raw, what, multiline=True, limit=MAX_LONGTEXT)
    if kind == "url":
        value = clean_text(raw, what)
        if not _URL_RE.match(value):
            raise InvalidInput(
                _("{what}: {value!r} is not an http(s) URL").format(what=what, value=value)
            )
        return value
    if kind == "email":
        value = clean_text(raw, what)
        if not EMAIL_RE.match(value):
            raise InvalidInput(
                _("{what}: {value!r} is not an e-mail address").format(what=what, value=value)
            )
        return value
    if kind == "choice":
        if raw not in fact.choices:
            raise InvalidInput(
                _("{what}: {value!r} is not one of: {choices}").format(
                    what=what, value=raw, choices=", ".join(fact.choices)
                )
            )
        return raw
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise InvalidInput(
                _("{what}: {value!r} is not a whole number").format(what=what, value=raw)
            ) from None
    if kind == "boolean":
        low = raw.strip().lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise InvalidInput(_("{what}: write true or false").format(what=what))
    if kind == "datetime":
        return parse_time(raw, tz, what).isoformat()
    if kind == "person":
        if raw not in directory.people:
            raise InvalidInput(
                _("{what}: unknown person {value!r}; known: {known}").format(
                    what=what, value=raw, known=", ".join(sorted(directory.people))
                )
            )
        return raw
    if kind == "unit":
        if raw not in directory.units:
            raise InvalidInput(
                _("{what}: unknown unit {value!r}; known: {known}").format(
                    what=what, value=raw, known=", ".join(sorted(directory.units))
                )
            )
        return raw
    raise AssertionError(kind)  # pragma: no cover - playbook.FACT_TYPES and this agree


def apply(
    playbook: Playbook,
    current: dict[str, Any],
    given: dict[str, str],
    directory: Directory,
    tz: ZoneInfo,
) -> dict[str, Any]:
    """The facts after setting ``given`` on ``current``; unknown names and bad values refused."""
    facts = dict(current)
    for name, raw in given.items():
        fact = playbook.facts.get(name)
        if fact is None:
            raise InvalidInput(
                _("--set {name}: {playbook} has no fact {name!r}; facts: {known}").format(
                    name=name, playbook=playbook.id, known=", ".join(playbook.facts) or _("none")
                )
            )
        facts[name] = parse_value(fact, raw, directory, tz)
    return facts


def with_defaults(playbook: Playbook, facts: dict[str, Any]) -> dict[str, Any]:
    """Fill declared defaults, then insist on the required facts."""
    result = {name: f.default for name, f in playbook.facts.items() if f.default is not None}
    result.update(facts)
    missing = [n for n, f in playbook.facts.items() if f.required and result.get(n) in (None, "")]
    if missing:
        raise InvalidInput(
            _("{playbook} needs {facts}: add --set {first}=VALUE").format(
                playbook=playbook.id, facts=", ".join(missing), first=missing[0]
            )
        )
    return result
