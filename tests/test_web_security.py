"""The web front end refuses what it must, and a refusal changes nothing: CSRF, sign-in links,
sessions, rights, the text an approval binds to, e-mailed links, redirects, headers, bodies,
rate limits and the second factor. Each test talks to the real application over ASGI, on
SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from crisisflow import models, signing, totp
from crisisflow.app import App
from crisisflow.app.access import Access
from crisisflow.app.second_factor import SecondFactor
from crisisflow.config import load_settings
from crisisflow.errors import ConflictError, RateLimited

from .conftest import FakeClock, own
from .test_app import snapshot
from .web_support import Visitor, at_approval, mail_text, sign_in_links

CHAIRMAN = "chu-tich"


def statement_path(ref: str) -> str:
    return f"/incidents/{ref}/statements/initial_info"


def test_approval_needs_the_csrf_token_and_changes_nothing_without_it(app: App) -> None:
    ref = at_approval(app)
    chairman = Visitor(app)
    chairman.sign_in(CHAIRMAN)
    page = chairman.get(statement_path(ref))
    sha = re.search(r'name="sha256" value="([0-9a-f]{64})"', page.text).group(1)  # type: ignore[union-attr]
    before = snapshot(app)
    for token in ("", "wrong", chairman.csrf[:-1] + "x"):
        refused = chairman.post(f"{statement_path(ref)}/approve", csrf=token, sha256=sha)
        assert refused.status_code == 403
        assert "security token" in refused.text
    assert snapshot(app) == before
    done = chairman.post(f"{statement_path(ref)}/approve", sha256=sha)
    assert done.status_code == 303
    assert app.records.show(ref)["state"] == "approved"
    approval = app.records.show(ref)["events"][-1]
    assert approval["actor"] == CHAIRMAN and approval["data"]["via"] == "web-session"


def test_a_get_never_changes_anything(app: App) -> None:
    ref = at_approval(app)
    chairman = Visitor(app)
    chairman.sign_in(CHAIRMAN)
    before = snapshot(app)
    for path in (statement_path(ref) + "/approve", f"/incidents/{ref}/notes", "/sign-out"):
        assert chairman.get(path).status_code in (404, 405)
    assert snapshot(app) == before


def test_a_sign_in_link_works_once_and_not_after_15_minutes(app: App, clock: FakeClock) -> None:
    address = app.directory.people[CHAIRMAN].email
    visitor = Visitor(app)
    visitor.get("/sign-in")
    visitor.post("/sign-in", email=address)
    link = sign_in_links(app, address)[-1]
    visitor.get(link)
    assert visitor.post(link).status_code == 303
    again = Visitor(app)
    again.get(link)
    before = snapshot(app)
    assert again.post(link).status_code == 403  # used twice
    tampered = link[:-2] + ("AA" if not link.endswith("AA") else "BB")
    again.get(tampered)
    assert again.post(tampered).status_code == 403
    assert snapshot(app) == before
    visitor.post("/sign-in", email=address)
    late = sign_in_links(app, address)[-1]
    clock.advance(minutes=15, seconds=1)
    again.get(late)
    assert again.post(late).status_code == 403
    assert again.get("/incidents").headers["location"].startswith("/sign-in")


def test_the_answer_is_the_same_for_a_known_and_an_unknown_address(app: App) -> None:
    visitor = Visitor(app)
    visitor.get("/sign-in")
    known = visitor.post("/sign-in", email=app.directory.people[CHAIRMAN].email)
    visitor.get("/sign-in")
    unknown = visitor.post("/sign-in", email="nobody@vinhlinh.example")
    assert known.status_code == unknown.status_code == 200
    strip = lambda page: re.sub(r'value="[^"]*"', "", page)  # noqa: E731
    assert strip(known.text) == strip(unknown.text)
    assert sign_in_links(app, "nobody@vinhlinh.example") == []


def test_the_sign_in_rate_limit_holds_per_address_and_per_client(app: App) -> None:
    address = app.directory.people[CHAIRMAN].email
    visitor = Visitor(app)
    visitor.get("/sign-in")
    limit = app.settings["sign_in_per_hour"]
    for _ in range(limit):
        assert visitor.post("/sign-in", email=address).status_code == 200
    assert visitor.post("/sign-in", email=address).status_code == 429
    assert len(sign_in_links(app, address)) == limit
    for n in range(4 * limit - limit):  # other addresses from the same client, up to its limit
        assert visitor.post("/sign-in", email=f"khac{n}@vinhlinh.example").status_code == 200
    assert visitor.post("/sign-in", email="them@vinhlinh.example").status_code == 429


def test_a_session_gives_nothing_its_person_may_not_do(app: App) -> None:
    ref = at_approval(app)
    officer = Visitor(app)
    officer.sign_in("truc-ban")  # the duty officer: coordinator, not the approver
    page = officer.get(statement_path(ref))
    assert page.status_code == 200 and 'id="approve"' not in page.text
    sha = app.statements.show(ref, "initial_info")["sha256"]
    before = snapshot(app)
    refused = officer.post(f"{statement_path(ref)}/approve", sha256=sha)
    assert refused.status_code == 409 and "only the approver" in refused.text
    assert snapshot(app) == before


def test_a_person_without_a_role_in_an_incident_neither_sees_nor_touches_it(
    app: App, workspace: Path
) -> None:
    ref = at_approval(app)
    directory = workspace / "directory.yaml"
    directory.write_text(
        directory.read_text(encoding="utf-8").replace(
            "people:\n",
            "people:\n  can-bo-ben-quan:\n    name: Trần Văn Bến\n    unit: ubnd-ben-quan\n"
            "    email: canbo@benquan.example\n",
            1,
        ),
        encoding="utf-8",
    )
    fresh = App(app.settings, clock=app.clock)
    outsider = Visitor(fresh)
    outsider.sign_in("can-bo-ben-quan")
    assert ref not in outsider.get("/incidents").text
    assert outsider.get(f"/incidents/{ref}").status_code == 404
    assert outsider.get(statement_path(ref)).status_code == 404
    assert outsider.get(statement_path(ref) + ".docx").status_code == 404
    before = snapshot(fresh)
    assert outsider.post(f"/incidents/{ref}/notes", text="xin chào").status_code == 403
    sha = fresh.statements.show(ref, "initial_info")["sha256"]
    assert outsider.post(f"{statement_path(ref)}/approve", sha256=sha).status_code == 409
    assert snapshot(fresh) == before
    fresh.close()


def test_a_tampered_or_revoked_session_cookie_signs_out(app: App) -> None:
    chairman = Visitor(app)
    chairman.sign_in(CHAIRMAN)
    assert chairman.get("/incidents").status_code == 200
    cookie = chairman.client.cookies["cf_session"]
    chairman.client.cookies.clear()
    chairman.client.cookies.set("cf_session", cookie[:-1] + ("A" if cookie[-1] != "A" else "B"))
    assert chairman.get("/incidents").headers["location"].startswith("/sign-in")
    chairman.client.cookies.clear()
    chairman.client.cookies.set("cf_session", cookie)
    assert chairman.get("/incidents").status_code == 200
    Access(app).revoke(person=CHAIRMAN)
    assert chairman.get("/incidents").headers["location"].startswith("/sign-in")


def test_sessions_end_when_idle_and_at_their_absolute_lifetime(app: App, clock: FakeClock) -> None:
    chairman = Visitor(app)
    chairman.sign_in(CHAIRMAN)
    idle = app.settings["session_idle_minutes"]
    for _ in range(int(app.settings["session_max_hours"] * 60 / (idle - 1)) + 2):
        clock.advance(minutes=idle - 1)
        if chairman.get("/incidents").status_code != 200:
            break
    else:
        pytest.fail("a session kept busy outlived its absolute lifetime")
    again = Visitor(app)
    again.sign_in(CHAIRMAN)
    clock.advance(minutes=idle, seconds=1)
    assert again.get("/incidents").headers["location"].startswith("/sign-in")


def test_an_approval_of_a_text_that_changed_is_refused_with_the_new_diff(app: App) -> None:
    ref = at_approval(app)
    chairman = Visitor(app)
    chairman.sign_in(CHAIRMAN)
    page = chairman.get(statement_path(ref))
    seen = re.search(r'name="sha256" value="([0-9a-f]{64})"', page.text).group(1)  # type: ignore[union-attr]
    text = app.statements.show(ref, "initial_info")["text"]
    app.statements.edit(
        ref, "initial_info", text + "\nCâu thêm sau khi trình.\n", actor=own(app, "truc-ban")
    )
    app.statements.submit(ref, "initial_info", actor=own(app, "truc-ban"))
    before = snapshot(app)
    refused = chairman.post(f"{statement_path(ref)}/approve", sha256=seen)
    assert refused.status_code == 409
    assert "changed since you read it" in refused.text
    assert "Câu thêm sau khi trình." in refused.text  # the new diff is shown
    assert snapshot(app) == before


def test_next_goes_only_to_this_site(app: App) -> None:
    for wanted, landing in (
        ("https://evil.example/", "/incidents"),
        ("//evil.example/x", "/incidents"),
        ("/\\evil.example", "/incidents"),
        ("/incidents/KC-2026-0001", "/incidents/KC-2026-0001"),
    ):
        visitor = Visitor(app)
        visitor.get("/sign-in", params={"next": wanted})
        address = app.directory.people[CHAIRMAN].email
        visitor.post("/sign-in", email=address)
        link = sign_in_links(app, address)[-1]
        visitor.get(link)
        assert visitor.post(link).headers["location"] == landing


def test_security_headers_are_on_every_page(app: App) -> None:
    ref = at_approval(app)
    chairman = Visitor(app)
    chairman.sign_in(CHAIRMAN)
    for path in ("/sign-in", "/incidents", f"/incidents/{ref}", statement_path(ref), "/nowhere"):
        headers = chairman.get(path).headers
        policy = headers["content-security-policy"]
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        assert "script-src" not in policy and "default-src 'none'" in policy  # no script at all
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        assert headers["x-content-type-options"] == "nosniff"


def test_session_cookie_flags(app: App, workspace: Path) -> None:
    visitor = Visitor(app)
    address = app.directory.people[CHAIRMAN].email
    visitor.get("/sign-in")
    visitor.post("/sign-in", email=address)
    link = sign_in_links(app, address)[-1]
    visitor.get(link)
    header = visitor.post(link).headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header and "secure" not in header


def test_oversized_malformed_and_foreign_bodies_get_a_clear_4xx(app: App) -> None:
    ref = at_approval(app)
    chairman = Visitor(app)
    chairman.sign_in(CHAIRMAN)
    chairman.get(f"/incidents/{ref}")
    before = snapshot(app)
    path = f"/incidents/{ref}/notes"
    big = chairman.post(path, text="x" * (70 * 1024))
    assert big.status_code == 413 and "too large" in big.text
    raw = chairman.client.post(
        path,
        content=b"csrf=%ff%fe&text=a",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert raw.status_code == 400 and "could not be read" in raw.text
    json_body = chairman.client.post(path, json={"csrf": chairman.csrf, "text": "a"})
    assert json_body.status_code == 415
    assert snapshot(app) == before


def test_stored_markup_is_escaped_in_every_page(app: App) -> None:
    payloads = [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(2)>',
        "javascript:alert(3)",
    ]
    markup = " ".join(payloads)
    ref = at_approval(app, title=markup)
    app.incidents.note(ref, markup, actor=app.identify())
    text = app.statements.show(ref, "initial_info")["text"]
    app.statements.edit(ref, "initial_info", f"{text}\n{markup}\n", actor=own(app, "truc-ban"))
    app.statements.submit(ref, "initial_info", actor=own(app, "truc-ban"))
    with app.store.writing() as conn:  # a fact as a unit might have written it
        facts = dict(app.records.show(ref)["facts"], verified_facts=markup)
        conn.execute(models.incidents.update().values(facts=facts))
    chairman = Visitor(app)
    chairman.sign_in(CHAIRMAN)
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in ("/incidents", f"/incidents/{ref}", statement_path(ref)):
        page = chairman.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page
        assert 'href="javascript:' not in page and "<script" not in page.lower()
        assert escaped in page and "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    shown = chairman.get(f"/incidents/{ref}").text
    assert shown.count(escaped) >= 3  # the title, the note and the fact


def test_the_session_cookie_is_secure_behind_https(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRISISFLOW_BASE_URL", "https://crisisflow.vinhlinh.example")
    app = App(load_settings(workspace))
    try:
        visitor = Visitor(app, base="https://crisisflow.vinhlinh.example")
        address = app.directory.people[CHAIRMAN].email
        visitor.get("/sign-in")
        visitor.post("/sign-in", email=address)
        link = sign_in_links(app, address)[-1]
        assert visitor.get(link).status_code == 200
        header = visitor.post(link).headers["set-cookie"].lower()
        assert "secure" in header and "httponly" in header
        assert "strict-transport-security" in visitor.get("/sign-in").headers
    finally:
        app.close()


def test_a_person_removed_from_the_directory_is_signed_out(app: App, workspace: Path) -> None:
    officer = Visitor(app)
    officer.sign_in("truong-phong-vhtt")
    assert officer.get("/incidents").status_code == 200
    directory = workspace / "directory.yaml"
    data = yaml.safe_load(directory.read_text(encoding="utf-8"))
    del data["people"]["truong-phong-vhtt"]  # the head of the office left
    directory.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert "truong-phong-vhtt" not in directory.read_text(encoding="utf-8")
    assert officer.get("/incidents").headers["location"].startswith("/sign-in")


def test_the_rate_limit_holds_for_requests_at_once(app: App) -> None:
    address = app.directory.people[CHAIRMAN].email
    access = Access(app)

    def ask(n: int) -> str:
        try:
            access.request_sign_in(address, f"10.0.0.{n}")
        except RateLimited:
            return "limited"
        except ConflictError:
            return "busy"
        return "sent"

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(16)))
    assert len(sign_in_links(app, address)) == answers.count("sent")
    assert answers.count("sent") <= app.settings["sign_in_per_hour"]


def test_second_factor_is_asked_for_approving_once_enrolled(app: App) -> None:
    ref = at_approval(app)
    secret, uri = SecondFactor(app).enrol(CHAIRMAN)
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
    chairman = Visitor(app)
    chairman.sign_in(CHAIRMAN)
    page = chairman.get(statement_path(ref))
    assert 'name="code"' in page.text
    seen = app.statements.show(ref, "initial_info")["sha256"]
    code = totp.code_at(secret, totp.step_of(time.time()))
    wrong = "000000" if code != "000000" else "111111"
    before = snapshot(app)
    assert chairman.post(f"{statement_path(ref)}/approve", sha256=seen, code="").status_code == 403
    assert (
        chairman.post(f"{statement_path(ref)}/approve", sha256=seen, code=wrong).status_code == 403
    )
    assert {k: v for k, v in snapshot(app).items() if k != "totp_secrets"} == {
        k: v for k, v in before.items() if k != "totp_secrets"
    }
    # A refused decision (the text changed meanwhile) gives the code back.
    text = app.statements.show(ref, "initial_info")["text"]
    app.statements.edit(ref, "initial_info", text + "Thêm.\n", actor=own(app, "truc-ban"))
    app.statements.submit(ref, "initial_info", actor=own(app, "truc-ban"))
    stale = chairman.post(f"{statement_path(ref)}/approve", sha256=seen, code=code)
    assert stale.status_code == 409
    sha = app.statements.show(ref, "initial_info")["sha256"]
    assert chairman.post(f"{statement_path(ref)}/approve", sha256=sha, code=code).status_code == 303
    assert app.records.show(ref)["state"] == "approved"
    # The same code again (for publishing) is refused: a code works once.
    chairman.get(statement_path(ref))
    reused = chairman.post(
        f"{statement_path(ref)}/publish", sha256=sha, channel="portal", code=code
    )
    assert reused.status_code == 403 and "used already" in reused.text


def test_wrong_codes_lock_the_second_factor(app: App, clock: FakeClock) -> None:
    ref = at_approval(app)
    secret, _uri = SecondFactor(app).enrol(CHAIRMAN)
    chairman = Visitor(app)
    chairman.sign_in(CHAIRMAN)
    chairman.get(statement_path(ref))
    sha = app.statements.show(ref, "initial_info")["sha256"]
    code = totp.code_at(secret, totp.step_of(time.time()))
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert (
            chairman.post(f"{statement_path(ref)}/approve", sha256=sha, code=wrong).status_code
            == 403
        )
    locked = chairman.post(f"{statement_path(ref)}/approve", sha256=sha, code=code)
    assert locked.status_code == 403 and "locked" in locked.text
    assert app.records.show(ref)["state"] == "approval"
    clock.advance(minutes=10, seconds=1)
    chairman.get(statement_path(ref))
    assert chairman.post(f"{statement_path(ref)}/approve", sha256=sha, code=code).status_code == 303


def _ack_token(app: App, ref: str, unit: str, task: str, clock: FakeClock) -> str:
    fields = {"ref": ref, "unit": unit, "task": task}
    return signing.sign_link(app.secret_key, "ack", fields, clock() + timedelta(hours=4))


def test_an_ack_link_works_once_for_its_own_task_only(app: App, clock: FakeClock) -> None:
    ref = app.incidents.open("media-crisis", "Thử", actor=app.identify()).ref
    clock.advance(minutes=5)
    app.incidents.advance(ref, "triage", actor=app.identify())
    clock.advance(minutes=5)
    app.incidents.advance(
        ref, "verify", given={"field_unit": "ubnd-cua-tung"}, actor=app.identify()
    )  # event 3 hands the commune its task, measured by the clock `verify`
    token = _ack_token(app, ref, "ubnd-cua-tung", "mail/task-verify@3", clock)
    other_unit = _ack_token(app, ref, "phong-vhtt", "mail/task-verify@3", clock)
    unit = Visitor(app)
    before = snapshot(app)
    confirm = unit.get(f"/ack/{token}")
    assert confirm.status_code == 200 and 'id="acknowledge"' in confirm.text
    assert snapshot(app) == before  # opening the link (a mail scanner does) acknowledges nothing
    payload, _dot, signature = token.partition(".")
    forged = signing.sign_link(
        b"x" * 40, "ack", {"ref": ref, "unit": "ubnd-cua-tung", "task": "t@3"}, clock()
    )
    for bad in (
        f"{payload}.{signature[:-2]}AA",
        forged,
        other_unit.partition(".")[0] + "." + signature,
    ):
        unit.get("/sign-in")
        assert unit.post(f"/ack/{bad}").status_code == 403
    assert snapshot(app) == before
    # The commune's link for the triage step (no task of theirs was measured then) does not
    # acknowledge the verification task: it records its own, clock-less acknowledgement.
    older = _ack_token(app, ref, "ubnd-cua-tung", "mail/task-verify@2", clock)
    unit.get(f"/ack/{older}")
    assert unit.post(f"/ack/{older}").status_code == 200
    assert app.records.show(ref)["events"][-1]["data"]["clocks"] == []
    assert not any(c["acknowledged_by"] for c in app.records.show(ref)["deadlines"])
    unit.get(f"/ack/{token}")
    assert unit.post(f"/ack/{token}").status_code == 200
    event = app.records.show(ref)["events"][-1]
    assert event["kind"] == "acknowledged" and event["data"]["via"] == "mail-link"
    assert event["data"]["clocks"] == ["verify"]
    unit.get("/sign-in")
    assert unit.post(f"/ack/{token}").status_code == 403  # used already
    again = _ack_token(app, ref, "ubnd-cua-tung", "mail/task-verify@3", clock)  # a resent mail
    unit.get(f"/ack/{again}")
    resent = unit.post(f"/ack/{again}")
    assert resent.status_code == 400 and "acknowledged already" in resent.text
    assert unit.get(f"/ack/{other_unit}").status_code == 200


def test_rotating_the_secret_signs_everyone_out_and_voids_links(app: App) -> None:
    chairman = Visitor(app)
    chairman.sign_in(CHAIRMAN)
    address = app.directory.people[CHAIRMAN].email
    chairman.post("/sign-in", email=address)
    unused = sign_in_links(app, address)[-1]
    kept = ("web_sessions", "sign_in_links", "sign_in_requests")
    before = {k: v for k, v in snapshot(app).items() if k not in kept}
    signing.write_new_key(app.workspace)  # the running server takes it at the next request
    assert chairman.get("/incidents").headers["location"].startswith("/sign-in")
    chairman.get(unused)
    assert chairman.post(unused).status_code == 403
    assert {k: v for k, v in snapshot(app).items() if k not in kept} == before
    chairman.sign_in(CHAIRMAN)  # and signing in again works
    assert chairman.get("/incidents").status_code == 200


def test_a_task_no_clock_measures_is_acknowledged_from_its_link_too(app: App) -> None:
    ref = at_approval(app)  # on the way, the legal office was asked to review the draft
    ob = models.outbox
    with app.store.reading() as conn:
        raws = conn.execute(
            sa.select(ob.c.raw).where(
                ob.c.template == "mail/task-review", ob.c.recipient == "tuphap@vinhlinh.example"
            )
        ).all()
    link = re.search(r"/ack/[\w.-]+", mail_text(raws[-1].raw)).group(0)  # type: ignore[union-attr]
    office = Visitor(app)
    office.get(link)
    assert office.post(link).status_code == 200
    event = app.records.show(ref)["events"][-1]
    assert (event["kind"], event["data"]["unit"], event["data"]["clocks"]) == (
        "acknowledged",
        "phong-tu-phap",
        [],
    )
