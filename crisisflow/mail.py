"""Composing e-mail: a message is built once, when its outbox row is written, and stored as the
exact bytes to send, so a retry sends the same message with the same Message-ID."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from .errors import InvalidInput
from .i18n import _

_HEADER_BREAK = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True)
class Composed:
    message_id: str
    subject: str
    raw: bytes


def one_line(value: str, what: str) -> str:
    """Header text from users may not break lines: that is how headers are injected."""
    if _HEADER_BREAK.search(value):
        raise InvalidInput(
            _("{what} may not contain line breaks (it goes into a mail header)").format(what=what)
        )
    return value


def address(name: str, email: str) -> Address:
    local, _sep, domain = email.partition("@")
    try:
        return Address(display_name=one_line(name, "name"), username=local, domain=domain)
    except (ValueError, IndexError) as exc:
        raise InvalidInput(
            _("{email!r} is not a usable e-mail address").format(email=email)
        ) from exc


def new_message_id(domain: str, ref: str) -> str:
    return f"<{uuid.uuid4().hex}.{ref.lower()}@{domain}>"


def thread_id(domain: str, ref: str) -> str:
    """A stable id that every message of one incident refers to, so clients thread them."""
    return f"<incident.{ref.lower()}@{domain}>"


def compose(
    *, sender: Address, recipient: Address, subject: str, body: str, ref: str, when: datetime
) -> Composed:
    domain = sender.domain or "localhost"
    message_id = new_message_id(domain, ref)
    subject = " ".join(subject.split())  # templates may wrap; a subject is one line
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = one_line(subject, "subject")
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = message_id
    msg["References"] = thread_id(domain, ref)
    msg["In-Reply-To"] = thread_id(domain, ref)
    msg["X-Crisisflow-Incident"] = one_line(ref, "incident reference")
    msg.set_content(body)
    return Composed(message_id, subject, msg.as_bytes())
