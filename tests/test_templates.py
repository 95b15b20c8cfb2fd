"""Every shipped template renders, in Vietnamese and in English, for a real incident."""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from pathlib import Path

import pytest

import crisisflow.store_incidents
from crisisflow.app import App
from crisisflow.catalogue import load_file
from crisisflow.config import shipped
from crisisflow.incident_view import view_of
from crisisflow.render import Renderer

from .conftest import MEDIA_CRISIS_PATH, walk

NAMES = Renderer([shipped("templates")]).names()


@pytest.fixture(scope="module")
def contexts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The context a step gives templates, for a media-crisis incident walked to its end."""
    from crisisflow.config import load_settings
    from crisisflow.workspace import init

    from .conftest import FakeClock

    folder = tmp_path_factory.mktemp("templates")
    mp = pytest.MonkeyPatch()
    mp.setenv("CRISISFLOW_DATABASE_URL", f"sqlite:///{folder / 'db.sqlite'}")
    workspace = init(folder / "ws").workspace
    app = App(load_settings(workspace), clock=FakeClock())
    ref = app.incidents.open(
        "media-crisis", "Mạng xã hội lan truyền tin sạt lở bờ kè", actor=app.identify()
    ).ref
    walk(app, ref, MEDIA_CRISIS_PATH)
    with app.store.reading() as conn:
        row = crisisflow.store_incidents.incident_by_ref(conn, ref)
        incident = view_of(row, app.catalogue.pinned(conn, row.playbook_hash))
    now = app.clock()
    context = app.drafter.context(
        incident, actor="chu-tich", note="Ghi chú.", trigger="verify", now=now
    )
    shown = app.statements.show(ref, "initial_info")
    base = app.settings["base_url"]
    statement = {
        "kind": "initial_info",
        "title": shown["title"],
        "text": shown["text"],
        "number": shown["version"],
        "sha256": shown["sha256"],
        "lang": "vi",
        "url": f"{base}/incidents/{ref}/statements/initial_info",
    }
    extras = {
        "statements": [statement],
        "statement": statement,
        "approval_url": statement["url"],
        "ack_url": f"{base}/ack/eyJwIjoiYWNrIn0.c2lnbmVk",
        "recipient": {"name": "UBND thị trấn Cửa Tùng", "email": "cuatung@vinhlinh.example"},
        "role": "field_unit",
        "sign_in_url": f"{base}/sign-in/c2lnbi1pbi10b2tlbg",
        "minutes": 15,
        "client": "203.0.113.7",
        "due": now + timedelta(hours=2),
        "deadline": {
            "rule": "verify.internal",
            "title": "Xác minh thông tin",
            "basis": "Mục tiêu nội bộ",
            "due_at": now,
            "started_at": now,
            "status": "overdue",
            "escalation_level": 1,
        },
        "authorisation": {
            "person": {
                "name": "Trần Thị Bình",
                "title": "Phó Chủ tịch",
                "email": "phochutich@vinhlinh.example",
            },
            "granted_by": {"name": "Lê Văn An", "title": "Chủ tịch"},
            "valid_from": now,
            "valid_until": now + timedelta(days=1),
        },
        "duty": {
            "id": "yearly_report",
            "title": {"vi": "Báo cáo năm", "en": "Yearly report"},
            "basis": "Nghị định 244/2026/NĐ-CP, Điều 10",
            "period": 2026,
        },
        "overdue": False,
        "report": {
            "year": 2026,
            "window_start": now,
            "window_end": now,
            "basis": "Điều 10 Nghị định số 244/2026/NĐ-CP của Chính phủ",
            "on_behalf": [
                {
                    "ref": "KC-2026-0001",
                    "at": now,
                    "person": "chu-tich",
                    "step": "approve",
                    "entered_by": "truc-ban",
                    "on_behalf": "Chủ tịch đồng ý qua điện thoại",
                }
            ],
            "counts": dict.fromkeys(
                [
                    "press_conferences",
                    "briefings",
                    "replies",
                    "press_requests",
                    "incidents_with_statement",
                    "incidents",
                    "statements_on_time",
                    "incidents_under_24h_rule",
                    "correction_requests",
                    "untrue_items",
                ],
                2,
            ),
        },
    }
    # Each other playbook's own templates read its incidents' facts.
    others: dict[str, dict[str, object]] = {}
    for playbook, given in OPENING.items():
        other = app.incidents.open(playbook, "Thử", given=given, actor=app.identify()).ref
        with app.store.reading() as conn:
            row = crisisflow.store_incidents.incident_by_ref(conn, other)
            opened = view_of(row, app.catalogue.pinned(conn, row.playbook_hash))
        found = app.drafter.context(
            opened, actor="truc-ban", note="Ghi chú.", trigger=None, now=now
        )
        others[playbook] = {**found, **extras, "ref": other}
    others["press-inquiry"]["incident"]["facts"]["refusal_ground"] = "under_investigation"  # type: ignore[index]
    app.close()
    mp.undo()
    return {**context, **extras, "ref": ref, "others": others}


# What opening each playbook needs (its required facts), and who uses which template.
OPENING: dict[str, dict[str, str]] = {
    "press-inquiry": {"press_agency": "Báo Tuổi Trẻ", "question": "Tiến độ giải phóng mặt bằng?"},
    "press-conference": {
        "topic": "Tiến độ dự án đường ven biển",
        "conference_at": "10/12/2026 09:00",
        "venue": "Hội trường UBND huyện",
    },
    "spokesperson-announcement": {"speaker": "chu-tich", "assigned_at": "07/12/2026 16:00"},
    "press-release": {"topic": "Khánh thành cầu", "content": "Ngày 19/12/2026 khánh thành."},
    "disclosure": {
        "document": "Kế hoạch sử dụng đất năm 2027",
        "information_created_at": "04/02/2027 10:00",
    },
}
USED_BY: dict[str, str] = {}
for _path in sorted(shipped("playbooks").glob("*.yaml"), reverse=True):
    for _name, _line in load_file(_path).templates():
        USED_BY[_name] = _path.stem  # a template the media-crisis playbook uses too is its


def context_for(name: str, contexts: dict[str, object]) -> dict[str, object]:
    """The context of an incident of the playbook that sends ``name``."""
    others = contexts["others"]
    assert isinstance(others, dict)
    return others.get(USED_BY.get(name, "media-crisis"), contexts)  # type: ignore[no-any-return]


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("name", NAMES)
def test_template_renders(name: str, lang: str, contexts: dict[str, object]) -> None:
    renderer = Renderer([shipped("templates")])
    assert renderer.find(name, lang, exact=True), f"{name} has no {lang} variant"
    parts = renderer.render(name, lang, {**context_for(name, contexts), "lang": lang})
    assert parts["body"].strip()
    assert all(unicodedata.is_normalized("NFC", text) for text in parts.values())
    if name.startswith(("mail/", "access/")):  # messages have a subject, documents a title
        assert "\n" not in parts["subject"].strip()
    else:
        assert parts["title"].strip()


APPROVAL_REQUESTS = [n for n in NAMES if n.endswith("approval-request")]
# The mail that hands a unit or person a task, which they acknowledge by its link.
TASKS = [n for n in NAMES if n.startswith("mail/task-")] + [
    "mail/rumour-watch",
    "mail/rumour-review",
    "mail/policy-screening",
    "mail/policy-plan",
    "mail/policy-review",
    "mail/policy-consultation-open",
    "mail/policy-listen",
    "mail/policy-adopted",
]


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("name", APPROVAL_REQUESTS)
def test_an_approval_request_shows_the_whole_text_and_its_page(
    name: str, lang: str, contexts: dict[str, object]
) -> None:
    renderer = Renderer([shipped("templates")])
    contexts = context_for(name, contexts)
    body = renderer.render(name, lang, {**contexts, "lang": lang})["body"]
    statement = contexts["statement"]
    assert isinstance(statement, dict)
    assert statement["text"].rstrip() in body and statement["sha256"] in body
    assert f"{contexts['approval_url']}\n" in body  # on a line of its own, to open it
    assert "advance" not in body  # the page replaces the command lines
    empty = {**contexts, "statements": [], "statement": None, "approval_url": None}
    assert statement["text"].rstrip() not in renderer.render(name, lang, empty)["body"]


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("name", TASKS)
def test_task_mail_shows_its_acknowledge_link_when_it_has_one(
    name: str, lang: str, contexts: dict[str, object]
) -> None:
    renderer = Renderer([shipped("templates")])
    contexts = context_for(name, contexts)
    for role in ("field_unit", "legal", "communications", "drafting_unit", "monitor"):
        body = renderer.render(name, lang, {**contexts, "lang": lang, "role": role})["body"]
        assert f": {contexts['ack_url']}\n" in body
    without = renderer.render(name, lang, {**contexts, "lang": lang, "ack_url": None})["body"]
    assert "/ack/" not in without


def test_a_preview_shows_example_links_that_acknowledge_nothing(workspace: Path) -> None:
    import json

    from click.testing import CliRunner

    from crisisflow.cli import cli

    env = {"CRISISFLOW_HOME": str(workspace)}
    runner = CliRunner()
    opened = runner.invoke(cli, ["open", "media-crisis", "--title", "Thử", "--json"], env=env)
    ref = json.loads(opened.stdout)["ref"]
    request = runner.invoke(
        cli, ["template", "render", "mail/approval-request", "--incident", ref], env=env
    )
    assert request.exit_code == 0, request.stderr
    assert "(Ví dụ) Toàn văn dự thảo" in request.stdout
    # The first text the playbook submits for approval is the holding statement.
    assert f"http://127.0.0.1:8080/incidents/{ref}/statements/holding_statement" in request.stdout
    task = runner.invoke(
        cli, ["template", "render", "mail/task-verify", "--incident", ref], env=env
    )
    assert "Xác nhận đã nhận nhiệm vụ: http://127.0.0.1:8080/ack/preview" in task.stdout


# The facts a playbook's `open` insists on.
REQUIRED = OPENING


def test_every_shipped_template_renders_through_the_command_as_its_use_gives_it(
    workspace: Path,
) -> None:
    """`crisisflow template render NAME --incident REF` for every template and language,
    against an incident of the playbook that uses it, with what that use adds (a task mail's
    addressee and due time, a notice's clock, an authorisation's letter, the yearly counts)."""
    import json

    from click.testing import CliRunner

    from crisisflow.catalogue import load_file
    from crisisflow.cli import cli

    env = {"CRISISFLOW_HOME": str(workspace)}
    runner = CliRunner()
    used: dict[str, str] = {}
    refs: dict[str, str] = {}
    for path in sorted(shipped("playbooks").glob("*.yaml")):
        given = [a for k, v in REQUIRED.get(path.stem, {}).items() for a in ("--set", f"{k}={v}")]
        opened = runner.invoke(
            cli, ["open", path.stem, "--title", "Thử", *given, "--json"], env=env
        )
        refs[path.stem] = json.loads(opened.stdout)["ref"]
        for name, _line in load_file(path).templates():
            used.setdefault(name, path.stem)
    listed = json.loads(runner.invoke(cli, ["template", "list", "--json"], env=env).stdout)
    assert len(listed) >= 48
    failures = []
    for row in listed:
        ref = refs[used.get(row["name"], "media-crisis")]
        for lang in ("vi", "en"):
            args = ["template", "render", row["name"], "--incident", ref, "--lang", lang]
            result = runner.invoke(cli, args, env=env)
            if result.exit_code != 0 or not result.stdout.strip():
                failures.append(f"{row['name']} {lang}: {result.stderr.strip()}")
    assert failures == []
    task = runner.invoke(
        cli,
        ["template", "render", "mail/new-incident", "--incident", refs["media-crisis"]],
        env=env,
    )
    assert "Văn phòng HĐND và UBND huyện" in task.stdout  # addressed to the coordinator
