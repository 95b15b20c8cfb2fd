"""The database: engine set-up, transactions, schema version, and what went wrong, said in
one line. The queries live with their aggregate: store_incidents, store_statements,
store_outbox, store_clocks, store_reports.

SQLite is the embedded default (WAL, foreign keys, busy timeout, durable commits, writers take the
lock up front with BEGIN IMMEDIATE); PostgreSQL is the scale path. Foreign database errors are
wrapped here, once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from .errors import ConflictError, StorageError
from .i18n import _

SCHEMA_HEAD = "0009"  # the newest migration; a test keeps it equal to Alembic's head
MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_setup(engine: Engine) -> None:
    @sa_event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=FULL")  # a committed state change survives power loss
        cursor.close()

    @sa_event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        # Writers lock up front: a deferred transaction that reads, then writes, fails with
        # SQLITE_BUSY when another writer committed in between, whatever the busy timeout.
        immediate = conn.get_execution_options().get("crisisflow_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):  # ValueError: a port that is not a number
        return "<invalid database URL>"


def make_engine(url: str) -> Engine:
    try:
        engine = sa.create_engine(url)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StorageError(
            _("cannot use database URL {url}: {error}; check database_url").format(
                url=safe_url(url), error=exc
            )
        ) from exc
    if engine.dialect.name == "sqlite":
        _sqlite_setup(engine)
    return engine


def _describe(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --- what went wrong, in one line ----------------------------------------------------------


def storage_error(url: str, exc: BaseException) -> StorageError:
    """A database error as one line naming its real cause and what to do; no password."""
    try:
        parsed: sa.URL | None = sa.make_url(url)
    except (SQLAlchemyError, ValueError):  # ValueError: a port that is not a number
        parsed = None
    backend = parsed.get_backend_name() if parsed is not None else ""
    message = None
    if parsed is not None and backend == "sqlite":
        message = _sqlite_cause(parsed.database or "", exc)
    elif parsed is not None and backend == "postgresql":
        message = _postgres_cause(parsed, exc)
    if message is None:
        message = _("database {url}: {error}").format(url=safe_url(url), error=_describe(exc))
    password = parsed.password if parsed is not None else None
    return StorageError(message.replace(str(password), "***") if password else message)


def _sqlite_cause(file: str, exc: BaseException) -> str | None:
    code = str(getattr(getattr(exc, "orig", None), "sqlite_errorname", "") or "")
    if code == "SQLITE_NOTADB":
        return _(
            "{file} is not an SQLite database; check database_url names the right file"
        ).format(file=file)
    if code.startswith("SQLITE_CORRUPT"):
        return _("{file} is damaged (truncated or corrupt); restore it from a backup").format(
            file=file
        )
    if code == "SQLITE_FULL":
        return _("cannot write to {file}: the disk is full; free some space and try again").format(
            file=file
        )
    if code.startswith("SQLITE_READONLY"):
        return _(
            "cannot write to {file}: it is read-only; check the permissions of the file and "
            "its folder"
        ).format(file=file)
    if code.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        return _sqlite_cannot_open(Path(file))
    if code.startswith("SQLITE_IOERR"):
        return _("cannot read or write {file}: disk I/O error ({code}); check the disk").format(
            file=file, code=code
        )
    return None


def _sqlite_cannot_open(path: Path) -> str:
    folder = path.parent
    if not folder.is_dir():
        return _(
            "cannot open {file}: the folder {folder} does not exist; create it or check "
            "database_url"
        ).format(file=path, folder=folder)
    if path.is_dir():
        return _("{file} is a folder, not a database file; check database_url").format(file=path)
    readable = os.access(path, os.R_OK | os.W_OK) if path.exists() else True
    if not readable or not os.access(folder, os.W_OK | os.X_OK):
        return _(
            "cannot open {file}: no permission; check the permissions of the file and its folder"
        ).format(file=path)
    return _("cannot open {file}; check database_url").format(file=path)


def _postgres_cause(url: sa.URL, exc: BaseException) -> str | None:
    state = str(getattr(getattr(exc, "orig", None), "sqlstate", None) or "")
    text = _describe(exc)
    low = text.lower()
    where = f"{url.query.get('host') or url.host or 'localhost'}:{url.port or 5432}"
    reason = text.rpartition("failed: ")[2].replace("FATAL:", "").strip()
    facts = {"where": where, "user": url.username, "db": url.database, "reason": reason}
    if state == "53100" or "no space left" in low:
        return _("PostgreSQL at {where}: the server's disk is full; free some space").format(
            **facts
        )
    connecting = low.startswith(_CONNECT_FAILURES)
    if state == "3D000" or (connecting and 'database "' in low and "does not exist" in low):
        return _(
            "PostgreSQL at {where} has no database {db}; create it or check database_url"
        ).format(**facts)
    if state.startswith("28") or (connecting and any(k in low for k in _AUTH_FAILURES)):
        return _(
            "PostgreSQL at {where} refused user {user}: {reason}; check the user and password "
            "in database_url"
        ).format(**facts)
    if not (connecting or state.startswith(("08", "57P", "53300"))):
        return None
    for needle, hint in _CONNECT_HINTS:
        if needle in low:
            return _("cannot connect to PostgreSQL at {where}: {hint}").format(hint=hint, **facts)
    return _("cannot connect to PostgreSQL at {where}: {reason}").format(**facts)


_CONNECT_FAILURES = ("connection failed", "failed to resolve host", "connection to server")
_AUTH_FAILURES = ("authentication", "password", "role", "pg_hba")
_CONNECT_HINTS = (
    ("connection refused", _("connection refused; is the server running?")),
    ("resolve host", _("unknown host; check the host name in database_url")),
    ("translate host", _("unknown host; check the host name in database_url")),
    ("timeout", _("no answer (timed out); is the host reachable?")),
    ("starting up", _("the server is starting up; try again shortly")),
    ("shutting down", _("the server is shutting down; try again later")),
    ("too many", _("the server has too many connections; try again shortly")),
    ("remaining connection slots", _("the server has too many connections; try again shortly")),
)


def _missing_table(exc: BaseException) -> bool:
    """The database opened fine but has no such table (42P01 on PostgreSQL)."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) == "42P01" or "no such table" in str(orig)


