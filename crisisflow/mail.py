"""Composing e-mail: a message is built once, when its outbox row is written, and stored as the
exact bytes to send, so a retry sends the same message with the same Message-ID."""

from __future__ import annotations

import base64
import binascii
import functools
import html
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime, formataddr

from .errors import InvalidInput
from .i18n import _

_HEADER_BREAK = re.compile(r"[\r\n\x00]")
_ADDR_SPEC = re.compile(r"^[^@\s<>,;\"()\[\]\\]+@[A-Za-z0-9.-]+$")

# Messages are written out here rather than through EmailMessage: its header folder costs
# milliseconds per Vietnamese subject, more than the rest of a state change. Headers are
# RFC 2047-encoded once; the body is quoted-printable UTF-8, legible in the raw message;
# lines end in CRLF as SMTP wants.


@dataclass(frozen=True)
class Composed:
    message_id: str
    subject: str
    raw: bytes


@dataclass(frozen=True)
class Mailbox:
    """A display name and an address, both checked: no line breaks, one plain address."""

    name: str
    email: str

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]

    def header(self) -> str:
        return _encode_address(self.name, self.email)


@functools.lru_cache(maxsize=1024)
def _encode_address(name: str, email: str) -> str:
    return formataddr((name, email), charset="utf-8")  # the same few units, over and over


def one_line(value: str, what: str) -> str:
    """Header text from users may not break lines: that is how headers are injected."""
    if _HEADER_BREAK.search(value):
        raise InvalidInput(
            _("{what} may not contain line breaks (it goes into a mail header)").format(what=what)
        )
    return value


def address(name: str, email: str) -> Mailbox:
    if not _ADDR_SPEC.match(email):
        raise InvalidInput(_("{email!r} is not a usable e-mail address").format(email=email))
    return Mailbox(one_line(name, "name"), email)


def new_message_id(domain: str, ref: str) -> str:
    return f"<{uuid.uuid4().hex}.{ref.lower()}@{domain}>"


def thread_id(domain: str, ref: str) -> str:
    """A stable id that every message of one incident refers to, so clients thread them."""
    return f"<incident.{ref.lower()}@{domain}>"


@dataclass(frozen=True)
class Deadline:
    """A task's due time, attached as an iCalendar event that calendar programs accept."""

    due: datetime
    summary: str
    uid: str


def compose(
    *,
    sender: Mailbox,
    recipient: Mailbox,
    subject: str,
    body: str,
    ref: str,
    when: datetime,
    reply_to: Mailbox | None = None,
    deadline: Deadline | None = None,
    lang: str = "vi",
) -> Composed:
    """The exact bytes of one message: plain text and HTML alternatives, the task's deadline
    as an .ics attachment when it has one, threaded with the incident's other messages."""
    domain = sender.domain or "localhost"
    message_id = new_message_id(domain, ref)
    subject = one_line(" ".join(subject.split()), "subject")  # a subject is one line
    thread = thread_id(domain, ref)
    headers = [
        ("From", sender.header()),
        ("To", recipient.header()),
        ("Subject", encode_words(subject)),
        ("Date", format_datetime(when)),
        ("Message-ID", message_id),
        ("References", thread),
        ("In-Reply-To", thread),
        ("X-Crisisflow-Incident", one_line(ref, "incident reference")),
    ]
    if reply_to is not None:
        headers.append(("Reply-To", reply_to.header()))
    boundary = "=_cf_" + uuid.uuid4().hex  # "=_" never occurs in QP or base64 text
    alternative = _multipart(
        "alternative",
        boundary + "a",
        [
            _part('text/plain; charset="utf-8"', "quoted-printable", _qp(body)),
            # The HTML twin is for mail clients, not for people reading raw mail: base64
            # costs a fraction of quoted-printable.
            _part('text/html; charset="utf-8"', "base64", _b64(_html(body, lang).encode())),
        ],
    )
    if deadline is None:
        content = alternative
    else:
        name = f"{ref}.ics"
        attachment = _part(
            f'text/calendar; charset="utf-8"; method=PUBLISH; name="{name}"',
            "base64",
            _b64(_ics(deadline, subject, when)),
            f'Content-Disposition: attachment; filename="{name}"\r\n',
        )
        content = _multipart("mixed", boundary + "m", [alternative, attachment])
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return Composed(message_id, subject, (head + "MIME-Version: 1.0\r\n" + content).encode("ascii"))


def encode_words(text: str) -> str:
    """A header value as RFC 2047 encoded words, folded; plain ASCII stays as it is.

    Written out here because email.header spends a millisecond on a Vietnamese subject."""
    if text.isascii() and "=?" not in text and len(text) < 900:
        return text
    words, chunk = [], b""
    for char in text:
        data = char.encode("utf-8")
        if len(chunk) + len(data) > 45:  # 60 base64 characters: each line stays under 78
            words.append(chunk)
            chunk = b""
        chunk += data
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")


def _qp(text: str) -> str:
    encoded = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True)
    return encoded.decode("ascii").replace("\n", "\r\n")


def _part(content_type: str, encoding: str, payload: str, extra: str = "") -> str:
    return (
        f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: {encoding}\r\n{extra}"
        f"\r\n{payload}"
    )


def _multipart(subtype: str, boundary: str, parts: list[str]) -> str:
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts)
    return (
        f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n{body}--{boundary}--\r\n'
    )


def _html(text: str, lang: str) -> str:
    """The plain text as HTML: escaped (text from users must not become markup), paragraphs
    on blank lines, line breaks kept."""
    paragraphs = [p.strip("\n") for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    blocks = "\n".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html>\n<html lang="{html.escape(lang)}"><head><meta charset="utf-8"></head>'
        f'<body style="font-family: sans-serif">\n{blocks}\n</body></html>\n'
    )


def _ics(deadline: Deadline, subject: str, when: datetime) -> bytes:
    from icalendar import Alarm, Calendar, Event  # only messages with a deadline need it

    calendar = Calendar()
    calendar.add("prodid", "-//crisisflow//deadline//VI")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", deadline.uid)
    event.add("dtstamp", when)
    event.add("dtstart", deadline.due)
    event.add("dtend", deadline.due + timedelta(minutes=15))
    event.add("summary", deadline.summary)
    event.add("description", subject)
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", deadline.summary)
    alarm.add("trigger", timedelta(minutes=-30))
    event.add_component(alarm)
    calendar.add_component(event)
    return bytes(calendar.to_ical())
