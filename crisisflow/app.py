"""The use cases. Each one that changes something is one database transaction: the state, its
hash-chained audit event, the statement drafts and the composed e-mails commit together or not
at all. This is the only module that combines the others; the CLI only calls it and prints.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from . import audit, history, store
from . import facts as factlib
from .config import Settings, shipped
from .errors import (
    ConfigError,
    ConflictError,
    InvalidInput,
    NotFoundError,
    PlaybookError,
    Problem,
    TransitionRefused,
)
from .i18n import _
from .playbook import Playbook
from .store import Store

if TYPE_CHECKING:
    from .deadlines import Deadlines
    from .delivery import Delivery
    from .drafting import Drafter, IncidentView, Rendered
    from .machine import IncidentModel
    from .rules import Pack
    from .statements import Statement, Statements

Clock = Callable[[], datetime]

# Pinned playbooks by content hash: immutable, so one process may share them freely.
_PINNED: dict[str, Playbook] = {}
# Linted playbook files by (path, mtime, size).
_LOADED: dict[tuple[str, int, int], Playbook] = {}
_COMPILED: dict[str, str] = {}  # pinned JSON form by content hash


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Outcome:
    """What a command did, for the CLI to print."""

    ref: str
    from_state: str | None
    to_state: str
    drafted: list[dict[str, Any]] = field(default_factory=list)
    statement_steps: list[dict[str, Any]] = field(default_factory=list)
    clocks: list[dict[str, Any]] = field(default_factory=list)
    queued: list[dict[str, Any]] = field(default_factory=list)
    next: list[dict[str, Any]] = field(default_factory=list)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _stamps_from_json(raw: dict[str, str]) -> dict[str, datetime]:
    return {k: datetime.fromisoformat(v) for k, v in raw.items()}


def _stamps_to_json(stamps: dict[str, datetime]) -> dict[str, str]:
    return {k: v.astimezone(UTC).isoformat() for k, v in stamps.items()}


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
    def drafter(self) -> Drafter:
        from .drafting import Drafter

        return Drafter(
            self.directory,
            self.renderer,
            language=self.settings["language"],
            mail_from=self.settings["mail_from"],
            reply_to=self.settings["reply_to"],
            directory_file=self.workspace / "directory.yaml",
        )

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
        """The workspace's current version of a playbook, linted."""
        files = self.playbook_files()
        path = files.get(playbook_id)
        if path is None:
            raise NotFoundError(
                _("unknown playbook {id!r}; available: {known}").format(
                    id=playbook_id, known=", ".join(files) or _("none")
                )
            )
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in _LOADED:  # opening many incidents should not re-parse an unchanged file
            _LOADED[key] = self._load_file(path)
        return _LOADED[key]

    def _load_file(self, path: Path) -> Playbook:
        from . import playbook as pb

        clocks = {r.clock for r in self.rule_pack.rules.values()}
        loaded = pb.load_file(path, self.renderer.exists, clocks.__contains__)
        if loaded.id != path.stem:
            message = _("id {id!r} differs from the file name; name the file {id}.yaml")
            raise PlaybookError([Problem(str(path), 1, message.format(id=loaded.id))])
        return loaded

    def check_playbooks(self, paths: Iterable[Path] | None = None) -> list[Problem]:
        """Lint playbook files (default: all of the workspace's); return every problem."""
        problems: list[Problem] = []
        for path in paths if paths is not None else self.playbook_files().values():
            try:
                self._load_file(Path(path))
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

    def _actor_roles(
        self, playbook: Playbook, actor: str, facts: dict[str, Any], authorised: bool = False
    ) -> frozenset[str]:
        roles = set(self.directory.roles_of(actor))
        for name, fact in playbook.facts.items():  # a person fact named for a role fills it here
            if fact.type == "person" and name in playbook.roles and facts.get(name) == actor:
                roles.add(name)
        if authorised:  # a written authorisation for this incident, valid now
            from .statements import AUTHORISED_ROLES

            roles |= AUTHORISED_ROLES
        return frozenset(roles)

    def authorised(self, conn: Any, incident_id: int, actor: str, now: datetime) -> bool:
        """Whether ``actor`` holds a written authorisation for this incident valid at ``now``."""
        return any(
            a.person == actor and a.valid_from <= now < a.valid_until
            for a in store.authorisations_of(conn, incident_id)
        )

    def roles_now(self, conn: Any, incident_id: int, actor: str, now: datetime) -> frozenset[str]:
        """The roles ``actor`` holds for one incident at ``now``."""
        row = store.incident_by_id(conn, incident_id)
        playbook = self.pinned(conn, row.playbook_hash)
        return self._actor_roles(
            playbook, actor, row.facts, self.authorised(conn, incident_id, actor, now)
        )

    def person_card(self, person_id: str) -> dict[str, str]:
        person = self.directory.people.get(person_id)
        if person is None:
            return {"id": person_id, "name": person_id, "title": "", "email": ""}
        return {"id": person.id, "name": person.name, "title": person.title, "email": person.email}

    def view(self, conn: Any, row: Any) -> IncidentView:
        """An incident row as templates see it."""
        from .drafting import IncidentView

        playbook = self.pinned(conn, row.playbook_hash)
        stamps = _stamps_from_json(row.stamps)
        return IncidentView(
            row.ref, row.title, playbook, row.state, row.facts, stamps, row.opened_at
        )

    def render_statement(
        self,
        conn: Any,
        incident_id: int,
        template: str,
        *,
        actor: str,
        note: str | None,
        now: datetime,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Draft a statement outside a playbook step (a correction, an authorisation)."""
        from .machine import Draft

        incident = self.view(conn, store.incident_by_id(conn, incident_id))
        context = self.drafter.context(incident, actor=actor, note=note, trigger=None, now=now)
        context.update(extra or {})
        return self.drafter.draft(Draft(template.rsplit("/", 1)[-1], template), context)

    def queue_press_mail(
        self, conn: Any, incident_id: int, statement: Statement, now: datetime
    ) -> list[str]:
        """E-mail the statement's current (approved) text to the directory's press list."""
        press = self.directory.press
        if not press:
            raise ConfigError(
                _("{file}: no press list to send {kind} to; add addresses under press:").format(
                    file=self.workspace / "directory.yaml", kind=statement.kind
                )
            )
        incident = self.view(conn, store.incident_by_id(conn, incident_id))
        current = statement.current
        mails = [
            self.drafter.message(incident, r, current.title, current.text, now, "press")
            for r in press
        ]
        key = f"{incident.ref}/press/{statement.kind}/v{current.number}"
        store.insert_outbox(conn, outbox_rows(mails, incident_id, None, key, now))
        return [m["recipient"] for m in mails]

    def templates(self) -> list[dict[str, Any]]:
        """Every template, its languages, and whether the workspace's copy differs from the
        shipped one (then it is the workspace's own, and wins)."""
        own, ship = self.workspace / "templates", shipped("templates")
        rows = []
        for name in self.renderer.names():
            found = {lang: self.renderer.find(name, lang, exact=True) for lang in ("vi", "en")}
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
        """Render a template for an incident as it stands, changing nothing."""
        with self.store.reading() as conn:
            incident = self.view(conn, self.incident_row(conn, ref))
        who = self.actor_id(None)
        context = self.drafter.context(
            incident, actor=who, note=None, trigger=None, now=self.clock()
        )
        language = lang or self.settings["language"]
        return dict(self.renderer.render(name, language, {**context, "lang": language}))

    @cached_property
    def rule_pack(self) -> Pack:
        """The workspace's rule packs (rules/*.yaml), else the shipped ones."""
        from .rules import Calendar, Pack, load

        folder = self.workspace / "rules"
        files = sorted(folder.glob("*.yaml")) or sorted(shipped("rules").glob("*.yaml"))
        rules: dict[str, Any] = {}
        calendar = None
        for path in files:  # later packs add rules; the first pack's calendar is the one
            pack = load(path)
            rules.update(pack.rules)
            calendar = calendar or pack.calendar
        return Pack(rules, calendar or Calendar())

    @cached_property
    def deadlines(self) -> Deadlines:
        from .deadlines import Deadlines

        return Deadlines(self)

    def compose_for_role(
        self,
        incident: IncidentView,
        role: str,
        template: str,
        extra: dict[str, Any],
        now: datetime,
    ) -> list[dict[str, Any]]:
        """Render ``template`` for everyone filling ``role`` and compose their messages."""
        context = self.drafter.context(
            incident, actor="crisisflow", note=None, trigger=None, now=now
        )
        mails = []
        for recipient in self.drafter.recipients(role, incident):
            ctx = {
                **context,
                **extra,
                "lang": recipient.lang,
                "role": role,
                "recipient": {"name": recipient.name, "email": recipient.email},
            }
            parts = self.renderer.render(template, recipient.lang, ctx)
            mails.append(
                self.drafter.message(
                    incident,
                    recipient,
                    parts.get("subject", template),
                    parts["body"],
                    now,
                    template,
                )
            )
        return mails

    @staticmethod
    def queue_mails(
        conn: Any, incident_id: int, mails: list[dict[str, Any]], key: str, now: datetime
    ) -> None:
        store.insert_outbox(conn, outbox_rows(mails, incident_id, None, key, now))

    @cached_property
    def delivery(self) -> Delivery:
        from .delivery import Delivery

        return Delivery(self)

    @cached_property
    def statements(self) -> Statements:
        from .statements import Statements

        return Statements(self)

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
        from .drafting import IncidentView

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
        # Until told otherwise, a matter occurred when it was opened: a clock counted from its
        # occurrence then runs out no later than the law allows.
        stamps = {"opened_at": now, "occurred_at": now}
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
        compiled = _COMPILED.get(playbook.source_hash) or pb.to_json(playbook)
        _COMPILED[playbook.source_hash] = compiled

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
            ref = model.ref = f"{playbook.reference_prefix}-{year}-{number:04d}"
            incident = IncidentView(ref, title, playbook, model.state, facts, model.stamps, now)
            rendered = self._render(incident, model, actor=who, note=note, trigger=None)
            outcome = Outcome(ref, None, model.state)
            event_data = {
                "playbook_version": playbook.version,
                "playbook_hash": playbook.source_hash,
            }
            event = history.event_row(
                0,
                ref,
                seq=1,
                prev_hash=audit.GENESIS,
                at=now,
                actor=who,
                kind="opened",
                trigger=None,
                from_state=None,
                to_state=model.state,
                note=note,
                data={**event_data, **rendered.summary()},
            )
            incident_id = store.insert_incident(
                conn,
                {
                    "ref": ref,
                    "playbook_id": playbook.id,
                    "playbook_hash": playbook.source_hash,
                    "state": model.state,
                    "title": title,
                    "facts": facts,
                    "stamps": _stamps_to_json(model.stamps),
                    "version": 1,
                    "head_hash": event["hash"],
                    "opened_at": now,
                    "updated_at": now,
                    "closed_at": now if playbook.states[model.state].final else None,
                },
            )
            event["incident_id"] = incident_id
            event_id = store.insert_event(conn, event)
            self._store_rendered(conn, incident_id, event, event_id, rendered, outcome, model)
            outcome.clocks = self.deadlines.on_enter(
                conn, incident_id, playbook, model.state, model.stamps, now
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
        from .drafting import IncidentView

        who = self.actor_id(actor)
        note = (
            factlib.clean_text(note, "--note", multiline=True, limit=factlib.MAX_LONGTEXT)
            if note
            else None
        )
        with self.store.reading() as conn:
            row = self.incident_row(conn, ref)
            playbook = self.pinned(conn, row.playbook_hash)
            transition = playbook.transition(row.state, trigger)
            guards = transition.guards if transition else ()
            # Most steps need neither statements nor authorisations: read them only if asked.
            kinds, approved = frozenset[str](), frozenset[str]()
            if any(g.kind == "has_statement" for g in guards):
                kinds = store.statement_kinds(conn, row.id)
            wanted = [g.arg for g in guards if g.kind == "statement_approved"]
            if wanted:
                from .statements import assemble

                for kind in wanted:
                    found = assemble(*store.statement_current(conn, row.id, kind)).get(kind)
                    if found is not None and found.approved:
                        approved |= {kind}
            authorised = any(g.kind == "actor_is" for g in guards) and self.authorised(
                conn, row.id, who, self.clock()
            )
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
            actor_roles=self._actor_roles(playbook, who, facts, authorised),
            note=note,
            statements=kinds,
            approved_statements=approved,
        )
        from_state = row.state
        machine.fire(playbook, model, trigger)

        outcome = Outcome(row.ref, from_state, model.state)
        incident = IncidentView(
            row.ref, row.title, playbook, model.state, facts, model.stamps, row.opened_at
        )
        rendered = self._render(incident, model, actor=who, note=note, trigger=trigger)
        changed = {k: v for k, v in facts.items() if row.facts.get(k) != v}
        event = history.next_event(
            row,
            at=now,
            actor=who,
            kind="transition",
            trigger=trigger,
            from_state=from_state,
            to_state=model.state,
            note=note,
            data={
                **({"set": changed} if changed else {}),
                **rendered.summary(),
                **_statement_steps(model.effects),
            },
        )
        with self.store.writing() as conn:
            event_id = self.commit_event(
                conn,
                row,
                event,
                state=model.state,
                facts=facts,
                stamps=_stamps_to_json(model.stamps),
                closed_at=now if playbook.states[model.state].final else None,
            )
            self._store_rendered(conn, row.id, event, event_id, rendered, outcome, model)
            state = playbook.states[model.state]
            restamped = _stamps_to_json(model.stamps) != row.stamps
            if state.deadlines or state.stop_clocks or state.final or restamped:
                outcome.clocks = self.deadlines.on_enter(
                    conn, row.id, playbook, model.state, model.stamps, now
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
            row = self.incident_row(conn, ref)
        now = self.clock()
        event = history.next_event(
            row,
            at=now,
            actor=who,
            kind="note",
            trigger=None,
            from_state=None,
            to_state=None,
            note=text,
            data={},
        )
        with self.store.writing() as conn:
            self.commit_event(conn, row, event)
        return int(event["seq"])

    @staticmethod
    def commit_event(conn: Any, row: Any, event: dict[str, Any], **values: Any) -> int:
        """Write ``event`` and the incident's new head (and ``values``), only if nobody changed
        the incident since ``row`` was read (optimistic lock); return the event's id."""
        values = {"head_hash": event["hash"], "updated_at": event["at"], **values}
        if not store.update_incident(conn, row.id, row.version, values):
            raise ConflictError(
                _(
                    "{ref} was changed by someone else while you worked; nothing was done, "
                    "check `crisisflow show {ref}` and try again"
                ).format(ref=row.ref)
            )
        return store.insert_event(conn, event)

    # --- reading -------------------------------------------------------------------------------

    def show(self, ref: str) -> dict[str, Any]:
        """The stable JSON view of one incident (documented in the README)."""
        with self.store.reading() as conn:
            row = self.incident_row(conn, ref)
            playbook = self.pinned(conn, row.playbook_hash)
            events = store.events_of(conn, row.id)
            statement_rows = store.statements_of(conn, row.id)
            messages = store.messages_of(conn, row.id)
            clocks = store.deadlines_of(conn, row.id)
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
            "undeliverable": sum(1 for msg in messages if msg.status == "dead"),
            "deadlines": self.deadlines.view(list(clocks), self.clock()),
        }

    def clocks_due(self, within: timedelta | None, limit: int = 200) -> list[dict[str, Any]]:
        """Incidents with a running clock that is overdue (``within`` None) or due within
        ``within`` from now, soonest first."""
        now = self.clock()
        with self.store.reading() as conn:
            rows = store.running_due_before(conn, now + (within or timedelta(0)), limit)
        return [
            {
                "ref": r.ref,
                "playbook": r.playbook_id,
                "state": r.state,
                "title": r.title,
                "clock": r.clock,
                "rule": r.rule,
                "due_at": _iso(r.due_at),
                "overdue": r.due_at < now,
            }
            for r in rows
        ]

    def audit(self, ref: str | None = None) -> list[dict[str, Any]]:
        """Recompute every incident's (or one incident's) hash chain; name the first broken
        link of each."""
        with self.store.reading() as conn:
            refs = [ref.strip().upper()] if ref else store.all_refs(conn)
            results = []
            for each in refs:
                row = self.incident_row(conn, each)
                events = [e._mapping for e in store.events_of(conn, row.id)]
                broken = audit.first_broken(row.ref, events)
                if broken is None and events and events[-1]["hash"] != row.head_hash:
                    broken = int(events[-1]["seq"]) + 1  # the newest event was removed
                results.append({"ref": row.ref, "events": len(events), "broken_at": broken})
        return results

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
                "undeliverable": int(r.undeliverable),
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

    def incident_row(self, conn: Any, ref: str) -> Any:
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
                    "guards": history.plain_json(guards),
                }
            )
        return result

    def _render(
        self,
        incident: IncidentView,
        model: IncidentModel,
        *,
        actor: str,
        note: str | None,
        trigger: str | None,
    ) -> Rendered:
        return self.drafter.render(
            incident, model.effects, actor=actor, note=note, trigger=trigger, now=model.now
        )

    def _store_rendered(
        self,
        conn: Any,
        incident_id: int,
        event: dict[str, Any],
        event_id: int,
        rendered: Rendered,
        outcome: Outcome,
        model: IncidentModel,
    ) -> None:
        """Write a step's drafts, statement steps and outbox rows, in the transaction of its
        event, in the order the step produced them (a rejection before the redraft)."""
        from .machine import Draft, StatementStep
        from .statements import assemble

        now, ref, seq, actor = event["at"], outcome.ref, event["seq"], event["actor"]
        drafts = iter(rendered.drafts)
        for effect in model.effects:
            if isinstance(effect, Draft):
                draft = next(drafts)
                if store.statement_exists(conn, incident_id, draft["kind"]):
                    continue  # drafted once; from then on staff edit the text they have
                number = store.add_statement_version(
                    conn,
                    incident_id,
                    draft["kind"],
                    {
                        "title": draft["title"],
                        "text": draft["text"],
                        "text_hash": draft["text_hash"],
                        "template": draft["template"],
                        "lang": draft["lang"],
                        "author": actor,
                        "created_at": now,
                    },
                )
                outcome.drafted.append({**draft, "number": number})
            elif isinstance(effect, StatementStep):
                records = store.statement_current(conn, incident_id, effect.kind)
                statement = assemble(*records).get(effect.kind)
                if statement is None:
                    raise TransitionRefused(
                        _("{ref}: no {kind} statement to act on").format(ref=ref, kind=effect.kind)
                    )
                outcome.statement_steps.append(
                    self.statements.apply(
                        conn,
                        statement,
                        effect.action,
                        actor,
                        now,
                        reason=model.note if effect.action == "rejected" else None,
                        channel=model.facts.get("publish_channel"),
                        url=model.facts.get("publish_url"),
                        strict=False,
                    )
                )
        store.insert_outbox(
            conn, outbox_rows(rendered.mails, incident_id, event_id, f"{ref}/{seq}", now)
        )
        outcome.queued.extend(
            {
                "to": m["recipient"],
                "name": m["recipient_name"],
                "subject": m["subject"],
                "message_id": m["message_id"],
            }
            for m in rendered.mails
        )


def _statement_steps(effects: list[Any]) -> dict[str, Any]:
    """What the audit event records of a step's statement actions."""
    from .machine import StatementStep

    steps = [{"kind": e.kind, "action": e.action} for e in effects if isinstance(e, StatementStep)]
    return {"statements": steps} if steps else {}


def outbox_rows(
    mails: list[dict[str, Any]], incident_id: int, event_id: int | None, key: str, now: datetime
) -> list[dict[str, Any]]:
    """Composed messages as pending outbox rows; ``key`` makes each dedupe key unique."""
    return [
        {
            **m,
            "incident_id": incident_id,
            "event_id": event_id,
            "dedupe_key": f"{key}/{m['template']}/{m['recipient']}",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "claimed_until": None,
            "claimed_by": None,
            "last_error": None,
            "created_at": now,
            "sent_at": None,
        }
        for m in mails
    ]
