"""What a playbook says about its statements: who approves, who publishes, what a written
authorisation grants, which kinds go to the press, the publication channels, the facts a
publish step records, and the templates the engine uses outside steps.

Policy is data. The engine names no role, statement kind, channel or template of its own;
`crisisflow playbook check` validates what a playbook declares here, with file:line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .i18n import Localized, _

if TYPE_CHECKING:
    from .reader import Reader

TEMPLATE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$")

# Purposes of the templates a playbook names under `templates:`.
TEMPLATE_PURPOSES = ("correction", "authorisation", "reminder", "escalation")
_KEYS = (
    "approver",
    "publishers",
    "authorisation_grants",
    "authorisation_clock",
    "press",
    "to_requester",
    "invitations",
    "to_roles",
    "channels",
    "publish_facts",
    "documents",
)
_PUBLISH_FACTS = ("channel", "url", "requester", "requester_name")


@dataclass(frozen=True)
class Policy:
    approver: str | None = None  # the role that approves or rejects a text
    publishers: tuple[str, ...] = ()  # the roles that may publish the approved text
    grants: tuple[str, ...] = ()  # the roles a written per-incident authorisation gives
    # The clock a written authorisation starts (from `authorised_at`); publishing its letter
    # meets it.
    authorisation_clock: str | None = None
    press: tuple[str, ...] = ()  # kinds e-mailed to the directory's press list on publication
    # Kinds e-mailed, on publication, to whoever asked (a press agency's answer), not the list.
    to_requester: tuple[str, ...] = ()
    # Kinds that invite the press to an event: each message carries it as a calendar entry at
    # the time its `datetime` fact holds (a press conference's invitation, at conference_at).
    invitations: dict[str, str] = field(default_factory=dict)
    # Kinds e-mailed, on publication, to whoever fills these roles (a press conference's
    # notice to the province's press authority).
    to_roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    channels: dict[str, Localized] = field(default_factory=dict)
    channel_fact: str | None = None  # the fact a publish step takes its channel from
    url_fact: str | None = None  # ... and its address
    requester_fact: str | None = None  # the fact holding the requester's e-mail address
    requester_name_fact: str | None = None  # ... and the requester's name
    templates: dict[str, str] = field(default_factory=dict)  # purpose → template
    # Kind → its document kind abbreviation (Decree 30 Appendix III: TB, BC, TC ...) or
    # `letter` (a công văn); it makes the symbol after the kind's number, "15/TB-UBND".
    documents: dict[str, str] = field(default_factory=dict)
    line: int = 1  # where `statements:` stands, for problems about it

    def goes_to_press(self, kind: str) -> bool:
        return kind in self.press

    def mailed(self, kind: str) -> bool:
        """Whether publishing ``kind`` e-mails its text to someone outside."""
        return kind in self.press or kind in self.to_requester or kind in self.to_roles

    def channel_label(self, code: str, lang: str) -> str:
        label = self.channels.get(code)
        return label.get_lang(lang) if label else code


def read(r: Reader, statements: Any, templates: Any, line: int, templates_line: int) -> Policy:
    """The `statements:` and `templates:` sections of a playbook (both optional)."""
    spec = r.mapping(statements, "statements", line) if statements is not None else {}
    spec = spec or {}
    r.keys(spec, "statements", _KEYS)
    approver = spec.get("approver")
    if approver is not None:
        where_line = r.line(spec, "approver", line)
        names = r.names(approver, "statements approver", where_line)
        if len(names) != 1:
            r.problem(where_line, _("statements approver: one role, e.g. `approver: approver`"))
        approver = names[0] if len(names) == 1 else None
    channels: dict[str, Localized] = {}
    raw_channels = spec.get("channels", {})
    raw_channels = r.mapping(raw_channels, "statements channels", r.line(spec, "channels", line))
    for code, label in (raw_channels or {}).items():
        where = _("channel {code!r}").format(code=code)
        r.names(str(code), where, r.line(raw_channels, code, line))
        channels[str(code)] = r.localized(label, where, r.line(raw_channels, code, line))
    facts = spec.get("publish_facts", {})
    facts = r.mapping(facts, "statements publish_facts", r.line(spec, "publish_facts", line)) or {}
    r.keys(facts, "statements publish_facts", _PUBLISH_FACTS)
    return Policy(
        approver=approver,
        publishers=_names(r, spec, "publishers", line),
        grants=_names(r, spec, "authorisation_grants", line),
        authorisation_clock=_one_name(r, spec, "authorisation_clock", line, "statements"),
        press=_names(r, spec, "press", line),
        to_requester=_names(r, spec, "to_requester", line),
        invitations=_invitations(r, spec, line),
        to_roles=_to_roles(r, spec, line),
        channels=channels,
        channel_fact=_one_name(r, facts, "channel", line),
        url_fact=_one_name(r, facts, "url", line),
        requester_fact=_one_name(r, facts, "requester", line),
        requester_name_fact=_one_name(r, facts, "requester_name", line),
        templates=_templates(r, templates, templates_line),
        documents=_documents(r, spec, line),
        line=line,
    )


def _invitations(r: Reader, spec: dict[str, Any], line: int) -> dict[str, str]:
    """`invitations: {KIND: FACT}`."""
    if "invitations" not in spec:
        return {}
    at = r.line(spec, "invitations", line)
    found = r.mapping(spec["invitations"], "statements invitations", at) or {}
    return {
        str(kind): names[0]
        for kind, fact in found.items()
        if len(names := r.names(fact, f"statements invitations {kind}", at)) == 1
    }


def _documents(r: Reader, spec: dict[str, Any], line: int) -> dict[str, str]:
    """`documents: {KIND: ABBREVIATION}`, each one of Decree 30's Appendix III or `letter`."""
    from .numbering import KINDS

    if "documents" not in spec:
        return {}
    at = r.line(spec, "documents", line)
    found = r.mapping(spec["documents"], "statements documents", at) or {}
    documents = {}
    for kind, abbreviation in found.items():
        if abbreviation not in KINDS:
            r.problem(
                r.line(found, kind, at),
                _(
                    "statements documents {kind}: {value!r} is not a document kind of Decree "
                    "30/2020 Appendix III; use one of: {known}"
                ).format(kind=kind, value=abbreviation, known=", ".join(KINDS)),
            )
            continue
        documents[str(kind)] = str(abbreviation)
    return documents


