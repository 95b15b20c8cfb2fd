"""Storage: migrations build exactly the tables the code declares, on both backends, and a
database that cannot be used says why in one line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event as sa_event
from sqlalchemy.pool import Pool

from crisisflow import models, store
from crisisflow.errors import StorageError

from .conftest import PG_ENV


def test_schema_head_constant_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(store.MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == store.SCHEMA_HEAD


def test_migrations_build_the_declared_tables(db_url: str) -> None:
    database = store.Store(db_url)
    assert database.upgrade() == (None, store.SCHEMA_HEAD)
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.metadata)
    assert diff == []
    assert database.upgrade() == (store.SCHEMA_HEAD, store.SCHEMA_HEAD)  # idempotent
    database.dispose()


def test_commands_refuse_a_database_without_the_schema(db_url: str) -> None:
    database = store.Store(db_url)
    try:
        database.check_schema()
    except StorageError as exc:
        assert "crisisflow db upgrade" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("an empty database passed the schema check")
    finally:
        database.dispose()


def one_line_storage_error(url: str, *, write: bool = False) -> str:
    """The message of the StorageError that checking (or writing to) ``url`` raises."""
    database = store.Store(url)
    try:
        with pytest.raises(StorageError) as raised:
            if write:
                with database.writing() as conn:
                    conn.execute(sa.text("CREATE TABLE filler (x BLOB)"))
                    conn.execute(sa.text("INSERT INTO filler VALUES (zeroblob(200000))"))
            else:
                database.check_schema()
    finally:
        database.dispose()
    message = str(raised.value)
    assert "\n" not in message and message.strip() == message
    return message


def test_unreachable_database_is_a_one_line_storage_error() -> None:
    message = one_line_storage_error("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    assert "cannot connect to PostgreSQL at 127.0.0.1:1: connection refused" in message
    assert "is the server running?" in message
    assert "secret" not in message and "db upgrade" not in message


def test_refused_login_names_the_user_never_the_password() -> None:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"needs {PG_ENV}")
    url = sa.make_url(base).set(username="nobody_here", password="pw-s3cret")
    message = one_line_storage_error(url.render_as_string(hide_password=False))
    assert "refused user nobody_here" in message and "database_url" in message
    assert "pw-s3cret" not in message and "db upgrade" not in message


def test_a_file_that_is_not_sqlite_says_so_and_is_left_alone(tmp_path: Path) -> None:
    file = tmp_path / "crisisflow.db"
    file.write_bytes(b"name,title\nchu-tich,Chu tich\n" * 200)
    before = file.read_bytes()
    message = one_line_storage_error(f"sqlite:///{file}")
    assert message.startswith(f"{file} is not an SQLite database") and "db upgrade" not in message
    assert file.read_bytes() == before


def test_a_truncated_sqlite_file_is_called_damaged(tmp_path: Path) -> None:
    file = tmp_path / "crisisflow.db"
    database = store.Store(f"sqlite:///{file}")
    database.upgrade()
    database.dispose()
    os.truncate(file, file.stat().st_size // 2)
    message = one_line_storage_error(f"sqlite:///{file}")
    assert message.startswith(f"{file} is damaged (truncated or corrupt)")
    assert "backup" in message and "db upgrade" not in message


def test_a_full_disk_is_named(tmp_path: Path) -> None:
    """SQLITE_FULL for real: the file may not grow past the pages it has (max_page_count)."""
    file = tmp_path / "crisisflow.db"
    database = store.Store(f"sqlite:///{file}")
    database.upgrade()
    database.dispose()

    def no_room(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA max_page_count = 1")  # = the pages it has now

    sa_event.listen(Pool, "connect", no_room)
    try:
        message = one_line_storage_error(f"sqlite:///{file}", write=True)
    finally:
        sa_event.remove(Pool, "connect", no_room)
    assert message == f"cannot write to {file}: the disk is full; free some space and try again"


def test_a_missing_folder_is_named_and_not_created(tmp_path: Path) -> None:
    file = tmp_path / "nowhere" / "crisisflow.db"
    for write in (False, True):  # the schema check, then a migration's connection
        message = one_line_storage_error(f"sqlite:///{file}", write=write)
        assert f"the folder {file.parent} does not exist" in message
        assert "db upgrade" not in message
    assert not file.parent.exists()


def test_a_missing_sqlite_file_is_not_created_by_the_check(tmp_path: Path) -> None:
    file = tmp_path / "crisisflow.db"
    message = one_line_storage_error(f"sqlite:///{file}")
    assert message.startswith(f"{file} does not exist; run `crisisflow db upgrade`")
    assert not file.exists()


def test_a_folder_in_place_of_the_database_file_is_named(tmp_path: Path) -> None:
    message = one_line_storage_error(f"sqlite:///{tmp_path}")
    assert message == f"{tmp_path} is a folder, not a database file; check database_url"


def test_a_read_only_database_is_named(tmp_path: Path) -> None:
    file = tmp_path / "crisisflow.db"
    database = store.Store(f"sqlite:///{file}")
    database.upgrade()
    database.dispose()
    message = one_line_storage_error(f"sqlite:///file:{file}?mode=ro&uri=true", write=True)
    assert message.startswith(f"cannot write to file:{file}: it is read-only")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes whatever the permissions")
def test_a_database_without_permission_is_named(tmp_path: Path) -> None:
    file = tmp_path / "crisisflow.db"
    database = store.Store(f"sqlite:///{file}")
    database.upgrade()
    database.dispose()
    file.chmod(0)
    message = one_line_storage_error(f"sqlite:///{file}")
    assert message.startswith(f"cannot open {file}: no permission")


def test_a_schema_newer_than_the_code_says_so(db_url: str) -> None:
    database = store.Store(db_url)
    database.upgrade()
    with database.writing() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    database.dispose()
    message = one_line_storage_error(db_url)
    assert "has schema 0099, newer than this crisisflow knows" in message
    assert "db upgrade" not in message


def test_sqlite_connections_are_durable_and_use_wal(tmp_path: object) -> None:
    database = store.Store(f"sqlite:///{tmp_path}/x.db")
    with database.engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
        }
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 2,
        "busy_timeout": 10000,
    }
    database.dispose()
    assert sa.make_url(database.url).database.endswith("x.db")  # type: ignore[union-attr]


def test_upgrade_from_the_first_schema_keeps_every_row(db_url: str) -> None:
    database = store.Store(db_url)
    assert database.upgrade("0001") == (None, "0001")
    now = "2026-11-26 01:00:00"
    with database.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO playbook_versions (hash, playbook_id, version, filename, source, "
                "compiled, created_at) VALUES ('h', 'media-crisis', 1, 'f', 's', '{}', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO incidents (ref, playbook_id, playbook_hash, state, title, facts, "
                "stamps, version, head_hash, opened_at, updated_at) VALUES ('KC-2026-0001', "
                "'media-crisis', 'h', 'detected', 'Tiêu đề', '{}', '{}', 1, 'x', :now, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO outbox (incident_id, dedupe_key, message_id, recipient, "
                "recipient_name, subject, template, raw, status, attempts, next_attempt_at, "
                "created_at) VALUES "
                "(1, 'k', '<m@x>', 'a@x.example', 'A', 'S', 't', :raw, 'pending', 0, :now, :now)"
            ),
            {"now": now, "raw": b"raw"},
        )
        # A statement and its version: rebuilding the statements table (SQLite has no ALTER
        # for constraints) must keep the rows that refer to it.
        conn.execute(
            sa.text(
                "INSERT INTO statements (incident_id, kind, created_at) "
                "VALUES (1, 'initial_info', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO statement_versions (statement_id, number, title, text, text_hash, "
                "lang, author, created_at) VALUES (1, 1, 'T', 'Văn bản', 'x', 'vi', 'a', :now)"
            ),
            {"now": now},
        )
    assert database.upgrade() == ("0001", store.SCHEMA_HEAD)
    with database.reading() as conn:
        row = conn.execute(sa.select(models.outbox)).one()
        title = conn.execute(sa.select(models.incidents.c.title)).scalar()
        statement = conn.execute(sa.select(models.statements)).one()
        text = conn.execute(sa.select(models.statement_versions.c.text)).scalar()
    assert (row.message_id, row.sender, row.claimed_by, title) == ("<m@x>", "", None, "Tiêu đề")
    assert (statement.kind, statement.series, text) == ("initial_info", 1, "Văn bản")
    database.dispose()
