"""What every command shares: the group that turns errors into one line and an exit code,
the application object built on first use, and the options defined once."""

from __future__ import annotations

import json
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


def limit_option(f: F) -> F:
    return click.option(
        "--limit",
        type=click.IntRange(1, 100_000),
        default=200,
        show_default=True,
        help=_("At most this many."),
    )(f)


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
