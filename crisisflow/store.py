"""The database: engine set-up, transactions, schema version, and the queries the app needs.

SQLite is the embedded default (WAL, foreign keys, busy timeout, durable commits, writers take the
lock up front with BEGIN IMMEDIATE); PostgreSQL is the scale path. Foreign database errors are
wrapped here, once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from . import models as m
from .errors import ConflictError, StorageError
from .i18n import _

SCHEMA_HEAD = "0004"  # the newest migration; a test keeps it equal to Alembic's head
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
    except SQLAlchemyError:
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
    except SQLAlchemyError:
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
            "{file} is not an SQLite database; check database_url, or move the file away and "
            "run `crisisflow db upgrade` to start a new one"
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
        try:
            with self.engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, target)
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


def _known_revisions() -> set[str]:
    return {p.name.partition("_")[0] for p in (MIGRATIONS / "versions").glob("*.py")}


# --- queries -------------------------------------------------------------------------------


def pin_playbook(
    conn: Connection,
    *,
    hash: str,
    playbook_id: str,
    version: int,
    filename: str,
    source: str,
    compiled: str,
    now: datetime,
) -> None:
    exists = conn.execute(
        sa.select(m.playbook_versions.c.hash).where(m.playbook_versions.c.hash == hash)
    ).first()
    if exists is None:
        conn.execute(
            m.playbook_versions.insert().values(
                hash=hash,
                playbook_id=playbook_id,
                version=version,
                filename=filename,
                source=source,
                compiled=compiled,
                created_at=now,
            )
        )


def pinned_playbook(conn: Connection, hash: str) -> Row[Any] | None:
    return conn.execute(
        sa.select(m.playbook_versions).where(m.playbook_versions.c.hash == hash)
    ).first()


def next_reference_number(conn: Connection, prefix: str, year: int) -> int:
    counters = m.reference_counters
    bumped = conn.execute(
        counters.update()
        .where(counters.c.prefix == prefix, counters.c.year == year)
        .values(last=counters.c.last + 1)
        .returning(counters.c.last)
    ).scalar()
    if bumped is not None:
        return int(bumped)
    conn.execute(counters.insert().values(prefix=prefix, year=year, last=1))
    return 1


_BY_REF = sa.select(m.incidents).where(m.incidents.c.ref == sa.bindparam("ref"))


def incident_by_ref(conn: Connection, ref: str) -> Any:
    return conn.execute(_BY_REF, {"ref": ref}).first()


def incident_by_id(conn: Connection, incident_id: int) -> Any:
    return conn.execute(sa.select(m.incidents).where(m.incidents.c.id == incident_id)).one()


def insert_incident(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(m.incidents.insert(), values).inserted_primary_key[0])  # type: ignore[index]


_UPDATES: dict[tuple[str, ...], Any] = {}
_BY_ID_UPDATES: dict[tuple[str, ...], Any] = {}


def _update_by_id(conn: Connection, table: sa.Table, row_id: int, values: dict[str, Any]) -> None:
    """UPDATE table SET values WHERE id = row_id, with one prepared statement per column set."""
    key = (table.name, *sorted(values))
    statement = _BY_ID_UPDATES.get(key)
    if statement is None:
        statement = _BY_ID_UPDATES[key] = (
            table.update()
            .where(table.c.id == sa.bindparam("_id"))
            .values(**{k: sa.bindparam("v_" + k) for k in sorted(values)})
        )
    conn.execute(statement, {"_id": row_id, **{"v_" + k: v for k, v in values.items()}})


def update_incident(
    conn: Connection, incident_id: int, expected_version: int, values: dict[str, Any]
) -> bool:
    """Optimistic lock: write only if nobody changed the incident since it was read."""
    keys = tuple(sorted(values))
    statement = _UPDATES.get(keys)
    if statement is None:  # one prepared statement per set of columns: no per-call building
        inc = m.incidents
        statement = _UPDATES[keys] = (
            inc.update()
            .where(inc.c.id == sa.bindparam("_id"), inc.c.version == sa.bindparam("_expected"))
            .values(version=sa.bindparam("_new"), **{k: sa.bindparam("v_" + k) for k in keys})
        )
    params = {"_id": incident_id, "_expected": expected_version, "_new": expected_version + 1}
    params.update({"v_" + k: v for k, v in values.items()})
    return conn.execute(statement, params).rowcount == 1


def insert_event(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(m.events.insert(), values).inserted_primary_key[0])  # type: ignore[index]


def events_of(conn: Connection, incident_id: int) -> Sequence[Any]:
    return conn.execute(
        sa.select(m.events).where(m.events.c.incident_id == incident_id).order_by(m.events.c.seq)
    ).all()


def add_statement_version(
    conn: Connection,
    incident_id: int,
    kind: str,
    values: dict[str, Any],
    corrects_id: int | None = None,
) -> int:
    """Add the next numbered version of the incident's statement of ``kind``; return it."""
    st, sv = m.statements, m.statement_versions
    sid = conn.execute(
        sa.select(st.c.id).where(st.c.incident_id == incident_id, st.c.kind == kind)
    ).scalar()
    if sid is None:
        sid = conn.execute(
            st.insert(),
            {
                "incident_id": incident_id,
                "kind": kind,
                "created_at": values["created_at"],
                "corrects_id": corrects_id,
            },
        ).inserted_primary_key[0]  # type: ignore[index]
        number = 1
    else:
        last = conn.execute(sa.select(sa.func.max(sv.c.number)).where(sv.c.statement_id == sid))
        number = int(last.scalar() or 0) + 1
    conn.execute(sv.insert(), {**values, "statement_id": sid, "number": number})
    return number


