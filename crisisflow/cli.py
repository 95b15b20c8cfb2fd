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
    from .app import App, Outcome

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


# --- playbooks -------------------------------------------------------------------------------


@cli.group(cls=CrisisflowGroup, context_settings=CONTEXT)
def playbook() -> None:
    """List, check and show playbooks.

    \b
    Example:
        crisisflow playbook check
        crisisflow playbook show media-crisis --format mermaid
    """


@playbook.command("list", context_settings=CONTEXT)
@json_option
@click.pass_context
def playbook_list(ctx: click.Context, as_json: bool) -> None:
    """List the playbooks of the workspace (its own files win over the shipped ones).

    \b
    Example:
        crisisflow playbook list
    """
    app = get_app(ctx)
    rows: list[dict[str, Any]] = []
    for pid, path in app.playbook_files().items():
        try:
            pb = app.load_playbook(pid)
        except PlaybookError as exc:  # one broken file must not hide the others
            rows.append({"id": pid, "file": str(path), "problems": len(exc.problems)})
            continue
        rows.append(
            {
                "id": pb.id,
                "version": pb.version,
                "title": dict(pb.title),
                "reference_prefix": pb.reference_prefix,
                "file": pb.filename,
            }
        )
    if as_json:
        print_json(rows)
        return
    lang = app.settings["language"]
    for row in rows:
        if "problems" in row:
            click.echo(
                f"{row['id']:<20} "
                + _("does not load ({n} problems): run `crisisflow playbook check {file}`").format(
                    n=row["problems"], file=row["file"]
                )
            )
            continue
        click.echo(
            f"{row['id']:<20} v{row['version']:<3} {row['reference_prefix']:<6} "
            f"{row['title'].get(lang) or row['title'].get('vi', '')}"
        )


