"""A task's deadline as an RFC 5545 calendar event: the few lines a calendar program needs,
written out directly (a calendar library costs milliseconds per message inside a step)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_LINE_OCTETS = 75  # RFC 5545 §3.1: content lines are folded at 75 octets


def deadline_event(
    *, uid: str, due: datetime, summary: str, description: str, stamp: datetime
) -> bytes:
    """One VEVENT from ``due`` for 15 minutes, with a display alarm 30 minutes before it."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//crisisflow//deadline//VI",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{text(uid)}",
        f"DTSTAMP:{utc(stamp)}",
        f"DTSTART:{utc(due)}",
        f"DTEND:{utc(due + timedelta(minutes=15))}",
        f"SUMMARY:{text(summary)}",
        f"DESCRIPTION:{text(description)}",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        f"DESCRIPTION:{text(summary)}",
        "TRIGGER:-PT30M",
        "END:VALARM",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return b"".join(fold(line) + b"\r\n" for line in lines)


def utc(moment: datetime) -> str:
    """A DATE-TIME in UTC form (``20261126T030000Z``); a naive time is taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def text(value: str) -> str:
    """A TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma and line breaks escaped,
    other control characters dropped, so that no value can start a property of its own."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return "".join(c for c in value if c >= " " and c != "\x7f")


def fold(line: str) -> bytes:
    """``line`` in UTF-8, cut into pieces of at most 75 octets, never inside a character; each
    continuation starts with one space."""
    data = line.encode("utf-8")
    if len(data) <= _LINE_OCTETS:
        return data
    pieces, start, limit = [], 0, _LINE_OCTETS
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte
            end -= 1
        pieces.append(data[start:end])
        start, limit = end, _LINE_OCTETS - 1  # the leading space counts
    return b"\r\n ".join(pieces)