def statements_of(conn: Connection, incident_id: int) -> Sequence[Any]:
    st, sv = m.statements, m.statement_versions
    return conn.execute(
        sa.select(
            st.c.kind,
            sv.c.number,
            sv.c.title,
            sv.c.text,
            sv.c.text_hash,
            sv.c.template,
            sv.c.lang,
            sv.c.author,
            sv.c.created_at,
        )
        .join(sv, sv.c.statement_id == st.c.id)
        .where(st.c.incident_id == incident_id)
        .order_by(st.c.id, sv.c.number)
    ).all()


_STATEMENT_ID = sa.select(m.statements.c.id).where(
    m.statements.c.incident_id == sa.bindparam("incident_id"),
    m.statements.c.kind == sa.bindparam("kind"),
)


def statement_exists(conn: Connection, incident_id: int, kind: str) -> bool:
    params = {"incident_id": incident_id, "kind": kind}
    return conn.execute(_STATEMENT_ID, params).first() is not None


def statement_records(
    conn: Connection, incident_id: int, kind: str | None = None
) -> tuple[list[Any], list[Any], list[Any]]:
    """An incident's statements (or its one of ``kind``), their versions and their actions."""
    st, sv, sa_ = m.statements, m.statement_versions, m.statement_actions
    query = sa.select(st).where(st.c.incident_id == incident_id)
    if kind is not None:
        query = query.where(st.c.kind == kind)
    heads = conn.execute(query.order_by(st.c.id)).all()
    ids = [h.id for h in heads]
    if not ids:
        return [], [], []
    versions = conn.execute(
        sa.select(sv).where(sv.c.statement_id.in_(ids)).order_by(sv.c.statement_id, sv.c.number)
    ).all()
    actions = conn.execute(
        sa.select(sa_).where(sa_.c.statement_id.in_(ids)).order_by(sa_.c.id)
    ).all()
    return list(heads), list(versions), list(actions)


_CURRENT_VERSION = (
    sa.select(
        m.statements.c.id,
        m.statements.c.incident_id,
        m.statements.c.kind,
        m.statements.c.corrects_id,
        *[c for c in m.statement_versions.c if c.name != "id"],
    )
    .join(m.statement_versions, m.statement_versions.c.statement_id == m.statements.c.id)
    .where(
        m.statements.c.incident_id == sa.bindparam("incident_id"),
        m.statements.c.kind == sa.bindparam("kind"),
    )
    .order_by(m.statement_versions.c.number.desc())
    .limit(1)
)
_ACTIONS_OF = (
    sa.select(m.statement_actions)
    .where(m.statement_actions.c.statement_id == sa.bindparam("statement_id"))
    .order_by(m.statement_actions.c.id)
)


def statement_current(
    conn: Connection, incident_id: int, kind: str
) -> tuple[list[Any], list[Any], list[Any]]:
    """Like statement_records for one statement, with only its current version: what a step
    that submits, approves or publishes it needs, in two queries."""
    row = conn.execute(_CURRENT_VERSION, {"incident_id": incident_id, "kind": kind}).first()
    if row is None:
        return [], [], []
    actions = conn.execute(_ACTIONS_OF, {"statement_id": row.statement_id}).all()
    return [row], [row], list(actions)  # the row holds the statement and its version


