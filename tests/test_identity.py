"""Who acts on the command line, through the real CLI: the person bound to the OS account acts
as themselves; --as lends no rights; --as --on-behalf --note records another person's own
decision, which show, the audit, the after-action review and the yearly report set apart."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from crisisflow.app import App
from crisisflow.app.records import on_behalf_decisions
from crisisflow.cli import cli
from crisisflow.config import load_settings
from crisisflow.drafting import IncidentView

from .conftest import bind_login
from .test_bad_input import snapshot

TITLE = "Mạng xã hội lan truyền tin sạt lở bờ kè Cửa Tùng"
BY_PHONE = "Chủ tịch duyệt qua điện thoại lúc 10:40"
PUBLISHED_BY_PHONE = "Chủ tịch đồng ý phát hành qua điện thoại lúc 11:05"


def allow_on_behalf(workspace: Path) -> None:
    """The workspace lets approvals and publications be entered on behalf (its file says so:
    the environment may not)."""
    settings = workspace / "crisisflow.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8") + 'on_behalf_approvals = "allowed"\n',
        encoding="utf-8",
    )


# The duty officer's steps from detection to a statement awaiting the Chairman's approval.
TO_APPROVAL = [
    ["triage"],
    ["verify", "--set", "field_unit=ubnd-cua-tung"],
    ["assess", "--set", "verified_facts=Bờ kè sụt lún 15 m.", "--set", "severity=L3"],
    ["assign_spokesperson", "--set", "spokesperson=chu-tich"],
    ["skip_holding", "--note", "Đã có kết quả xác minh, soạn ngay thông tin ban đầu"],
    ["submit"],
]
EVENT_KEYS = {"seq", "at", "actor", "kind", "trigger", "from", "to", "note", "data", "hash"}


def run(workspace: Path, *args: str, code: int = 0, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(
        cli, list(args), env={"CRISISFLOW_HOME": str(workspace), **(env or {})}
    )
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.output
    return result


def error_line(result: Result) -> str:
    """A refusal's one line of error, with nothing on stdout."""
    lines = result.stderr.strip().splitlines()
    assert result.stdout == "" and len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def show(workspace: Path, ref: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(run(workspace, "show", ref, "--json").stdout)
    return data


@pytest.fixture
def ref(workspace: Path) -> str:
    """An incident whose statement awaits the Chairman's approval, walked by the duty officer
    (the workspace's `actor` setting) with the OS account bound to nobody."""
    bind_login(workspace, None)
    opened = run(workspace, "open", "media-crisis", "--title", TITLE, "--json")
    reference = str(json.loads(opened.stdout)["ref"])
    for step in TO_APPROVAL:
        run(workspace, "advance", reference, *step)
    assert show(workspace, reference)["state"] == "approval"
    return reference


def test_the_account_bound_to_the_chairman_approves_as_him(workspace: Path, ref: str) -> None:
    bind_login(workspace, "chu-tich")
    run(workspace, "advance", ref, "approve")
    data = show(workspace, ref)
    last = data["events"][-1]
    assert data["state"] == "approved" and last["trigger"] == "approve"
    assert last["actor"] == "chu-tich" and last["data"]["via"] == "cli-account"
    assert "entered_by" not in last["data"] and "on_behalf" not in last["data"]
    assert "entered by" not in run(workspace, "show", ref).stdout


def test_as_lends_the_duty_officer_no_right_to_approve(workspace: Path, ref: str) -> None:
    before = snapshot(workspace)
    refused = run(workspace, "advance", ref, "approve", "--as", "chu-tich", code=6)
    line = error_line(refused)
    assert "--as lends no rights" in line and "--on-behalf" in line and "--note" in line
    assert snapshot(workspace) == before


@pytest.mark.parametrize(
    "command",
    [
        ["statement", "approve", "{ref}", "initial_info"],
        ["statement", "submit", "{ref}", "initial_info"],
        ["ack", "{ref}", "--unit", "ubnd-cua-tung"],
    ],
    ids=["statement-approve", "statement-submit", "ack"],
)
def test_on_behalf_without_a_note_says_what_to_add_and_changes_nothing(
    workspace: Path, ref: str, command: list[str]
) -> None:
    before = snapshot(workspace)
    args = [part.format(ref=ref) for part in command]
    refused = run(workspace, *args, "--as", "chu-tich", "--on-behalf", code=8)
    assert "--on-behalf needs --note" in error_line(refused)
    refused = run(workspace, *args, "--on-behalf", "--note", BY_PHONE, code=8)
    assert "--on-behalf needs --as PERSON" in error_line(refused)
    assert snapshot(workspace) == before


def test_on_behalf_approval_is_refused_unless_the_workspace_allows_it(
    workspace: Path, ref: str
) -> None:
    before = snapshot(workspace)
    on_behalf = ["--as", "chu-tich", "--on-behalf", "--note", BY_PHONE]
    refused = run(workspace, "advance", ref, "approve", *on_behalf, code=6)
    assert "on_behalf_approvals" in error_line(refused)
    assert snapshot(workspace) == before
    allow_on_behalf(workspace)
    run(workspace, "advance", ref, "approve", *on_behalf)
    data = show(workspace, ref)
    last = data["events"][-1]
    assert data["state"] == "approved" and set(last) == EVENT_KEYS
    assert last["actor"] == "chu-tich" and last["note"] == BY_PHONE
    assert last["data"]["via"] == "cli-as"
    assert last["data"]["entered_by"] == "truc-ban" and last["data"]["on_behalf"] == BY_PHONE


def approved_and_published_on_behalf(workspace: Path, ref: str) -> None:
    """The Chairman approves and publishes by phone; the duty officer enters both for him."""
    allow_on_behalf(workspace)
    run(
        workspace,
        *["advance", ref, "approve", "--as", "chu-tich", "--on-behalf", "--note", BY_PHONE],
    )
    run(
        workspace,
        *["advance", ref, "publish", "--set", "publish_channel=press_release"],
        *["--as", "chu-tich", "--on-behalf", "--note", PUBLISHED_BY_PHONE],
    )


def test_show_and_audit_say_who_entered_a_decision_on_behalf(workspace: Path, ref: str) -> None:
    approved_and_published_on_behalf(workspace, ref)
    said = f"entered by truc-ban on behalf of chu-tich: {BY_PHONE}"
    shown = run(workspace, "show", ref).stdout
    history = shown.split("History:")[1]
    approve_line = next(line for line in history.splitlines() if "approve:" in line)
    assert history.splitlines()[history.splitlines().index(approve_line) + 1].endswith(said)
    assert f"on behalf of chu-tich: {PUBLISHED_BY_PHONE}" in history
    assert f"«{BY_PHONE}»" not in history  # the note is shown once, as the word it was on
    audited = run(workspace, "audit", "verify", ref).stdout
    assert "chu-tich, approve: " + said in audited and "1 of 1 incident(s) verified" in audited
    entered = json.loads(run(workspace, "audit", "verify", ref, "--json").stdout)[0]["entered"]
    assert [(x["step"], x["person"], x["entered_by"]) for x in entered] == [
        ("approve", "chu-tich", "truc-ban"),
        ("publish", "chu-tich", "truc-ban"),
    ]


def test_the_after_action_review_lists_decisions_entered_on_behalf(
    workspace: Path, ref: str
) -> None:
    approved_and_published_on_behalf(workspace, ref)
    review = run(workspace, "report", ref).stdout  # in the workspace's language
    section = review.split("## Quyết định được nhập thay")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "truc-ban" in line]
    assert len(rows) == 2
    assert "| chu-tich | truc-ban | approve |" in rows[0] and BY_PHONE in rows[0]
    assert "| chu-tich | truc-ban | publish |" in rows[1] and PUBLISHED_BY_PHONE in rows[1]
    assert "chu-tich (do truc-ban nhập thay)" in review.split("## Diễn biến")[1]
    assert "transition (nhập thay) ×2" in review.split("## Ai đã làm gì")[1]


