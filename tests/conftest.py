"""Shared fixtures: every database test runs on a real SQLite file and on the real PostgreSQL
named by CRISISFLOW_TEST_POSTGRES_URL (skipped, with a message, when it is not set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crisisflow import actor as actors
from crisisflow.actor import Actor
from crisisflow.app import App
from crisisflow.config import load_settings
from crisisflow.workspace import init

PG_ENV = "CRISISFLOW_TEST_POSTGRES_URL"
START = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 08:00 in Vĩnh Linh


class FakeClock:
    """Time for the engine under test: it moves only when a test says so."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(
            f"PostgreSQL tests need {PG_ENV}, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def workspace(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace made by `crisisflow init`, its database at ``db_url``."""
    monkeypatch.setenv("CRISISFLOW_DATABASE_URL", db_url)
    monkeypatch.delenv("CRISISFLOW_HOME", raising=False)
    report = init(tmp_path / "ws")
    return report.workspace


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(workspace: Path, clock: FakeClock) -> Iterator[App]:
    application = App(load_settings(workspace), clock=clock)
    yield application
    application.close()


def own(app: App, person: str | None) -> Actor:
    """``person`` acting as themselves, from the OS account bound to them (``login:``); None:
    whoever the command line identifies (the workspace's ``actor`` setting)."""
    if person is None:
        return app.identify()
    return Actor(app.directory.person(person).id, actors.CLI_ACCOUNT)


def bind_login(workspace: Path, person: str | None) -> None:
    """Bind the OS account running the tests to ``person`` in the workspace's directory (None:
    to nobody), as an office binds each person's own computer account."""
    import yaml

    from crisisflow.app import os_account

    path = workspace / "directory.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for pid, spec in data["people"].items():
        spec.pop("login", None)
        if pid == person:
            spec["login"] = os_account()
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def acting(app: App, kwargs: dict[str, Any]) -> dict[str, Any]:
    """A test's keyword arguments with ``actor`` (a person id, or absent for the workspace's
    own actor) turned into that person acting as themselves."""
    chosen = dict(kwargs)
    chosen["actor"] = own(app, chosen.pop("actor", None))
    return chosen


def walk(app: App, ref: str, steps: list[tuple[str, dict[str, object]]]) -> None:
    """Advance ``ref`` through ``(trigger, kwargs)`` steps."""
    for trigger, kwargs in steps:
        app.incidents.advance(ref, trigger, **acting(app, kwargs))


# The media-crisis playbook from detection to review, as the duty officer would run it.
MEDIA_CRISIS_PATH: list[tuple[str, dict[str, object]]] = [
    ("triage", {}),
    ("verify", {"given": {"field_unit": "ubnd-cua-tung"}}),
    (
        "assess",
        {
            "given": {
                "verified_facts": "Bờ kè sụt lún 15 m, không thiệt hại về người.",
                "severity": "L3",
            }
        },
    ),
    ("assign_spokesperson", {"given": {"spokesperson": "chu-tich"}}),
    ("hold", {}),
    ("submit_holding", {}),
    ("approve_holding", {"actor": "chu-tich"}),
    ("publish_holding", {"given": {"publish_channel": "portal"}}),
    ("submit", {}),
    ("reject", {"note": "Bổ sung số hộ bị ảnh hưởng.", "actor": "chu-tich"}),
    ("submit", {}),
    # The Chairman reads the returned text again and approves it unchanged, saying so.
    ("approve", {"actor": "chu-tich", "confirm_unchanged": True}),
    ("publish", {"given": {"publish_channel": "press_release"}, "actor": "chu-tich"}),
    ("monitor", {}),
    ("close", {}),
    ("review", {"note": "Đạt mục tiêu thời gian."}),
]


def through(trigger: str, nth: int = 1) -> list[tuple[str, dict[str, object]]]:
    """MEDIA_CRISIS_PATH up to and including the ``nth`` firing of ``trigger``."""
    at = [i for i, (t, _) in enumerate(MEDIA_CRISIS_PATH) if t == trigger][nth - 1]
    return MEDIA_CRISIS_PATH[: at + 1]


def deputy_signs(app: App) -> None:
    """Make the Vice-Chairman the directory's only signer (KT. CHỦ TỊCH / PHÓ CHỦ TỊCH), so that
    drafts are laid out for her signature."""
    directory = app.workspace / "directory.yaml"
    text = directory.read_text(encoding="utf-8")
    directory.write_text(text.replace("    - {person: chu-tich, as: head}\n", "", 1), "utf-8")
    app.reread_directory()
