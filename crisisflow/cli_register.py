"""The document register command: the numbers given to issued statements."""

from __future__ import annotations

from datetime import datetime

import click

from .cli_common import CONTEXT, get_app, json_option, print_json
from .i18n import _


@click.command("register", context_settings=CONTEXT)
@click.option("--year", type=click.IntRange(1900, 9999), help=_("Only this year's register."))
@json_option
@click.pass_context
def register(ctx: click.Context, year: int | None, as_json: bool) -> None:
    """Print the document register: each number given, by year and symbol, with the
    statement it was given to, when and who signed it.

    \b
    Example:
        crisisflow register
        crisisflow register --year 2026 --json
    """
    app = get_app(ctx)
    entries = app.register.entries(year)
    if as_json:
        print_json(entries)
        return
    if not entries:
        click.echo(_("No numbers given yet."))
    for e in entries:
        issued = app.local(datetime.fromisoformat(e["issued_at"]))
        click.echo(
            f"{e['written']:<16} {issued}  {e['ref']:<14} {e['kind']:<22} "
            f"{e['signer'] or '-':<14} {e['title']}"
        )


COMMANDS = [register]
