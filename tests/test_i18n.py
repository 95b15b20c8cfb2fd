"""Every user-facing CLI message goes through gettext, so the CLI can be translated."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "crisisflow"
WORDS = re.compile(r"[A-Za-z]{2,}")


def literal_text(node: ast.expr) -> str:
    """The words a node would print without passing through _()."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return " ".join(literal_text(v) for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.BinOp):
        return literal_text(node.left) + " " + literal_text(node.right)
    return ""


@pytest.mark.parametrize(
    "module", ["cli", "cli_incidents", "cli_statements", "cli_delivery", "views", "demo"]
)
def test_printed_text_is_translatable(module: str) -> None:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    untranslated = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("echo", "append"):
            for arg in node.args:
                text = literal_text(arg)
                if WORDS.search(text):
                    untranslated.append(f"{module}.py:{node.lineno}: {text!r}")
    assert not untranslated, untranslated


def test_errors_raised_by_the_package_are_translatable() -> None:
    untranslated = []
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                name = getattr(node.exc.func, "id", "")
                if name in ("ValueError", "AssertionError", "TypeError"):
                    continue  # programming errors, never shown to a user
                message = node.exc.args[-1]  # _fail(path, node, key, message) puts it last
                if WORDS.search(literal_text(message)):
                    untranslated.append(f"{path.name}:{node.lineno}")
    assert not untranslated, untranslated
