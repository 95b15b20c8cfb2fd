"""Composing e-mail: a message is built once, when its outbox row is written, and stored as the
exact bytes to send, so a retry sends the same message with the same Message-ID."""

from __future__ import annotations

import base64
import binascii
import functools
import html
import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, formataddr
from typing import Any
from urllib.parse import quote

from . import ical, signing
from .errors import InvalidInput
from .i18n import _

_HEADER_BREAK = re.compile(r"[\r\n\x00]")
_ADDR_SPEC = re.compile(r"^[^@\s<>,;\"()\[\]\\]+@[A-Za-z0-9.-]+$")
_MIME_TYPE = re.compile(r"^[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*$", re.ASCII)
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][\w .()+-]*$", re.ASCII)  # safe in a quoted parameter
_NOT_IN_NAME = re.compile(r'[\x00-\x1f\x7f"\\/]')
_ICS_TYPE = 'text/calendar; charset="utf-8"; method=PUBLISH'

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


@dataclass(frozen=True)
class Links:
    """The links a message carries: absolute addresses under the web front end's
    ``base_url``, built from it, quoted references and URL-safe signed tokens only. Without a
    ``key`` (a workspace that has none) no acknowledge link is made."""

    base_url: str
    key: bytes | None = None

    def statement(self, ref: str, kind: str) -> str:
        """The statement's page, where its approver reads the exact text and decides."""
        base = self.base_url.rstrip("/")
        return f"{base}/incidents/{quote(ref, safe='')}/statements/{quote(kind, safe='')}"

    def ack(self, ref: str, unit: str, task: str, expires: datetime) -> str | None:
        """``unit``'s link acknowledging ``task``: signed, valid until ``expires``; the web
        front end takes it once."""
        if self.key is None:
            return None
        fields = {"ref": ref, "unit": unit, "task": task}
        token = signing.sign_link(self.key, "ack", fields, expires)
        return f"{self.base_url.rstrip('/')}/ack/{token}"


@dataclass(frozen=True)
class Attachment:
    """A file a message carries: the name its reader sees, its MIME type, its bytes."""

    filename: str
    content_type: str
    data: bytes


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def statement_docx(ref: str, statement: Mapping[str, Any]) -> Attachment:
    """A statement's version (kind, number, title, text, lang) as the Decree 30/2020 Word
    document an approver can read and print."""
    name = f"{ref}-{statement['kind']}-v{statement['number']}.docx"
    return Attachment(name, DOCX, _docx(statement["text"], statement["title"], statement["lang"]))


@functools.lru_cache(maxsize=32)
def _docx(text: str, title: str, lang: str) -> bytes:
    # Made once per process: a text is submitted again unchanged, and mailed to several
    # approvers, and writing Word costs tens of milliseconds.
    from .export import export  # python-docx loads only for mail that carries a document

    return export(text, "docx", title=title, lang=lang)


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
    attachments: Sequence[Attachment] = (),
    lang: str = "vi",
) -> Composed:
    """The exact bytes of one message: plain text and HTML alternatives, the task's deadline
    as an .ics attachment when it has one, then ``attachments``, threaded with the incident's
    other messages."""
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
    files = list(attachments)
    if deadline is not None:
        files.insert(0, Attachment(f"{ref}.ics", _ICS_TYPE, _ics(deadline, subject, when)))
    if files:
        parts = [alternative, *(_attachment(f) for f in files)]
        content = _multipart("mixed", boundary + "m", parts)
    else:
        content = alternative
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


@functools.lru_cache(maxsize=32)
def _attachment(file: Attachment) -> str:
    """One attached file, encoded once per process: an approval request carries the same
    document to every approver. Its name goes into the headers as RFC 2231 parameters when it is
    more than plain ASCII, so that no name can break a header or stand for a path."""
    kind = file.content_type
    if _HEADER_BREAK.search(kind) or not _MIME_TYPE.match(kind.partition(";")[0].strip()):
        raise InvalidInput(_("{type!r} is not a MIME type").format(type=kind))
    name = safe_filename(file.filename)
    return _part(
        f"{kind};\r\n {_parameter('name', name)}",
        "base64",
        _b64(file.data),
        f"Content-Disposition: attachment;\r\n {_parameter('filename', name)}\r\n",
    )


def safe_filename(name: str) -> str:
    """A file name as an attachment may carry it: NFC, without control characters, quotes,
    backslashes or slashes (a name is never a path)."""
    cleaned = _NOT_IN_NAME.sub("_", unicodedata.normalize("NFC", name)).strip()
    return cleaned if cleaned.strip("._ ") else "attachment"


def _parameter(key: str, value: str) -> str:
    """``key="value"`` for a short plain ASCII value, else RFC 2231 ``key*=utf-8''%XX…``,
    cut into numbered sections (``key*0*=``, ``key*1*=``, …) that keep header lines short."""
    if _PLAIN_NAME.match(value) and len(value) <= 60:
        return f'{key}="{value}"'
    encoded = quote(value.encode("utf-8"), safe="")
    sections, start = [], 0
    while start < len(encoded):
        end = min(start + 60, len(encoded))
        while end < len(encoded) and "%" in encoded[end - 2 : end]:  # never split a %XX
            end -= 1
        sections.append(encoded[start:end])
        start = end
    charset = "utf-8''"  # then the value, percent-encoded
    if len(sections) == 1:
        return f"{key}*={charset}{encoded}"
    return ";\r\n ".join(
        f"{key}*{n}*={charset if n == 0 else ''}{section}" for n, section in enumerate(sections)
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
    return ical.deadline_event(
        uid=deadline.uid,
        due=deadline.due,
        summary=deadline.summary,
        description=subject,
        stamp=when,
    )
