"""Commands for statements and templates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from .cli_common import (
    CONTEXT,
    CrisisflowGroup,
    F,
    acting,
    as_option,
    confirm_unchanged_option,
    get_app,
    json_option,
    on_behalf_note_option,
    print_json,
    write_output,
)
from .i18n import _

if TYPE_CHECKING:
    pass


# --- statements ------------------------------------------------------------------------------


@click.group("statement", cls=CrisisflowGroup, context_settings=CONTEXT)
def statement() -> None:
    """Statements: versions, approval bound to the exact text, publication, corrections.

    \b
    Example:
        crisisflow statement list KC-2026-0001
        crisisflow statement approve KC-2026-0001 initial_info
    """


ref_kind = [click.argument("ref"), click.argument("kind")]


def statement_args(f: F) -> F:
    for decorator in reversed(ref_kind):
        f = decorator(f)
    return f


def _print_change(result: Mapping[str, Any], message: str) -> None:
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
            number = r["number"] or "-"
            click.echo(
                f"{r['kind']:<24} v{r['version']:<3} {r['status']:<10} {number:<14} {r['title']}"
            )


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
@on_behalf_note_option
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
        from .facts import read_text_file
        from .statements import MAX_STATEMENT

        # UTF-8 takes at most 4 bytes a character: a larger file cannot hold a statement.
        text = read_text_file(path, 4 * MAX_STATEMENT, "--file")
    result = app.statements.edit(ref, kind, text, actor=acting(ctx, actor))
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
@on_behalf_note_option
@click.pass_context
def statement_submit(ctx: click.Context, ref: str, kind: str, actor: str | None) -> None:
    """Submit the current text for approval.

    \b
    Example:
        crisisflow statement submit KC-2026-0001 initial_info
    """
    app = get_app(ctx)
    result = app.statements.submit(ref, kind, actor=acting(ctx, actor))
    _print_change(result, _("{kind} v{version} submitted for approval"))


@statement.command("approve", context_settings=CONTEXT)
@statement_args
@confirm_unchanged_option
@as_option
@on_behalf_note_option
@click.pass_context
def statement_approve(
    ctx: click.Context, ref: str, kind: str, confirm_unchanged: bool, actor: str | None
) -> None:
    """Approve the current text; only the playbook's approver (or a person authorised for this
    incident) may. A text with a blank left to fill is refused; a text returned for changes
    and not changed since needs --confirm-unchanged.

    \b
    Example:
        crisisflow statement approve KC-2026-0001 initial_info
    """
    app = get_app(ctx)
    result = app.statements.approve(
        ref, kind, actor=acting(ctx, actor), confirm_unchanged=confirm_unchanged
    )
    _print_change(result, _("{kind} v{version} approved (sha256 {sha256})"))


@statement.command("reject", context_settings=CONTEXT)
@statement_args
@click.option("--reason", required=True, help=_("What must change."))
@as_option
@on_behalf_note_option
@click.pass_context
def statement_reject(
    ctx: click.Context, ref: str, kind: str, reason: str, actor: str | None
) -> None:
    """Return the current text with the reason; only the playbook's approver may.

    \b
    Example:
        crisisflow statement reject KC-2026-0001 initial_info --reason "Bổ sung số liệu"
    """
    app = get_app(ctx)
    result = app.statements.reject(ref, kind, reason, actor=acting(ctx, actor))
    _print_change(result, _("{kind} v{version} rejected"))


@statement.command("publish", context_settings=CONTEXT)
@statement_args
@click.option(
    "--channel",
    required=True,
    help=_("One of the channels the incident's playbook declares (statements: channels:)."),
)
@click.option("--url", help=_("Where it was published."))
@as_option
@on_behalf_note_option
@click.pass_context
def statement_publish(
    ctx: click.Context, ref: str, kind: str, channel: str, url: str | None, actor: str | None
) -> None:
    """Record the publication of the approved text; refused unless the current text is the
    approved one; only the playbook's publishers may. The kinds the playbook names under
    `statements: press:` also go to the directory's press list by e-mail.

    \b
    Example:
        crisisflow statement publish KC-2026-0001 initial_info --channel portal \\
            --url https://vinhlinh.quangtri.gov.vn/tin/123
    """
    app = get_app(ctx)
    result = app.statements.publish(ref, kind, channel, url, actor=acting(ctx, actor))
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
    app = get_app(ctx)
    result = app.statements.correct(ref, kind, note, actor=acting(ctx, actor, note))
    _print_change(
        result, _("{correction} v{version} drafted; publish it on {channel} once approved")
    )


@statement.command("authorise", context_settings=CONTEXT)
@click.argument("ref")
@click.argument("person")
@click.option(
    "--until",
    required=True,
    metavar="TIME",
    help=_("When the authorisation ends: a time, or a span from now such as 24h or 3d."),
)
@as_option
@on_behalf_note_option
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
        crisisflow statement authorise KC-2026-0001 pho-chu-tich --until 24h
    """
    app = get_app(ctx)
    result = app.statements.authorise(ref, person, until, actor=acting(ctx, actor))
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


@click.group("template", cls=CrisisflowGroup, context_settings=CONTEXT)
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
    rows = get_app(ctx).templates.list()
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
    parts = get_app(ctx).templates.preview(name, ref, lang)
    for block, text in parts.items():
        click.echo(f"--- {block} ---")
        click.echo(text.rstrip("\n"))


COMMANDS = [statement, template]
