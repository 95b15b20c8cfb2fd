"""The templates a workspace offers, and a preview of one for an incident, rendered with the
context the step, notice or command that uses it would give (changing nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .. import clock_status, mail, store_clocks, store_statements
from .. import statements as stmts
from ..config import shipped
from ..directory import Recipient
from ..drafting import addressed, sha256
from ..errors import ConfigError
from ..incident_view import IncidentView, view_of
from ..mailing import approval_context
from . import duties
from .access import SIGN_IN_TEMPLATE, sign_in_context
from .effects import statement_text
from .lookup import incident_row

if TYPE_CHECKING:
    from . import App


class Templates:
    def __init__(self, app: App) -> None:
        self.app = app

    def list(self) -> list[dict[str, Any]]:
        """Every template, its languages, and whether the workspace's copy differs from the
        shipped one (then it is the workspace's own, and wins)."""
        own, ship = self.app.workspace / "templates", shipped("templates")
        renderer = self.app.renderer
        rows = []
        for name in renderer.names():
            found = {lang: renderer.find(name, lang, exact=True) for lang in ("vi", "en")}
            languages = [lang for lang, path in found.items() if path]
            edited = any(
                (own / path).is_file()
                and (
                    not (ship / path).is_file()
                    or (own / path).read_bytes() != (ship / path).read_bytes()
                )
                for path in found.values()
                if path
            )
            rows.append({"name": name, "languages": languages, "workspace": edited})
        return rows

    def preview(self, name: str, ref: str, lang: str | None = None) -> dict[str, str]:
        """Render template ``name`` for incident ``ref`` as it stands."""
        app = self.app
        now = app.clock()
        with app.store.reading() as conn:
            row = incident_row(conn, ref)
            stored = list(store_clocks.deadlines_of(conn, row.id))
            incident = view_of(row, app.catalogue.pinned(conn, row.playbook_hash), stored)
            clocks = clock_status.view(stored, now)
            statements = stmts.assemble(*store_statements.statement_records(conn, row.id))
        who = app.identify()
        context = app.drafter.context(incident, actor=who.person, note=None, trigger=None, now=now)
        context.update(self._use(name, incident, clocks, who.person, now))
        language = lang or context.get("lang") or app.settings["language"]
        if name.startswith("statements/"):  # laid out as the kind it drafts would be
            kind = name.rsplit("/", 1)[-1].replace("-", "_")
            documents = incident.playbook.policy.documents
            context["doc"] = app.drafter.layout(kind, documents.get(kind), now, language)
        if context.get("role") is not None:
            context.update(self._links(incident, context["role"], statements, language))
        return dict(app.renderer.render(name, language, {**context, "lang": language}))

    def _use(
        self,
        name: str,
        incident: IncidentView,
        clocks: Sequence[dict[str, Any]],
        person: str,
        now: datetime,
    ) -> dict[str, Any]:
        """What the one use of ``name`` adds to the common context: the addressee of a task
        mail, the clock of a notice, the letter of an authorisation, the yearly counts."""
        playbook = incident.playbook
        purposes = {t: p for p, t in playbook.policy.templates.items()}
        extra: dict[str, Any] = {}
        role, due = _notified_role(incident, name)
        if purposes.get(name) in ("reminder", "escalation"):
            role = role or (clocks[0]["owner"] if clocks else None) or playbook.escalation[0]
            extra["deadline"] = _sample_deadline(clocks, now)
        if role is not None:
            recipient = self._addressee(incident, role)
            extra.update(addressed(recipient, role))
            extra["due"] = now + timedelta(seconds=due) if due else None
        if purposes.get(name) == "authorisation":
            card = self.app.drafter.person_card(person)
            extra["authorisation"] = {
                "person": card,
                "granted_by": card,
                "valid_from": now,
                "valid_until": now + timedelta(hours=24),
            }
        if name == SIGN_IN_TEMPLATE:  # an example link that signs nobody in
            card = self.app.drafter.person_card(person)
            extra.update(sign_in_context(self.app.settings["base_url"], "preview", "127.0.0.1"))
            extra["recipient"] = {"name": card["name"], "email": card["email"]}
        if name == self.app.reports.yearly_template:
            extra["report"] = self.app.reports.yearly_counts(now.astimezone(self.app.tz).year)
        if name == duties.DUTY_TEMPLATE:
            extra.update(self.app.duties.sample_context(now))
        return extra

    def _links(
        self, incident: IncidentView, role: str, statements: dict[str, stmts.Statement], lang: str
    ) -> dict[str, Any]:
        """What a mail to ``role`` links to: for the approver, the approval request's texts
        (those of the incident awaiting approval, else its latest, else an example); for
        anyone else, an example acknowledge link that acknowledges nothing."""
        base = self.app.settings["base_url"].rstrip("/")
        if role != incident.playbook.policy.approver:
            return {"ack_url": f"{base}/ack/preview"}
        found = list(statements.values())
        waiting = [s for s in found if s.status == "submitted"] or found[-1:]
        texts = [statement_text(s) for s in waiting] or [_example_text(incident, lang)]
        return approval_context(texts, incident.ref, mail.Links(base))

    def _addressee(self, incident: IncidentView, role: str) -> Recipient:
        try:
            return self.app.drafter.recipients(role, incident)[0]
        except ConfigError:  # nobody fills the role yet: the step that names them comes later
            return _unassigned(incident, role, self.app.settings["language"])


def _unassigned(incident: IncidentView, role: str, lang: str) -> Recipient:
    """Whom a preview addresses when the incident has not yet named who fills ``role`` (its
    field unit, say): the role itself, by its title."""
    label = incident.playbook.roles.get(role)
    return Recipient(role, label.get_lang(lang) if label else role, "", lang)


def _example_text(incident: IncidentView, lang: str) -> dict[str, Any]:
    """What a preview shows of a text to approve before the incident has one."""
    kinds = [s.arg for s in incident.playbook.steps() if s.kind == "submit_statement"]
    text = (
        "(Ví dụ) Toàn văn dự thảo chờ phê duyệt được in tại đây.\n"
        if lang == "vi"
        else "(Example) The full text awaiting approval is printed here.\n"
    )
    return {
        "kind": kinds[0] if kinds else "statement",
        "title": incident.title,
        "text": text,
        "number": 1,
        "sha256": sha256(text),
        "lang": lang,
    }


def _notified_role(incident: IncidentView, name: str) -> tuple[str | None, int | None]:
    """The first role a playbook step e-mails with template ``name``, and the task's due."""
    for step in incident.playbook.steps():
        if step.kind == "notify" and step.arg["template"] == name:
            return step.arg["to"][0], step.arg.get("due")
    return None, None


def _sample_deadline(clocks: Sequence[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """The incident's first clock as a notice describes it (or one due in a day)."""
    clock = clocks[0] if clocks else {}
    return {
        "rule": clock.get("rule", "-"),
        "title": clock.get("title", "-"),
        "basis": clock.get("basis", ""),
        "due_at": datetime.fromisoformat(clock["due_at"]) if clock else now + timedelta(days=1),
        "started_at": datetime.fromisoformat(clock["started_at"]) if clock else now,
        "status": clock.get("status", "running"),
        "escalation_level": 1,
    }
