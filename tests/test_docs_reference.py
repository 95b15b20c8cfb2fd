"""The README's command reference runs as written. Its examples show each command alone, for an
incident in whatever state suits it, so each runs in a copy of a workspace prepared for it
(SCENARIOS): KC-2026-0001 walked to the state the example needs, the OS account bound to the
Chairman where he is the one acting, dead mail, a filled mailbox, a web session."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from crisisflow import models
from crisisflow.app import App
from crisisflow.app.access import Access
from crisisflow.config import load_settings
from crisisflow.mailbox import Sink
from crisisflow.workspace import init

from .conftest import MEDIA_CRISIS_PATH, bind_login, walk
from .test_docs import (
    _BACKGROUND,
    ROOT,
    _free_port,
    _wait_for_port,
    readme_examples,
    start,
    until_stopped,
)
from .web_support import sign_in_links

REF = "KC-2026-0001"
TRIGGERS = [t for t, _ in MEDIA_CRISIS_PATH]


def _to(trigger: str, nth: int = 1) -> list[tuple[str, dict[str, object]]]:
    """The walk up to (not including) the ``nth`` ``trigger``."""
    at = [i for i, t in enumerate(TRIGGERS) if t == trigger][nth - 1]
    return MEDIA_CRISIS_PATH[:at]


def _resubmitted(app: App, ws: Path) -> None:
    """Edited and submitted again; and the workspace lets the duty officer enter the
    Chairman's decision given by phone (the example of `advance ... --on-behalf`)."""
    _edited(app)
    app.statements.submit(REF, "initial_info", actor=app.identify())
    settings = ws / "crisisflow.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8") + 'on_behalf_approvals = "allowed"\n',
        encoding="utf-8",
    )


def _resubmitted_to(app: App, ws: Path, person: str) -> None:
    """Edited after the rejection and submitted again, for ``person`` at this account."""
    _edited(app)
    app.statements.submit(REF, "initial_info", actor=app.identify())
    bind_login(ws, person)


def _edited(app: App) -> None:
    """A second version of the initial information, as an officer's edit makes."""
    text = app.statements.show(REF, "initial_info")["text"]
    app.statements.edit(REF, "initial_info", text + "\nCâu bổ sung.\n", actor=app.identify())


# Scenario name → the walk of KC-2026-0001, then what else it needs.
Prepare = Callable[[App, Path], None]
SCENARIOS: dict[str, tuple[list[tuple[str, dict[str, object]]], Prepare | None]] = {
    "triage": (_to("verify"), None),
    "verifying": (_to("assess"), None),
    "drafting": (_to("submit", 2), None),
    "approval": (_to("approve"), _resubmitted),
    "chairman": (_to("approve"), lambda app, ws: _resubmitted_to(app, ws, "chu-tich")),
    "approved": (_to("publish"), None),
    "published": (_to("close"), None),
}


def _dead_mail(app: App, ws: Path) -> None:
    ob = models.outbox
    with app.store.writing() as conn:
        conn.execute(ob.update().where(ob.c.id.in_([3, 4])).values(status=models.DEAD))


def _mailbox(app: App, ws: Path) -> None:
    sink = Sink(ws / "mailbox", port=app.settings["smtp_port"]).start()
    try:
        app.delivery.dispatch()
    finally:
        sink.stop()


def _session(app: App, ws: Path) -> None:
    access = Access(app)
    address = app.directory.people["chu-tich"].email
    access.request_sign_in(address, "127.0.0.1")
    access.sign_in(sign_in_links(app, address)[-1].rsplit("/", 1)[1], "127.0.0.1", "test")


SCENARIOS |= {
    "dead mail": (_to("approve"), _dead_mail),
    "mailbox": (_to("approve"), _mailbox),
    "session": (_to("approve"), _session),
}

# Which scenario an example runs in (the first prefix that matches); any other: "approval".
SCENARIO_OF = (
    ("crisisflow init vinh-linh", None),
    ("crisisflow init --update", "approval"),
    ("crisisflow advance KC-2026-0001 verify", "triage"),
    ("crisisflow ack", "verifying"),
    ("crisisflow advance KC-2026-0001 approve --as", "approval"),
    ("crisisflow advance KC-2026-0001 approve", "chairman"),
    ("crisisflow statement approve", "chairman"),
    ("crisisflow statement authorise", "chairman"),
    ("crisisflow statement reject", "chairman"),
    ("crisisflow statement publish", "approved"),
    ("crisisflow statement correct", "published"),
    ("crisisflow statement edit", "drafting"),
    ("crisisflow statement submit", "drafting"),
    ("crisisflow outbox retry", "dead mail"),
    ("crisisflow mailbox show", "mailbox"),
    ("crisisflow session revoke", "session"),
)
UNTIL_STOPPED = ("crisisflow worker", "crisisflow serve")


