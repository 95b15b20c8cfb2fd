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
    from .actor import Actor
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


def _keep(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def keep(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        ctx.meta["crisisflow." + name] = value
        return value

    return keep


def confirm_unchanged_option(f: F) -> F:
    """``--confirm-unchanged``: approve a text that was returned and not changed since."""
    return click.option(
        "--confirm-unchanged",
        is_flag=True,
        help=_(
            "Approve a text that was returned for changes and has not changed since, as it is "
            "(the history records it)."
        ),
    )(f)


def as_option(f: F) -> F:
    """``--as PERSON`` and ``--on-behalf``: who acts, when it is not the caller."""
    f = click.option(
        "--on-behalf",
        is_flag=True,
        expose_value=False,
        callback=_keep("on_behalf"),
        help=_(
            "With --as: record what PERSON decided elsewhere (e.g. approved by phone), "
            "entered by you; --note says how and when."
        ),
    )(f)
    return click.option(
        "--as",
        "actor",
        metavar="PERSON",
        help=_(
            "Enter this for directory person PERSON (default: the person bound to your "
            "account, else the actor setting); it grants no right you do not hold."
        ),
    )(f)


def on_behalf_note_option(f: F) -> F:
    """``--note`` for commands that have no note of their own."""
    return click.option(
        "--note",
        expose_value=False,
        callback=_keep("note"),
        metavar="TEXT",
        help=_("With --on-behalf: how and when PERSON decided."),
    )(f)


def acting(ctx: click.Context, person: str | None, note: str | None = None) -> Actor:
    """The actor of this command: the caller, or PERSON as --as and --on-behalf say."""
    app = get_app(ctx)
    if not ctx.meta.get("crisisflow.on_behalf"):
        return app.identify(person)
    given = note if note is not None else ctx.meta.get("crisisflow.note")
    return app.identify(person, on_behalf=given or "")


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
