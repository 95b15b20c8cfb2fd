"""The statement use cases: read, edit, submit, approve, reject, publish, correct, authorise,
export. Each change is checked and written with its audit event in one transaction, by the
same rules (``crisisflow.statements``, ``crisisflow.authority``) a playbook step uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import authority, history, numbering, store_register, store_statements
from .. import statements as stmts
from ..actor import Actor
from ..errors import InvalidInput, NotFoundError, TransitionRefused
from ..facts import clean_document
from ..history import iso
from ..i18n import _
from ..incident_view import view_of
from . import authorisations, effects, register
from .effects import press_mailer
from .lookup import incident_row, template_for

if TYPE_CHECKING:
    from ..playbook import Playbook
    from . import App


@dataclass(frozen=True)
class Situation:
    """What a statement change works on, read before its transaction."""

    row: Any
    playbook: Playbook
    statements: dict[str, stmts.Statement]
    roles: frozenset[str]
    actor: Actor
    now: datetime


Work = Callable[[Any, Situation], dict[str, Any]]


class StatementChange(dict[str, Any]):
    """What a statement command did: the incident (``ref``), the statement ``kind`` and what
    the audit event recorded of it (version, sha256, action, channel, press …). A dict, so a
    caller prints it or sends it as JSON as it is."""

    @property
    def ref(self) -> str:
        return str(self["ref"])

    @property
    def kind(self) -> str:
        return str(self["kind"])


class StatementCases:
    def __init__(self, app: App) -> None:
        self.app = app

    # --- reading ---------------------------------------------------------------------------

    def _load(self, ref: str) -> tuple[Any, dict[str, stmts.Statement]]:
        with self.app.store.reading() as conn:
            row = incident_row(conn, ref)
            statements = stmts.assemble(*store_statements.statement_records(conn, row.id))
        return row, statements

    def _load_numbered(
        self, ref: str
    ) -> tuple[Any, dict[str, stmts.Statement], dict[tuple[int, int], Any]]:
        """The incident, its statements, and the register entries of their issued versions."""
        with self.app.store.reading() as conn:
            row = incident_row(conn, ref)
            statements = stmts.assemble(*store_statements.statement_records(conn, row.id))
            numbers = store_register.numbers_of(conn, row.id)
        return row, statements, numbers

    @staticmethod
    def _one(statements: dict[str, stmts.Statement], ref: str, kind: str) -> stmts.Statement:
        if kind not in statements:
            raise NotFoundError(
                _("{ref} has no {kind} statement; it has: {kinds}").format(
                    ref=ref, kind=kind, kinds=", ".join(statements) or _("none")
                )
            )
        return statements[kind]

    def list(self, ref: str) -> list[dict[str, Any]]:
        _row, statements, numbers = self._load_numbered(ref)
        return [
            {
                "kind": s.kind,
                "version": s.current.number,
                "status": s.status,
                "number": register.written(numbers.get((s.id, s.current.number))),
                "title": s.current.title,
                "sha256": s.current.text_hash,
                "updated_at": iso(s.current.created_at),
            }
            for s in statements.values()
        ]

    def show(self, ref: str, kind: str, number: int | None = None) -> dict[str, Any]:
        row, statements, numbers = self._load_numbered(ref)
        statement = self._one(statements, row.ref, kind)
        v = statement.version(number)
        entry = numbers.get((statement.id, v.number))
        corrects = next(
            (s.kind for s in statements.values() if s.id == statement.corrects_id), None
        )
        return {
            "ref": row.ref,
            "kind": kind,
            "version": v.number,
            "latest": statement.current.number,
            "status": statement.status,
            "title": v.title,
            "text": v.text,
            "sha256": v.text_hash,
            # The document as issued: the approved text, its register number written in.
            "number": register.written(entry),
            "issued_text": register.issued_text(v.text, entry),
            # What a reader is shown: as issued, or as it will be (its number still to come).
            "document": register.issued_text(v.text, entry)
            if entry is not None
            else numbering.preview(v.text, v.lang),
            "author": v.author,
            "created_at": iso(v.created_at),
            "corrects": corrects,
            "returned_unchanged": statement.returned_unchanged() is not None,
            "actions": [stmts.action_data(a) for a in statement.actions],
        }

    def diff(self, ref: str, kind: str, a: int | None = None, b: int | None = None) -> str:
        row, statements = self._load(ref)
        statement = self._one(statements, row.ref, kind)
        new = statement.version(b)
        old = statement.version(a if a is not None else max(1, new.number - 1))
        if old.number == new.number and a is None:
            raise InvalidInput(
                _("{kind} has only version {n}: nothing to compare").format(kind=kind, n=new.number)
            )
        return stmts.unified_diff(kind, old, new)

    def export(self, ref: str, kind: str, fmt: str, number: int | None = None) -> bytes:
        from ..export import export

        data = self.show(ref, kind, number)
        organisation = self.app.directory.issuer.full_name
        content: bytes = export(
            data["issued_text"],
            fmt,
            title=data["title"],
            lang=self.app.settings["language"],
            author=organisation,
        )
        return content

    # --- changing --------------------------------------------------------------------------

    def _situation(self, conn: Any, ref: str, actor: Actor) -> Situation:
        """What a change works on, read under the incident's lock."""
        app = self.app
        now = app.clock()
        row = incident_row(conn, ref, lock=True)
        playbook = app.catalogue.pinned(conn, row.playbook_hash)
        statements = stmts.assemble(*store_statements.statement_records(conn, row.id))
        granted = list(store_statements.authorisations_of(conn, row.id))

        def roles_for(person: str) -> frozenset[str]:
            authorised = authority.holds_authorisation(granted, person, now)
            own = app.directory.roles_of(person)
            return authority.roles_of(person, playbook, row.facts, own, authorised)

        roles = authority.acting_roles(actor, roles_for)
        return Situation(row, playbook, statements, roles, actor, now)

    def _change(
        self,
        ref: str,
        actor: Actor,
        kind: str,
        event_kind: str,
        work: Work,
        note: str | None = None,
    ) -> StatementChange:
        """Check and write one statement change with its audit event, in one transaction.
        ``work(conn, situation)`` checks what it must (raising changes nothing), writes the
        change and returns the event's data."""
        self.app.drafter  # noqa: B018 - load templates and directory before the transaction
        with authority.explaining_entry(actor), self.app.store.writing() as conn:
            situation = self._situation(conn, ref, actor)
            data = work(conn, situation)
            event = history.next_event(
                situation.row,
                at=situation.now,
                actor=actor.person,
                kind=event_kind,
                note=note,
                data={"statement": kind, **data, **actor.audit()},
            )
            history.commit_event(conn, situation.row, event)
        return StatementChange({"ref": situation.row.ref, "kind": kind, **data})

    def _act(self, ref: str, kind: str, actor: Actor, action: str, **extra: Any) -> StatementChange:
        allowed = self.app.settings["on_behalf_approvals"] == "allowed"
        authority.refuse_on_behalf(actor, {action}, allowed)

        expected = extra.pop("expect_sha256", None)

        def work(conn: Any, s: Situation) -> dict[str, Any]:
            statement = self._one(s.statements, s.row.ref, kind)
            if expected is not None:
                only = effects.Known(statements={kind: statement})
                effects.require_text(only, s.row.ref, kind, expected)
            signing = self.app.drafter.signing
            act = stmts.Act(action, actor.person, s.roles, s.now, signing=signing, **extra)
            incident = view_of(s.row, s.playbook)
            mailer = press_mailer(conn, self.app.drafter, incident, s.now)
            done = stmts.apply(conn, statement, act, s.playbook.policy, mailer)
            clock = s.playbook.policy.authorisation_clock
            if kind == authorisations.LETTER and action == "published" and clock:
                stopped = self.app.clock_keeper.stop(conn, s.row.id, clock, s.now)
                done.update({"clocks": stopped} if stopped else {})
            return done

        return self._change(ref, actor, kind, f"statement_{action}", work, note=extra.get("reason"))

    def edit(self, ref: str, kind: str, text: str, *, actor: Actor) -> StatementChange:
        """Save ``text`` as the next version; an approval of the old text no longer applies."""
        text = clean_document(text, stmts.MAX_STATEMENT, _("the statement"))

        def work(conn: Any, s: Situation) -> dict[str, Any]:
            statement = self._one(s.statements, s.row.ref, kind)
            current = statement.current
            if statement.published:
                raise TransitionRefused(
                    _(
                        "{ref}: {kind} was published and what went out does not change; "
                        "correct it (`crisisflow statement correct {ref} {kind} --note ...`)"
                    ).format(ref=s.row.ref, kind=kind)
                )
            if text == current.text:
                raise InvalidInput(
                    _("{kind}: the text is unchanged; nothing saved").format(kind=kind)
                )
            draft = {"title": current.title, "text": text, "lang": current.lang}
            number = stmts.add_version(
                conn, statement.incident_id, kind, draft, author=actor.person, now=s.now
            )
            return {
                "version": number,
                "sha256": stmts.sha256(text),
                "voided_approval": statement.approved,
            }

        return self._change(ref, actor, kind, "statement_edited", work)

    def submit(self, ref: str, kind: str, *, actor: Actor) -> StatementChange:
        return self._act(ref, kind, actor, "submitted")

    def approve(
        self,
        ref: str,
        kind: str,
        *,
        actor: Actor,
        expect_sha256: str | None = None,
        confirm_unchanged: bool = False,
    ) -> StatementChange:
        """Approve the current text (its SHA-256); only the playbook's approver may. With
        ``expect_sha256``, only if the current text is still the one the approver read; a text
        returned and not changed since only with ``confirm_unchanged``."""
        return self._act(
            ref,
            kind,
            actor,
            "approved",
            expect_sha256=expect_sha256,
            confirm_unchanged=confirm_unchanged,
        )

    def reject(
        self,
        ref: str,
        kind: str,
        reason: str,
        *,
        actor: Actor,
        expect_sha256: str | None = None,
    ) -> StatementChange:
        reason = reason.strip()
        if not reason:
            raise InvalidInput(_("--reason: say what must change"))
        return self._act(ref, kind, actor, "rejected", reason=reason, expect_sha256=expect_sha256)

    def publish(
        self,
        ref: str,
        kind: str,
        channel: str,
        url: str | None = None,
        *,
        actor: Actor,
        expect_sha256: str | None = None,
    ) -> StatementChange:
        """Publish the approved current text on one of the playbook's channels; press kinds
        also go to the press list by e-mail."""
        url = url.strip() if url else None
        if url and not url.startswith(("http://", "https://")):
            raise InvalidInput(_("--url must be an http(s) address"))
        return self._act(
            ref, kind, actor, "published", channel=channel, url=url, expect_sha256=expect_sha256
        )

    def correct(self, ref: str, kind: str, note: str, *, actor: Actor) -> StatementChange:
        """Start a correction (đính chính) of a published statement, drafted from the
        playbook's correction template, to go through the same approval and channel."""
        note = note.strip()
        if not note:
            raise InvalidInput(_("--note: say what was wrong and what is right"))

        def work(conn: Any, s: Situation) -> dict[str, Any]:
            statement = self._one(s.statements, s.row.ref, kind)
            published = statement.last("published")
            if published is None:
                raise TransitionRefused(
                    _("{kind} was never published; edit it instead of correcting it").format(
                        kind=kind
                    )
                )
            correction = f"{kind}_correction"
            earlier = s.statements.get(correction)
            if earlier is not None and not earlier.published:
                raise TransitionRefused(
                    _(
                        "{ref}: a correction of {kind} is being prepared; edit it "
                        "(`crisisflow statement edit {ref} {correction}`)"
                    ).format(ref=s.row.ref, kind=kind, correction=correction)
                )
            template = template_for(s.playbook, "correction")
            draft = self.app.drafter.document(
                view_of(s.row, s.playbook),
                template,
                actor=actor.person,
                note=note,
                now=s.now,
                kind=correction,
            )
            number = stmts.add_version(
                conn,
                statement.incident_id,
                correction,
                draft,
                author=actor.person,
                now=s.now,
                corrects_id=statement.id,
                new=True,  # a published correction stands too: a further one is the next
                series=earlier.series + 1 if earlier is not None else 1,
            )
            return {"correction": correction, "version": number, "channel": published.channel}

        return self._change(ref, actor, kind, "correction_started", work, note=note)

    def authorise(self, ref: str, person: str, until: str, *, actor: Actor) -> StatementChange:
        """A written authorisation for ``person`` to speak on and approve for this incident
        until ``until``: granted by an approver in their own right (no sub-delegation)."""
        app = self.app
        allowed = app.settings["on_behalf_approvals"] == "allowed"
        authority.refuse_on_behalf(actor, {"authorised"}, allowed)
        work = authorisations.granting(app, app.directory.person(person), until, actor)
        return self._change(ref, actor, authorisations.LETTER, "authorised", work)
