"""What one playbook step does to statements when it does several things at once: draft and
submit, approve and publish, reject and then publish, the same draft twice, a statement action
on entering a state, and who may set a fact that fills a role."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crisisflow import models
from crisisflow.app import App
from crisisflow.config import load_settings
from crisisflow.errors import InvalidInput, TransitionRefused

from .conftest import FakeClock, deputy_signs, own

TRIAL = """
id: trial
version: 1
title: {vi: Thử các bước, en: Trial steps}
reference_prefix: TR
roles:
  approver: {vi: Người duyệt, en: Approver}
  spokesperson: {vi: Người phát ngôn, en: Spokesperson}
  coordinator: {vi: Văn phòng, en: Coordinator}
facts:
  spokesperson: {type: person}
  publish_channel: {type: choice, choices: [portal]}
  verified_facts: {type: longtext}
statements:
  approver: approver
  publishers: [coordinator, spokesperson]
  authorisation_grants: [approver]
  press: [info]
  publish_facts: {channel: publish_channel}
  channels: {portal: {vi: Cổng thông tin điện tử, en: Web portal}}
templates:
  authorisation: statements/spokesperson-authorisation
initial: start
states:
  start: {}
  drafted:
    on_enter:
      - draft: {kind: info, template: statements/initial-info}
      - submit_statement: info
  doubled:
    on_enter:
      - draft: {kind: info, template: statements/initial-info}
  approving:
    on_enter:
      - approve_statement: info
  out: {final: true}
transitions:
  - {trigger: draft_and_submit, source: start, dest: drafted}
  - trigger: draft_twice
    source: start
    dest: doubled
    actions: [draft: {kind: info, template: statements/initial-info}]
  - {trigger: approve_on_entry, source: drafted, dest: approving}
  - trigger: approve_and_publish
    source: drafted
    dest: out
    requires: [publish_channel]
    actions: [approve_statement: info, publish_statement: info]
  - trigger: reject_and_publish
    source: [approving]
    dest: out
    requires: [note, publish_channel]
    actions: [reject_statement: info, publish_statement: info]
  - trigger: name_spokesperson
    source: [drafted, doubled]
    dest: out
    requires: [spokesperson]
  - {trigger: finish, source: [drafted, doubled, approving], dest: out}
