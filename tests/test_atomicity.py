"""A fault inside a command's write transaction leaves every table as it was.

The store function that writes a command's outbox rows, or its audit event, fails part-way
through the transaction, after the incident row (and any statement action) is written. Every
row of every table must then be as before, on SQLite and PostgreSQL, and the same command must
succeed once the fault is gone. Were a command's writes split into two transactions, the first
would have committed and these tests would fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.exc import OperationalError

from crisisflow import models
from crisisflow.app import App
from crisisflow.config import load_settings
from crisisflow.errors import StorageError

from .conftest import MEDIA_CRISIS_PATH, FakeClock, own, through

# --- the engine, reached only through these names (switch them when its API changes) ---------

# The store functions a fault is injected into, as ``module.function``.
OUTBOX_INSERT = "crisisflow.store_outbox.insert_outbox"
EVENT_INSERT = "crisisflow.store_incidents.insert_event"
# What a failed write surfaces as: the store's own error, never a half-written change.
WRITE_FAILED = StorageError


def build_app(workspace: Path, clock: FakeClock) -> App:
    return App(load_settings(workspace), clock=clock)


def open_incident(app: App) -> str:
    return app.incidents.open(
        "media-crisis", "Báo điện tử phản ánh sạt lở bờ kè Cửa Tùng", actor=app.identify()
    ).ref


def advance(
    app: App,
    ref: str,
    trigger: str,
    *,
    given: dict[str, str] | None = None,
    note: str | None = None,
    actor: str | None = None,
    confirm_unchanged: bool = False,
) -> None:
    app.incidents.advance(
        ref,
        trigger,
        given=given,
        note=note,
        actor=own(app, actor),
        confirm_unchanged=confirm_unchanged,
    )


def publish_statement(app: App, ref: str, kind: str, channel: str, *, actor: str) -> None:
    app.statements.publish(ref, kind, channel, actor=own(app, actor))


def press_list(app: App) -> list[str]:
    """The addresses of the workspace directory's press list."""
    directory = yaml.safe_load((app.workspace / "directory.yaml").read_text(encoding="utf-8"))
    return sorted(entry["email"] for entry in directory["press"])


def state_of(app: App, ref: str) -> str:
    return str(app.records.show(ref)["state"])


def messages_of(app: App, ref: str) -> list[tuple[str, str]]:
    """(template, recipient) of each message queued for the incident."""
    return [(m["template"], m["to"]) for m in app.records.show(ref)["messages"]]


def incident_versions(conn: Any) -> tuple[int, int]:
    """How many incidents there are and the sum of their versions, as ``conn`` sees them."""
    i = models.incidents
    count, versions = conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(i.c.version), 0))
    ).one()
    return int(count), int(versions)


def table_rows(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table."""
    with app.store.reading() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key))]
            for t in models.metadata.sorted_tables
        }


# --- the commands under test, each from the state it needs --------------------------------------


def walk(app: App, ref: str, steps: list[tuple[str, dict[str, Any]]]) -> None:
    for trigger, kwargs in steps:
        advance(app, ref, trigger, **kwargs)


UP_TO_APPROVED = through("approve")  # the Chairman has approved the initial information


def prepare(app: App, command: str) -> str | None:
    """The incident the command acts on, brought to where it can act (None: it opens one)."""
    if command == "open":
        return None
    ref = open_incident(app)
    walk(app, ref, MEDIA_CRISIS_PATH[:1] if command == "advance" else UP_TO_APPROVED)
    assert state_of(app, ref) == ("triage" if command == "advance" else "approved")
    return ref


def run(app: App, command: str, ref: str | None) -> str:
    """Run ``command``; return the incident's reference."""
    if command == "open":
        return open_incident(app)
    assert ref is not None
    if command == "advance":  # the verifying state sends the unit its task
        advance(app, ref, "verify", given={"field_unit": "ubnd-cua-tung"})
    elif command == "publish-step":  # the approved text to the press; the published state's mail
        advance(app, ref, "publish", given={"publish_channel": "press_release"}, actor="chu-tich")
    elif command == "statement-publish":  # the approved text to the press, by the command
        publish_statement(app, ref, "initial_info", "press_release", actor="chu-tich")
    return ref


def done(app: App, command: str, ref: str) -> None:
    """What the command, once it succeeds, has written."""
    mail = messages_of(app, ref)
    if command == "open":
        assert (
            state_of(app, ref) == "detected"
            and ("mail/new-incident", "vanphong@vinhlinh.example") in mail
        )
    elif command == "advance":
        assert (
            state_of(app, ref) == "verifying"
            and ("mail/task-verify", "cuatung@vinhlinh.example") in mail
        )
    elif command == "publish-step":
        assert state_of(app, ref) == "published"
        # the holding statement went to the press earlier; now the initial information
        assert sorted(to for template, to in mail if template == "press") == sorted(
            press_list(app) * 2
        )
        assert any(template == "mail/published" for template, _to in mail)
    else:
        assert state_of(app, ref) == "approved"
        # the holding statement went to the press earlier; now the initial information
        assert sorted(to for template, to in mail if template == "press") == sorted(
            press_list(app) * 2
        )


# --- the fault ----------------------------------------------------------------------------------


class Fault:
    """Makes a store function raise the database error a failing disk would; counts the calls
    it broke and notes whether, when it struck, the transaction had already written an
    incident row (the one the command opens or moves)."""

    def __init__(self, app: App, target: str) -> None:
        self.patch, self.target, self.fired = pytest.MonkeyPatch(), target, 0
        with app.store.reading() as conn:
            self.incidents = incident_versions(conn)
        self.after_incident_write = False

    def __enter__(self) -> Fault:
        def broken(conn: Any, *args: Any, **kwargs: Any) -> Any:
            self.fired += 1
            self.after_incident_write = incident_versions(conn) != self.incidents
            raise OperationalError("INSERT", {}, OSError("disk I/O error"))

        self.patch.setattr(self.target, broken)
        return self

    def __exit__(self, *exc: object) -> None:
        self.patch.undo()


@pytest.fixture
def app(workspace: Path) -> Iterator[App]:
    application = build_app(workspace, FakeClock())
    yield application
    application.close()


# (command, where the fault strikes, whether the incident row is written before it). A
# statement publish queues its press mail first, before the statement action and the event;
# its event fault is the one that strikes after the rest of the change is written.
CASES = [
    ("open", OUTBOX_INSERT, True),
    ("open", EVENT_INSERT, True),
    ("advance", OUTBOX_INSERT, True),
    ("advance", EVENT_INSERT, True),
    ("publish-step", OUTBOX_INSERT, True),
    ("publish-step", EVENT_INSERT, True),
    ("statement-publish", OUTBOX_INSERT, False),
    ("statement-publish", EVENT_INSERT, True),
]


@pytest.mark.parametrize(
    "command, target, after_incident_write",
    CASES,
    ids=[f"{c}-{t.rsplit('.', 1)[-1]}" for c, t, _a in CASES],
)
def test_a_fault_inside_the_write_leaves_every_table_as_it_was(
    app: App,
    command: str,
    target: str,
    after_incident_write: bool,
) -> None:
    ref = prepare(app, command)
    before = table_rows(app)
    with Fault(app, target) as fault, pytest.raises(WRITE_FAILED):
        run(app, command, ref)
    assert fault.fired == 1, "the fault was never reached: the test proves nothing"
    assert fault.after_incident_write == after_incident_write
    assert table_rows(app) == before

    done(app, command, run(app, command, ref))
