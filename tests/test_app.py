"""The use cases, on SQLite and PostgreSQL: open, advance, note, show, list."""

from __future__ import annotations

import email
import threading
import time
from email import policy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crisisflow import audit, machine, models
from crisisflow.app import App
from crisisflow.config import load_settings
from crisisflow.errors import (
    ConflictError,
    InvalidInput,
    NotFoundError,
    TemplateError,
    TransitionRefused,
)

from .conftest import MEDIA_CRISIS_PATH, FakeClock, acting, own, through, walk

TITLE = "Báo điện tử phản ánh sạt lở bờ kè Cửa Tùng"


def snapshot(app: App) -> dict[str, Any]:
    """Every row of every table, to prove a refused command changed nothing."""
    with app.store.reading() as conn:
        return {
            t.name: sorted(map(repr, conn.execute(sa.select(t)).all()))
            for t in models.metadata.sorted_tables
        }


def test_open_gives_reference_state_event_and_mail(app: App) -> None:
    outcome = app.incidents.open(
        "media-crisis", TITLE, given={"channel": "social"}, actor=app.identify()
    )
    assert outcome.ref == "KC-2026-0001"
    assert outcome.to_state == "detected"
    assert [q["to"] for q in outcome.queued] == ["vanphong@vinhlinh.example"]
    assert [n["trigger"] for n in outcome.next] == ["triage"]
    data = app.records.show(outcome.ref)
    assert data["facts"] == {"channel": "social", "severity": "L2", "province_escalation": False}
    assert [e["kind"] for e in data["events"]] == ["opened"]
    assert data["messages"][0]["status"] == "pending"
    assert (
        app.incidents.open("media-crisis", "Tin thứ hai", actor=app.identify()).ref
        == "KC-2026-0002"
    )