"""


@pytest.fixture
def trial(app: App) -> App:
    (app.workspace / "playbooks" / "trial.yaml").write_text(TRIAL, encoding="utf-8")
    return app


def rows(app: App) -> dict[str, list[Any]]:
    with app.store.reading() as conn:
        return {
            t.name: sorted(map(repr, conn.execute(sa.select(t)).all()))
            for t in models.metadata.sorted_tables
        }


def opened(app: App) -> str:
    """A trial incident whose drafts leave no blank to fill (an approver signs none)."""
    facts = {"verified_facts": "Bờ kè sụt lún 15 m, không thiệt hại về người."}
    return app.incidents.open("trial", "Thử", given=facts, actor=app.identify()).ref


def test_a_step_that_drafts_and_submits_acts_on_what_it_drafted(trial: App) -> None:
    ref = opened(trial)
    trial.incidents.advance(ref, "draft_and_submit", actor=trial.identify())
    assert trial.statements.show(ref, "info")["status"] == "submitted"


def test_a_step_that_approves_then_publishes_publishes_the_approved_text(trial: App) -> None:
    ref = opened(trial)
    trial.incidents.advance(ref, "draft_and_submit", actor=trial.identify())
    outcome = trial.incidents.advance(
        ref,
        "approve_and_publish",
        given={"publish_channel": "portal"},
        actor=own(trial, "chu-tich"),
    )
    actions = [a["action"] for a in trial.statements.show(ref, "info")["actions"]]
    assert actions == ["submitted", "approved", "published"]
    messages = trial.records.show(ref)["messages"]
    assert [m["template"] for m in messages].count("press") == 2  # the directory's press list
    assert messages[0]["template"] == "press"  # the press copy is queued first
    event = trial.records.show(ref)["events"][-1]
    assert event["data"]["statements"] == [
        {"kind": "info", "action": "approved"},
        {"kind": "info", "action": "published"},
    ]
    assert outcome.to_state == "out"


def test_a_step_never_publishes_what_it_has_just_rejected(trial: App) -> None:
    ref = opened(trial)
    trial.incidents.advance(ref, "draft_and_submit", actor=trial.identify())
    trial.incidents.advance(ref, "approve_on_entry", actor=own(trial, "chu-tich"))
    before = rows(trial)
    with pytest.raises(TransitionRefused, match="rejected, not approved"):
        trial.incidents.advance(
            ref,
            "reject_and_publish",
            note="Sai số liệu",
            given={"publish_channel": "portal"},
            actor=own(trial, "chu-tich"),
        )
    assert rows(trial) == before


def test_the_same_statement_drafted_twice_in_one_step_is_drafted_once(trial: App) -> None:
    ref = opened(trial)
    outcome = trial.incidents.advance(ref, "draft_twice", actor=trial.identify())
    assert [d["kind"] for d in outcome.drafted] == ["info"]
    assert trial.statements.show(ref, "info")["version"] == 1


def test_an_authorisation_counts_for_an_approval_on_entering_a_state(
    trial: App, clock: FakeClock
) -> None:
    deputy_signs(trial)  # the text is laid out for the one who will approve it
    ref = opened(trial)
    trial.incidents.advance(ref, "draft_and_submit", actor=trial.identify())
    with pytest.raises(TransitionRefused, match="only the approver"):
        trial.incidents.advance(ref, "approve_on_entry", actor=own(trial, "pho-chu-tich"))
    trial.statements.authorise(
        ref, "pho-chu-tich", "30/11/2026 17:00", actor=own(trial, "chu-tich")
    )
    trial.incidents.advance(ref, "approve_on_entry", actor=own(trial, "pho-chu-tich"))
    assert trial.statements.show(ref, "info")["status"] == "approved"


def test_a_role_is_assigned_only_by_the_step_that_requires_it(trial: App) -> None:
    ref = opened(trial)
    before = rows(trial)
    with pytest.raises(InvalidInput, match="assigned by: name_spokesperson"):
        trial.incidents.advance(
            ref,
            "draft_and_submit",
            given={"spokesperson": "truong-phong-vhtt"},
            actor=own(trial, "truong-phong-vhtt"),
        )
    with pytest.raises(InvalidInput, match="is a role"):
        trial.incidents.open(
            "trial", "Thử", given={"spokesperson": "truc-ban"}, actor=trial.identify()
        )
    assert rows(trial) == before
    trial.incidents.advance(ref, "draft_and_submit", actor=trial.identify())
    trial.incidents.advance(
        ref, "name_spokesperson", given={"spokesperson": "pho-chu-tich"}, actor=trial.identify()
    )
    assert trial.records.show(ref)["facts"]["spokesperson"] == "pho-chu-tich"


def strip_policy(app: App) -> None:
    """Make every pinned playbook look as one pinned before statement policy became data."""
    versions = models.playbook_versions
    with app.store.writing() as conn:
        for row in conn.execute(sa.select(versions)).all():
            data = json.loads(row.compiled)
            data.pop("statements", None)
            data.pop("templates", None)
            conn.execute(
                versions.update()
                .where(versions.c.hash == row.hash)
                .values(compiled=json.dumps(data, ensure_ascii=False))
            )


def test_an_incident_pinned_before_the_policy_follows_the_workspaces(
    trial: App, workspace: Path, clock: FakeClock
) -> None:
    ref = opened(trial)
    trial.incidents.advance(ref, "draft_and_submit", actor=trial.identify())
    crisis = trial.incidents.open("media-crisis", "Thử", actor=trial.identify()).ref
    trial.incidents.advance(crisis, "triage", actor=trial.identify())  # its 24 h clock runs
    strip_policy(trial)
    later = App(load_settings(workspace), clock=clock)  # nothing cached from before
    later.statements.approve(ref, "info", actor=own(later, "chu-tich"))
    clock.advance(hours=30)
    assert any(n["ref"] == crisis for n in later.clocks.tick())  # reminders still go out
    (workspace / "playbooks" / "trial.yaml").unlink()
    gone = App(load_settings(workspace), clock=clock)
    with pytest.raises(TransitionRefused, match="none declared"):
        gone.statements.reject(ref, "info", "Sai", actor=own(gone, "chu-tich"))
    later.close()
    gone.close()


def test_the_approver_designates_a_spokesperson_where_no_step_assigns_one(app: App) -> None:
    with pytest.raises(InvalidInput, match="or by the approver"):
        app.incidents.open(
            "rumour", "Tin đồn", given={"spokesperson": "truong-phong-vhtt"}, actor=app.identify()
        )
    ref = app.incidents.open(
        "rumour", "Tin đồn", given={"spokesperson": "chu-tich"}, actor=own(app, "chu-tich")
    ).ref
    assert app.records.show(ref)["facts"]["spokesperson"] == "chu-tich"


def test_a_wrong_trigger_is_refused_for_its_state_not_for_its_facts(app: App) -> None:
    ref = app.incidents.open("rumour", "Tin đồn", actor=app.identify()).ref
    with pytest.raises(TransitionRefused, match="not allowed in state 'spotted'"):
        app.incidents.advance(
            ref, "check", given={"field_unit": "phong-vhtt"}, actor=app.identify()
        )


def test_only_the_office_or_the_chairman_assigns_the_spokesperson(app: App) -> None:
    ref = app.incidents.open("media-crisis", "Thử", actor=app.identify()).ref
    for trigger, kwargs in [
        ("triage", {}),
        ("verify", {"given": {"field_unit": "ubnd-cua-tung"}}),
        ("assess", {"given": {"verified_facts": "Đã xác minh.", "severity": "L3"}}),
    ]:
        app.incidents.advance(ref, trigger, actor=app.identify(), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TransitionRefused, match="holds none of these roles"):
        app.incidents.advance(
            ref,
            "assign_spokesperson",
            given={"spokesperson": "truong-phong-vhtt"},
            actor=own(app, "truong-phong-vhtt"),
        )
    app.incidents.advance(
        ref, "assign_spokesperson", given={"spokesperson": "chu-tich"}, actor=app.identify()
    )


def test_a_statement_change_is_plain_data(trial: App) -> None:
    ref = opened(trial)
    trial.incidents.advance(ref, "draft_and_submit", actor=trial.identify())
    change = trial.statements.approve(ref, "info", actor=own(trial, "chu-tich"))
    assert (change.ref, change.kind) == (ref, "info")
    assert json.loads(json.dumps(change))["action"] == "approved"


def test_a_clock_that_cannot_be_notified_does_not_hold_up_the_others(
    app: App, workspace: Path, clock: FakeClock
) -> None:
    from click.testing import CliRunner

    from crisisflow.cli import cli

    crisis = app.incidents.open("media-crisis", "Thử", actor=app.identify()).ref
    app.incidents.advance(crisis, "triage", actor=app.identify())
    rumour = app.incidents.open("rumour", "Tin đồn", actor=app.identify()).ref
    app.incidents.advance(rumour, "assess", actor=app.identify())
    checking = {"spread": "high", "field_unit": "phong-vhtt"}
    app.incidents.advance(rumour, "check", given=checking, actor=app.identify())
    strip_policy(app)  # both pinned without templates; the workspace's media-crisis is broken:
    (workspace / "playbooks" / "media-crisis.yaml").write_text("id: media-crisis\n", "utf-8")
    clock.advance(hours=30)
    env = {"CRISISFLOW_HOME": str(workspace)}
    later = App(load_settings(workspace), clock=clock)
    problems: list[Exception] = []
    sent = later.clocks.tick(on_problem=problems.append)
    assert {n["ref"] for n in sent} == {rumour}  # the rumour's notices went out
    assert problems and "names no reminder template" in str(problems[0])
    dl, inc = models.deadlines, models.incidents
    with later.store.reading() as conn:
        broken = conn.execute(
            sa.select(dl.c.next_notice_at)
            .join(inc, inc.c.id == dl.c.incident_id)
            .where(inc.c.ref == crisis)
        ).scalar_one()
    assert broken > clock.now  # put back: no longer at the head of the queue
    result = CliRunner().invoke(cli, ["tick"], env=env)
    assert "notice(s) queued" in result.stdout
    later.close()


def test_the_review_a_step_drafts_lists_the_decisions_entered_on_behalf(app: App) -> None:
    """The after-action report a rumour's review step drafts names who decided by phone and
    who entered it; the list is read only for a template that shows it."""
    ref = app.incidents.open("rumour", "Tin đồn vỡ đê", actor=app.identify()).ref
    app.incidents.advance(ref, "assess", actor=app.identify())
    given = {"spread": "high", "field_unit": "ubnd-cua-tung"}
    app.incidents.advance(ref, "check", given=given, actor=app.identify())
    facts = {"verified_facts": "Đê vẫn an toàn."}
    app.incidents.advance(ref, "decide", given=facts, actor=app.identify())
    by_phone = "Chủ tịch chỉ đạo qua điện thoại: chỉ theo dõi."
    on_behalf = app.identify("chu-tich", on_behalf=by_phone)
    app.incidents.advance(ref, "monitor_only", note=by_phone, actor=on_behalf)
    app.incidents.advance(ref, "close", actor=app.identify())
    app.incidents.advance(ref, "review", note="Họp rút kinh nghiệm.", actor=app.identify())
    report = app.statements.show(ref, "after_action_report")["text"]
    assert by_phone in report
    assert app.directory.people["truc-ban"].name in report
