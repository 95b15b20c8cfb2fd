"""The use cases, one module per concept, over one application object.

``App`` owns the workspace's parts (settings, directory, templates, rule pack, playbook
catalogue, database) and hands them, explicitly, to the use cases: ``app.incidents`` (open,
advance, note), ``app.records`` (show, list, clocks, audit), ``app.statements``,
``app.clocks`` (tick, ack), ``app.delivery``, ``app.templates``, ``app.reports``. The CLI and
the web front end call these and nothing below them; nothing below imports this package.

Each change is one database transaction: the state, its hash-chained audit event, the drafts
and the composed e-mails commit together or not at all. Every use case that changes something
takes an ``Actor``; the parts it needs are loaded before its write transaction opens.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .. import actor as actors
from ..actor import Actor
from ..config import Settings, shipped
from ..errors import InvalidInput
from ..i18n import _

if TYPE_CHECKING:
    from ..catalogue import Catalogue
    from ..deadlines import Clocks
    from ..directory import Directory
    from ..drafting import Drafter
    from ..render import Renderer
    from ..rules import Pack
    from ..store import Store
    from .clocks import ClockCases
    from .delivery import Delivery
    from .duties import DutyCases
    from .incidents import IncidentCases
    from .records import Records
    from .register import Register
    from .reports import Reports
    from .statements import StatementCases
    from .templates import Templates

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _changed_at(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def os_account() -> str:
    """The OS account running this process, from the system, not from $USER (which anyone
    can set)."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):  # no passwd entry (a container), or not POSIX
        return getpass.getuser()


