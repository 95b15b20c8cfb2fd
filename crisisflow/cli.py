"""The duty officer's command line: parse, call one use case of ``App``, print.

Commands import what they need when they run, so ``crisisflow --help`` stays instant. Errors are
mapped to one line on stderr and the error's exit code in one place, ``CrisisflowGroup.invoke``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from .cli_common import CONTEXT, CrisisflowGroup, Lazy, get_app
from .i18n import _


class Root(CrisisflowGroup):
    """The root command: each command group's module is imported when one of its commands is
    asked for, so `crisisflow show` does not load the statement and delivery commands."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMAND_MODULES})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands:
            # An unknown name loads every group, so "did you mean" can suggest any command.
            wanted = (
                [COMMAND_MODULES[name]] if name in COMMAND_MODULES else COMMAND_MODULES.values()
            )
            for module_name in dict.fromkeys(wanted):
                for command in importlib.import_module(f"crisisflow.{module_name}").COMMANDS:
                    self.add_command(command)
        return self.commands.get(name)


# Command name → the module of its group (tests/test_docs.py checks that these agree).
COMMAND_MODULES = {
    **dict.fromkeys(
        ("playbook", "open", "advance", "note", "list", "show", "demo"), "cli_incidents"
    ),
    **dict.fromkeys(("statement", "template"), "cli_statements"),
    **dict.fromkeys(
        ("tick", "ack", "audit", "report", "dispatch", "worker", "outbox", "mailbox"),
        "cli_delivery",
    ),
    **dict.fromkeys(("serve", "session", "person", "secret"), "cli_web"),
    "duties": "cli_duties",
    "register": "cli_register",
}


@click.group(cls=Root, context_settings=CONTEXT)
@click.option(
    "--workspace",
    "-w",
    metavar="DIR",
    envvar="CRISISFLOW_HOME",
    help=_(
        "Workspace folder (default: $CRISISFLOW_HOME, or the nearest folder above "
        "holding crisisflow.toml)."
    ),
)
@click.option("--debug", is_flag=True, help=_("Show tracebacks."))
@click.version_option(package_name="crisisflow", message="crisisflow %(version)s")
@click.pass_context
def cli(ctx: click.Context, workspace: str | None, debug: bool) -> None:
    """crisisflow: crisis-communication playbooks, statements and legal deadlines.

    \b
    Example:
        crisisflow init vinh-linh && cd vinh-linh
        crisisflow open media-crisis --title "Báo phản ánh ô nhiễm tại Cửa Tùng"
        crisisflow advance KC-2026-0001 triage
    """
    ctx.obj = Lazy(workspace)
    ctx.call_on_close(lambda: ctx.obj._app.close() if ctx.obj._app else None)


# --- workspace -------------------------------------------------------------------------------


@cli.command(context_settings=CONTEXT)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--update",
    is_flag=True,
    help=_(
        "On an existing workspace: refresh shipped files you have not edited and "
        "upgrade the database."
    ),
)
@click.option(
    "--example",
    type=click.Choice(["district", "commune", "department"]),
    default="district",
    show_default=True,
    help=_(
        "The directory to start from: the Vĩnh Linh district (the structure before the 2025 "
        "reform), a commune People's Committee, or a provincial department (Sở)."
    ),
)
def init(directory: Path, update: bool, example: str) -> None:
    """Create a workspace in DIRECTORY: settings, directory, playbooks, templates, database.

    \b
    Example:
        crisisflow init vinh-linh
        crisisflow init --example commune cua-tung
        crisisflow init --update vinh-linh
    """
    from .workspace import init as init_workspace

    report = init_workspace(directory, update=update, example=example)
    click.echo(_("Workspace {path}").format(path=report.workspace))
    for label, names in (
        (_("created"), report.created),
        (_("updated"), report.updated),
        (_("kept (edited by you)"), report.kept),
    ):
        if names:
            click.echo(f"  {label}: {len(names)} " + _("files"))
    if report.schema_before != report.schema_after:
        click.echo(
            _("  database: schema {before} → {after}").format(
                before=report.schema_before or _("new"), after=report.schema_after
            )
        )
    click.echo(_("Next: cd {path} && crisisflow playbook list").format(path=report.workspace))


@cli.group(cls=CrisisflowGroup, context_settings=CONTEXT)
def db() -> None:
    """The database schema.

    \b
    Example:
        crisisflow db status
        crisisflow db upgrade
    """


@db.command("upgrade", context_settings=CONTEXT)
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Bring the database schema to this version of crisisflow, keeping every row.

    \b
    Example:
        CRISISFLOW_DATABASE_URL=postgresql+psycopg://crisisflow@db/crisisflow crisisflow db upgrade
    """
    url, before, after = get_app(ctx).upgrade_database()
    click.echo(
        _("{url}: schema {before} → {after}").format(
            url=url, before=before or _("none"), after=after
        )
    )


@db.command("status", context_settings=CONTEXT)
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """Print the database URL (without password) and its schema version.

    \b
    Example:
        crisisflow db status
    """
    url, revision, current = get_app(ctx).database_status()
    state = _("current") if current else _("needs `crisisflow db upgrade`")
    click.echo(
        _("{url}: schema {revision} ({state})").format(
            url=url, revision=revision or _("none"), state=state
        )
    )


def main() -> None:
    cli(prog_name="crisisflow")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())  # type: ignore[func-returns-value]