@playbook.command("check", context_settings=CONTEXT)
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def playbook_check(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Lint playbooks: YAML, schema, names, reachability, dead ends, ambiguous triggers.

    Each problem prints as FILE:LINE: MESSAGE; the exit code is non-zero if there is any.
    Without FILES, checks every playbook of the workspace.

    \b
    Example:
        crisisflow playbook check playbooks/media-crisis.yaml
    """
    app = get_app(ctx)
    problems = app.check_playbooks(list(files) if files else None)
    for problem in problems:
        click.echo(str(problem), err=True)
    checked = len(files) if files else len(app.playbook_files())
    if problems:
        click.echo(
            _("{n} problem(s) in {files} file(s)").format(n=len(problems), files=checked), err=True
        )
        ctx.exit(PlaybookError.exit_code)
    click.echo(_("{files} playbook(s) OK").format(files=checked))


@playbook.command("show", context_settings=CONTEXT)
@click.argument("playbook_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "mermaid", "json"]),
    default="text",
    show_default=True,
    help=_("Output format."),
)
@click.pass_context
def playbook_show(ctx: click.Context, playbook_id: str, fmt: str) -> None:
    """Print a playbook's states, owners, actions and transitions, or a Mermaid diagram.

    \b
    Example:
        crisisflow playbook show media-crisis
        crisisflow playbook show media-crisis --format mermaid > media-crisis.mmd
    """
    from . import views

    app = get_app(ctx)
    pb = app.load_playbook(playbook_id)
    if fmt == "mermaid":
        click.echo(views.mermaid(pb, app.settings["language"]))
    elif fmt == "json":
        print_json(views.playbook_data(pb))
    else:
        click.echo(views.playbook_text(pb, app.settings["language"]))


# --- incidents -------------------------------------------------------------------------------


@cli.command("open", context_settings=CONTEXT)
@click.argument("playbook_id", metavar="PLAYBOOK")
@click.option("--title", required=True, help=_("A short title of the matter."))
@set_option
@click.option(
    "--occurred-at",
    metavar="TIME",
    help=_("When it happened, e.g. '2026-11-26 08:30' or '26/11/2026 08:30'."),
)
@note_option
@as_option
@json_option
@click.pass_context
def open_(
    ctx: click.Context,
    playbook_id: str,
    title: str,
    assignments: tuple[str, ...],
    occurred_at: str | None,
    note: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Open an incident of PLAYBOOK; prints its reference and what can happen next.

    \b
    Example:
        crisisflow open media-crisis --title "Mạng xã hội lan truyền tin sạt lở" \\
            --set channel=social --set source_url=https://example.com/post/1 \\
            --occurred-at "26/11/2026 07:45"
    """
    app = get_app(ctx)
    outcome = app.open(
        playbook_id,
        title,
        given=parse_assignments(assignments),
        occurred_at=occurred_at,
        actor=actor,
        note=note,
    )
    _print_outcome(app, outcome, as_json)


@cli.command("advance", context_settings=CONTEXT)
@click.argument("ref")
@click.argument("trigger")
@note_option
@set_option
@as_option
@click.option(
    "--expect-state",
    metavar="STATE",
    help=_("Refuse unless the incident is still in STATE (guards against races)."),
)
@json_option
@click.pass_context
def advance(
    ctx: click.Context,
    ref: str,
    trigger: str,
    note: str | None,
    assignments: tuple[str, ...],
    actor: str | None,
    expect_state: str | None,
    as_json: bool,
) -> None:
    """Fire TRIGGER on incident REF: change its state, draft statements, queue e-mails.

    \b
    Example:
        crisisflow advance KC-2026-0001 verify --set field_unit=ubnd-cua-tung
        crisisflow advance KC-2026-0001 approve --as chu-tich
    """
    app = get_app(ctx)
    outcome = app.advance(
        ref,
        trigger,
        note=note,
        given=parse_assignments(assignments),
        actor=actor,
        expect_state=expect_state,
    )
    _print_outcome(app, outcome, as_json)


@cli.command("note", context_settings=CONTEXT)
@click.argument("ref")
@click.argument("text")
@as_option
@click.pass_context
def note(ctx: click.Context, ref: str, text: str, actor: str | None) -> None:
    """Add a note to the history of incident REF.

    \b
    Example:
        crisisflow note KC-2026-0001 "Phóng viên báo Tuổi Trẻ gọi hỏi lúc 9 giờ"
    """
    app = get_app(ctx)
    seq = app.note(ref, text, actor=actor)
    click.echo(_("{ref}: note added as event {seq}").format(ref=ref.upper(), seq=seq))


@cli.command("list", context_settings=CONTEXT)
@click.option("--state", metavar="STATE", help=_("Only incidents in this state."))
@click.option("--all", "include_closed", is_flag=True, help=_("Include incidents in final states."))
@click.option("--open", "only_open", is_flag=True, help=_("Only open incidents (the default)."))
@click.option("--overdue", is_flag=True, help=_("Incidents with a clock that has run out."))
@click.option(
    "--due-within",
    metavar="DURATION",
    help=_("Incidents with a clock running out within DURATION (e.g. 2h, 90m, 1d)."),
)
@click.option("--limit", default=200, show_default=True, help=_("At most this many."))
@json_option
@click.pass_context
def list_(
    ctx: click.Context,
    state: str | None,
    include_closed: bool,
    only_open: bool,
    overdue: bool,
    due_within: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List open incidents, newest first; or those whose clocks are overdue or due soon.

    \b
    Example:
        crisisflow list
        crisisflow list --state approval --json
        crisisflow list --overdue
        crisisflow list --due-within 2h
    """
    app = get_app(ctx)
    if overdue or due_within:
        from .deadlines import parse_duration

        within = parse_duration(due_within) if due_within else None
        due = app.clocks_due(within, limit)
        if as_json:
            print_json(due)
        elif not due:
            click.echo(_("No clocks due."))
        for row in [] if as_json else due:
            label = _("OVERDUE") if row["overdue"] else _("due")
            click.echo(
                f"{row['ref']:<14} {row['clock']:<18} {label} {app.local(row['due_at'])}"
                f"  {row['title']}"
            )
        return
    rows = app.list_incidents(state=state, include_closed=include_closed, limit=limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo(_("No incidents."))
        return
    for row in rows:
        flag = ""
        if row["undeliverable"]:
            flag = "  " + _("[undeliverable mail: {n}]").format(n=row["undeliverable"])
        when = app.local(row["opened_at"])
        click.echo(f"{row['ref']:<14} {row['state']:<22} {when}  {row['title']}{flag}")


@cli.command("show", context_settings=CONTEXT)
@click.argument("ref")
@json_option
@click.pass_context
def show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show incident REF: state, facts, what can happen next, history, drafts, e-mails.

    \b
    Example:
        crisisflow show KC-2026-0001
        crisisflow show KC-2026-0001 --json | jq .allowed
    """
    from . import views

    app = get_app(ctx)
    data = app.show(ref)
    if as_json:
        print_json(data)
    else:
        click.echo(views.incident_text(data, app.settings["language"], app.local))


# --- statements ------------------------------------------------------------------------------


@cli.group("statement", cls=CrisisflowGroup, context_settings=CONTEXT)
def statement() -> None:
    """Statements: versions, approval bound to the exact text, publication, corrections.

    \b
    Example:
        crisisflow statement list KC-2026-0001
        crisisflow statement approve KC-2026-0001 initial_info --as chu-tich
    """


ref_kind = [click.argument("ref"), click.argument("kind")]


def statement_args(f: F) -> F:
    for decorator in reversed(ref_kind):
        f = decorator(f)
    return f


def _print_change(result: dict[str, Any], message: str) -> None:
    click.echo(message.format(**{k: v for k, v in result.items() if v is not None}))


@statement.command("list", context_settings=CONTEXT)
@click.argument("ref")
@json_option
@click.pass_context
def statement_list(ctx: click.Context, ref: str, as_json: bool) -> None:
    """List the statements of incident REF with their latest version and status.

    \b
    Example:
        crisisflow statement list KC-2026-0001
    """
    rows = get_app(ctx).statements.list(ref)
    if as_json:
        print_json(rows)
    elif not rows:
        click.echo(_("No statements."))
    else:
        for r in rows:
            click.echo(f"{r['kind']:<24} v{r['version']:<3} {r['status']:<10} {r['title']}")


@statement.command("show", context_settings=CONTEXT)
@statement_args
@click.option("--version", "number", type=int, help=_("This version (default: the latest)."))
@json_option
@click.pass_context
def statement_show(
    ctx: click.Context, ref: str, kind: str, number: int | None, as_json: bool
) -> None:
    """Show a statement's text, status and what was done to it.

    \b
    Example:
        crisisflow statement show KC-2026-0001 initial_info --version 1
    """
    from . import views

    data = get_app(ctx).statements.show(ref, kind, number)
    if as_json:
        print_json(data)
    else:
        click.echo(views.statement_text(data))


@statement.command("edit", context_settings=CONTEXT)
@statement_args
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, allow_dash=True),
    help=_("Take the new text from this file (- for standard input) instead of $EDITOR."),
)
@as_option
@click.pass_context
def statement_edit(
    ctx: click.Context, ref: str, kind: str, path: str | None, actor: str | None
) -> None:
    """Edit the current text in $EDITOR (or from --file); each save is a new version.

    Editing voids an approval: the approval is bound to the exact text.

    \b
    Example:
        crisisflow statement edit KC-2026-0001 initial_info
        crisisflow statement edit KC-2026-0001 initial_info --file ban-sua.txt
    """
    app = get_app(ctx)
    if path is None:
        current = app.statements.show(ref, kind)["text"]
        text = click.edit(text=current, extension=".txt", require_save=True)
        if text is None:
            click.echo(_("Not saved; nothing changed."))
            return
    else:
        try:
            with click.open_file(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise InvalidInput(
                _("--file {path}: {error}").format(path=path, error=exc.strerror)
            ) from exc
        except UnicodeDecodeError as exc:
            raise InvalidInput(_("--file {path}: not UTF-8 text").format(path=path)) from exc
    result = app.statements.edit(ref, kind, text, actor=actor)
    message = _("{ref} {kind}: saved as version {version}")
    if result["voided_approval"]:
        message += " " + _("(the approval of the previous text no longer applies)")
    _print_change(result, message)


@statement.command("diff", context_settings=CONTEXT)
@statement_args
@click.argument("a", type=int, required=False)
@click.argument("b", type=int, required=False)
@click.pass_context
def statement_diff(ctx: click.Context, ref: str, kind: str, a: int | None, b: int | None) -> None:
    """Show what changed between versions A and B (default: the last two).

    \b
    Example:
        crisisflow statement diff KC-2026-0001 initial_info 1 2
    """
    diff = get_app(ctx).statements.diff(ref, kind, a, b)
    click.echo(diff.rstrip("\n") if diff else _("No difference."))


@statement.command("submit", context_settings=CONTEXT)
@statement_args
@as_option
@click.pass_context
def statement_submit(ctx: click.Context, ref: str, kind: str, actor: str | None) -> None:
    """Submit the current text for approval.

    \b
    Example:
        crisisflow statement submit KC-2026-0001 initial_info
    """
    result = get_app(ctx).statements.submit(ref, kind, actor=actor)
    _print_change(result, _("{kind} v{version} submitted for approval"))


@statement.command("approve", context_settings=CONTEXT)
@statement_args
@as_option
@click.pass_context
def statement_approve(ctx: click.Context, ref: str, kind: str, actor: str | None) -> None:
    """Approve the current text; only the Chairman or a person authorised for this incident.

    \b
    Example:
        crisisflow statement approve KC-2026-0001 initial_info --as chu-tich
    """
    result = get_app(ctx).statements.approve(ref, kind, actor=actor)
    _print_change(result, _("{kind} v{version} approved (sha256 {sha256})"))


@statement.command("reject", context_settings=CONTEXT)
@statement_args
@click.option("--reason", required=True, help=_("What must change."))
@as_option
@click.pass_context
def statement_reject(
    ctx: click.Context, ref: str, kind: str, reason: str, actor: str | None
) -> None:
    """Return the current text with the reason; only an approver may.

    \b
    Example:
        crisisflow statement reject KC-2026-0001 initial_info --reason "Bổ sung số liệu"
    """
    result = get_app(ctx).statements.reject(ref, kind, reason, actor=actor)
    _print_change(result, _("{kind} v{version} rejected"))


@statement.command("publish", context_settings=CONTEXT)
@statement_args
@click.option(
    "--channel",
    required=True,
    help=_(
        "portal, social_page, press_release, written_reply, interview, briefing, press_conference."
    ),
)
@click.option("--url", help=_("Where it was published."))
@as_option
@click.pass_context
def statement_publish(
    ctx: click.Context, ref: str, kind: str, channel: str, url: str | None, actor: str | None
) -> None:
    """Record the publication of the approved text; refused unless the current text is the
    approved one. Press releases and initial information go to the press list by e-mail.

    \b
    Example:
        crisisflow statement publish KC-2026-0001 initial_info --channel portal \\
            --url https://vinhlinh.quangtri.gov.vn/tin/123
    """
    result = get_app(ctx).statements.publish(ref, kind, channel, url, actor=actor)
    _print_change(result, _("{kind} v{version} published on {channel}"))
    if result["press"]:
        click.echo(_("queued to the press: {to}").format(to=", ".join(result["press"])))


@statement.command("correct", context_settings=CONTEXT)
@statement_args
@click.option("--note", required=True, help=_("What was wrong and what is right."))
@as_option
@click.pass_context
def statement_correct(
    ctx: click.Context, ref: str, kind: str, note: str, actor: str | None
) -> None:
    """Start a correction (đính chính) of a published statement: drafted now, approved like
    any statement, published on the same channel.

    \b
    Example:
        crisisflow statement correct KC-2026-0001 initial_info --note "Số hộ bị ảnh hưởng là 12"
    """
    result = get_app(ctx).statements.correct(ref, kind, note, actor=actor)
    _print_change(
        result, _("{correction} v{version} drafted; publish it on {channel} once approved")
    )


@statement.command("authorise", context_settings=CONTEXT)
@click.argument("ref")
@click.argument("person")
@click.option("--until", required=True, metavar="TIME", help=_("When the authorisation ends."))
@as_option
@click.pass_context
def statement_authorise(
    ctx: click.Context, ref: str, person: str, until: str, actor: str | None
) -> None:
    """Authorise PERSON in writing to speak on and approve for incident REF until --until.

    Per matter and time-limited; only an approver in their own right may grant it, and it
    cannot be passed on. The authorisation document is drafted as the `authorisation`
    statement.

    \b
    Example:
        crisisflow statement authorise KC-2026-0001 pho-chu-tich --until "27/11/2026 17:00" \\
            --as chu-tich
    """
    result = get_app(ctx).statements.authorise(ref, person, until, actor=actor)
    _print_change(result, _("{person} is authorised for {ref} until {valid_until}"))


@statement.command("export", context_settings=CONTEXT)
@statement_args
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "txt", "html", "docx"]),
    default="docx",
    show_default=True,
    help=_("Output format."),
)
@click.option("--version", "number", type=int, help=_("This version (default: the latest)."))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help=_("File to write (default: standard output, or REF-KIND-vN.docx)."),
)
@click.pass_context
def statement_export(
    ctx: click.Context, ref: str, kind: str, fmt: str, number: int | None, output: str | None
) -> None:
    """Export a statement; .docx is laid out as a Vietnamese administrative document
    (Decree 30/2020/NĐ-CP).

    \b
    Example:
        crisisflow statement export KC-2026-0001 initial_info --format docx
    """
    app = get_app(ctx)
    content = app.statements.export(ref, kind, fmt, number)
    if output is None and fmt != "docx":
        click.echo(content.decode("utf-8"), nl=False)
        return
    if output is None:
        version = number or app.statements.show(ref, kind)["version"]
        output = f"{ref.upper()}-{kind}-v{version}.docx"
    write_output(output, content)


