"""Where a published statement is e-mailed, as its playbook's policy says of its kind: to the
directory's press list (an invitation with its event for their calendars), to the requester it
answers, or to whoever fills the roles it is addressed to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import mail
from .directory import EMAIL_RE, Recipient
from .drafting import Drafter
from .errors import ConfigError, InvalidInput
from .facts import fact_times
from .i18n import _
from .incident_view import IncidentView


def messages(
    drafter: Drafter, incident: IncidentView, kind: str, title: str, text: str, now: datetime
) -> list[dict[str, Any]]:
    """One message per address the published text of ``kind`` goes to."""
    policy = incident.playbook.policy
    if kind in policy.to_requester:
        return [
            drafter.message(
                incident, _requester(drafter, incident, title), title, text, now, "requester"
            )
        ]
    if kind in policy.to_roles:
        found: dict[str, Recipient] = {}
        for role in policy.to_roles[kind]:
            for recipient in drafter.recipients(role, incident):
                found.setdefault(recipient.email, recipient)
        return [drafter.message(incident, r, title, text, now, "to-roles") for r in found.values()]
    return _press(drafter, incident, kind, title, text, now)


def _press(
    drafter: Drafter, incident: IncidentView, kind: str, title: str, text: str, now: datetime
) -> list[dict[str, Any]]:
    press = drafter.directory.press
    if not press:
        raise ConfigError(
            _("{file}: no press list to send {title!r} to; add addresses under press:").format(
                file=drafter.directory_file, title=title
            )
        )
    fact = incident.playbook.policy.invitations.get(kind)
    event = fact_times(incident.playbook, incident.facts).get(fact) if fact else None
    uid = f"{incident.ref.lower()}.invitation@{drafter.sender.domain}"
    entry = mail.Deadline(event, title, uid) if event else None
    return [drafter.message(incident, r, title, text, now, "press", entry) for r in press]


def _requester(drafter: Drafter, incident: IncidentView, title: str) -> Recipient:
    """Whoever asked: the address and name the playbook's `publish_facts: requester,
    requester_name` facts hold."""
    policy = incident.playbook.policy
    email = incident.facts.get(policy.requester_fact or "") or ""
    if not EMAIL_RE.match(str(email)):
        raise InvalidInput(
            _("{ref}: fact {fact}: give the address to send {title!r} to").format(
                ref=incident.ref, fact=policy.requester_fact or "requester", title=title
            )
        )
    name = incident.facts.get(policy.requester_name_fact or "") or email
    return Recipient("requester", str(name), str(email), drafter.language)
