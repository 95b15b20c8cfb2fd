"""The README cannot drift from the code: its generated sections must match."""

from __future__ import annotations

import importlib.util
from pathlib import Path

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

    assert all(f"`{s.env}`" in text for s in SETTINGS)
    assert all(f"### `crisisflow {name}" in text for name in cli.commands)


def test_readme_documents_every_playbook_key() -> None:
    from crisisflow import playbook

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    keys = (
        playbook._TOP_KEYS
        + playbook._STATE_KEYS
        + playbook._TRANSITION_KEYS
        + playbook.GUARDS
        + playbook.ACTIONS
        + playbook.FACT_TYPES
    )
    missing = [k for k in keys if f"`{k}`" not in text]
    assert not missing, missing