def add_statement_action(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(m.statement_actions.insert(), values)


def authorisations_of(conn: Connection, incident_id: int) -> Sequence[Any]:
    au = m.authorisations
    return conn.execute(
        sa.select(au).where(au.c.incident_id == incident_id).order_by(au.c.id)
    ).all()


def add_authorisation(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(m.authorisations.insert(), values)


def statement_kinds(conn: Connection, incident_id: int) -> frozenset[str]:
    st = m.statements
    return frozenset(
        conn.execute(sa.select(st.c.kind).where(st.c.incident_id == incident_id)).scalars()
    )


def insert_outbox(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(m.outbox.insert(), rows)


def messages_of(conn: Connection, incident_id: int) -> Sequence[Any]:
    ob = m.outbox
    return conn.execute(
        sa.select(
            ob.c.id,
            ob.c.message_id,
            ob.c.recipient,
            ob.c.recipient_name,
            ob.c.subject,
            ob.c.template,
            ob.c.status,
            ob.c.attempts,
            ob.c.next_attempt_at,
            ob.c.last_error,
            ob.c.created_at,
            ob.c.sent_at,
        )
        .where(ob.c.incident_id == incident_id)
        .order_by(ob.c.id)
    ).all()


def list_incidents(
    conn: Connection, *, state: str | None, include_closed: bool, limit: int
) -> Sequence[Any]:
    inc, ob = m.incidents, m.outbox
    undeliverable = (
        sa.select(sa.func.count())
        .where(ob.c.incident_id == inc.c.id, ob.c.status == m.DEAD)
        .scalar_subquery()
    )
    query = sa.select(
        inc.c.ref,
        inc.c.playbook_id,
        inc.c.state,
        inc.c.title,
        inc.c.opened_at,
        inc.c.updated_at,
        inc.c.closed_at,
        undeliverable.label("undeliverable"),
    )
    if state:
        query = query.where(inc.c.state == state)
    if not include_closed:
        query = query.where(inc.c.closed_at.is_(None))
    return conn.execute(query.order_by(inc.c.opened_at.desc(), inc.c.id.desc()).limit(limit)).all()


# --- the outbox: claims with a lease, results, the duty officer's view ------------------------


def claim_due(
    conn: Connection, *, now: datetime, lease_until: datetime, token: str, limit: int
) -> Sequence[Any]:
    """Claim up to ``limit`` due messages in one statement and return them.

    Due means pending and its time has come, or held by a dispatcher whose lease ran out (it
    crashed). One UPDATE ... RETURNING over a sub-select: on PostgreSQL the sub-select skips
    rows other dispatchers hold locked, on SQLite the write transaction already excludes them.
    Selecting ids first and updating them after would let two dispatchers claim the same rows.
    """
    ob = m.outbox
    due = (
        sa.select(ob.c.id)
        .where(
            sa.or_(
                sa.and_(ob.c.status == m.PENDING, ob.c.next_attempt_at <= now),
                sa.and_(ob.c.status == m.SENDING, ob.c.claimed_until < now),
            )
        )
        .order_by(ob.c.next_attempt_at, ob.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    return conn.execute(
        ob.update()
        .where(ob.c.id.in_(due.scalar_subquery()))
        .values(
            status=m.SENDING,
            claimed_by=token,
            claimed_until=lease_until,
            attempts=ob.c.attempts + 1,
        )
        .returning(
            ob.c.id,
            ob.c.incident_id,
            ob.c.sender,
            ob.c.recipient,
            ob.c.raw,
            ob.c.attempts,
            ob.c.message_id,
        )
    ).all()


_SETTLE = (
    m.outbox.update()
    .where(m.outbox.c.id == sa.bindparam("_id"), m.outbox.c.claimed_by == sa.bindparam("_token"))
    .values(
        status=sa.bindparam("_status"),
        attempts=m.outbox.c.attempts - sa.bindparam("_refund"),
        next_attempt_at=sa.bindparam("_next"),
        sent_at=sa.bindparam("_sent_at"),
        last_error=sa.bindparam("_reply"),
        claimed_by=None,
        claimed_until=None,
    )
)


def settle(conn: Connection, token: str, results: list[dict[str, Any]]) -> int:
    """Record delivery results for rows this dispatcher still holds; return how many were.

    Each result: ``id``, ``status``, ``next`` (next attempt time), ``sent_at``, ``reply``,
    ``refund`` (1 when the attempt must not count, e.g. a configuration error)."""
    if not results:
        return 0
    params = [
        {
            "_id": r["id"],
            "_token": token,
            "_status": r["status"],
            "_refund": r.get("refund", 0),
            "_next": r["next"],
            "_sent_at": r.get("sent_at"),
            "_reply": r.get("reply"),
        }
        for r in results
    ]
    return int(conn.execute(_SETTLE, params).rowcount)


def outbox_rows(
    conn: Connection, *, status: str | None, ref: str | None, limit: int
) -> Sequence[Any]:
    ob, inc = m.outbox, m.incidents
    query = (
        sa.select(
            ob.c.id,
            inc.c.ref,
            ob.c.recipient,
            ob.c.recipient_name,
            ob.c.subject,
            ob.c.status,
            ob.c.attempts,
            ob.c.next_attempt_at,
            ob.c.last_error,
            ob.c.message_id,
            ob.c.created_at,
            ob.c.sent_at,
        )
        .select_from(ob.outerjoin(inc, inc.c.id == ob.c.incident_id))
        .order_by(ob.c.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(ob.c.status == status)
    if ref:
        query = query.where(inc.c.ref == ref)
    return conn.execute(query).all()


def outbox_counts(conn: Connection) -> dict[str, int]:
    ob = m.outbox
    rows = conn.execute(sa.select(ob.c.status, sa.func.count()).group_by(ob.c.status)).all()
    return {status: int(count) for status, count in rows}


def requeue(conn: Connection, *, ids: list[int] | None, now: datetime) -> list[int]:
    """Put dead messages (these ids, or all of them) back in the queue with fresh attempts."""
    ob = m.outbox
    query = ob.update().where(ob.c.status == m.DEAD)
    if ids is not None:
        query = query.where(ob.c.id.in_(ids))
    result = conn.execute(
        query.values(status=m.PENDING, attempts=0, next_attempt_at=now).returning(ob.c.id)
    )
    return sorted(int(i) for i in result.scalars())


# --- deadlines ---------------------------------------------------------------------------------


_DEADLINES_OF = (
    sa.select(m.deadlines)
    .where(m.deadlines.c.incident_id == sa.bindparam("incident_id"))
    .order_by(m.deadlines.c.id)
)


def deadlines_of(conn: Connection, incident_id: int) -> Sequence[Any]:
    return conn.execute(_DEADLINES_OF, {"incident_id": incident_id}).all()


def deadline_by_id(conn: Connection, deadline_id: int) -> Any:
    dl = m.deadlines
    return conn.execute(sa.select(dl).where(dl.c.id == deadline_id).with_for_update()).one()


def insert_deadline(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(m.deadlines.insert(), values)


def update_deadline(conn: Connection, deadline_id: int, values: dict[str, Any]) -> None:
    _update_by_id(conn, m.deadlines, deadline_id, values)


def deadlines_due(conn: Connection, now: datetime, limit: int) -> list[int]:
    """Running clocks that owe a notice by ``now`` (an index range scan)."""
    dl = m.deadlines
    query = (
        sa.select(dl.c.id)
        .where(dl.c.status == "running", dl.c.next_notice_at <= now)
        .order_by(dl.c.next_notice_at)
        .limit(limit)
    )
    return [int(i) for i in conn.execute(query).scalars()]


def notice_keys(conn: Connection, deadline_id: int) -> set[str]:
    dn = m.deadline_notices
    return set(conn.execute(sa.select(dn.c.key).where(dn.c.deadline_id == deadline_id)).scalars())


def insert_notice(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(m.deadline_notices.insert(), values)


def running_due_before(conn: Connection, until: datetime, limit: int) -> Sequence[Any]:
    """Incidents with a running clock due before ``until``, soonest first."""
    dl, inc = m.deadlines, m.incidents
    return conn.execute(
        sa.select(
            inc.c.ref,
            inc.c.playbook_id,
            inc.c.state,
            inc.c.title,
            inc.c.opened_at,
            dl.c.clock,
            dl.c.rule,
            dl.c.due_at,
        )
        .join(inc, inc.c.id == dl.c.incident_id)
        .where(dl.c.status == "running", dl.c.due_at <= until)
        .order_by(dl.c.due_at)
        .limit(limit)
    ).all()


def all_refs(conn: Connection) -> list[str]:
    inc = m.incidents
    return [str(r) for r in conn.execute(sa.select(inc.c.ref).order_by(inc.c.id)).scalars()]
