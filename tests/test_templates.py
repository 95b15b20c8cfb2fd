"""Every shipped template renders, in Vietnamese and in English, for a real incident."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from crisisflow.catalogue import load_file
from crisisflow.config import shipped
from crisisflow.render import Renderer

from .template_contexts import OPENING, build, in_lang

NAMES = Renderer([shipped("templates")]).names()


@pytest.fixture(scope="module")
def contexts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The context a step gives templates, for a media-crisis incident walked to its end."""
    return build(tmp_path_factory.mktemp("templates"))


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
    parts = renderer.render(name, lang, in_lang(context_for(name, contexts), lang))
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
    body = renderer.render(name, lang, in_lang(contexts, lang))["body"]
    statement = contexts["statement"]
    assert isinstance(statement, dict)
    # The document as it will be issued: the number it will get is said to come on issue.
    assert statement["preview"].rstrip() in body and statement["sha256"] in body
    assert "(số sẽ cấp khi ban hành)/TC-UBND" in body
    assert f"{contexts['approval_url']}\n" in body  # on a line of its own, to open it
    assert "advance" not in body  # the page replaces the command lines
    empty = {**contexts, "statements": [], "statement": None, "approval_url": None}
    assert statement["preview"].rstrip() not in renderer.render(name, lang, empty)["body"]


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("name", TASKS)
def test_task_mail_shows_its_acknowledge_link_when_it_has_one(
    name: str, lang: str, contexts: dict[str, object]
) -> None:
    renderer = Renderer([shipped("templates")])
    contexts = context_for(name, contexts)
    for role in ("field_unit", "legal", "communications", "drafting_unit", "monitor"):
        body = renderer.render(name, lang, {**in_lang(contexts, lang), "role": role})["body"]
        assert f": {contexts['ack_url']}\n" in body
    without = renderer.render(name, lang, {**in_lang(contexts, lang), "ack_url": None})["body"]
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
REQUIRED = {
    playbook: {k: "chu-tich" if v == "HEAD" else v for k, v in given.items()}
    for playbook, given in OPENING.items()
}


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