def scenario_of(command: str) -> str | None:
    return next((s for prefix, s in SCENARIO_OF if command.startswith(prefix)), "approval")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each scenario's workspace, made once: examples run in copies of it."""
    ports = {"CRISISFLOW_SMTP_PORT": str(_free_port())}
    made: dict[str, Path] = {}
    saved = {k: os.environ.get(k) for k in (*ports, "CRISISFLOW_DATABASE_URL", "CRISISFLOW_HOME")}
    os.environ.update(ports)
    os.environ.pop("CRISISFLOW_DATABASE_URL", None)
    os.environ.pop("CRISISFLOW_HOME", None)
    try:
        for name, (steps, then) in SCENARIOS.items():
            ws = init(tmp_path_factory.mktemp(name.replace(" ", "-")) / "vinh-linh").workspace
            app = App(load_settings(ws))
            app.incidents.open(
                "media-crisis", "Mạng xã hội lan truyền tin sạt lở", actor=app.identify()
            )
            walk(app, REF, steps)
            if then is not None:
                then(app, ws)
            app.close()
            made[name] = ws
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return made


def _editor(folder: Path) -> Path:
    script = folder / "editor.sh"
    script.write_text('#!/bin/sh\nprintf "Câu thêm khi sửa.\\n" >> "$1"\n', encoding="utf-8")
    script.chmod(0o755)
    return script


def _environment(folder: Path) -> dict[str, str]:
    script = Path(sys.executable).parent / "crisisflow"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRISISFLOW_")}
    env.update(
        PATH=f"{script.parent}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPYCACHEPREFIX=str(folder / "pycache"),
        CRISISFLOW_WEB_PORT=str(_free_port()),
        EDITOR=str(_editor(folder)),  # `statement edit`: an editor that adds a line and saves
    )
    return env


def _run(command: str, cwd: Path, env: dict[str, str]) -> tuple[int | None, bytes]:
    """Run one example as a person would: in the background, until stopped, or to its end."""
    if match := _BACKGROUND.match(command):
        process = start(match["command"], cwd, env)
        _wait_for_port(int(env["CRISISFLOW_MAILBOX_PORT"]), process, 15)
        alive = process.poll() is None
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=15)
        return (0 if alive else process.returncode), errors
    if command.startswith(UNTIL_STOPPED):
        return until_stopped(command, cwd, env)
    done = subprocess.run(
        ["bash", "-c", f"set -o pipefail\n{command}"],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=120,
    )
    return done.returncode, done.stderr


def test_the_command_reference_examples_run(tmp_path: Path, prepared: dict[str, Path]) -> None:
    before, text = (ROOT / "README.md").read_text(encoding="utf-8").split("## Command reference", 1)
    offset = before.count("\n")
    failures, seen = [], set()
    for number, command in readme_examples(text):
        words = tuple(shlex.split(command, comments=True))
        if words in seen:
            continue
        seen.add(words)
        scenario = scenario_of(command)
        folder = tmp_path / f"example-{len(seen)}"
        folder.mkdir()
        cwd = folder
        if scenario is not None:
            cwd = folder / "vinh-linh"
            shutil.copytree(prepared[scenario], cwd)
            (cwd / "ban-sua.txt").write_text("Nội dung đã sửa.\n", encoding="utf-8")
            if command.startswith("crisisflow init --update"):
                cwd = folder
        env = _environment(folder)
        port = _free_port()
        env["CRISISFLOW_MAILBOX_PORT"] = env["CRISISFLOW_SMTP_PORT"] = str(port)
        sink = None
        if scenario is not None and not _BACKGROUND.match(command):
            sink = Sink(
                (cwd / "vinh-linh" if cwd == folder else cwd) / "mailbox", port=port
            ).start()
        try:
            code, errors = _run(command, cwd, env)
        finally:
            if sink is not None:
                sink.stop()
        if code != 0:
            last = errors.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            first = command.splitlines()[0]
            failures.append(
                f"README.md:{offset + number}: {first!r} [{scenario}]: {code}: {last[0]}"
            )
    assert not failures, "command reference examples that fail:\n" + "\n".join(failures)