def test_open_records_when_it_occurred_in_local_time(app: App) -> None:
    ref = app.incidents.open(
        "media-crisis", TITLE, occurred_at="26/11/2026 07:45", actor=app.identify()
    ).ref
    assert app.records.show(ref)["timestamps"]["occurred_at"] == "2026-11-26T00:45:00+00:00"


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"given": {"colour": "red"}}, InvalidInput),
        ({"given": {"severity": "L9"}}, InvalidInput),
        ({"given": {"source_url": "javascript:alert(1)"}}, InvalidInput),
        ({"given": {"field_unit": "no-such-unit"}}, InvalidInput),
        ({"occurred_at": "yesterday-ish"}, InvalidInput),
        ({"occurred_at": "2027-01-01 00:00"}, InvalidInput),
        ({"actor": "nobody"}, NotFoundError),
    ],
)
def test_open_refuses_bad_input_and_changes_nothing(
    app: App, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    before = snapshot(app)
    with pytest.raises(error):
        app.incidents.open("media-crisis", TITLE, **acting(app, kwargs))
    assert snapshot(app) == before


@pytest.mark.parametrize("title", ["Tiêu đề\r\nBcc: victim@example.com", "", "   "])
def test_open_refuses_titles_that_could_inject_headers(app: App, title: str) -> None:
    with pytest.raises(InvalidInput):
        app.incidents.open("media-crisis", title, actor=app.identify())


def test_open_unknown_playbook_names_the_known_ones(app: App) -> None:
    with pytest.raises(NotFoundError, match="media-crisis"):
        app.incidents.open("nope", TITLE, actor=app.identify())


def test_whole_media_crisis_path_reaches_the_final_state(app: App, clock: FakeClock) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    for trigger, kwargs in MEDIA_CRISIS_PATH:
        clock.advance(minutes=10)
        app.incidents.advance(ref, trigger, **acting(app, kwargs))
    data = app.records.show(ref)
    assert data["state"] == "reviewed" and data["final"] and data["allowed"] == []
    assert data["closed_at"] is not None
    kinds = {s["kind"]: len(s["versions"]) for s in data["statements"]}
    # Drafted once each, never overwritten; the review drafts the after-action report.
    assert kinds == {"holding_statement": 1, "initial_info": 1, "after_action_report": 1}
    assert set(data["timestamps"]) >= {
        "received_at",
        "impact_determined_at",
        "holding_published_at",
        "published_at",
        "closed_at",
    }
    assert len(data["events"]) == 1 + len(MEDIA_CRISIS_PATH)
    assert app.records.list_incidents() == [] and [
        r["ref"] for r in app.records.list_incidents(include_closed=True)
    ] == [ref]


def test_advance_refuses_trigger_from_wrong_state_and_says_what_is_allowed(app: App) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    before = snapshot(app)
    with pytest.raises(TransitionRefused, match="allowed now: triage"):
        app.incidents.advance(ref, "approve", actor=own(app, "chu-tich"))
    assert snapshot(app) == before


def test_advance_refuses_missing_required_input(app: App) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    app.incidents.advance(ref, "triage", actor=app.identify())
    before = snapshot(app)
    with pytest.raises(TransitionRefused, match="--set field_unit=VALUE"):
        app.incidents.advance(ref, "verify", actor=app.identify())
    with pytest.raises(TransitionRefused, match="--note"):
        app.incidents.advance(ref, "dismiss", actor=app.identify())
    assert snapshot(app) == before


def test_advance_refuses_when_actor_lacks_the_role(app: App) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    walk(app, ref, through("submit"))  # up to approval
    before = snapshot(app)
    with pytest.raises(TransitionRefused, match="only the approver"):
        app.incidents.advance(ref, "approve", actor=own(app, "truc-ban"))
    assert snapshot(app) == before
    app.incidents.advance(ref, "approve", actor=own(app, "chu-tich"))


def test_person_named_in_a_role_fact_fills_that_role(app: App) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    # The Vice-Chairman speaks for this matter by the Chairman's written authorisation.
    app.statements.authorise(ref, "pho-chu-tich", "24h", actor=own(app, "chu-tich"))
    steps = [
        s
        if s[0] != "assign_spokesperson"
        else ("assign_spokesperson", {"given": {"spokesperson": "pho-chu-tich"}})
        for s in through("approve_holding")
    ]
    walk(app, ref, steps)
    out = app.incidents.advance(
        ref,
        "publish_holding",
        actor=own(app, "pho-chu-tich"),
        given={"publish_channel": "portal"},
    )
    assert out.to_state == "drafting"


def test_advance_with_stale_expect_state_is_a_conflict(app: App) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    app.incidents.advance(ref, "triage", actor=app.identify())
    with pytest.raises(ConflictError, match="not 'detected'"):
        app.incidents.advance(
            ref,
            "verify",
            given={"field_unit": "ubnd-ho-xa"},
            expect_state="detected",
            actor=app.identify(),
        )


def test_unknown_incident_is_not_found(app: App) -> None:
    with pytest.raises(NotFoundError, match="KC-2026-0999"):
        app.incidents.advance("KC-2026-0999", "triage", actor=app.identify())
    with pytest.raises(NotFoundError):
        app.records.show("KC-2026-0999")


def test_task_mail_goes_to_the_unit_chosen_for_the_incident(app: App) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    app.incidents.advance(ref, "triage", actor=app.identify())
    out = app.incidents.advance(
        ref, "verify", given={"field_unit": "ubnd-cua-tung"}, actor=app.identify()
    )
    assert [q["to"] for q in out.queued] == ["cuatung@vinhlinh.example"]


def test_queued_mail_is_composed_once_with_stable_headers(app: App) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    with app.store.reading() as conn:
        row = conn.execute(sa.select(models.outbox)).one()
    msg = email.message_from_bytes(row.raw, policy=policy.default)
    assert msg["Message-ID"] == row.message_id
    assert ref in msg["Subject"]
    assert msg["To"].addresses[0].addr_spec == "vanphong@vinhlinh.example"
    assert msg["References"] == f"<incident.{ref.lower()}@vinhlinh.example>"
    assert TITLE in msg.get_body(("plain",)).get_content()
    assert TITLE in msg.get_body(("html",)).get_content()
    assert row.sender == "crisisflow@vinhlinh.example"


def test_render_error_in_a_workspace_template_changes_nothing(app: App, workspace: Path) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    app.incidents.advance(ref, "triage", actor=app.identify())
    (workspace / "templates/mail/task-verify.vi.txt").write_text(
        "{% block subject %}{{ incident.nope }}{% endblock %}{% block body %}x{% endblock %}",
        encoding="utf-8",
    )
    before = snapshot(app)
    with pytest.raises(TemplateError, match=r"task-verify\.vi\.txt:1"):
        app.incidents.advance(
            ref, "verify", given={"field_unit": "ubnd-ho-xa"}, actor=app.identify()
        )
    assert snapshot(app) == before


def test_running_incident_keeps_its_pinned_playbook(app: App, workspace: Path) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    path = workspace / "playbooks/media-crisis.yaml"
    path.write_text(
        path.read_text(encoding="utf-8")
        .replace("trigger: triage", "trigger: take_up")
        .replace("version: 6", "version: 7"),
        encoding="utf-8",
    )
    app.incidents.advance(
        ref, "triage", actor=app.identify()
    )  # the old trigger still works for the old incident
    new_ref = app.incidents.open("media-crisis", "Vụ việc mới", actor=app.identify()).ref
    assert app.records.show(new_ref)["allowed"][0]["trigger"] == "take_up"
    path.unlink()
    app.incidents.advance(ref, "verify", given={"field_unit": "ubnd-ho-xa"}, actor=app.identify())
    assert app.records.show(ref)["playbook"]["version"] == 6


def test_notes_join_the_audit_chain_and_tampering_is_detected(app: App) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    app.incidents.advance(
        ref, "triage", note="Chánh Văn phòng chỉ đạo xử lý.", actor=app.identify()
    )
    app.incidents.note(ref, "Phóng viên gọi hỏi lúc 9 giờ.", actor=app.identify())
    events = app.records.show(ref)["events"]
    with app.store.reading() as conn:
        rows = [
            r._mapping for r in conn.execute(sa.select(models.events).order_by(models.events.c.seq))
        ]
    assert [e["kind"] for e in events] == ["opened", "transition", "note"]
    assert audit.first_broken(ref, rows) is None
    with app.store.writing() as conn:
        conn.execute(
            models.events.update().where(models.events.c.seq == 2).values(note="Đã sửa lén")
        )
    with app.store.reading() as conn:
        rows = [
            r._mapping for r in conn.execute(sa.select(models.events).order_by(models.events.c.seq))
        ]
    assert audit.first_broken(ref, rows) == 2


def test_two_officers_advancing_at_once_are_served_one_after_the_other(
    workspace: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first holds the incident while it decides; the second waits, then finds the state
    the first left and is refused for it. Read outside the lock, both would decide from
    'detected' and the second would fail late, on the version check."""
    first = App(load_settings(workspace), clock=clock)
    ref = first.incidents.open("media-crisis", TITLE, actor=first.identify()).ref
    real_fire = machine.Machines.fire
    deciding = threading.Event()

    def slow_fire(self: machine.Machines, *args: Any) -> Any:
        if not deciding.is_set():
            deciding.set()
            time.sleep(0.5)  # the other officer starts meanwhile
        return real_fire(self, *args)

    monkeypatch.setattr(machine.Machines, "fire", slow_fire)
    results: list[object] = []

    def officer(wait: bool) -> None:
        app = App(load_settings(workspace), clock=clock)
        try:
            if wait:
                deciding.wait(10)
            results.append(app.incidents.advance(ref, "triage", actor=app.identify()).to_state)
        except (TransitionRefused, ConflictError) as exc:
            results.append(exc)
        finally:
            app.close()

    threads = [threading.Thread(target=officer, args=(wait,)) for wait in (False, True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results[0] == "triage", results
    assert isinstance(results[1], TransitionRefused), results
    assert "not allowed in state 'triage'" in str(results[1])
    assert len(first.records.show(ref)["events"]) == 2
    first.close()


def test_concurrent_notes_are_all_kept(workspace: Path, clock: FakeClock) -> None:
    first = App(load_settings(workspace), clock=clock)
    ref = first.incidents.open("media-crisis", TITLE, actor=first.identify()).ref
    start = threading.Barrier(8, timeout=10)
    errors: list[Exception] = []

    def officer(number: int) -> None:
        app = App(load_settings(workspace), clock=clock)
        try:
            start.wait()
            app.incidents.note(ref, f"Ghi chú số {number}", actor=app.identify())
        except Exception as exc:
            errors.append(exc)
        finally:
            app.close()

    threads = [threading.Thread(target=officer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    events = first.records.show(ref)["events"]
    assert sorted(e["note"] for e in events if e["kind"] == "note") == sorted(
        f"Ghi chú số {n}" for n in range(8)
    )
    assert first.records.audit(ref)[0]["broken_at"] is None
    first.close()
