"""The README cannot drift from the code: its generated sections must match, and its command
examples must run."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent


def load_tool() -> object:
    spec = importlib.util.spec_from_file_location("readme_tool", ROOT / "tools" / "readme.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_settings_and_commands_are_generated_from_the_code() -> None:
    tool = load_tool()
    current = (ROOT / "README.md").read_text(encoding="utf-8")
    assert current == tool.render(current), "run: python tools/readme.py"  # type: ignore[attr-defined]


def test_every_setting_and_command_is_documented() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    from crisisflow.cli import cli
    from crisisflow.config import SETTINGS

    # A setting the environment may not give (who may act) is documented as the file's only.
    assert all(
        f"`{s.env}`" in text or (s.file_only and f"| `{s.name}` | (file only) |" in text)
        for s in SETTINGS
    )
    names = cli.list_commands(click.Context(cli))
    assert all(f"### `crisisflow {name}" in text for name in names)


def test_the_root_knows_the_module_of_every_command() -> None:
    """The root loads a command group's module when one of its commands is asked for; its
    table must name every command of every such module, and no other."""
    import importlib

    from crisisflow.cli import COMMAND_MODULES

    found = {
        command.name: module
        for module in set(COMMAND_MODULES.values())
        for command in importlib.import_module(f"crisisflow.{module}").COMMANDS
    }
    assert found == COMMAND_MODULES


def test_readme_documents_every_playbook_key() -> None:
    from crisisflow import playbook, playbook_data

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    keys = (
        playbook_data._TOP_KEYS
        + playbook_data._STATE_KEYS
        + playbook_data._TRANSITION_KEYS
        + playbook.GUARDS
        + playbook.ACTIONS
        + playbook.FACT_TYPES
    )
    missing = [k for k in keys if f"`{k}`" not in text]
    assert not missing, missing


# --- the README's command examples, run as written --------------------------------------------

# The README's examples are the fenced lines that start with `crisisflow ` (or `$ crisisflow `).
# Those of the walkthrough (everything before the generated command reference) run in order, as a
# person follows them; the reference's examples show each command alone, for an incident in
# whatever state suits it, so no one order runs them all.
_PROMPT = re.compile(r"^\s*(\$ )?crisisflow ")
_BACKGROUND = re.compile(r"^(?P<command>.*?)\s+&\s*(#.*)?$")
# Commands the README says run until stopped with SIGINT or SIGTERM ("stop it cleanly").
_UNTIL_STOPPED = ("crisisflow worker", "crisisflow serve")
# Examples the README documents a non-zero exit code for: {command: code}. None so far.
_DOCUMENTED_EXIT: dict[str, int] = {}


def walkthrough() -> str:
    """The README up to its generated command reference."""
    return (ROOT / "README.md").read_text(encoding="utf-8").split("## Command reference")[0]


def readme_examples(text: str) -> list[tuple[int, str]]:
    """(line number, command) for every command example, in order; a line ending in a
    backslash continues on the next."""
    examples: list[tuple[int, str]] = []
    fenced, lines = False, text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        match = _PROMPT.match(line) if fenced else None
        if not match:
            continue
        number, command = i, line[match.end(1) if match.group(1) else 0 :].strip()
        while command.endswith("\\") and i < len(lines):
            command += "\n" + lines[i]
            i += 1
        examples.append((number, command))
    return examples


def test_readme_examples_are_found() -> None:
    examples = [c for _, c in readme_examples(walkthrough())]
    assert examples[0].startswith("crisisflow init vinh-linh && cd vinh-linh")
    assert any(
        c.startswith("crisisflow open media-crisis --title") and "\\\n" in c for c in examples
    )
    assert any(_BACKGROUND.match(c) for c in examples)
    assert all(c.startswith("crisisflow ") for c in examples)
    reference = readme_examples((ROOT / "README.md").read_text(encoding="utf-8"))
    assert any(c.startswith("crisisflow template render") for _, c in reference)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)


def start(command: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A README command running in the background, as `bash` runs it; its errors kept."""
    return subprocess.Popen(
        ["bash", "-c", "exec " + command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def until_stopped(command: str, cwd: Path, env: dict[str, str]) -> tuple[int | None, bytes]:
    """Run a command that runs until SIGTERM: once its banner says SIGINT and SIGTERM stop it
    cleanly, stop it; (its exit code, what it wrote to stderr)."""
    process = start(command, cwd, env)
    assert process.stderr is not None
    started = process.stderr.readline()
    time.sleep(0.5)  # let it do a little of its work
    process.send_signal(signal.SIGTERM)
    try:
        _, errors = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        _, errors = process.communicate()
    return process.returncode, started + errors


def test_readme_examples_run(tmp_path: Path) -> None:
    """Every example of the README's walkthrough, in order, in a workspace made by its own first
    command (`crisisflow init vinh-linh && cd vinh-linh`), each through bash with the installed
    `crisisflow` script first on PATH, must exit 0 (or the code the README documents for it).
    An example given before (the same words, comments aside) runs once, where it first appears.

    Only the environment is set: no CRISISFLOW_* variables of the caller; the mail sink's port
    and the relay port (both 8025 by default, which another program may hold) moved together
    to a free one; compiled bytecode cached in the test's folder, as an installed package has
    it (it saves time). A command
    ending in `&` runs in the background until the end (the sink), waited for until it listens;
    one the README says runs until SIGINT/SIGTERM gets SIGTERM a second after its first line of
    output and must then exit 0."""
    script = Path(sys.executable).parent / "crisisflow"
    assert script.is_file(), f"no installed crisisflow script at {script}"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRISISFLOW_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        PYTHONPYCACHEPREFIX=str(tmp_path / "pycache"),
        PATH=f"{script.parent}{os.pathsep}{env.get('PATH', '')}",
        CRISISFLOW_MAILBOX_PORT=str(port),
        CRISISFLOW_SMTP_PORT=str(port),
        CRISISFLOW_WEB_PORT=str(_free_port()),
    )
    examples = readme_examples(walkthrough())
    cwd, where = tmp_path, tmp_path / ".cwd"
    background: list[tuple[int, str, subprocess.Popen[bytes]]] = []
    failures: list[str] = []
    seen: set[tuple[str, ...]] = set()

    def failed(number: int, command: str, code: int | None, output: bytes, want: int) -> None:
        last = output.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        first = command.splitlines()[0]
        failures.append(f"README.md:{number}: {first!r} exited {code}, not {want}: {last[0]}")

    try:
        for number, command in examples:
            words = tuple(shlex.split(command, comments=True))
            if words in seen:
                continue
            seen.add(words)
            want = _DOCUMENTED_EXIT.get(command, 0)
            if match := _BACKGROUND.match(command):
                process = start(match["command"], cwd, env)
                _wait_for_port(port, process, 15)
                background.append((number, command, process))
                continue
            if command.startswith(_UNTIL_STOPPED):
                code, errors = until_stopped(command, cwd, env)
                if code != want:
                    failed(number, command, code, errors, want)
                continue
            done = subprocess.run(
                ["bash", "-c", f'set -o pipefail\n{command}\ns=$?\npwd > "{where}"\nexit $s'],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=60,
            )
            if done.returncode != want:
                failed(number, command, done.returncode, done.stderr, want)
            cwd = Path(where.read_text().strip())
    finally:
        for number, command, process in background:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                _, errors = process.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                _, errors = process.communicate()
            if process.returncode not in (0, -signal.SIGTERM):
                failed(number, command, process.returncode, errors, 0)
    assert not failures, "README examples that fail:\n" + "\n".join(failures)


def test_readme_python_example_runs_as_written(tmp_path: Path) -> None:
    """The README's Python example, in the folder where `crisisflow init vinh-linh` made its
    workspace: it must run and print what the README says it prints."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRISISFLOW_")}
    script = Path(sys.executable).parent / "crisisflow"
    subprocess.run([str(script), "init", "vinh-linh"], cwd=tmp_path, env=env, check=True)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("6 ") and lines[-1] == "triage"


def test_a_mistyped_command_is_answered_with_the_closest_of_all() -> None:
    from click.testing import CliRunner

    from crisisflow.cli import cli

    result = CliRunner().invoke(cli, ["tik"])
    assert result.exit_code == 2 and "Did you mean 'tick'?" in result.output
