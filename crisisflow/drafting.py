"""Turning a step's effects into text: statement drafts and composed e-mails.

Everything here happens before anything is written, so a template that fails to render refuses
the step and leaves the incident as it was. Recipients are resolved from the directory (or from
the incident's own role facts) and snapshotted into each message.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from . import document_parts, mail
from .directory import EMAIL_RE, Directory, Recipient
from .errors import ConfigError
from .i18n import _
from .incident_view import IncidentView, clock_card
from .issuer import Signing
from .later import Later
from .machine import Draft, Notify
from .mailing import Mailing, approval_context
from .render import Renderer

# The outbox "templates" of published statements mailed outside (published_mail).
PUBLISHED = ("press", "requester", "to-roles")
APPROVAL_PRIORITY = 10  # an approval request goes out ahead of bulk mail
ACK_HOURS = 72  # how long the acknowledge link of a task without a due time stays valid
# What approval requests (the texts awaiting approval, their pages) and task mail (its
# acknowledge link) give their templates; other templates get these, empty.
NO_LINKS = {**dict.fromkeys(("statement", "approval_url", "ack_url")), "statements": ()}


@dataclass
class Rendered:
    """What a step produced: statement drafts and messages, ready to store."""

    drafts: list[dict[str, Any]] = field(default_factory=list)
    mails: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """What the audit event records of them."""
        data: dict[str, Any] = {}
        if self.drafts:
            data["drafted"] = [{"kind": d["kind"], "template": d["template"]} for d in self.drafts]
        if self.mails:
            data["queued"] = [
                {"to": m["recipient"], "template": m["template"], "message_id": m["message_id"]}
                for m in self.mails
            ]
        return data


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Drafter:
    def __init__(
        self,
        directory: Directory,
        renderer: Renderer,
        *,
        language: str,
        mail_from: str,
        reply_to: str,
        directory_file: Path,
    ) -> None:
        self.directory = directory
        self.renderer = renderer
        self.language = language
        self.directory_file = directory_file
        org = directory.organisation
        for setting, value in (("mail_from", mail_from), ("reply_to", reply_to)):
            if value and not EMAIL_RE.match(value):
                raise ConfigError(
                    _(
                        "setting {setting}: {value!r} is not a plain ASCII e-mail address; "
                        "write it like vanphong@vinhlinh.example"
                    ).format(setting=setting, value=value)
                )
        self.sender = mail.address(
            org.get("name", "crisisflow"), mail_from or org.get("email") or "crisisflow@localhost"
        )
        self.reply_to = mail.address(org.get("name", "crisisflow"), reply_to) if reply_to else None

    def render(
        self,
        incident: IncidentView,
        effects: Sequence[object],
        *,
        actor: str,
        note: str | None,
        trigger: str | None,
        now: datetime,
        mailing: Mailing | None = None,
    ) -> Rendered:
        """A step's drafts and messages; ``mailing``: what its mail links to and carries."""
        context = self.context(incident, actor=actor, note=note, trigger=trigger, now=now)
        mailing = mailing or Mailing()
        rendered = Rendered()
        for effect in effects:
            if isinstance(effect, Draft):
                rendered.drafts.append(self.draft(effect, context, incident))
        for effect in effects:  # after the drafts: a text may be drafted and submitted at once
            if isinstance(effect, Notify):
                request = self._request(effect, incident, mailing, rendered.drafts)
                rendered.mails.extend(self._mails(effect, incident, context, mailing, request))
        return rendered

    def _request(
        self, notify: Notify, incident: IncidentView, mailing: Mailing, drafts: list[dict[str, Any]]
    ) -> list[dict[str, Any]] | None:
        """The texts an approval request (a notify to the playbook's approver) presents."""
        if incident.playbook.policy.approver not in notify.roles:
            return None
        texts = dict(mailing.texts)
        for d in drafts:  # drafted first by this very step
            first = {"kind": d["kind"], "title": d["title"], "text": d["text"], "lang": d["lang"]}
            texts.setdefault(d["kind"], {**first, "number": 1, "sha256": d["text_hash"]})
        return [texts[kind] for kind in mailing.approval if kind in texts]

    def context(
        self,
        incident: IncidentView,
        *,
        actor: str,
        note: str | None,
        trigger: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        """The variables every template gets (documented in the README)."""
        directory = self.directory
        playbook = incident.playbook
        lang = self.language
        facts = document_parts.template_facts(directory, playbook, incident.facts)
        person = directory.people.get(actor)
        state = playbook.states[incident.state]
        transition = playbook.transition_by_trigger(trigger) if trigger else None
        context = {
            "incident": {
                "ref": incident.ref,
                "title": incident.title,
                "state": incident.state,
                "state_title": state.title.get_lang(lang),
                "owner": state.owner,
                "facts": facts,
                "timestamps": dict(incident.stamps),
                "opened_at": incident.opened_at,
                "playbook": playbook.title.get_lang(lang),
                "on_behalf": Later(lambda: [self._carded(d) for d in incident.on_behalf]),
                "clocks": {c.clock: clock_card(c) for c in incident.clocks},
            },
            "org": self.organisation,
            "actor": (
                {"id": person.id, "name": person.name, "title": person.title}
                if person
                else {"id": actor, "name": actor, "title": ""}
            ),
            "note": note or "",
            "trigger": trigger or "",
            "transition_title": transition.title.get_lang(lang) if transition else "",
            "now": now,
            "due": None,
            "lang": lang,
            "workspace_command": "crisisflow",
            "role_names": self.role_names,
            **NO_LINKS,
        }
        context.update(self._in_lang(incident, context, lang))
        return context

    @functools.cached_property
    def organisation(self) -> dict[str, Any]:
        return document_parts.organisation(self.directory)

    def _in_lang(
        self, incident: IncidentView, context: dict[str, Any], lang: str
    ) -> dict[str, Any]:
        """The incident's codes as ``lang`` writes them: its choice facts' labels, and the
        publication channels' (``channel_label``)."""
        playbook = incident.playbook
        labels = document_parts.fact_labels(playbook, incident.facts, lang)
        return {
            "incident": {**context["incident"], "labels": labels},
            "channel_label": lambda code: playbook.policy.channel_label(str(code), lang),
        }

    def layout(
        self, kind: str, abbreviation: str | None, now: datetime, lang: str | None = None
    ) -> dict[str, Any]:
        """What a document of ``kind`` takes from the directory (``doc`` in its template)."""
        return document_parts.document(
            self.directory,
            kind,
            abbreviation,
            now=now,
            tz=self.renderer.tz,
            lang=lang or self.language,
        )

    @functools.cached_property
    def signing(self) -> Signing:
        """Who may sign what, as approvals and the register check it."""
        return Signing(self.directory.issuer, self.directory.people, self.renderer.tz)

    @functools.cached_property
    def role_names(self) -> dict[str, str]:
        """Who fills each role of the directory, by name: documents name units from here."""
        return {
            role: ", ".join(r.name for r in self.directory.members(role))
            for role in self.directory.roles
        }

    def _carded(self, decision: dict[str, Any]) -> dict[str, Any]:
        return {
            **decision,
            "person": self.person_card(decision["person"]),
            "entered_by": self.person_card(decision["entered_by"]),
        }

    def person_card(self, person_id: str) -> dict[str, str]:
        person = self.directory.people.get(person_id)
        if person is None:
            return {"id": person_id, "name": person_id, "title": "", "email": ""}
        return {"id": person.id, "name": person.name, "title": person.title, "email": person.email}

    def document(
        self,
        incident: IncidentView,
        template: str,
        *,
        actor: str,
        note: str | None,
        now: datetime,
        extra: dict[str, Any] | None = None,
        kind: str | None = None,
    ) -> dict[str, Any]:
        """Draft a statement of ``kind`` outside a playbook step (a correction, an
        authorisation); its signer and number are the kind's, else the template's."""
        context = self.context(incident, actor=actor, note=note, trigger=None, now=now)
        context.update(extra or {})
        name = template.rsplit("/", 1)[-1]
        return self.draft(Draft(name, template), context, incident, kind=kind or name)

    def for_role(
        self,
        incident: IncidentView,
        role: str,
        template: str,
        extra: dict[str, Any],
        now: datetime,
    ) -> list[dict[str, Any]]:
        """Render ``template`` for everyone filling ``role`` and compose their messages."""
        context = self.context(incident, actor="crisisflow", note=None, trigger=None, now=now)
        mails = []
        for recipient in self.recipients(role, incident):
            ctx = {**context, **extra, **addressed(recipient, role)}
            parts = self.renderer.render(template, recipient.lang, ctx)
            subject = parts.get("subject", template)
            mails.append(self.message(incident, recipient, subject, parts["body"], now, template))
        return mails

    def draft(
        self,
        draft: Draft,
        context: dict[str, Any],
        incident: IncidentView,
        kind: str | None = None,
    ) -> dict[str, Any]:
        """A statement's text, laid out as the document it will be issued as: ``kind`` (else
        the draft's) says who signs it and how it is numbered."""
        documents = incident.playbook.policy.documents
        kind = kind or draft.kind
        doc = self.layout(kind, documents.get(kind) or documents.get(draft.kind), context["now"])
        parts = self.renderer.render(draft.template, self.language, {**context, "doc": doc})
        return {
            "kind": draft.kind,
            "template": draft.template,
            "lang": self.language,
            "title": " ".join(parts.get("title", draft.kind).split()),
            "text": parts["body"],
            "text_hash": sha256(parts["body"]),
        }

    def recipients(self, role: str, incident: IncidentView) -> list[Recipient]:
        """Who fills ``role`` for this incident: its own role fact, else the directory."""
        fact = incident.playbook.facts.get(role)
        bound = incident.facts.get(role)
        if fact is not None and fact.type in ("person", "unit") and bound:
            return [self.directory.recipient(bound)]
        members = self.directory.members(role)
        if not members:
            raise ConfigError(
                _(
                    "{file}: role {role!r} is filled by nobody, so its e-mail would be "
                    "lost; bind a unit or person to it under roles:"
                ).format(file=self.directory_file, role=role)
            )
        return members

    def _mails(
        self,
        notify: Notify,
        incident: IncidentView,
        context: dict[str, Any],
        mailing: Mailing,
        request: list[dict[str, Any]] | None,
    ) -> list[dict[str, Any]]:
        """One message per address filling the notify's roles. An approval request carries
        the texts it presents (in full, and each as a .docx) and goes out first; other mail
        gives each recipient a link that acknowledges the task."""
        seen: set[str] = set()
        rendered = []
        now = context["now"]
        due = now + timedelta(seconds=notify.due_seconds) if notify.due_seconds else None
        extra: dict[str, Any] = {"due": due}
        if request is not None:
            extra.update(approval_context(request, incident.ref, mailing.links))
        files = [mail.statement_docx(incident.ref, text) for text in request or ()]
        task, expires = f"{notify.template}@{mailing.seq}", due or now + timedelta(hours=ACK_HOURS)
        name = notify.template.replace("/", ".")
        uid = f"{incident.ref.lower()}.{name}.{notify.cause}@{self.sender.domain}"
        compose = functools.partial(
            self.message,
            incident,
            now=now,
            template=notify.template,
            attachments=files,
            priority=APPROVAL_PRIORITY if request is not None else 0,
        )
        for role in notify.roles:
            for recipient in self.recipients(role, incident):
                if recipient.email in seen:  # one message per address, whatever its roles
                    continue
                seen.add(recipient.email)
                ctx = {**context, **addressed(recipient, role), **extra}
                if recipient.lang != self.language:  # codes in the reader's language
                    ctx.update(self._in_lang(incident, context, recipient.lang))
                if request is None and mailing.links is not None:
                    ctx["ack_url"] = mailing.links.ack(incident.ref, recipient.id, task, expires)
                parts = self.renderer.render(notify.template, recipient.lang, ctx)
                subject = parts.get("subject", notify.template)
                if incident.ref not in subject:
                    subject = f"[{incident.ref}] {subject}"
                deadline = mail.Deadline(due, subject, uid) if due else None
                rendered.append(compose(recipient, subject, parts["body"], deadline=deadline))
        return rendered

    def message(
        self,
        incident: IncidentView,
        recipient: Recipient,
        subject: str,
        body: str,
        now: datetime,
        template: str,
        deadline: mail.Deadline | None = None,
        attachments: Sequence[mail.Attachment] = (),
        priority: int = 0,
    ) -> dict[str, Any]:
        """One composed message about ``incident``, as the outbox row it becomes; a published
        statement (PUBLISHED mail) goes out under its own title, without the internal
        reference that heads the office's own mail."""
        if incident.ref not in subject and template not in PUBLISHED:
            subject = f"[{incident.ref}] {subject}"
        return self.composed(
            incident.ref, recipient, subject, body, now, template, deadline, attachments, priority
        )

    def composed(
        self,
        ref: str,
        recipient: Recipient,
        subject: str,
        body: str,
        now: datetime,
        template: str,
        deadline: mail.Deadline | None = None,
        attachments: Sequence[mail.Attachment] = (),
        priority: int = 0,
    ) -> dict[str, Any]:
        """One composed message threaded under ``ref`` (an incident, or a recurring duty's
        year), as the outbox row it becomes."""
        composed = mail.compose(
            sender=self.sender,
            recipient=mail.address(recipient.name, recipient.email),
            subject=subject,
            body=body,
            ref=ref,
            when=now,
            reply_to=self.reply_to,
            deadline=deadline,
            attachments=attachments,
            lang=recipient.lang,
        )
        return {
            "message_id": composed.message_id,
            "sender": self.sender.email,
            "recipient": recipient.email,
            "recipient_name": recipient.name,
            "subject": composed.subject,
            "template": template,
            "raw": composed.raw,
            "priority": priority,
        }


def addressed(recipient: Recipient, role: str) -> dict[str, Any]:
    """What a template knows of the one person or unit a message goes to."""
    return {
        "lang": recipient.lang,
        "role": role,
        "recipient": {"name": recipient.name, "email": recipient.email},
    }
