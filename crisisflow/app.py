"""The use cases. Each one that changes something is one database transaction: the state, its
hash-chained audit event, the statement drafts and the composed e-mails commit together or not
at all. This is the only module that combines the others; the CLI only calls it and prints.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from . import audit, store
from . import facts as factlib
from .config import Settings, shipped
from .errors import (
    ConfigError,
    ConflictError,
    InvalidInput,
    NotFoundError,
    PlaybookError,
    Problem,
)
from .i18n import _
from .playbook import Playbook
from .store import Store

Clock = Callable[[], datetime]

# Pinned playbooks by content hash: immutable, so one process may share them freely.
_PINNED: dict[str, Playbook] = {}


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Outcome:
    """What a command did, for the CLI to print."""

    ref: str
    from_state: str | None
    to_state: str
    drafted: list[dict[str, Any]] = field(default_factory=list)
    queued: list[dict[str, Any]] = field(default_factory=list)
    next: list[dict[str, Any]] = field(default_factory=list)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _stamps_from_json(raw: dict[str, str]) -> dict[str, datetime]:
    return {k: datetime.fromisoformat(v) for k, v in raw.items()}


def _stamps_to_json(stamps: dict[str, datetime]) -> dict[str, str]:
    return {k: v.astimezone(UTC).isoformat() for k, v in stamps.items()}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class App:
    """Everything a duty officer can do, on one workspace."""

    def __init__(self, settings: Settings, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.workspace = settings.workspace
        self.clock = clock
        self.tz = ZoneInfo(settings["time_zone"])

    # --- parts, built on first use so a command pays only for what it touches -------------

    @cached_property
    def store(self) -> Store:
        db = Store(self.settings.database_url)
        db.check_schema()
        return db

    @cached_property
    def directory(self) -> Any:
        from . import directory

        return directory.load(self.workspace / "directory.yaml")

    @cached_property
    def renderer(self) -> Any:
        from .render import Renderer

        return Renderer(
            [self.workspace / "templates", shipped("templates")], self.settings["time_zone"]
        )

    def upgrade_database(self) -> tuple[str, str | None, str]:
        """Migrate the database to the current schema: (url shown, before, after)."""
        database = Store(self.settings.database_url)
        try:
            before, after = database.upgrade()
        finally:
            database.dispose()
        return store.safe_url(self.settings.database_url), before, after

    def database_status(self) -> tuple[str, str | None, bool]:
        """(url shown, schema revision, whether it is current)."""
        database = Store(self.settings.database_url)
        try:
            revision = database.schema_revision()
        finally:
            database.dispose()
        return store.safe_url(self.settings.database_url), revision, revision == store.SCHEMA_HEAD

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.dispose()

    # --- playbooks ---------------------------------------------------------------------------

    def playbook_files(self) -> dict[str, Path]:
        """Playbook id (file stem) → file; the workspace's own file wins over the shipped one."""
        found: dict[str, Path] = {}
        for folder in (shipped("playbooks"), self.workspace / "playbooks"):
            for path in sorted(folder.glob("*.yaml")):
                found[path.stem] = path
        return found

    def load_playbook(self, playbook_id: str) -> Playbook:
        from . import playbook as pb

        files = self.playbook_files()
        path = files.get(playbook_id)
        if path is None:
            raise NotFoundError(
                _("unknown playbook {id!r}; available: {known}").format(
                    id=playbook_id, known=", ".join(files) or _("none")
                )
            )
        loaded = pb.load_file(path, self.renderer.exists)
        if loaded.id != path.stem:
            raise PlaybookError(
                [
                    Problem(
                        str(path),
                        1,
                        _("id {id!r} differs from the file name; name the file {id}.yaml").format(
                            id=loaded.id
                        ),
                    )
                ]
            )
        return loaded

    def check_playbooks(self, paths: Iterable[Path] | None = None) -> list[Problem]:
        """Lint playbook files (default: all of the workspace's); return every problem."""
        from . import playbook as pb

        problems: list[Problem] = []
        for path in paths if paths is not None else self.playbook_files().values():
            try:
                loaded = pb.load_file(Path(path), self.renderer.exists)
                if loaded.id != Path(path).stem:
                    problems.append(
                        Problem(
                            str(path),
                            1,
                            _(
                                "id {id!r} differs from the file name; name the file {id}.yaml"
                            ).format(id=loaded.id),
                        )
                    )
            except PlaybookError as exc:
                problems.extend(exc.problems)
        return problems

    def pinned(self, conn: Any, playbook_hash: str) -> Playbook:
        """The exact playbook version an incident was opened with, from the database."""
        from . import playbook as pb

        cached = _PINNED.get(playbook_hash)
        if cached is None:
            row = store.pinned_playbook(conn, playbook_hash)
            if row is None:  # pragma: no cover - a foreign key guarantees it
                raise NotFoundError(
                    _("pinned playbook {hash} is missing").format(hash=playbook_hash)
                )
            cached = pb.from_pinned(row.compiled, row.source, row.filename)
            _PINNED[playbook_hash] = cached
        return cached

    # --- who is acting -------------------------------------------------------------------------

    def actor_id(self, person: str | None) -> str:
        """The person id recorded for a change: ``--as``, else the ``actor`` setting, else the
        login name (prefixed ``user:``, holding no roles)."""
        chosen = person or self.settings["actor"]
        if chosen:
            self.directory.person(chosen)  # refuses an unknown person
            return str(chosen)
        return "user:" + getpass.getuser()

    def _actor_roles(self, playbook: Playbook, actor: str, facts: dict[str, Any]) -> frozenset[str]:
        roles = set(self.directory.roles_of(actor))
        for name, fact in playbook.facts.items():  # a person fact named for a role fills it here
            if fact.type == "person" and name in playbook.roles and facts.get(name) == actor:
                roles.add(name)
        return frozenset(roles)

    # --- use cases ---------------------------------------------------------------------------

    def open(
        self,
        playbook_id: str,
        title: str,
        *,
        given: dict[str, str] | None = None,
        occurred_at: str | None = None,
        actor: str | None = None,
        note: str | None = None,
    ) -> Outcome:
        """Open an incident of ``playbook_id`` and enter its initial state."""
        from . import machine
        from . import playbook as pb

        playbook = self.load_playbook(playbook_id)
        now = self.clock()
        who = self.actor_id(actor)
        title = factlib.clean_text(title, _("--title"))
        if not title:
            raise InvalidInput(_("--title: give the incident a short title"))
        note = (
            factlib.clean_text(note, "--note", multiline=True, limit=factlib.MAX_LONGTEXT)
            if note
            else None
        )
        facts = factlib.with_defaults(
            playbook, factlib.apply(playbook, {}, given or {}, self.directory, self.tz)
        )
        stamps = {"opened_at": now}
        if occurred_at:
            stamps["occurred_at"] = factlib.parse_time(occurred_at, self.tz, "--occurred-at")
            if stamps["occurred_at"] > now:
                raise InvalidInput(
                    _("--occurred-at: {time} is in the future").format(time=occurred_at)
                )
        model = machine.IncidentModel(
            ref="",
            state=playbook.initial,
            facts=facts,
            stamps=stamps,
            now=now,
            actor=who,
            note=note,
        )
        machine.enter_initial(playbook, model)
        compiled = pb.to_json(playbook)

        with self.store.writing() as conn:
            store.pin_playbook(
                conn,
                hash=playbook.source_hash,
                playbook_id=playbook.id,
                version=playbook.version,
                filename=playbook.filename,
                source=playbook.source,
                compiled=compiled,
                now=now,
            )
            year = now.astimezone(self.tz).year
            number = store.next_reference_number(conn, playbook.reference_prefix, year)
            ref = f"{playbook.reference_prefix}-{year}-{number:04d}"
            model.ref = ref
            incident_id = store.insert_incident(
                conn,
                {
                    "ref": ref,
                    "playbook_id": playbook.id,
                    "playbook_hash": playbook.source_hash,
                    "state": playbook.initial,
                    "title": title,
                    "facts": facts,
                    "stamps": _stamps_to_json(model.stamps),
                    "version": 1,
                    "opened_at": now,
                    "updated_at": now,
                    "closed_at": now if playbook.states[playbook.initial].final else None,
                },
            )
            incident = _IncidentView(
                incident_id, ref, title, playbook, model.state, facts, model.stamps, now
            )
            outcome = Outcome(ref, None, playbook.initial)
            self._record(
                conn,
                incident,
                kind="opened",
                seq=1,
                prev_hash=audit.GENESIS,
                actor=who,
                trigger=None,
                from_state=None,
                note=note,
                model=model,
                outcome=outcome,
                extra={"playbook_version": playbook.version, "playbook_hash": playbook.source_hash},
            )
        outcome.next = self._next(playbook, model.state)
        return outcome

    def advance(
        self,
        ref: str,
        trigger: str,
        *,
        note: str | None = None,
        given: dict[str, str] | None = None,
        actor: str | None = None,
        expect_state: str | None = None,
    ) -> Outcome:
        """Fire ``trigger`` on incident ``ref``; refused or conflicting, nothing changes."""
        from . import machine

        who = self.actor_id(actor)
        note = (
            factlib.clean_text(note, "--note", multiline=True, limit=factlib.MAX_LONGTEXT)
            if note
            else None
        )
        with self.store.reading() as conn:
            row = self._incident_row(conn, ref)
            playbook = self.pinned(conn, row.playbook_hash)
            kinds = store.statement_kinds(conn, row.id)
        if expect_state and row.state != expect_state:
            raise ConflictError(
                _(
                    "{ref} is in state {state!r}, not {expected!r}: someone moved it; "
                    "check `crisisflow show {ref}`"
                ).format(ref=ref, state=row.state, expected=expect_state)
            )
        now = self.clock()
        facts = factlib.apply(playbook, row.facts, given or {}, self.directory, self.tz)
        model = machine.IncidentModel(
            ref=ref,
            state=row.state,
            facts=facts,
            stamps=_stamps_from_json(row.stamps),
            now=now,
            actor=who,
            actor_roles=self._actor_roles(playbook, who, facts),
            note=note,
            statements=kinds,
        )
        from_state = row.state
        machine.fire(playbook, model, trigger)

        outcome = Outcome(ref, from_state, model.state)
        with self.store.writing() as conn:
            if not store.update_incident(
                conn,
                row.id,
                row.version,
                {
                    "state": model.state,
                    "facts": facts,
                    "stamps": _stamps_to_json(model.stamps),
                    "updated_at": now,
                    "closed_at": now if playbook.states[model.state].final else None,
                },
            ):
                raise ConflictError(
                    _(
                        "{ref} was changed by someone else while you worked; nothing "
                        "was done, check `crisisflow show {ref}` and try again"
                    ).format(ref=ref)
                )
            last = store.last_event(conn, row.id)
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, audit.GENESIS)
            incident = _IncidentView(
                row.id, ref, row.title, playbook, model.state, facts, model.stamps, row.opened_at
            )
            changed = {k: v for k, v in facts.items() if row.facts.get(k) != v}
            self._record(
                conn,
                incident,
                kind="transition",
                seq=seq,
                prev_hash=prev_hash,
                actor=who,
                trigger=trigger,
                from_state=from_state,
                note=note,
                model=model,
                outcome=outcome,
                extra={"set": changed} if changed else {},
            )
        outcome.next = self._next(playbook, model.state)
        return outcome

    def note(self, ref: str, text: str, *, actor: str | None = None) -> int:
        """Add a note to the incident's history; return its event number."""
        who = self.actor_id(actor)
        text = factlib.clean_text(text, _("note"), multiline=True, limit=factlib.MAX_LONGTEXT)
        if not text:
            raise InvalidInput(_("the note is empty"))
        with self.store.reading() as conn:
            row = self._incident_row(conn, ref)
        now = self.clock()
        with self.store.writing() as conn:
            if not store.update_incident(conn, row.id, row.version, {"updated_at": now}):
                raise ConflictError(
                    _("{ref} was changed by someone else; try again").format(ref=ref)
                )
            last = store.last_event(conn, row.id)
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, audit.GENESIS)
            self._insert_event(
                conn,
                row.id,
                ref,
                seq=seq,
                prev_hash=prev_hash,
                at=now,
                actor=who,
                kind="note",
                trigger=None,
                from_state=None,
                to_state=None,
                note=text,
                data={},
            )
        return seq

    # --- reading -------------------------------------------------------------------------------

    def show(self, ref: str) -> dict[str, Any]:
        """The stable JSON view of one incident (documented in the README)."""
        with self.store.reading() as conn:
            row = self._incident_row(conn, ref)
            playbook = self.pinned(conn, row.playbook_hash)
            events = store.events_of(conn, row.id)
            statement_rows = store.statements_of(conn, row.id)
            messages = store.messages_of(conn, row.id)
        state = playbook.states[row.state]
        statements: dict[str, dict[str, Any]] = {}
        for s in statement_rows:
            entry = statements.setdefault(s.kind, {"kind": s.kind, "versions": []})
            entry["versions"].append(
                {
                    "number": s.number,
                    "title": s.title,
                    "text": s.text,
                    "sha256": s.text_hash,
                    "template": s.template,
                    "lang": s.lang,
                    "author": s.author,
                    "created_at": _iso(s.created_at),
                }
            )
        return {
            "ref": row.ref,
            "title": row.title,
            "playbook": {
                "id": playbook.id,
                "version": playbook.version,
                "hash": playbook.source_hash,
                "title": dict(playbook.title),
            },
            "state": row.state,
            "state_title": dict(state.title),
            "owner": state.owner,
            "final": state.final,
            "facts": row.facts,
            "timestamps": row.stamps,
            "opened_at": _iso(row.opened_at),
            "updated_at": _iso(row.updated_at),
            "closed_at": _iso(row.closed_at),
            "version": row.version,
            "allowed": self._next(playbook, row.state),
            "events": [
                {
                    "seq": e.seq,
                    "at": _iso(e.at),
                    "actor": e.actor,
                    "kind": e.kind,
                    "trigger": e.trigger,
                    "from": e.from_state,
                    "to": e.to_state,
                    "note": e.note,
                    "data": e.data,
                    "hash": e.hash,
                }
                for e in events
            ],
            "statements": list(statements.values()),
            "messages": [
                {
                    "id": msg.id,
                    "message_id": msg.message_id,
                    "to": msg.recipient,
                    "to_name": msg.recipient_name,
                    "subject": msg.subject,
                    "template": msg.template,
                    "status": msg.status,
                    "attempts": msg.attempts,
                    "next_attempt_at": _iso(msg.next_attempt_at),
                    "last_error": msg.last_error,
                    "created_at": _iso(msg.created_at),
                    "sent_at": _iso(msg.sent_at),
                }
                for msg in messages
            ],
            "deadlines": [],
        }

    def list_incidents(
        self, *, state: str | None = None, include_closed: bool = False, limit: int = 200
    ) -> list[dict[str, Any]]:
        with self.store.reading() as conn:
            rows = store.list_incidents(
                conn, state=state, include_closed=include_closed, limit=limit
            )
        return [
            {
                "ref": r.ref,
                "playbook": r.playbook_id,
                "state": r.state,
                "title": r.title,
                "opened_at": _iso(r.opened_at),
                "updated_at": _iso(r.updated_at),
                "closed_at": _iso(r.closed_at),
            }
            for r in rows
        ]

    def local(self, value: datetime | str | None) -> str:
        """A stored UTC time as the workspace reads it: '26/11/2026 14:30'."""
        if value is None:
            return "-"
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.astimezone(self.tz).strftime("%d/%m/%Y %H:%M")

    # --- internals ---------------------------------------------------------------------------

    def _incident_row(self, conn: Any, ref: str) -> Any:
        row = store.incident_by_ref(conn, ref.strip().upper())
        if row is None:
            raise NotFoundError(_("no incident {ref}; see `crisisflow list --all`").format(ref=ref))
        return row

    @staticmethod
    def _next(playbook: Playbook, state: str) -> list[dict[str, Any]]:
        from .machine import allowed

        result = []
        for t in allowed(playbook, state):
            guards = [
                {g.kind: (list(g.arg) if isinstance(g.arg, tuple) else g.arg)} for g in t.guards
            ]
            result.append(
                {
                    "trigger": t.trigger,
                    "title": dict(t.title),
                    "dest": t.dest,
                    "requires": list(t.requires),
                    "guards": _plain(guards),
                }
            )
        return result

    def _insert_event(
        self, conn: Any, incident_id: int, ref: str, *, seq: int, prev_hash: str, **fields: Any
    ) -> int:
        fields["seq"] = seq
        digest = audit.event_hash(ref, prev_hash, fields)
        return store.insert_event(
            conn, {"incident_id": incident_id, "prev_hash": prev_hash, "hash": digest, **fields}
        )

    def _record(
        self,
        conn: Any,
        incident: _IncidentView,
        *,
        kind: str,
        seq: int,
        prev_hash: str,
        actor: str,
        trigger: str | None,
        from_state: str | None,
        note: str | None,
        model: Any,
        outcome: Outcome,
        extra: dict[str, Any],
    ) -> None:
        """Render the model's effects, then write the event, drafts and outbox rows."""
        from .machine import Draft, Notify

        context = self._context(incident, actor, note, trigger)
        drafts = [self._render_draft(e, context) for e in model.effects if isinstance(e, Draft)]
        mails = [
            mail
            for e in model.effects
            if isinstance(e, Notify)
            for mail in self._render_mails(e, incident, context)
        ]
        data = dict(extra)
        if drafts:
            data["drafted"] = [{"kind": d["kind"], "template": d["template"]} for d in drafts]
        if mails:
            data["queued"] = [
                {"to": m["recipient"], "template": m["template"], "message_id": m["message_id"]}
                for m in mails
            ]
        event_id = self._insert_event(
            conn,
            incident.id,
            incident.ref,
            seq=seq,
            prev_hash=prev_hash,
            at=model.now,
            actor=actor,
            kind=kind,
            trigger=trigger,
            from_state=from_state,
            to_state=model.state,
            note=note,
            data=_plain(data),
        )
        for draft in drafts:
            sid, number = store.statement_id(conn, incident.id, draft["kind"], model.now)
            store.insert_statement_version(
                conn,
                {
                    "statement_id": sid,
                    "number": number,
                    "title": draft["title"],
                    "text": draft["text"],
                    "text_hash": sha256(draft["text"]),
                    "template": draft["template"],
                    "lang": draft["lang"],
                    "author": actor,
                    "created_at": model.now,
                },
            )
            outcome.drafted.append(
                {
                    "kind": draft["kind"],
                    "number": number,
                    "title": draft["title"],
                    "text": draft["text"],
                }
            )
        for mail in mails:
            mail.update(
                incident_id=incident.id,
                event_id=event_id,
                dedupe_key=f"{incident.ref}/{seq}/{mail['template']}/{mail['recipient']}",
                status="pending",
                attempts=0,
                next_attempt_at=model.now,
                created_at=model.now,
            )
        store.insert_outbox(conn, mails)
        outcome.queued.extend(
            {
                "to": m["recipient"],
                "name": m["recipient_name"],
                "subject": m["subject"],
                "message_id": m["message_id"],
            }
            for m in mails
        )

    def _context(
        self, incident: _IncidentView, actor: str, note: str | None, trigger: str | None
    ) -> dict[str, Any]:
        directory = self.directory
        playbook = incident.playbook
        facts: dict[str, Any] = {}
        for name, value in incident.facts.items():
            fact = playbook.facts.get(name)
            if fact and fact.type == "person" and value in directory.people:
                p = directory.people[value]
                facts[name] = {"id": p.id, "name": p.name, "title": p.title, "email": p.email}
            elif fact and fact.type == "unit" and value in directory.units:
                u = directory.units[value]
                facts[name] = {"id": u.id, "name": u.name, "email": u.email}
            elif fact and fact.type == "datetime" and value:
                facts[name] = datetime.fromisoformat(value)
            else:
                facts[name] = value
        person = directory.people.get(actor)
        state = playbook.states[incident.state]
        transition = playbook.transition_by_trigger(trigger) if trigger else None
        return {
            "incident": {
                "ref": incident.ref,
                "title": incident.title,
                "state": incident.state,
                "state_title": state.title.get_lang(self.settings["language"]),
                "owner": state.owner,
                "facts": facts,
                "timestamps": dict(incident.stamps),
                "opened_at": incident.opened_at,
                "playbook": playbook.title.get_lang(self.settings["language"]),
            },
            "org": dict(directory.organisation),
            "actor": (
                {"id": person.id, "name": person.name, "title": person.title}
                if person
                else {"id": actor, "name": actor, "title": ""}
            ),
            "note": note or "",
            "trigger": trigger or "",
            "transition_title": transition.title.get_lang(self.settings["language"])
            if transition
            else "",
            "now": self.clock(),
            "workspace_command": "crisisflow",
        }

    def _render_draft(self, draft: Any, context: dict[str, Any]) -> dict[str, Any]:
        lang = self.settings["language"]
        parts = self.renderer.render(draft.template, lang, {**context, "lang": lang})
        title = " ".join(parts.get("title", draft.kind).split())
        return {
            "kind": draft.kind,
            "template": draft.template,
            "lang": lang,
            "title": title,
            "text": parts["body"],
        }

    def _recipients(self, role: str, incident: _IncidentView) -> list[Any]:
        directory = self.directory
        fact = incident.playbook.facts.get(role)
        bound = incident.facts.get(role)
        if fact is not None and fact.type in ("person", "unit") and bound:
            return [directory.recipient(bound)]
        members = directory.members(role)
        if not members:
            raise ConfigError(
                _(
                    "{file}: role {role!r} is filled by nobody, so its e-mail would be "
                    "lost; bind a unit or person to it under roles:"
                ).format(file=self.workspace / "directory.yaml", role=role)
            )
        return list(members)

    def _render_mails(
        self, notify: Any, incident: _IncidentView, context: dict[str, Any]
    ) -> list[dict[str, Any]]:
        from . import mail

        sender = self._sender()
        seen: set[str] = set()
        rendered = []
        for role in notify.roles:
            for recipient in self._recipients(role, incident):
                if recipient.email in seen:
                    continue
                seen.add(recipient.email)
                ctx = {
                    **context,
                    "lang": recipient.lang,
                    "role": role,
                    "recipient": {"name": recipient.name, "email": recipient.email},
                }
                parts = self.renderer.render(notify.template, recipient.lang, ctx)
                subject = parts.get("subject", notify.template)
                if incident.ref not in subject:
                    subject = f"[{incident.ref}] {subject}"
                composed = mail.compose(
                    sender=sender,
                    recipient=mail.address(recipient.name, recipient.email),
                    subject=subject,
                    body=parts["body"],
                    ref=incident.ref,
                    when=context["now"],
                )
                rendered.append(
                    {
                        "message_id": composed.message_id,
                        "recipient": recipient.email,
                        "recipient_name": recipient.name,
                        "subject": composed.subject,
                        "template": notify.template,
                        "raw": composed.raw,
                    }
                )
        return rendered

    def _sender(self) -> Any:
        from . import mail

        org = self.directory.organisation
        email = self.settings["mail_from"] or org.get("email") or "crisisflow@localhost"
        return mail.address(org.get("name", "crisisflow"), email)


@dataclass(frozen=True)
class _IncidentView:
    """The incident as the effects of one command see it (after the state change)."""

    id: int
    ref: str
    title: str
    playbook: Playbook
    state: str
    facts: dict[str, Any]
    stamps: dict[str, datetime]
    opened_at: datetime


def _plain(value: Any) -> Any:
    """JSON-safe copy (tuples → lists, datetimes → ISO)."""
    return json.loads(
        json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else list(v))
    )