def _to_roles(r: Reader, spec: dict[str, Any], line: int) -> dict[str, tuple[str, ...]]:
    """`to_roles: {KIND: [roles]}`."""
    if "to_roles" not in spec:
        return {}
    at = r.line(spec, "to_roles", line)
    found = r.mapping(spec["to_roles"], "statements to_roles", at) or {}
    return {
        str(kind): r.names(roles, f"statements to_roles {kind}", at)
        for kind, roles in found.items()
    }


def _names(r: Reader, spec: dict[str, Any], key: str, line: int) -> tuple[str, ...]:
    if key not in spec:
        return ()
    names: tuple[str, ...] = r.names(spec[key], f"statements {key}", r.line(spec, key, line))
    return names


def _one_name(
    r: Reader, spec: dict[str, Any], key: str, line: int, section: str = "publish_facts"
) -> str | None:
    if key not in spec:
        return None
    names = r.names(spec[key], f"{section} {key}", r.line(spec, key, line))
    return names[0] if len(names) == 1 else None


def _templates(r: Reader, node: Any, line: int) -> dict[str, str]:
    if node is None:
        return {}
    spec = r.mapping(node, "templates", line) or {}
    r.keys(spec, "templates", TEMPLATE_PURPOSES)
    found = {}
    for purpose, name in spec.items():
        if not isinstance(name, str) or not TEMPLATE_RE.match(name):
            r.problem(
                r.line(spec, purpose, line),
                _("templates {purpose}: a template name like mail/deadline-reminder").format(
                    purpose=purpose
                ),
            )
            continue
        found[str(purpose)] = name
    return found
