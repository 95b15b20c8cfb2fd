"""The command line's side of the web front end: serve refuses a port in use in one line;
sessions are listed and revoked; a second factor is enrolled; the secret key is rotated."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import httpx2

from crisisflow import totp
from crisisflow.app import App
from crisisflow.config import load_settings

from .test_app import snapshot
from .test_cli import crisisflow_command, run
from .test_web_browser import _free_port
from .web_support import Visitor, sign_in_links


def test_serve_refuses_a_port_in_use_in_one_line(workspace: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(workspace, "serve", "--port", str(port), code=3)
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr


def test_init_writes_a_secret_key_only_its_owner_reads(workspace: Path) -> None:
    key = workspace / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    key.chmod(0o644)
    result = run(workspace, "serve", code=3)
    assert "readable by others" in result.stderr and "chmod 600" in result.stderr


def test_sessions_are_listed_and_revoked(workspace: Path) -> None:
    app = App(load_settings(workspace))  # the real clock, as the command line has it
    chairman = Visitor(app)
    chairman.sign_in("chu-tich")
    listed = json.loads(run(workspace, "session", "list", "--json").stdout)
    assert [(s["person"], s["status"]) for s in listed] == [("chu-tich", "active")]
    run(workspace, "session", "revoke", code=8)  # names no session: refused, nothing done
    assert "no web session 99999" in run(workspace, "session", "revoke", "99999", code=5).stderr
    assert (
        f"ended: {listed[0]['id']}"
        in run(workspace, "session", "revoke", "--person", "chu-tich").stdout
    )
    assert chairman.get("/incidents").headers["location"].startswith("/sign-in")
    assert json.loads(run(workspace, "session", "list", "--json").stdout)[0]["status"] == "revoked"
    app.close()


def test_a_second_factor_is_enrolled_from_the_terminal(workspace: Path) -> None:
    out = run(workspace, "person", "totp", "chu-tich").stdout
    uri = next(line for line in out.splitlines() if line.startswith("otpauth://totp/"))
    secret = uri.split("secret=")[1].split("&")[0]
    assert len(totp.code_at(secret, 1)) == 6
    assert "█" in out or "▀" in out or "▄" in out  # the QR code, drawn in the terminal
    run(workspace, "person", "totp", "ghost", code=5)


def test_rotating_the_key_changes_nothing_but_the_key(workspace: Path) -> None:
    app = App(load_settings(workspace))
    before = snapshot(app)
    old = (workspace / "secret.key").read_bytes()
    run(workspace, "secret", "rotate")
    assert (workspace / "secret.key").read_bytes() != old
    assert stat.S_IMODE((workspace / "secret.key").stat().st_mode) == 0o600
    assert snapshot(app) == before
    app.close()
    assert not os.environ.get("CRISISFLOW_SECRET_KEY")


def _serve(workspace: Path, port: int, **env: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [*crisisflow_command(), "serve", "--port", str(port)],
        env={**os.environ, "CRISISFLOW_HOME": str(workspace), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(process.communicate()[1])


def _sign_in_from(base: str, app: App, forwarded_for: str) -> None:
    """Sign the Chairman in over HTTP, every request claiming to come from ``forwarded_for``."""
    client = httpx2.Client(base_url=base, headers={"x-forwarded-for": forwarded_for})
    page = client.get("/sign-in").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    address = app.directory.people["chu-tich"].email
    client.post("/sign-in", data={"csrf": csrf, "email": address})
    link = sign_in_links(app, address)[-1]
    page = client.get(link).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert client.post(link, data={"csrf": csrf}).status_code == 303
    client.close()


def test_forwarded_headers_are_believed_only_from_configured_proxies(workspace: Path) -> None:
    app = App(load_settings(workspace))
    for trusted, seen in (("", "127.0.0.1"), ("127.0.0.1", "203.0.113.9")):
        port = _free_port()
        server = _serve(workspace, port, CRISISFLOW_FORWARDED_ALLOW_IPS=trusted)
        try:
            _sign_in_from(f"http://127.0.0.1:{port}", app, "203.0.113.9")
        finally:
            server.send_signal(signal.SIGTERM)
            _out, errors = server.communicate(timeout=15)
            assert server.returncode == 0, errors  # stops cleanly
        newest = json.loads(run(workspace, "session", "list", "--json").stdout)[0]
        assert newest["client"] == seen
    app.close()
