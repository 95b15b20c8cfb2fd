"""Commands for playbooks and incidents: the duty officer's daily work."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .cli_common import (
    CONTEXT,
    CrisisflowGroup,
    acting,
    as_option,
    confirm_unchanged_option,
    get_app,
    json_option,
    limit_option,
    note_option,
    parse_assignments,
    print_json,
    set_option,
)
from .errors import PlaybookError
from .i18n import _

if TYPE_CHECKING:
    from .app import App
    from .app.incidents import Outcome


# --- playbooks -------------------------------------------------------------------------------


@click.group(cls=CrisisflowGroup, context_settings=CONTEXT)
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
    for pid, path in app.catalogue.files().items():
        try:
            pb = app.catalogue.load(pid)
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
    Without FILES, checks every playbook of the workspace, and warns (exit 0) of each rule of
    the rule pack whose clock no playbook starts.

    \b
    Example:
        crisisflow playbook check playbooks/media-crisis.yaml
    """
    app = get_app(ctx)
    problems = app.catalogue.check(list(files) if files else None)
    for problem in problems:
        click.echo(str(problem), err=True)
    if not files:  # the rule pack is checked against all of the workspace's playbooks
        for warning in app.catalogue.idle_rules(app.rule_pack.rules.values()):
            click.echo(warning, err=True)
    checked = len(files) if files else len(app.catalogue.files())
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
    pb = app.catalogue.load(playbook_id)
    if fmt == "mermaid":
        click.echo(views.mermaid(pb, app.settings["language"]))
    elif fmt == "json":
        print_json(views.playbook_data(pb))
    else:
        click.echo(views.playbook_text(pb, app.settings["language"]))


# --- incidents -------------------------------------------------------------------------------


@click.command("open", context_settings=CONTEXT)
@click.argument("playbook_id", metavar="PLAYBOOK")
@click.option("--title", required=True, help=_("A short title of the matter."))
@set_option
@click.option(
    "--occurred-at",
    metavar="TIME",
    help=_("When it happened, e.g. '2026-11-26 08:30' or '26/11/2026 08:30'."),
)
@click.option(
    "--received-at",
    metavar="TIME",
    help=_(
        "When the office received the matter, if earlier than now (say how with --note); the "
        "legal clocks count from then."
    ),
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
    received_at: str | None,
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
    outcome = app.incidents.open(
        playbook_id,
        title,
        given=parse_assignments(assignments),
        occurred_at=occurred_at,
        received_at=received_at,
        actor=acting(ctx, actor, note),
        note=note,
    )
    _print_outcome(app, outcome, as_json)


@click.command("advance", context_settings=CONTEXT)
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
@confirm_unchanged_option
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
    confirm_unchanged: bool,
    as_json: bool,
) -> None:
    """Fire TRIGGER on incident REF: change its state, draft statements, queue e-mails.

    \b
    Example:
        crisisflow advance KC-2026-0001 verify --set field_unit=ubnd-cua-tung
        crisisflow advance KC-2026-0001 approve
        crisisflow advance KC-2026-0001 approve --as chu-tich --on-behalf \\
            --note "Chủ tịch duyệt qua điện thoại lúc 10:40"
    """
    app = get_app(ctx)
    outcome = app.incidents.advance(
        ref,
        trigger,
        note=note,
        given=parse_assignments(assignments),
        actor=acting(ctx, actor, note),
        expect_state=expect_state,
        confirm_unchanged=confirm_unchanged,
    )
    _print_outcome(app, outcome, as_json)


@click.command("note", context_settings=CONTEXT)
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
    seq = app.incidents.note(ref, text, actor=acting(ctx, actor, text))
    click.echo(_("{ref}: note added as event {seq}").format(ref=ref.upper(), seq=seq))


@click.command("list", context_settings=CONTEXT)
@click.option("--state", metavar="STATE", help=_("Only incidents in this state."))
@click.option("--all", "include_closed", is_flag=True, help=_("Include incidents in final states."))
@click.option("--open", "only_open", is_flag=True, help=_("Only open incidents (the default)."))
@click.option("--overdue", is_flag=True, help=_("Incidents with a clock that has run out."))
@click.option(
    "--due-within",
    metavar="DURATION",
    help=_("Incidents with a clock running out within DURATION (e.g. 2h, 90m, 1d)."),
)
@limit_option
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
        due = app.records.clocks_due(within, limit)
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
    rows = app.records.list_incidents(state=state, include_closed=include_closed, limit=limit)
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


@click.command("show", context_settings=CONTEXT)
@click.argument("ref")
@json_option
@click.pass_context
def show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show incident REF: state, facts, what can happen next, history, drafts, e-mails.

    \b
    Example:
        crisisflow show KC-2026-0001
        crisisflow show KC-2026-0001 --json > KC-2026-0001.json
    """
    from . import views

    app = get_app(ctx)
    data = app.records.show(ref)
    if as_json:
        print_json(data)
    else:
        click.echo(views.incident_text(data, app.settings["language"], app.local))


@click.command("demo", context_settings=CONTEXT)
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


COMMANDS = [playbook, open_, advance, note, list_, show, demo]