def test_the_after_action_report_statement_lists_decisions_entered_on_behalf(
    workspace: Path, ref: str
) -> None:
    """The report's template, given the incident's recorded decisions as a step gives them."""
    approved_and_published_on_behalf(workspace, ref)
    data = show(workspace, ref)
    events = [{**e, "at": datetime.fromisoformat(e["at"])} for e in data["events"]]
    app = App(load_settings(workspace))
    try:
        incident = IncidentView(
            ref,
            data["title"],
            app.catalogue.load("media-crisis"),
            data["state"],
            data["facts"],
            {k: datetime.fromisoformat(v) for k, v in data["timestamps"].items()},
            datetime.fromisoformat(data["opened_at"]),
            on_behalf=tuple(on_behalf_decisions(events)),
        )
        draft = app.drafter.document(
            incident,
            "statements/after-action-report",
            actor="truc-ban",
            note=None,
            now=app.clock(),
        )
    finally:
        app.close()
    text = draft["text"]
    assert "do cán bộ khác nhập thay người có thẩm quyền (2 lượt)" in text
    assert "bước approve: Lê Văn An, Chủ tịch UBND huyện quyết định" in text
    assert f"Phạm Thị Dung nhập thay. Ghi chú: {BY_PHONE}" in text
    assert f"Ghi chú: {PUBLISHED_BY_PHONE}" in text


def yearly_counts(workspace: Path, at: str) -> dict[str, int]:
    """The yearly report's counts for the report year (15 December to 14 December) of ``at``."""
    local = datetime.fromisoformat(at).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    year = local.year + (1 if (local.month, local.day) >= (12, 15) else 0)
    out = run(workspace, "report", "yearly", "--year", str(year), "--format", "json").stdout
    counts: dict[str, int] = json.loads(out)["counts"]
    return counts


