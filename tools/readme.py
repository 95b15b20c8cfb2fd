"""Regenerate the README's settings table and command reference from the code.

python tools/readme.py          # rewrite README.md in place
python tools/readme.py --check  # exit 1 if README.md is out of date (the tests do this)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from crisisflow.cli import cli
from crisisflow.config import SETTINGS

README = Path(__file__).resolve().parent.parent / "README.md"


def settings_table() -> str:
    rows = ["| setting | environment | default | range | meaning |", "|---|---|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default != "" else "(empty)"
        bounds = f"{_number(s.low)}–{_number(s.high)}" if s.low is not None else ""
        env = "(file only)" if s.file_only else f"`{s.env}`"
        rows.append(f"| `{s.name}` | {env} | {default} | {bounds} | {s.help} |")
    return "\n".join(rows)


def _number(value: float | None) -> str:
    if value is None:
        return "∞"
    return str(int(value)) if float(value).is_integer() else str(value)


def command_reference() -> str:
    parts: list[str] = []

    def visit(command: click.Command, path: list[str], parent: click.Context | None) -> None:
        settings = {"max_content_width": 100, **command.context_settings}
        ctx = click.Context(
            command, info_name=path[-1], parent=parent, terminal_width=100, **settings
        )
        children = (
            [(name, command.get_command(ctx, name)) for name in command.list_commands(ctx)]
            if isinstance(command, click.Group)
            else []
        )
        if len(path) > 1:
            parts.append(f"### `{' '.join(path)}`\n\n```\n{command.get_help(ctx)}\n```\n")
        for name, child in sorted(children, key=lambda pair: pair[0]):
            if child is not None:
                visit(child, [*path, name], ctx)

    visit(cli, ["crisisflow"], None)
    return "\n".join(parts).rstrip()


SECTIONS = {"settings": settings_table, "commands": command_reference}


def render(text: str) -> str:
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(\n<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no <!-- {name}:start --> ... end markers")
        text = pattern.sub(lambda m, make=make: m.group(1) + make() + m.group(2), text)
    return text


def main() -> None:
    current = README.read_text(encoding="utf-8")
    wanted = render(current)
    if "--check" in sys.argv:
        if current != wanted:
            print("README.md is out of date: run python tools/readme.py", file=sys.stderr)
            sys.exit(1)
        return
    README.write_text(wanted, encoding="utf-8")


if __name__ == "__main__":
    main()
