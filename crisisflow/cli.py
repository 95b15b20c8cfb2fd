"""The duty officer's command line: parse, call one use case of ``App``, print.

Commands import what they need when they run, so ``crisisflow --help`` stays instant. Errors are
mapped to one line on stderr and the error's exit code in one place, ``CrisisflowGroup.invoke``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .errors import CrisisflowError, InvalidInput, PlaybookError
from .i18n import _

if TYPE_CHECKING:
    from .app import App

F = TypeVar("F", bound=Callable[..., Any])
INTERNAL_ERROR = 70
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class CrisisflowGroup(click.Group):
    """A group that turns every CrisisflowError into one line and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CrisisflowError as exc:
            if _debug(ctx):
                raise
            if isinstance(exc, PlaybookError) and len(exc.problems) > 1:
                for problem in exc.problems:
                    click.echo(str(problem), err=True)
            else:
                click.echo(_("error: {message}").format(message=exc), err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            if _debug(ctx):
                raise
            click.echo(
                _("internal error: {kind}: {message} (run with --debug for the traceback)").format(
                    kind=type(exc).__name__, message=exc
                ),
                err=True,
            )
            ctx.exit(INTERNAL_ERROR)


def _debug(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool(root.params.get("debug"))


class Lazy:
    """Builds the App on first use, so commands that need no workspace never look for one."""

    def __init__(self, workspace: str | None) -> None:
        self.workspace = workspace
        self._app: App | None = None

    def app(self) -> App:
        if self._app is None:
            from .app import App
            from .config import find_workspace, load_settings

            self._app = App(load_settings(find_workspace(self.workspace)))
        return self._app


def get_app(ctx: click.Context) -> App:
    return ctx.find_object(Lazy).app()  # type: ignore[union-attr]


# --- shared options, defined once ------------------------------------------------------------


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help=_("Print JSON for scripts."))(f)


def as_option(f: F) -> F:
    return click.option(
        "--as",
        "actor",
        metavar="PERSON",
        help=_("Act as this directory person (default: the actor setting)."),
    )(f)


def set_option(f: F) -> F:
    return click.option(
        "--set",
        "assignments",
        multiple=True,
        metavar="KEY=VALUE",
        help=_("Set a fact of the incident; repeatable."),
    )(f)


def note_option(f: F) -> F:
    return click.option("--note", metavar="TEXT", help=_("A note for the history."))(f)


def parse_assignments(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("a=1", "b=x=y")`` → ``{"a": "1", "b": "x=y"}``."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(_("--set {pair!r}: write KEY=VALUE").format(pair=pair))
        result[key.strip()] = value
    return result


def write_output(path: str, content: bytes) -> None:
    """Write a command's output to the file --output names, and say so."""
    try:
        Path(path).write_bytes(content)
    except OSError as exc:
        raise InvalidInput(
            _("--output {path}: {error}").format(path=path, error=exc.strerror)
        ) from exc
    click.echo(_("written to {path}").format(path=path))


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@click.group(cls=CrisisflowGroup, context_settings=CONTEXT)
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
def init(directory: Path, update: bool) -> None:
    """Create a workspace in DIRECTORY: settings, directory, playbooks, templates, database.

    \b
    Example:
        crisisflow init vinh-linh
        crisisflow init --update vinh-linh
    """
    from .workspace import init as init_workspace

    report = init_workspace(directory, update=update)
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


# The command groups live in modules of their own; importing them registers their commands.
from . import cli_delivery, cli_incidents, cli_statements  # noqa: E402, F401


def main() -> None:
    cli(prog_name="crisisflow")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())  # type: ignore[func-returns-value]
