"""Statements: numbered versions, approval bound to the exact text, publication, corrections,
and the written per-case authorisation that lets a Vice-Chairman approve.

A statement's status is derived, never stored: it is the last submission, approval, rejection or
publication recorded for the SHA-256 of its current text. Editing the text therefore voids an
approval by construction, and publishing checks the hash it publishes against the one approved.
"""

from __future__ import annotations

import difflib
import hashlib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import history, store
from .errors import InvalidInput, NotFoundError, TransitionRefused
from .i18n import _

if TYPE_CHECKING:
    from .app import App

# Statements that go to the press list by e-mail when published (and corrections of them).
PRESS_KINDS = frozenset({"initial_info", "press_release", "holding_statement", "rumour_rebuttal"})
CHANNELS = (
    "portal",
    "social_page",
    "press_release",
    "written_reply",
    "interview",
    "briefing",
    "press_conference",
)
# What a written per-incident authorisation lets its holder do.
AUTHORISED_ROLES = frozenset({"approver", "spokesperson"})
MAX_STATEMENT = 100_000


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def clean_statement(text: str) -> str:
    """NFC (so hashes and diffs are stable), Unix line ends, one final newline."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip("\n") + "\n"
    if len(text) > MAX_STATEMENT:
        raise InvalidInput(_("the statement is longer than {n} characters").format(n=MAX_STATEMENT))
    return text


@dataclass
class Statement:
    """One statement of an incident, with its versions and what was done to them."""

    id: int
    incident_id: int
    kind: str
    corrects_id: int | None
    versions: list[Any] = field(default_factory=list)
    actions: list[Any] = field(default_factory=list)

    @property
    def current(self) -> Any:
        return self.versions[-1]

    def version(self, number: int | None) -> Any:
        if number is None:
            return self.current
        for v in self.versions:
            if v.number == number:
                return v
        raise NotFoundError(
            _("{kind} has no version {n}; it has 1 to {last}").format(
                kind=self.kind, n=number, last=self.current.number
            )
        )

    @property
    def status(self) -> str:
        """draft, submitted, approved, rejected or published: the last thing done to the
        current text."""
        mine = [a for a in self.actions if a.text_hash == self.current.text_hash]
        return str(mine[-1].action) if mine else "draft"

    @property
    def approved(self) -> bool:
        return self.status in ("approved", "published")

    def last(self, action: str) -> Any | None:
        return next((a for a in reversed(self.actions) if a.action == action), None)


def assemble(heads: list[Any], versions: list[Any], actions: list[Any]) -> dict[str, Statement]:
    by_id = {h.id: Statement(h.id, h.incident_id, h.kind, h.corrects_id) for h in heads}
    for v in versions:
        by_id[v.statement_id].versions.append(v)
    for a in actions:
        by_id[a.statement_id].actions.append(a)
    return {s.kind: s for s in by_id.values() if s.versions}


def unified_diff(kind: str, old: Any, new: Any) -> str:
    return "".join(
        difflib.unified_diff(
            old.text.splitlines(keepends=True),
            new.text.splitlines(keepends=True),
            fromfile=f"{kind} v{old.number}",
            tofile=f"{kind} v{new.number}",
        )
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def action_data(a: Any) -> dict[str, Any]:
    return {
        "action": a.action,
        "version": a.number,
        "sha256": a.text_hash,
        "actor": a.actor,
        "at": _iso(a.at),
        "reason": a.reason,
        "channel": a.channel,
        "url": a.url,
    }


class Statements:
    """The statement use cases of one workspace (``app.statements``)."""

    def __init__(self, app: App) -> None:
        self.app = app

    # --- reading ---------------------------------------------------------------------------

    def _load(self, ref: str) -> tuple[Any, dict[str, Statement]]:
        with self.app.store.reading() as conn:
            row = self.app.incident_row(conn, ref)
            statements = assemble(*store.statement_records(conn, row.id))
        return row, statements

    @staticmethod
    def _one(statements: dict[str, Statement], ref: str, kind: str) -> Statement:
        if kind not in statements:
            raise NotFoundError(
                _("{ref} has no {kind} statement; it has: {kinds}").format(
                    ref=ref, kind=kind, kinds=", ".join(statements) or _("none")
                )
            )
        return statements[kind]

    def list(self, ref: str) -> list[dict[str, Any]]:
        _row, statements = self._load(ref)
        return [
            {
                "kind": s.kind,
                "version": s.current.number,
                "status": s.status,
                "title": s.current.title,
                "sha256": s.current.text_hash,
                "updated_at": _iso(s.current.created_at),
            }
            for s in statements.values()
        ]

    def show(self, ref: str, kind: str, number: int | None = None) -> dict[str, Any]:
        row, statements = self._load(ref)
        statement = self._one(statements, row.ref, kind)
        v = statement.version(number)
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
            "author": v.author,
            "created_at": _iso(v.created_at),
            "corrects": corrects,
            "actions": [action_data(a) for a in statement.actions],
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
        return unified_diff(kind, old, new)

    # --- changing --------------------------------------------------------------------------

    def _change(
        self,
        ref: str,
        actor: str | None,
        kind: str,
        event_kind: str,
        work: Callable[[Any, Statement | None, str, datetime], dict[str, Any]],
        note: str | None = None,
        must_exist: bool = True,
    ) -> dict[str, Any]:
        """Check and write one statement change with its audit event, in one transaction.

        ``work(conn, statement, actor, now)`` checks what it must (raising changes nothing),
        writes the change and returns the event's data."""
        app = self.app
        who = app.actor_id(actor)
        row, statements = self._load(ref)
        statement = statements.get(kind)
        if must_exist:
            statement = self._one(statements, row.ref, kind)
        now = app.clock()
        with app.store.writing() as conn:
            data = work(conn, statement, who, now)
            event = history.next_event(
                row,
                at=now,
                actor=who,
                kind=event_kind,
                note=note,
                data={"statement": kind, **data},
            )
            app.commit_event(conn, row, event)
        return {"ref": row.ref, "kind": kind, **data}

    def apply(
        self,
        conn: Any,
        statement: Statement,
        action: str,
        who: str,
        now: datetime,
        *,
        reason: str | None = None,
        channel: str | None = None,
        url: str | None = None,
        strict: bool = True,
    ) -> dict[str, Any]:
        """Submit, approve, reject or publish the current text, inside the caller's transaction.

        Refusals raise before anything is written. A playbook step (``strict=False``) treats
        submitting or approving what already is so as done; a command says it is."""
        status, current = statement.status, statement.current
        where = f"{statement.kind} v{current.number}"
        if status == "published" and action in ("submitted", "approved"):
            # A new round (an update, a new rebuttal) needs new text: the old one is out.
            raise TransitionRefused(
                _(
                    "{what} is already published: edit it first (`crisisflow statement edit`), "
                    "then submit the new version"
                ).format(what=where)
            )
        done = {
            "submitted": ("submitted", "approved", "published"),
            "approved": ("approved", "published"),
        }.get(action, ())
        if status in done:
            if strict:
                raise TransitionRefused(
                    _("{what} is already {status}").format(what=where, status=status)
                )
            return {
                "kind": statement.kind,
                "action": action,
                "version": current.number,
                "sha256": current.text_hash,
                "already": status,
            }
        if action in ("approved", "rejected"):
            self._require_approver(conn, statement, who, now)
        if action == "rejected" and status == "published":
            raise TransitionRefused(
                _(
                    "{what} is published; start a correction instead "
                    "(`crisisflow statement correct`)"
                ).format(what=where)
            )
        press: list[str] = []
        if action == "published":
            press_kind = self._check_publishable(conn, statement, channel)
            if press_kind:
                press = self.app.queue_press_mail(conn, statement.incident_id, statement, now)
        store.add_statement_action(
            conn,
            {
                "statement_id": statement.id,
                "number": current.number,
                "action": action,
                "text_hash": current.text_hash,
                "actor": who,
                "at": now,
                "reason": reason,
                "channel": channel,
                "url": url,
            },
        )
        return {
            "kind": statement.kind,
            "action": action,
            "version": current.number,
            "sha256": current.text_hash,
            "channel": channel,
            "url": url,
            "press": press,
        }

    def _require_approver(self, conn: Any, statement: Statement, who: str, now: datetime) -> None:
        if "approver" not in self.app.roles_now(conn, statement.incident_id, who, now):
            raise TransitionRefused(
                _(
                    "only an approver may approve or reject: the Chairman, or a person holding a "
                    "written authorisation for this incident that is valid now (`crisisflow "
                    "statement authorise`); {actor} is neither"
                ).format(actor=who)
            )

    def _check_publishable(self, conn: Any, statement: Statement, channel: str | None) -> bool:
        """Refuse unless the current text is the approved one (and a correction goes out on
        its original's channel); say whether it goes to the press list."""
        where = f"{statement.kind} v{statement.current.number}"
        if statement.status != "approved":
            raise TransitionRefused(
                _(
                    "{what} is {status}, not approved: only the approved text may be published"
                ).format(what=where, status=statement.status)
            )
        original = self._corrected(conn, statement)
        if original is not None:
            published = original.last("published")
            if published is not None and published.channel != channel:
                raise TransitionRefused(
                    _("a correction goes out on the channel of what it corrects: {channel}").format(
                        channel=published.channel
                    )
                )
        return statement.kind in PRESS_KINDS or (
            original is not None and original.kind in PRESS_KINDS
        )

    def _corrected(self, conn: Any, statement: Statement) -> Statement | None:
        if statement.corrects_id is None:
            return None
        records = store.statement_records(conn, statement.incident_id)
        return next((s for s in assemble(*records).values() if s.id == statement.corrects_id), None)

    def _step(
        self, ref: str, kind: str, action: str, actor: str | None, **extra: Any
    ) -> dict[str, Any]:
        def work(conn: Any, statement: Statement | None, who: str, now: datetime) -> dict[str, Any]:
            assert statement is not None
            return self.apply(conn, statement, action, who, now, **extra)

        return self._change(ref, actor, kind, f"statement_{action}", work, note=extra.get("reason"))

    def edit(self, ref: str, kind: str, text: str, *, actor: str | None = None) -> dict[str, Any]:
        """Save ``text`` as the next version; an approval of the old text no longer applies."""
        text = clean_statement(text)

        def work(conn: Any, statement: Statement | None, who: str, now: datetime) -> dict[str, Any]:
            assert statement is not None
            current = statement.current
            if text == current.text:
                raise InvalidInput(
                    _("{kind}: the text is unchanged; nothing saved").format(kind=kind)
                )
            number = store.add_statement_version(
                conn,
                statement.incident_id,
                kind,
                {
                    "title": current.title,
                    "text": text,
                    "text_hash": sha256(text),
                    "template": None,
                    "lang": current.lang,
                    "author": who,
                    "created_at": now,
                },
            )
            return {
                "version": number,
                "sha256": sha256(text),
                "voided_approval": statement.approved,
            }

        return self._change(ref, actor, kind, "statement_edited", work)

    def submit(self, ref: str, kind: str, *, actor: str | None = None) -> dict[str, Any]:
        return self._step(ref, kind, "submitted", actor)

    def approve(self, ref: str, kind: str, *, actor: str | None = None) -> dict[str, Any]:
        """Approve the current text (its SHA-256); only an approver may."""
        return self._step(ref, kind, "approved", actor)

    def reject(
        self, ref: str, kind: str, reason: str, *, actor: str | None = None
    ) -> dict[str, Any]:
        reason = reason.strip()
        if not reason:
            raise InvalidInput(_("--reason: say what must change"))
        return self._step(ref, kind, "rejected", actor, reason=reason)

    def publish(
        self, ref: str, kind: str, channel: str, url: str | None = None, *, actor: str | None = None
    ) -> dict[str, Any]:
        """Publish the approved current text; press kinds also go to the press list by e-mail."""
        if channel not in CHANNELS:
            raise InvalidInput(
                _("--channel must be one of: {channels}").format(channels=", ".join(CHANNELS))
            )
        url = url.strip() if url else None
        if url and not url.startswith(("http://", "https://")):
            raise InvalidInput(_("--url must be an http(s) address"))
        return self._step(ref, kind, "published", actor, channel=channel, url=url)

    def correct(
        self, ref: str, kind: str, note: str, *, actor: str | None = None
    ) -> dict[str, Any]:
        """Start a correction (đính chính) of a published statement, drafted from the
        correction template, to go through the same approval and out on the same channel."""
        note = note.strip()
        if not note:
            raise InvalidInput(_("--note: say what was wrong and what is right"))
        app = self.app
        correction_kind = f"{kind}_correction"

        def work(conn: Any, statement: Statement | None, who: str, now: datetime) -> dict[str, Any]:
            assert statement is not None
            published = statement.last("published")
            if published is None:
                raise TransitionRefused(
                    _("{kind} was never published; edit it instead of correcting it").format(
                        kind=kind
                    )
                )
            draft = app.render_statement(
                conn, statement.incident_id, "statements/correction", actor=who, note=note, now=now
            )
            number = store.add_statement_version(
                conn,
                statement.incident_id,
                correction_kind,
                {
                    "title": draft["title"],
                    "text": draft["text"],
                    "text_hash": draft["text_hash"],
                    "template": "statements/correction",
                    "lang": draft["lang"],
                    "author": who,
                    "created_at": now,
                },
                corrects_id=statement.id,
            )
            return {"correction": correction_kind, "version": number, "channel": published.channel}

        return self._change(ref, actor, kind, "correction_started", work, note=note)

    def authorise(
        self, ref: str, person: str, until: str, *, actor: str | None = None
    ) -> dict[str, Any]:
        """A written authorisation for ``person`` to speak on and approve for this incident
        until ``until``: granted by an approver in their own right (no sub-delegation)."""
        from .facts import parse_time

        app = self.app
        grantee = app.directory.person(person)
        valid_until = parse_time(until, app.tz, "--until")

        def work(conn: Any, statement: Statement | None, who: str, now: datetime) -> dict[str, Any]:
            if "approver" not in app.directory.roles_of(who):
                raise TransitionRefused(
                    _(
                        "only an approver in their own right (the Chairman) may authorise; an "
                        "authorised person may not pass it on, and {actor} is not one"
                    ).format(actor=who)
                )
            if grantee.id == who:
                raise InvalidInput(_("{person} already holds the role").format(person=who))
            if valid_until <= now:
                raise InvalidInput(_("--until must be in the future"))
            incident_id = app.incident_row(conn, ref).id
            store.add_authorisation(
                conn,
                {
                    "incident_id": incident_id,
                    "person": grantee.id,
                    "granted_by": who,
                    "valid_from": now,
                    "valid_until": valid_until,
                    "created_at": now,
                },
            )
            draft = app.render_statement(
                conn,
                incident_id,
                "statements/spokesperson-authorisation",
                actor=who,
                note=None,
                now=now,
                extra={
                    "authorisation": {
                        "person": {
                            "name": grantee.name,
                            "title": grantee.title,
                            "email": grantee.email,
                        },
                        "granted_by": app.person_card(who),
                        "valid_from": now,
                        "valid_until": valid_until,
                    }
                },
            )
            number = store.add_statement_version(
                conn,
                incident_id,
                "authorisation",
                {
                    "title": draft["title"],
                    "text": draft["text"],
                    "text_hash": draft["text_hash"],
                    "template": "statements/spokesperson-authorisation",
                    "lang": draft["lang"],
                    "author": who,
                    "created_at": now,
                },
            )
            return {
                "person": grantee.id,
                "valid_until": valid_until.isoformat(),
                "document_version": number,
            }

        return self._change(ref, actor, "authorisation", "authorised", work, must_exist=False)

    def export(self, ref: str, kind: str, fmt: str, number: int | None = None) -> bytes:
        from .export import export

        data = self.show(ref, kind, number)
        content: bytes = export(
            data["text"], fmt, title=data["title"], lang=self.app.settings["language"]
        )
        return content
