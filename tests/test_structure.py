"""The import rules of the architecture (design.md, 'Modules'), checked on the source with ast.

Arrows point inward: pure modules (playbook, machine, render) never reach the database or the
network, storage never reaches the CLI, and the CLI never touches SQLAlchemy itself.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "crisisflow"

# module → the crisisflow modules it may import.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "i18n": set(),
    "audit": set(),
    "config": {"errors", "i18n"},
    "yamlfile": {"errors", "i18n"},
    "playbook": {"errors", "i18n", "yamlfile", "lint"},
    "lint": {"errors", "i18n", "playbook"},
    "directory": {"errors", "i18n", "yamlfile"},
    "facts": {"errors", "i18n", "directory", "playbook"},
    "machine": {"errors", "i18n", "playbook"},
    "render": {"errors", "i18n"},
    "mail": {"errors", "i18n"},
    "smtp": {"i18n"},
    "mailbox": {"errors", "i18n"},
    "history": {"errors", "i18n", "audit", "store", "models"},
    "dispatch": {"errors", "i18n", "history", "store", "models", "smtp"},
    "export": {"errors", "i18n"},
    "rules": {"errors", "i18n", "yamlfile"},
    "deadlines": {"errors", "i18n", "history", "store", "rules", "app", "playbook"},
    "reports": {"errors", "i18n", "models", "app", "export"},
    "delivery": {"errors", "i18n", "store", "app", "dispatch", "smtp", "mailbox"},
    "statements": {"errors", "i18n", "history", "store", "facts", "export", "app"},
    "drafting": {"errors", "i18n", "mail", "directory", "machine", "playbook", "render"},
    "models": set(),
    "store": {"errors", "i18n", "models"},
    "workspace": {"errors", "i18n", "config", "store"},
    "app": {
        "delivery",
        "deadlines",
        "rules",
        "statements",
        "dispatch",
        "mailbox",
        "history",
        "smtp",
        "drafting",
        "errors",
        "i18n",
        "config",
        "playbook",
        "lint",
        "directory",
        "facts",
        "machine",
        "render",
        "mail",
        "models",
        "store",
        "audit",
        "yamlfile",
    },
    "views": {"i18n", "playbook", "app", "dispatch", "mailbox"},  # types only
    "demo": {"i18n", "app", "config", "mailbox", "views", "workspace"},
    "cli": {
        "errors",
        "i18n",
        "app",
        "config",
        "workspace",
        "cli_delivery",
        "cli_incidents",
        "cli_statements",
    },
    "cli_incidents": {"cli", "errors", "i18n", "app", "views", "demo", "deadlines"},
    "cli_statements": {"cli", "errors", "i18n", "app", "views"},
    "cli_delivery": {"cli", "errors", "i18n", "app", "views", "deadlines", "reports"},
    "__init__": set(),
    "__main__": {"cli"},
}

# Third-party packages a module may not import at all.
FORBIDDEN: dict[str, set[str]] = {
    "playbook": {"sqlalchemy", "alembic", "aiosmtplib", "smtplib", "socket", "jinja2"},
    "lint": {"sqlalchemy", "alembic", "aiosmtplib", "smtplib", "socket", "jinja2"},
    "machine": {"sqlalchemy", "alembic", "aiosmtplib", "smtplib", "socket", "jinja2"},
    "render": {"sqlalchemy", "alembic", "aiosmtplib", "smtplib", "socket"},
    "directory": {"sqlalchemy", "aiosmtplib", "jinja2", "transitions"},
    "cli": {"sqlalchemy", "alembic", "jinja2", "transitions", "yaml", "aiosmtplib"},
    "cli_incidents": {"sqlalchemy", "alembic", "jinja2", "transitions", "yaml", "aiosmtplib"},
    "cli_statements": {"sqlalchemy", "alembic", "jinja2", "transitions", "yaml", "aiosmtplib"},
    "cli_delivery": {"sqlalchemy", "alembic", "jinja2", "transitions", "yaml", "aiosmtplib"},
    "views": {"sqlalchemy", "jinja2", "transitions", "aiosmtplib"},
}


def imports_of(path: Path) -> tuple[set[str], set[str]]:
    """(crisisflow modules, top-level foreign packages) imported anywhere in the file."""
    own, foreign = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: `from . import x` or `from .x import y`
                if node.module:
                    own.add(node.module.split(".")[0])
                else:
                    own.update(alias.name for alias in node.names)
            elif node.module and node.module.split(".")[0] == "crisisflow":
                parts = node.module.split(".")
                own.add(parts[1] if len(parts) > 1 else node.names[0].name)
            elif node.module:
                foreign.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            foreign.update(alias.name.split(".")[0] for alias in node.names)
    return own, foreign


MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))


def test_every_module_is_in_the_table() -> None:
    assert set(MODULES) == set(ALLOWED), "add new modules to ALLOWED (and to the README)"


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_follow_the_architecture(module: str) -> None:
    own, foreign = imports_of(PACKAGE / f"{module}.py")
    own.discard(module)
    assert own <= ALLOWED[module], f"{module} imports {sorted(own - ALLOWED[module])}"
    bad = foreign & FORBIDDEN.get(module, set())
    assert not bad, f"{module} imports {sorted(bad)}"


def test_help_imports_no_database_template_or_mail_library() -> None:
    code = (
        "import sys; from crisisflow.cli import cli\n"
        "try:\n    cli(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "print('LOADED:' + ','.join(m for m in ('sqlalchemy', 'jinja2', 'aiosmtplib', "
        "'transitions', 'yaml', 'alembic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "LOADED:"