@cli.group("template", cls=CrisisflowGroup, context_settings=CONTEXT)
def template() -> None:
    """List and preview templates (a workspace template overrides the shipped one).

    \b
    Example:
        crisisflow template list
        crisisflow template render statements/initial-info --incident KC-2026-0001
    """


@template.command("list", context_settings=CONTEXT)
@json_option
@click.pass_context
def template_list(ctx: click.Context, as_json: bool) -> None:
    """List every template with its languages, and whether the workspace overrides it.

    \b
    Example:
        crisisflow template list
    """
    rows = get_app(ctx).templates()
    if as_json:
        print_json(rows)
    else:
        for r in rows:
            where = _("workspace") if r["workspace"] else _("shipped")
            click.echo(f"{r['name']:<40} {','.join(r['languages']):<6} {where}")


@template.command("render", context_settings=CONTEXT)
@click.argument("name")
@click.option(
    "--incident", "ref", required=True, metavar="REF", help=_("Render for this incident.")
)
@click.option(
    "--lang", type=click.Choice(["vi", "en"]), help=_("Language (default: the language setting).")
)
@click.pass_context
def template_render(ctx: click.Context, name: str, ref: str, lang: str | None) -> None:
    """Preview template NAME for an incident, without changing anything.

    \b
    Example:
        crisisflow template render mail/task-verify --incident KC-2026-0001 --lang en
    """
    parts = get_app(ctx).preview(name, ref, lang)
    for block, text in parts.items():
        click.echo(f"--- {block} ---")
        click.echo(text.rstrip("\n"))


