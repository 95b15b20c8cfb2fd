"""Loading and linting playbooks: the shipped ones pass, each broken one fails as it should."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crisisflow import catalogue, playbook_data
from crisisflow import playbook as pb
from crisisflow.config import shipped
from crisisflow.errors import PlaybookError
from crisisflow.render import Renderer

BROKEN = sorted((Path(__file__).parent / "broken_playbooks").glob("*.yaml"))
SHIPPED = sorted(shipped("playbooks").glob("*.yaml"))
RENDERER = Renderer([shipped("templates")])


def expectation(path: Path) -> tuple[int, str]:
    """The `# expect: MESSAGE` header, and the line marked `# <-` (else 1)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    message = lines[0].removeprefix("# expect: ").strip()
    marked = [n for n, line in enumerate(lines, 1) if line.rstrip().endswith("# <-")]
    return (marked[0] if marked else 1), message


def test_corpus_is_large_enough() -> None:
    assert len(BROKEN) >= 20


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_playbook_gives_its_error_at_its_line(path: Path) -> None:
    line, message = expectation(path)
    with pytest.raises(PlaybookError) as caught:
        catalogue.load_file(path, RENDERER.exists)
    found = [(p.line, p.message) for p in caught.value.problems]
    assert any(message in text for _line, text in found), found
    assert any(message in text and at == line for at, text in found), found
    assert all(str(p).startswith(f"{path}:") for p in caught.value.problems)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_playbook_passes_lint(path: Path) -> None:
    loaded = catalogue.load_file(path, RENDERER.exists)
    assert loaded.id == path.stem
    assert all(s.title.get("vi") and s.title.get("en") for s in loaded.states.values())
    assert all(t.title.get("vi") and t.title.get("en") for t in loaded.transitions)


def test_pinned_form_rebuilds_the_same_playbook() -> None:
    loaded = catalogue.load_file(shipped("playbooks") / "media-crisis.yaml")
    again = catalogue.from_pinned(catalogue.to_json(loaded), loaded.source, loaded.filename)
    assert again.states.keys() == loaded.states.keys()
    assert [t.trigger for t in again.transitions] == [t.trigger for t in loaded.transitions]
    assert again.source_hash == loaded.source_hash


def test_content_hash_changes_with_any_edit() -> None:
    source = (shipped("playbooks") / "media-crisis.yaml").read_text(encoding="utf-8")
    assert pb.content_hash(source) != pb.content_hash(source.replace("version: 6", "version: 7"))


def test_problems_are_all_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(
        BROKEN[0]
        .with_name("09-unknown-dest.yaml")
        .read_text(encoding="utf-8")
        .replace("initial: open", "initial: start"),
        encoding="utf-8",
    )
    with pytest.raises(PlaybookError) as caught:
        catalogue.load_file(path)
    messages = " | ".join(p.message for p in caught.value.problems)
    assert "unknown dest state" in messages and "initial state 'start'" in messages


@given(st.text(max_size=200))
def test_any_text_loads_or_fails_cleanly(text: str) -> None:
    try:
        catalogue.parse_text(text, "fuzz.yaml")
    except PlaybookError as exc:
        assert exc.problems and all(p.file == "fuzz.yaml" and p.line >= 1 for p in exc.problems)


YAML_ATOMS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "states",
                    "source",
                    "dest",
                    "trigger",
                    "to",
                    "template",
                    "notify",
                    "guards",
                    "final",
                    "x",
                ]
            ),
            children,
            max_size=3,
        )
    ),
    max_leaves=12,
)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "version",
                "title",
                "reference_prefix",
                "roles",
                "facts",
                "initial",
                "states",
                "transitions",
            ]
        ),
        YAML_ATOMS,
        max_size=9,
    )
)
def test_any_structure_builds_or_reports_problems(data: dict[str, object]) -> None:
    playbook, problems = playbook_data.build(data, "", "fuzz.yaml")
    assert (playbook is None) == bool(problems)


MEDIA_CRISIS = (shipped("playbooks") / "media-crisis.yaml").read_text(encoding="utf-8")


def line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  approver: approver\n", "  approver: chairman\n", "unknown role 'chairman'"),
        ("  approver: approver\n", "", "name the approver role"),
        ("  publishers: [spokesperson, coordinator]\n", "", "a publish step needs"),
        (
            "  press: [holding_statement, initial_info, update_info]",
            "  press: [initial_inf]",
            "'initial_inf'",
        ),
        ("    interview: {", "    interviews: {", "not: interview"),
        ("  reminder: mail/deadline-reminder\n", "", "`reminder` and `escalation`"),
        ("  approver: approver\n", "  approver: [approver, deputy]\n", "one role"),
        (
            "  authorisation: statements/spokesperson-authorisation\n",
            "",
            "authorisation_grants needs the letter",
        ),
    ],
)
def test_statement_policy_is_checked_with_its_line(old: str, new: str, message: str) -> None:
    assert old in MEDIA_CRISIS
    broken = MEDIA_CRISIS.replace(old, new, 1)
    with pytest.raises(PlaybookError) as error:
        catalogue.parse_text(broken, "media-crisis.yaml", RENDERER.exists)
    found = [p for p in error.value.problems if message in p.message]
    assert found, [str(p) for p in error.value.problems]
    lines = {line_of(broken, "statements:"), line_of(broken, "templates:")}
    if new.strip():  # a problem about a key stands at that key
        lines.add(line_of(broken, new.strip()))
    assert found[0].line in lines


def test_the_shipped_policy_is_read_as_declared() -> None:
    loaded = catalogue.parse_text(MEDIA_CRISIS, "media-crisis.yaml", RENDERER.exists)
    policy = loaded.policy
    assert policy.approver == "approver"
    assert policy.publishers == ("spokesperson", "coordinator")
    assert policy.press == ("holding_statement", "initial_info", "update_info")
    assert policy.channel_label("press_release", "vi") == "Thông cáo báo chí"
    assert policy.channel_label("press_release", "en") == "Press release"
    assert (policy.channel_fact, policy.url_fact) == ("publish_channel", "publish_url")
