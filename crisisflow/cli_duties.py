"""Commands for the recurring duties the rule pack declares (the yearly report)."""

from __future__ import annotations

from datetime import datetime

import click

from .cli_common import (
    CONTEXT,
    CrisisflowGroup,
    acting,
    as_option,
    get_app,
    json_option,
    print_json,
)
from .i18n import _


@click.group("duties", cls=CrisisflowGroup, context_settings=CONTEXT, invoke_without_command=True)
@json_option
@click.pass_context
def duties(ctx: click.Context, as_json: bool) -> None:
    """List the recurring duties the rule pack declares: each one's next due time, its legal
    basis and the reminders sent (`tick` sends them, like a clock's).

    \b
    Example:
        crisisflow duties
        crisisflow duties --json
    """
    if ctx.invoked_subcommand is not None:
        return
    owed = get_app(ctx).duties.upcoming()
    if as_json:
        print_json(owed)
        return
    app = get_app(ctx)
    if not owed:
        click.echo(_("No duties: the rule pack declares none."))
    for duty in owed:
        due = app.local(datetime.fromisoformat(duty["due_at"]))
        left = duty["seconds_left"]
        when = _("overdue") if left < 0 else _("{days} day(s) left").format(days=left // 86400)
        click.echo(f"{duty['duty']:<20} {due}  {when:<16} {duty['title']}")
        click.echo(f"{'':<20} {duty['basis']}")


@duties.command("done", context_settings=CONTEXT)
@click.argument("duty")
@click.option("--note", required=True, metavar="TEXT", help=_("How it was done (its number)."))
@as_option
@click.pass_context
def done(ctx: click.Context, duty: str, note: str, actor: str | None) -> None:
    """Record this period's DUTY done: no more reminders until the next.

    \b
    Example:
        crisisflow duties done yearly_report --note "Báo cáo số 45/BC-UBND ngày 18/12/2026"
    """
    result = get_app(ctx).duties.done(duty, note, actor=acting(ctx, actor))
    click.echo(_("{duty} {period}: done").format(duty=result["duty"], period=result["period"]))


COMMANDS = [duties]