# --- clocks and the record ---------------------------------------------------------------------


@cli.command("tick", context_settings=CONTEXT)
@json_option
@click.pass_context
def tick(ctx: click.Context, as_json: bool) -> None:
    """Send the reminders and escalations that are due, once each (safe to run from cron).

    \b
    Example:
        */5 * * * *  cd /srv/vinh-linh && crisisflow tick && crisisflow dispatch
    """
    sent = get_app(ctx).deadlines.tick()
    if as_json:
        print_json(sent)
        return
    for notice in sent:
        click.echo(
            _("{ref} {clock}: {notice} to {to}").format(
                ref=notice["ref"],
                clock=notice["clock"],
                notice=notice["notice"],
                to=", ".join(notice["to"]),
            )
        )
    click.echo(_("{n} notice(s) queued").format(n=len(sent)))


@cli.command("ack", context_settings=CONTEXT)
@click.argument("ref")
@click.option("--unit", required=True, help=_("The unit (or person) that took on its task."))
@as_option
@click.pass_context
def ack(ctx: click.Context, ref: str, unit: str, actor: str | None) -> None:
    """Record that a unit acknowledged its task in incident REF: no more reminders for it.

    \b
    Example:
        crisisflow ack KC-2026-0001 --unit ubnd-cua-tung
    """
    clocks = get_app(ctx).deadlines.ack(ref, unit, actor=actor)
    click.echo(
        _("{ref}: {unit} acknowledged {clocks}").format(
            ref=ref.upper(), unit=unit, clocks=", ".join(clocks)
        )
    )