def test_the_yearly_report_counts_steps_entered_on_behalf_apart(workspace: Path, ref: str) -> None:
    run(workspace, "note", ref, "Phóng viên gọi hỏi", "--as", "chu-tich")  # --as: not counted
    at = show(workspace, ref)["events"][-1]["at"]
    assert yearly_counts(workspace, at)["entered_on_behalf"] == 0
    approved_and_published_on_behalf(workspace, ref)
    run(workspace, "advance", ref, "monitor")  # the duty officer's own step: not counted
    run(workspace, "advance", ref, "request_correction", "--note", "Báo X đưa sai số liệu")
    text = json.loads(
        run(workspace, "statement", "show", ref, "correction_request", "--json").stdout
    )
    filled = workspace / "correction.txt"  # the officer writes in the press agency
    filled.write_text(re.sub(r"\.{4,}", "Báo X", text["text"]), encoding="utf-8")
    run(workspace, "statement", "edit", ref, "correction_request", "--file", str(filled))
    run(workspace, "statement", "submit", ref, "correction_request")
    run(
        workspace,
        *["statement", "approve", ref, "correction_request", "--as", "chu-tich"],
        *["--on-behalf", "--note", BY_PHONE],
    )
    counts = yearly_counts(workspace, at)
    assert counts["entered_on_behalf"] == 3
    assert counts["approvals_on_behalf"] == 2 and counts["publications_on_behalf"] == 1
    assert counts["incidents_with_statement"] == 1  # the legal counts are unchanged
    local = datetime.fromisoformat(at).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    year = local.year + (1 if (local.month, local.day) >= (12, 15) else 0)
    text = run(workspace, "report", "yearly", "--year", str(year)).stdout
    assert "nhập thay người có thẩm quyền" in text
    assert "3 lượt, trong đó phê duyệt 2 lượt, công bố thông tin 1 lượt" in text


def test_audit_verify_still_verifies_after_entries_for_others(workspace: Path, ref: str) -> None:
    run(workspace, "note", ref, "Phóng viên gọi hỏi", "--as", "chu-tich")
    approved_and_published_on_behalf(workspace, ref)
    done = run(workspace, "audit", "verify")
    assert "1 of 1 incident(s) verified" in done.stdout
    results = json.loads(run(workspace, "audit", "verify", "--json").stdout)
    assert results[0]["broken_at"] is None and len(results[0]["entered"]) == 3


def test_as_for_a_step_the_caller_may_take_is_entered_by_the_caller(
    workspace: Path, ref: str
) -> None:
    run(workspace, "note", ref, "Phóng viên báo Tuổi Trẻ gọi hỏi lúc 9 giờ", "--as", "chu-tich")
    last = show(workspace, ref)["events"][-1]
    assert last["kind"] == "note" and last["actor"] == "chu-tich"
    assert last["data"] == {"via": "cli-as", "entered_by": "truc-ban"}
    history = run(workspace, "show", ref).stdout.split("History:")[1].splitlines()
    note_line = next(i for i, line in enumerate(history) if "Tuổi Trẻ" in line)
    assert history[note_line + 1].strip() == "↳ entered by truc-ban"
    audited = run(workspace, "audit", "verify", ref).stdout
    assert "chu-tich, note: entered by truc-ban" in audited and "on behalf" not in audited


def test_as_lends_no_right_to_authorise_or_to_name_who_speaks(workspace: Path, ref: str) -> None:
    """Naming the Chairman with --as neither lets the duty officer authorise herself to
    approve nor name a spokesperson when opening an incident."""
    before = snapshot(workspace)
    refused = run(
        workspace,
        *["statement", "authorise", ref, "truc-ban", "--until", "24h", "--as", "chu-tich"],
        code=6,
    )
    assert "only the approver" in error_line(refused)
    refused = run(
        workspace,
        *["open", "media-crisis", "--title", TITLE, "--set", "spokesperson=truc-ban"],
        *["--as", "chu-tich"],
        code=8,
    )
    assert "spokesperson" in error_line(refused)
    on_behalf = ["--as", "chu-tich", "--on-behalf", "--note", BY_PHONE]
    refused = run(
        workspace, "statement", "authorise", ref, "truc-ban", "--until", "24h", *on_behalf, code=6
    )
    assert "on_behalf_approvals" in error_line(refused)
    assert snapshot(workspace) == before


def test_who_may_act_is_not_the_environments_to_say(workspace: Path, ref: str) -> None:
    before = snapshot(workspace)
    for name, value in (("ON_BEHALF_APPROVALS", "allowed"), ("ACTOR", "chu-tich")):
        refused = run(
            workspace, "advance", ref, "approve", code=3, env={f"CRISISFLOW_{name}": value}
        )
        assert "crisisflow.toml" in error_line(refused)
    assert snapshot(workspace) == before