class Store:
    """An engine plus the two kinds of transaction the app uses."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    @property
    def dialect(self) -> str:
        return str(self.engine.dialect.name)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except DBAPIError as exc:
            raise storage_error(self.url, exc) from exc

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One transaction: everything inside commits together or not at all."""
        try:
            with self.engine.connect() as raw:
                conn = raw.execution_options(crisisflow_write=True)
                with conn.begin():
                    yield conn
        except IntegrityError as exc:
            raise ConflictError(
                _(
                    "the database refused a duplicate ({error}); someone else made "
                    "the same change first, try again"
                ).format(error=_describe(exc))
            ) from exc
        except OperationalError as exc:
            if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                raise ConflictError(
                    _("the database is busy with another change; try again")
                ) from exc
            raise storage_error(self.url, exc) from exc
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) in ("40001", "40P01"):  # serialization, deadlock
                raise ConflictError(
                    _("another change to the same incident won; try again")
                ) from exc
            raise storage_error(self.url, exc) from exc

    def schema_revision(self) -> str | None:
        with self.reading() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def check_schema(self) -> None:
        """Refuse to work on a database whose schema is not the one this code expects; a
        database that cannot be opened says why, and only one without the schema says to run
        `crisisflow db upgrade`. Creates nothing, not even an empty SQLite file."""
        missing = self._missing_file()
        if missing:
            raise StorageError(missing)
        try:
            with self.engine.connect() as conn, conn.begin():
                revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError as exc:
            if not _missing_table(exc):
                raise storage_error(self.url, exc) from exc
            revision = None
        if revision is not None and revision not in _known_revisions():
            raise StorageError(
                _(
                    "database {url} has schema {have}, newer than this crisisflow knows "
                    "(it needs {want}); install the crisisflow that wrote it"
                ).format(url=safe_url(self.url), have=revision, want=SCHEMA_HEAD)
            )
        if revision != SCHEMA_HEAD:
            raise StorageError(
                _(
                    "database {url} has schema {have}, this crisisflow needs {want}; "
                    "run `crisisflow db upgrade`"
                ).format(url=safe_url(self.url), have=revision or _("none"), want=SCHEMA_HEAD)
            )

    def _missing_file(self) -> str | None:
        """Why an SQLite database file cannot be there, without creating it."""
        url = sa.make_url(self.url)
        file = url.database
        if url.get_backend_name() != "sqlite" or not file or file == ":memory:" or url.query:
            return None
        path = Path(file)
        if not path.parent.is_dir():
            return _sqlite_cannot_open(path)
        if not path.exists():
            return _(
                "{file} does not exist; run `crisisflow db upgrade` to create it, or check "
                "database_url"
            ).format(file=path)
        return None

    def upgrade(self, target: str = "head") -> tuple[str | None, str]:
        """Run the shipped Alembic migrations up to ``target``; return (before, after)."""
        from alembic import command
        from alembic.config import Config

        before = self.schema_revision()
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        sqlite = self.engine.dialect.name == "sqlite"
        try:
            with self.engine.connect() as conn:
                # SQLite changes a constraint by rebuilding the table; with foreign keys
                # enforced, dropping the old table fails while other rows refer to it. They
                # are switched off (only possible outside a transaction) and checked after.
                if sqlite:
                    _foreign_keys(conn, on=False)
                try:
                    with conn.begin():
                        config.attributes["connection"] = conn
                        command.upgrade(config, target)
                        if sqlite:
                            _refuse_dangling(conn)
                finally:
                    if sqlite:
                        _foreign_keys(conn, on=True)
        except DBAPIError as exc:
            raise storage_error(self.url, exc) from exc
        except SQLAlchemyError as exc:
            raise StorageError(
                _("database {url}: migration failed: {error}").format(
                    url=safe_url(self.url), error=_describe(exc)
                )
            ) from exc
        return before, SCHEMA_HEAD if target == "head" else target

    def dispose(self) -> None:
        self.engine.dispose()


def _foreign_keys(conn: Connection, *, on: bool) -> None:
    """Switch SQLite's foreign key enforcement on this connection, outside any transaction."""
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _refuse_dangling(conn: Connection) -> None:
    """A migration leaves no row pointing at a missing one (rolled back if it would)."""
    dangling = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if dangling:
        table, rowid, parent, _fk = dangling[0]
        raise StorageError(
            _("migration left {table} row {rowid} pointing at a missing {parent} row").format(
                table=table, rowid=rowid, parent=parent
            )
        )


def _known_revisions() -> set[str]:
    return {p.name.partition("_")[0] for p in (MIGRATIONS / "versions").glob("*.py")}