@cli.group("audit", cls=CrisisflowGroup, context_settings=CONTEXT)
def audit_() -> None:
    """Check the record: every event hashes its predecessor.

    \b
    Example:
        crisisflow audit verify
    """


@audit_.command("verify", context_settings=CONTEXT)
@click.argument("ref", required=False)
@json_option
@click.pass_context
def audit_verify(ctx: click.Context, ref: str | None, as_json: bool) -> None:
    """Recompute the hash chain of every incident (or of REF) and name the first broken link.

    \b
    Example:
        crisisflow audit verify KC-2026-0001
    """
    results = get_app(ctx).audit(ref)
    broken = [r for r in results if r["broken_at"] is not None]
    if as_json:
        print_json(results)
    else:
        for r in broken:
            click.echo(
                _(
                    "{ref}: BROKEN at event {n}: it was changed, removed or reordered "
                    "after it was written"
                ).format(ref=r["ref"], n=r["broken_at"])
            )
        click.echo(
            _("{ok} of {n} incident(s) verified, {events} event(s)").format(
                ok=len(results) - len(broken),
                n=len(results),
                events=sum(r["events"] for r in results),
            )
        )
    if broken:
        ctx.exit(13)


@cli.command("report", context_settings=CONTEXT)
@click.argument("target", metavar="REF|yearly")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "json"]),
    default="md",
    show_default=True,
    help=_("Output format (json: yearly only)."),
)
@click.option("--year", type=int, help=_("With `yearly`: the report year (15 Dec – 14 Dec)."))
@click.option("--output", "-o", type=click.Path(dir_okay=False), help=_("Write to this file."))
@click.pass_context
def report(ctx: click.Context, target: str, fmt: str, year: int | None, output: str | None) -> None:
    """The after-action review of incident REF, or the yearly spokesperson report.

    The review: timeline, each clock met or missed against its legal basis, statements and
    their versions, e-mail and its delivery, who did what. The yearly report: the counts of
    Decree 244/2026/NĐ-CP Art. 10 over 15 December of the year before to 14 December.

    \b
    Example:
        crisisflow report KC-2026-0001 --format html -o KC-2026-0001.html
        crisisflow report yearly --year 2026
    """
    from . import reports

    app = get_app(ctx)
    if target.lower() == "yearly":
        if year is None:
            raise InvalidInput(_("report yearly needs --year, e.g. --year 2026"))
        text = reports.yearly(app, year, fmt)
    else:
        if fmt == "json":
            raise InvalidInput(
                _(
                    "--format json is for the yearly report; for an incident use "
                    "`crisisflow show REF --json`"
                )
            )
        text = reports.after_action(app, target, fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    write_output(output, text.encode("utf-8"))


# --- delivery --------------------------------------------------------------------------------


@cli.command("dispatch", context_settings=CONTEXT)
@json_option
@click.pass_context
def dispatch(ctx: click.Context, as_json: bool) -> None:
    """Send the e-mail that is due, once, then exit (safe to run from cron).

    \b
    Example:
        crisisflow dispatch
        */1 * * * *  cd /srv/vinh-linh && crisisflow dispatch   (crontab)
    """
    from . import views

    report = get_app(ctx).delivery.dispatch()
    if as_json:
        print_json(views.report_data(report))
    else:
        click.echo(views.report_text(report))
    if report.dead:
        ctx.exit(12)


@cli.command("worker", context_settings=CONTEXT)
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Deliver e-mail continuously until stopped (SIGINT or SIGTERM stop it cleanly).

    Several workers, on several machines, may share one PostgreSQL database.

    \b
    Example:
        crisisflow worker
    """
    from . import views

    app = get_app(ctx)
    click.echo(
        _("worker: delivering through {host}:{port}; stop with Ctrl-C").format(
            host=app.settings["smtp_host"], port=app.settings["smtp_port"]
        ),
        err=True,
    )
    total = app.delivery.run_worker(lambda report: click.echo(views.report_text(report)))
    click.echo(
        _("worker stopped; in all: {summary}").format(summary=views.report_text(total)), err=True
    )


@cli.group("outbox", cls=CrisisflowGroup, context_settings=CONTEXT, invoke_without_command=True)
@click.option(
    "--status",
    type=click.Choice(["pending", "sending", "sent", "dead"]),
    help=_("Only messages with this status."),
)
@click.option("--incident", "ref", metavar="REF", help=_("Only this incident's messages."))
@click.option("--limit", default=200, show_default=True, help=_("At most this many."))
@json_option
@click.pass_context
def outbox(
    ctx: click.Context, status: str | None, ref: str | None, limit: int, as_json: bool
) -> None:
    """List queued and delivered e-mail, newest first; `retry` puts dead ones back.

    \b
    Example:
        crisisflow outbox --status dead
        crisisflow outbox retry 42
    """
    if ctx.invoked_subcommand is not None:
        return
    from . import views

    rows = get_app(ctx).delivery.outbox(status=status, ref=ref, limit=limit)
    if as_json:
        print_json(rows)
    else:
        click.echo(views.outbox_text(rows, get_app(ctx).local))


@outbox.command("retry", context_settings=CONTEXT)
@click.argument("ids", nargs=-1, type=int)
@click.option("--dead", "all_dead", is_flag=True, help=_("Retry every dead message."))
@click.pass_context
def outbox_retry(ctx: click.Context, ids: tuple[int, ...], all_dead: bool) -> None:
    """Put dead messages back in the queue with fresh attempts (after fixing the cause).

    \b
    Example:
        crisisflow outbox retry 42 43
        crisisflow outbox retry --dead
    """
    if bool(ids) == all_dead:
        raise InvalidInput(_("give message ids or --dead (one of the two)"))
    requeued = get_app(ctx).delivery.retry(None if all_dead else list(ids))
    click.echo(
        _("{n} message(s) back in the queue: {ids}").format(
            n=len(requeued), ids=", ".join(map(str, requeued)) or "-"
        )
    )


@cli.group("mailbox", cls=CrisisflowGroup, context_settings=CONTEXT, invoke_without_command=True)
@click.option("--port", type=int, help=_("Port to listen on (default: the mailbox_port setting)."))
@click.pass_context
def mailbox_(ctx: click.Context, port: int | None) -> None:
    """Run a local SMTP sink on 127.0.0.1 that keeps what it receives in the workspace.

    Point smtp_host/smtp_port at it (the defaults do) to try crisisflow with no mail server.
    `mailbox list` and `mailbox show KEY` read what arrived.

    \b
    Example:
        crisisflow mailbox &
        crisisflow dispatch && crisisflow mailbox list
    """
    if ctx.invoked_subcommand is not None:
        return
    import signal

    app = get_app(ctx)
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    # Blocked before the server thread starts, so only this thread receives them, in sigwait.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    with app.delivery.sink(port) as sink:
        click.echo(
            _(
                "mailbox: listening on {host}:{port}, keeping mail in {folder}; stop with Ctrl-C"
            ).format(host=sink.host, port=sink.port, folder=sink.folder),
            err=True,
        )
        signal.sigwait(stop_signals)
    click.echo(_("mailbox stopped"), err=True)


@mailbox_.command("list", context_settings=CONTEXT)
@json_option
@click.pass_context
def mailbox_list(ctx: click.Context, as_json: bool) -> None:
    """List the messages the local sink received, oldest first.

    \b
    Example:
        crisisflow mailbox list
    """
    from . import views

    app = get_app(ctx)
    received = app.delivery.received()
    if as_json:
        print_json([views.stored_data(s) for s in received])
    else:
        click.echo(views.mailbox_text(received, app.local))


@mailbox_.command("show", context_settings=CONTEXT)
@click.argument("key")
@click.option("--raw", is_flag=True, help=_("Print the message exactly as received."))
@click.pass_context
def mailbox_show(ctx: click.Context, key: str, raw: bool) -> None:
    """Show one received message (KEY: its number in `mailbox list`, or its Maildir key).

    \b
    Example:
        crisisflow mailbox show 3
    """
    from . import views

    msg = get_app(ctx).delivery.received_message(key)
    click.echo(msg.as_string() if raw else views.message_text(msg))


@cli.command("demo", context_settings=CONTEXT)
@click.option(
    "--keep",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help=_("Keep the demo workspace in DIR instead of a temporary folder."),
)
def demo(keep: Path | None) -> None:
    """Walk a realistic media-crisis incident through the whole playbook, printing each step.

    \b
    Example:
        crisisflow demo
        crisisflow demo --keep /tmp/demo && crisisflow -w /tmp/demo show KC-2026-0001
    """
    from .demo import run

    run(keep, click.echo)


def _print_outcome(app: App, outcome: Outcome, as_json: bool) -> None:
    from . import views

    if as_json:
        print_json(views.outcome_data(outcome))
    else:
        click.echo(views.outcome_text(outcome, app.settings["language"], local=app.local))


def main() -> None:
    cli(prog_name="crisisflow")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())  # type: ignore[func-returns-value]