class App:
    """Everything crisisflow does, on one workspace; parts are built on first use, so a
    command pays only for what it touches."""

    def __init__(self, settings: Settings, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.workspace = settings.workspace
        self.clock = clock
        self.tz = ZoneInfo(settings["time_zone"])
        self._directory_read: int | None = None

    def caller(self) -> Actor:
        """Who is at this command line: the directory person bound (``login:``) to the OS
        account running it, else the ``actor`` setting, else the login name (no roles)."""
        login = os_account()
        bound = self.directory.by_login(login)
        if bound is not None:
            return Actor(bound.id, actors.CLI_ACCOUNT)
        if self.settings["actor"]:
            self.directory.person(self.settings["actor"])
            return Actor(str(self.settings["actor"]), actors.CLI_SETTING)
        return Actor("user:" + login, actors.OS_LOGIN)

    def identify(self, person: str | None = None, *, on_behalf: str | None = None) -> Actor:
        """The actor of a command-line call. ``--as PERSON`` is recorded as entered by the
        caller and lends none of PERSON's rights; with ``on_behalf`` (how and when PERSON
        decided) it records PERSON's own decision, entered for them."""
        me = self.caller()
        if on_behalf is not None and (not person or person == me.person):
            raise InvalidInput(_("--on-behalf needs --as PERSON: whom you enter it for"))
        if not person or person == me.person:
            return me
        self.directory.person(person)  # refuses an unknown person
        if on_behalf is not None:
            on_behalf = " ".join(on_behalf.split())
            if not on_behalf:
                raise InvalidInput(
                    _(
                        "--on-behalf needs --note saying how and when {person} decided, "
                        'e.g. --note "approved by phone at 10:40"'
                    ).format(person=person)
                )
        return Actor(person, actors.CLI_AS, entered_by=me.person, on_behalf=on_behalf)

    def local(self, value: datetime | str | None) -> str:
        """A stored UTC time as the workspace reads it: '26/11/2026 14:30'."""
        if value is None:
            return "-"
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.astimezone(self.tz).strftime("%d/%m/%Y %H:%M")

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.dispose()

    # --- parts -------------------------------------------------------------------------------

    @cached_property
    def store(self) -> Store:
        from ..store import Store

        database = Store(self.settings.database_url)
        database.check_schema()
        return database

    @cached_property
    def directory(self) -> Directory:
        from .. import directory

        path = self.workspace / "directory.yaml"
        self._directory_read = _changed_at(path)
        return directory.load(path)

    def reread_directory(self) -> None:
        """Take an edited directory.yaml from the next use on: a long-running front end
        must not keep a person who left, or a role someone lost."""
        path = self.workspace / "directory.yaml"
        if "directory" in self.__dict__ and _changed_at(path) != self._directory_read:
            for part in ("directory", "drafter"):
                self.__dict__.pop(part, None)

    @cached_property
    def renderer(self) -> Renderer:
        from ..render import Renderer

        folders = [self.workspace / "templates", shipped("templates")]
        return Renderer(folders, self.settings["time_zone"])

    @cached_property
    def drafter(self) -> Drafter:
        from ..drafting import Drafter

        return Drafter(
            self.directory,
            self.renderer,
            language=self.settings["language"],
            mail_from=self.settings["mail_from"],
            reply_to=self.settings["reply_to"],
            directory_file=self.workspace / "directory.yaml",
        )

    @property
    def secret_key(self) -> bytes:
        """The workspace's secret key (``signing.load_key``): it signs e-mailed links and
        keys the hashes of tokens; a rotated key counts from the next call. Raises
        ConfigError when the workspace has none."""
        from .. import signing

        return signing.load_key(self.workspace)

    @cached_property
    def rule_pack(self) -> Pack:
        """The workspace's rule packs (rules/*.yaml), else the shipped ones."""
        from ..rules import load_packs

        folder = self.workspace / "rules"
        return load_packs(sorted(folder.glob("*.yaml")) or sorted(shipped("rules").glob("*.yaml")))

    @cached_property
    def catalogue(self) -> Catalogue:
        from ..catalogue import Catalogue

        def clock_exists(name: str) -> bool:  # a clock or a limit of the rule pack
            return self.rule_pack.knows(name)

        def template_exists(name: str) -> bool:
            return self.renderer.exists(name)

        # Templates and rule packs are read only when a playbook file is loaded: a pinned
        # playbook (every command on an existing incident) needs neither.
        folders = (shipped("playbooks"), self.workspace / "playbooks")
        return Catalogue(folders, template_exists, clock_exists)

    @cached_property
    def clock_keeper(self) -> Clocks:
        from ..deadlines import Clocks, NoticePolicy

        s = self.settings
        policy = NoticePolicy.parse(s["reminders"], s["escalation_interval_hours"])
        return Clocks(self.rule_pack, policy, self.tz, s["language"], self.local)

    # --- use cases ---------------------------------------------------------------------------

    @cached_property
    def incidents(self) -> IncidentCases:
        from .incidents import IncidentCases

        return IncidentCases(self)

    @cached_property
    def records(self) -> Records:
        from .records import Records

        return Records(self)

    @cached_property
    def statements(self) -> StatementCases:
        from .statements import StatementCases

        return StatementCases(self)

    @cached_property
    def clocks(self) -> ClockCases:
        from .clocks import ClockCases

        return ClockCases(self)

    @cached_property
    def delivery(self) -> Delivery:
        from .delivery import Delivery

        return Delivery(self)

    @cached_property
    def templates(self) -> Templates:
        from .templates import Templates

        return Templates(self)

    @cached_property
    def register(self) -> Register:
        from .register import Register

        return Register(self)

    @cached_property
    def duties(self) -> DutyCases:
        from .duties import DutyCases

        return DutyCases(self)

    @cached_property
    def reports(self) -> Reports:
        from .reports import Reports

        return Reports(self)

    def upgrade_database(self) -> tuple[str, str | None, str]:
        """Migrate the database to the current schema: (url shown, before, after)."""
        from .. import store

        database = store.Store(self.settings.database_url)
        try:
            before, after = database.upgrade()
        finally:
            database.dispose()
        return store.safe_url(self.settings.database_url), before, after

    def database_status(self) -> tuple[str, str | None, bool]:
        """(url shown, schema revision, whether it is current)."""
        from .. import store

        database = store.Store(self.settings.database_url)
        try:
            revision = database.schema_revision()
        finally:
            database.dispose()
        return store.safe_url(self.settings.database_url), revision, revision == store.SCHEMA_HEAD
