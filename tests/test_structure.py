"""The architecture, checked on the source with ast against the layer table that the README
keeps under "Architecture": calls only go down, nothing reaches what its layer may not, no
import circle anywhere, and modules and functions stay small."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "crisisflow"
MAX_MODULE_LINES = 420
MAX_FUNCTION_LINES = 65


def module_name(path: Path) -> str:
    """``crisisflow/app/incidents.py`` → ``app.incidents``; ``crisisflow/app/__init__.py`` →
    ``app``."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


MODULES = {
    module_name(p): p
    for p in sorted(PACKAGE.rglob("*.py"))
    if "migrations" not in p.relative_to(PACKAGE).parts
}


@cache
def layers() -> list[tuple[str, set[str], set[str], set[str]]]:
    """(layer, modules, may not import, may not reach) from the README's table, bottom first."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Architecture", 1)[1].split("\n\n| module |", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("layer", "---"):
            continue
        names = [set(re.findall(r"`([\w.]+)`", cell)) for cell in cells[1:]]
        rows.append((cells[0], *names))
    assert [r[0] for r in rows] == ["base", "pure", "infrastructure", "use cases", "front ends"]
    return rows


def layer_of(module: str) -> int:
    top = module.split(".")[0] if module.startswith(("app.", "web.")) else module
    found = [i for i, (_name, members, *_rest) in enumerate(layers()) if top in members]
    assert len(found) == 1, f"{module} must stand in exactly one layer of the README's table"
    return found[0]


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """The crisisflow modules one ``from … import …`` names."""
    if node.level:
        package = module.split(".")
        if MODULES[module].name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - node.level + 1]
        prefix = ".".join([*package, *(node.module.split(".") if node.module else [])])
    elif node.module and node.module.split(".")[0] == "crisisflow":
        prefix = ".".join(node.module.split(".")[1:])
    else:
        return []
    found = []
    for alias in node.names:
        candidate = f"{prefix}.{alias.name}" if prefix else alias.name
        found.append(candidate if candidate in MODULES else prefix or "__init__")
    return [f for f in found if f in MODULES]


@cache
def imports(module: str) -> tuple[frozenset[str], frozenset[str]]:
    """(crisisflow modules, foreign top-level packages) the module imports at run time."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    skipped = {id(n) for t in ast.walk(tree) if _type_checking_only(t) for n in ast.walk(t)}
    own: set[str] = set()
    foreign: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            named = _resolve(module, node)
            own.update(named)
            if not named and not node.level and node.module:
                foreign.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == "crisisflow":
                    own.add(".".join(alias.name.split(".")[1:]) or "__init__")
                else:
                    foreign.add(top)
    own.discard(module)
    return frozenset(own), frozenset(foreign)


def reach(module: str) -> tuple[set[str], set[str]]:
    """Every crisisflow module and foreign package ``module`` reaches, directly or not."""
    seen: set[str] = set()
    foreign: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        own, outside = imports(current)
        foreign |= outside
        for name in own - seen:
            seen.add(name)
            todo.append(name)
    return seen, foreign


def test_every_module_stands_in_one_layer() -> None:
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_calls_only_go_down(module: str) -> None:
    own, foreign = imports(module)
    mine = layer_of(module)
    upward = sorted(m for m in own if layer_of(m) > mine)
    assert not upward, f"{module} ({layers()[mine][0]}) imports a higher layer: {upward}"
    forbidden = foreign & layers()[mine][2]
    assert not forbidden, f"{module} imports {sorted(forbidden)}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_nothing_reaches_what_its_layer_may_not(module: str) -> None:
    modules, foreign = reach(module)
    _name, _members, _direct, unreachable = layers()[layer_of(module)]
    assert not foreign & unreachable, f"{module} reaches {sorted(foreign & unreachable)}"
    if layer_of(module) <= 1:  # the pure layers never reach the store, directly or not
        assert not modules & {"store", "models"}, f"{module} reaches the store"


def test_no_import_circle() -> None:
    for module in MODULES:
        modules, _foreign = reach(module)
        assert module not in modules, f"{module} imports itself through a circle"


def test_the_checks_above_can_fail() -> None:
    """The table and the reader are not vacuous: the use cases reach SQLAlchemy, the CLI
    reaches the use cases, and a pure module's closure is not empty."""
    assert "sqlalchemy" in reach("app.incidents")[1]
    assert "app" in reach("cli")[0]
    assert {"playbook", "errors"} <= reach("machine")[0]
    assert layer_of("store") > layer_of("playbook")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_and_functions_stay_small(module: str) -> None:
    source = MODULES[module].read_text(encoding="utf-8")
    assert source.count("\n") <= MAX_MODULE_LINES, f"{module} has grown past ~400 lines: split it"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{module}.{node.name} is {length} lines long"


def test_help_imports_no_database_template_mail_or_web_library() -> None:
    code = (
        "import sys; from crisisflow.cli import cli\n"
        "try:\n    cli(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "print('LOADED:' + ','.join(m for m in ('sqlalchemy', 'jinja2', 'aiosmtplib', "
        "'transitions', 'yaml', 'alembic', 'starlette', 'uvicorn', 'babel', 'qrcode') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "LOADED:"


def test_show_imports_no_machine_template_or_yaml_library(tmp_path: Path) -> None:
    env = {**os.environ, "CRISISFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'show.db'}"}
    env.pop("CRISISFLOW_HOME", None)
    workspace = tmp_path / "ws"
    run = [sys.executable, "-m", "crisisflow", "--workspace", str(workspace)]
    subprocess.run([*run, "init", str(workspace)], env=env, check=True, capture_output=True)
    subprocess.run(
        [*run, "open", "media-crisis", "--title", "Thử"], env=env, check=True, capture_output=True
    )
    code = (
        "import sys; from crisisflow.cli import cli\n"
        f"try:\n    cli(['--workspace', {str(workspace)!r}, 'show', 'KC-2026-0001'],"
        " standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "print('LOADED:' + ','.join(m for m in ('transitions', 'jinja2', 'yaml', 'aiosmtplib')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "KC-2026-0001" in out.stdout, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "LOADED:"
