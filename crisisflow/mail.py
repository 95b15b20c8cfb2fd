"""Composing e-mail: a message is built once, when its outbox row is written, and stored as the
exact bytes to send, so a retry sends the same message with the same Message-ID."""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from email import quoprimime
from email.header import Header
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


def compose(
    *, sender: Mailbox, recipient: Mailbox, subject: str, body: str, ref: str, when: datetime
) -> Composed:
    domain = sender.domain or "localhost"
    message_id = new_message_id(domain, ref)
    subject = one_line(" ".join(subject.split()), "subject")  # a subject is one line
    thread = thread_id(domain, ref)
    headers = [
        ("From", sender.header()),
        ("To", recipient.header()),
        ("Subject", Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n")),
        ("Date", format_datetime(when)),
        ("Message-ID", message_id),
        ("References", thread),
        ("In-Reply-To", thread),
        ("X-Crisisflow-Incident", one_line(ref, "incident reference")),
    ]
    headers += [
        ("MIME-Version", "1.0"),
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("Content-Transfer-Encoding", "quoted-printable"),
    ]
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    octets = body.replace("\r\n", "\n").encode("utf-8").decode("latin-1")  # as email.charset
    text = quoprimime.body_encode(octets, eol="\r\n")
    return Composed(message_id, subject, (head + "\r\n" + text).encode("ascii"))
