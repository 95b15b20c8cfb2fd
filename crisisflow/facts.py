"""Typed incident facts: parse ``--set key=value`` text into the value a playbook declares, and
times written the way duty officers write them."""

from __future__ import annotations

import os
import re
import stat
import sys
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .directory import EMAIL_RE, Directory
from .errors import InvalidInput
from .i18n import _
from .playbook import Fact, Playbook
from .refs import shown

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
# Times outside these years are typing mistakes (and the far ends overflow on conversion).
FIRST_YEAR, LAST_YEAR = 1900, 2200
# An incident reference, e.g. KC-2026-0007: the playbook's prefix, the year, a number.


def _not_unicode(value: str) -> bool:
    """Lone surrogates: bytes that were not UTF-8 (argv reaches us through surrogateescape)."""
    return any("\ud800" <= c <= "\udfff" for c in value)


def clean_text(value: str, what: str, *, multiline: bool = False, limit: int = MAX_TEXT) -> str:
    """NFC, stripped, bounded; one line unless ``multiline``; no control characters and
    nothing that was not UTF-8."""
    if _not_unicode(value):
        raise InvalidInput(
            _(
                "{what}: contains bytes that are not UTF-8 text; set the terminal (or the "
                "file) to UTF-8 and type it again"
            ).format(what=what)
        )
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
    """ISO 8601 (with or without offset) or Vietnamese dd/mm/yyyy [HH:MM]; naive means ``tz``;
    the year between FIRST_YEAR and LAST_YEAR."""
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
                    "{what}: {text} is not a time; write 2026-11-26 08:30 or 26/11/2026 08:30"
                ).format(what=what, text=shown(text))
            ) from None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise InvalidInput(
            _("{what}: {text}: the year must be between {first} and {last}").format(
                what=what, text=shown(text), first=FIRST_YEAR, last=LAST_YEAR
            )
        )
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


# --- references, files and documents ----------------------------------------------------------


def read_text_file(path: str | Path, limit: int, what: str) -> str:
    """The UTF-8 text of ``path`` (``-``: standard input), at most ``limit`` bytes. The size is
    checked before reading and no more than ``limit + 1`` bytes are ever read, so /dev/zero or
    a pipe cannot exhaust memory; a leading byte-order mark is dropped; NUL bytes are refused.
    Every error is InvalidInput naming ``what`` and the file."""
    name = f"{what} {path}"
    too_big = InvalidInput(
        _("{file}: larger than {limit} bytes; is it the right file?").format(file=name, limit=limit)
    )
    try:
        data = _read_at_most(path, limit + 1, too_big)
    except IsADirectoryError as exc:
        raise InvalidInput(_("{file}: is a folder; give a text file").format(file=name)) from exc
    except OSError as exc:
        error = (exc.strerror or str(exc)).lower()
        raise InvalidInput(
            _("{file}: cannot read it: {error}").format(file=name, error=error)
        ) from exc
    if len(data) > limit:
        raise too_big
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            _("{file}: not UTF-8 text (byte {at}); save it as UTF-8").format(
                file=name, at=exc.start
            )
        ) from exc
    if "\0" in text:
        raise InvalidInput(_("{file}: contains NUL bytes; is it a text file?").format(file=name))
    return text


def _read_at_most(path: str | Path, most: int, too_big: InvalidInput) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read(most)
    with open(path, "rb") as handle:  # a folder: IsADirectoryError
        info = os.fstat(handle.fileno())
        if stat.S_ISREG(info.st_mode) and info.st_size >= most:
            raise too_big  # known from its size: nothing is read
        return handle.read(most)  # a device or a pipe: its size says nothing


def clean_document(text: str, limit: int, what: str) -> str:
    """A statement-like text as stored: NFC, LF line ends, lines right-stripped, one final
    newline, so hashes and diffs are stable. Refused: an empty or blank text, NUL
    and other control characters but tab, bytes that were not UTF-8, more than ``limit``
    characters."""
    if _not_unicode(text):
        raise InvalidInput(
            _("{what}: contains bytes that are not UTF-8 text; save it as UTF-8").format(what=what)
        )
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip("\n") + "\n"
    if len(text) > limit:
        raise InvalidInput(
            _("{what}: longer than {limit} characters ({n}); shorten it").format(
                what=what, limit=limit, n=len(text)
            )
        )
    bad = next((c for c in text if unicodedata.category(c) == "Cc" and c not in "\n\t"), None)
    if bad is not None:
        raise InvalidInput(
            _("{what}: contains the control character {char} (line {line}); remove it").format(
                what=what, char=f"U+{ord(bad):04X}", line=text.count("\n", 0, text.index(bad)) + 1
            )
        )
    if all(c.isspace() or unicodedata.category(c) == "Cf" for c in text):
        raise InvalidInput(_("{what}: the text is empty; write the text").format(what=what))
    return text


def fact_times(playbook: Playbook, facts: Mapping[str, Any]) -> dict[str, datetime]:
    """The incident's `datetime` facts, as moments a rule may count from or back to (a press
    conference's planned start)."""
    return {
        name: datetime.fromisoformat(str(facts[name]))
        for name, fact in playbook.facts.items()
        if fact.type == "datetime" and facts.get(name)
    }
