"""Storage: migrations build exactly the tables the code declares, on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from crisisflow import models, store
from crisisflow.errors import StorageError


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


def test_unreachable_database_is_a_one_line_storage_error() -> None:
    database = store.Store("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    try:
        database.check_schema()
    except StorageError as exc:
        assert "secret" not in str(exc) and "\n" not in str(exc)
    finally:
        database.dispose()


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
    assert database.upgrade() == ("0001", store.SCHEMA_HEAD)
    with database.reading() as conn:
        row = conn.execute(sa.select(models.outbox)).one()
        title = conn.execute(sa.select(models.incidents.c.title)).scalar()
    assert (row.message_id, row.sender, row.claimed_by, title) == ("<m@x>", "", None, "Tiêu đề")
    database.dispose()
