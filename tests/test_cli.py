"""Every command through click's runner, success and bad input; one end-to-end subprocess run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crisisflow.cli import cli

from .conftest import MEDIA_CRISIS_PATH, bind_login

TITLE = "Mạng xã hội lan truyền tin sạt lở bờ kè"


def run(workspace: Path | None, *args: str, code: int = 0) -> Result:
    env = {"CRISISFLOW_HOME": str(workspace)} if workspace else {}
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    assert "Traceback" not in result.output + result.stderr
    if code not in (0, 2):
        assert len(result.stderr.strip().splitlines()) >= 1
        assert result.stdout == ""
    return result


def open_incident(workspace: Path) -> str:
    out = run(workspace, "open", "media-crisis", "--title", TITLE, "--json")
    return str(json.loads(out.stdout)["ref"])


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_lists_every_command(flag: str) -> None:
    out = run(None, flag).stdout
    for command in ("init", "demo", "playbook", "open", "list", "show", "advance", "note", "db"):
        assert command in out


def test_every_command_help_ends_with_an_example() -> None:
    def walk(group: object, path: list[str]) -> list[list[str]]:
        found = [path]
        for name, sub in getattr(group, "commands", {}).items():
            found += walk(sub, [*path, name])
        return found

    for path in walk(cli, []):
        assert "Example:" in run(None, *path, "--help").stdout, path


def test_init_refuses_existing_workspace_unless_told(tmp_path: Path) -> None:
    target = tmp_path / "ws"
    run(None, "init", str(target))
    directory = target / "directory.yaml"
    directory.write_text(directory.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    template = target / "templates/mail/new-incident.vi.txt"
    template.write_text(
        "{% block subject %}x{% endblock %}{% block body %}y{% endblock %}", encoding="utf-8"
    )
    out = run(None, "init", str(target), code=3)
    assert "--update" in out.stderr
    out = run(None, "init", "--update", str(target))
    assert "kept" in out.stdout
    assert directory.read_text(encoding="utf-8").endswith("# edited\n")
    assert template.read_text(encoding="utf-8").startswith("{% block subject %}x")


def test_commands_outside_a_workspace_say_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRISISFLOW_HOME", raising=False)
    out = CliRunner().invoke(cli, ["list"])
    assert out.exit_code == 3 and "crisisflow init" in out.stderr


def test_workspace_is_found_from_a_subfolder(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace / "templates")
    monkeypatch.delenv("CRISISFLOW_HOME", raising=False)
    result = CliRunner().invoke(cli, ["playbook", "list"])
    assert result.exit_code == 0 and "media-crisis" in result.stdout


def test_playbook_list_show_and_mermaid(workspace: Path) -> None:
    assert "media-crisis" in run(workspace, "playbook", "list").stdout
    text = run(workspace, "playbook", "show", "media-crisis").stdout
    assert "approval" in text and "owner approver" in text and "reject" in text
    mermaid = run(workspace, "playbook", "show", "media-crisis", "--format", "mermaid").stdout
    assert mermaid.startswith("stateDiagram-v2") and "approval --> drafting : reject" in mermaid
    data = json.loads(run(workspace, "playbook", "show", "media-crisis", "--format", "json").stdout)
    assert data["initial"] == "detected"
    run(workspace, "playbook", "show", "nope", code=5)


def test_playbook_check_warns_of_each_rule_no_playbook_can_start(workspace: Path) -> None:
    checked = run(workspace, "playbook", "check")
    assert "8 playbook(s) OK" in checked.stdout
    assert "can never start" not in checked.stderr  # a shipped playbook or command starts each
    rules = workspace / "rules" / "vn.yaml"
    text = rules.read_text(encoding="utf-8")
    rules.write_text(
        text.replace(
            "rules:\n",
            "rules:\n  inspection.answer:\n    clock: inspection\n"
            "    duration: 10d\n    starts_at: received_at\n    basis: Thử\n",
            1,
        ),
        encoding="utf-8",
    )
    line = 1 + rules.read_text(encoding="utf-8").splitlines().index("  inspection.answer:")
    warning = f"{rules}:{line}: warning: rule inspection.answer can never start"
    assert warning in run(workspace, "playbook", "check").stderr


def test_playbook_check_prints_file_line_problems(workspace: Path, tmp_path: Path) -> None:
    assert "OK" in run(workspace, "playbook", "check").stdout
    broken = Path(__file__).parent / "broken_playbooks" / "09-unknown-dest.yaml"
    out = run(workspace, "playbook", "check", str(broken), code=4)
    assert f"{broken}:" in out.stderr and "unknown dest state 'reviewing'" in out.stderr
    missing = tmp_path / "missing.yaml"
    assert (
        f"{missing}:1: cannot read"
        in run(workspace, "playbook", "check", str(missing), code=4).stderr
    )


def test_open_show_list_advance_note(workspace: Path) -> None:
    out = run(
        workspace,
        "open",
        "media-crisis",
        "--title",
        TITLE,
        "--set",
        "channel=social",
        "--occurred-at",
        "2026-11-26 07:45",
    )
    assert "KC-2026-0001" in out.stdout and "triage" in out.stdout
    listed = json.loads(run(workspace, "list", "--json").stdout)
    assert [r["ref"] for r in listed] == ["KC-2026-0001"]
    assert "KC-2026-0001" in run(workspace, "list").stdout
    out = run(workspace, "advance", "kc-2026-0001", "triage", "--note", "Tiếp nhận.")
    assert "detected → triage" in out.stdout
    run(workspace, "note", "KC-2026-0001", "Phóng viên gọi hỏi.")
    shown = run(workspace, "show", "KC-2026-0001").stdout
    assert "Phóng viên gọi hỏi." in shown and "verify" in shown
    data = json.loads(run(workspace, "show", "KC-2026-0001", "--json").stdout)
    for key in (
        "ref",
        "playbook",
        "state",
        "facts",
        "allowed",
        "events",
        "statements",
        "messages",
        "deadlines",
    ):
        assert key in data
    assert data["allowed"][0] == {
        "trigger": "verify",
        "title": {"vi": "Giao đơn vị xác minh", "en": "Ask the responsible unit to verify"},
        "dest": "verifying",
        "requires": ["field_unit"],
        "guards": [],
    }
    assert run(workspace, "list", "--state", "verifying").stdout.strip() == "No incidents."


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["advance", "KC-2026-0001", "approve"], 6, "allowed now: triage"),
        (["advance", "KC-2026-0001", "triage", "--as", "ghost"], 5, "unknown person 'ghost'"),
        (["advance", "KC-2026-0001", "triage", "--expect-state", "triage"], 7, "not 'triage'"),
        (["advance", "KC-2026-0001", "triage", "--set", "severity"], 8, "KEY=VALUE"),
        (["advance", "KC-2026-0001", "triage", "--set", "severity=L7"], 8, "L1, L2, L3, L4"),
        (["advance", "KC-2099-0001", "triage"], 5, "no incident KC-2099-0001"),
        (["show", "KC-2099-0001"], 5, "no incident"),
        (["note", "KC-2026-0001", "   "], 8, "empty"),
        (["open", "media-crisis", "--title", "a\nBcc: x@example.com"], 8, "one line"),
        (["open", "rumours", "--title", "x"], 5, "unknown playbook"),
        (["open", "media-crisis", "--title", "x", "--occurred-at", "hôm qua"], 8, "not a time"),
    ],
)
def test_bad_input_is_one_line_with_its_exit_code(
    workspace: Path, args: list[str], code: int, message: str
) -> None:
    open_incident(workspace)
    before = run(workspace, "show", "KC-2026-0001", "--json").stdout
    out = run(workspace, *args, code=code)
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert run(workspace, "show", "KC-2026-0001", "--json").stdout == before


def test_missing_option_is_a_usage_error(workspace: Path) -> None:
    out = run(workspace, "open", "media-crisis", code=2)
    assert "--title" in out.stderr


def test_broken_settings_file_is_a_config_error(workspace: Path) -> None:
    (workspace / "crisisflow.toml").write_text("[crisisflow]\nlanguage = 'fr'\n", encoding="utf-8")
    assert "vi, en" in run(workspace, "list", code=3).stderr
    (workspace / "crisisflow.toml").write_text("[crisisflow]\ncolour = 1\n", encoding="utf-8")
    assert "unknown setting 'colour'" in run(workspace, "list", code=3).stderr


def test_broken_directory_names_file_and_line(workspace: Path) -> None:
    path = workspace / "directory.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "email: tuphap@vinhlinh.example", "email: tuphap-at-vinhlinh"
        ),
        encoding="utf-8",
    )
    out = run(workspace, "open", "media-crisis", "--title", TITLE, code=3)
    assert f"{path}:" in out.stderr and "not an e-mail address" in out.stderr


def test_db_status_and_upgrade(workspace: Path) -> None:
    assert "current" in run(workspace, "db", "status").stdout
    assert "0009 → 0009" in run(workspace, "db", "upgrade").stdout


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # a flag of the CLI, not the store
def test_debug_shows_the_traceback(workspace: Path) -> None:
    """An error is one line and its exit code; with --debug, Python's traceback instead."""
    from crisisflow.errors import NotFoundError

    env = {**os.environ, "CRISISFLOW_HOME": str(workspace)}

    def show(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*crisisflow_command(), *flags, "show", "KC-2099-0001"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    plain, debug = show(), show("--debug")
    assert plain.returncode == NotFoundError.exit_code and plain.stdout == ""
    assert len(plain.stderr.splitlines()) == 1 and "KC-2099-0001" in plain.stderr
    assert "Traceback" not in plain.stderr
    assert debug.returncode == 1 and debug.stdout == ""
    assert debug.stderr.startswith("Traceback (most recent call last):")
    assert debug.stderr.splitlines()[-1].startswith("crisisflow.errors.NotFoundError: ")


def test_demo_walks_to_the_final_state(tmp_path: Path) -> None:
    out = run(None, "demo", "--keep", str(tmp_path / "demo")).stdout
    assert "KC-2026-0001 reached reviewed" in out or "reached reviewed" in out
    assert "approval → approved" in out and "queued e-mail" in out
    assert (tmp_path / "demo" / "crisisflow.db").exists()


def crisisflow_command() -> list[str]:
    exe = shutil.which("crisisflow", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "crisisflow"]


def test_end_to_end_as_a_subprocess(tmp_path: Path, db_url: str) -> None:
    env = {**os.environ, "CRISISFLOW_DATABASE_URL": db_url}
    env.pop("CRISISFLOW_HOME", None)

    def sh(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*crisisflow_command(), *args],
            cwd=tmp_path / "ws",
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    (tmp_path / "ws").mkdir()
    sh("init", ".")
    ref = json.loads(sh("open", "media-crisis", "--title", TITLE, "--json").stdout)["ref"]
    for trigger, kwargs in MEDIA_CRISIS_PATH:
        args = [trigger]
        for key, value in kwargs.get("given", {}).items():  # type: ignore[attr-defined]
            args += ["--set", f"{key}={value}"]
        if "note" in kwargs:
            args += ["--note", str(kwargs["note"])]
        if kwargs.get("confirm_unchanged"):
            args.append("--confirm-unchanged")
        # The Chairman's steps are run from the account bound to him.
        bind_login(tmp_path / "ws", kwargs.get("actor"))  # type: ignore[arg-type]
        sh("advance", ref, *args)
    data = json.loads(sh("show", ref, "--json").stdout)
    assert data["state"] == "reviewed" and data["allowed"] == []
    done = subprocess.run(
        [sys.executable, "-m", "crisisflow", "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "advance" in done.stdout
