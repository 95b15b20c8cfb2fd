"""Commands for delivery, the clocks and the record."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from .cli_common import (
    CONTEXT,
    CrisisflowGroup,
    acting,
    as_option,
    get_app,
    json_option,
    limit_option,
    on_behalf_note_option,
    print_json,
    write_output,
)
from .errors import AuditBroken, ConfigError, InvalidInput, UndeliverableMail
from .i18n import _

if TYPE_CHECKING:
    pass


# --- clocks and the record ---------------------------------------------------------------------


@click.command("tick", context_settings=CONTEXT)
@json_option
@click.pass_context
def tick(ctx: click.Context, as_json: bool) -> None:
    """Send the reminders and escalations that are due, once each (safe to run from cron).

    \b
    Example:
        */5 * * * *  cd /srv/vinh-linh && crisisflow tick && crisisflow dispatch
    """
    problems: list[ConfigError] = []
    sent = get_app(ctx).clocks.tick(on_problem=problems.append)
    if as_json:
        print_json(sent)
    else:
        _print_notices(sent)
    if problems:  # what could be sent was; then the first problem, and its exit code
        raise problems[0]


def _print_notices(sent: list[dict[str, Any]]) -> None:
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


@click.command("ack", context_settings=CONTEXT)
@click.argument("ref")
@click.option("--unit", required=True, help=_("The unit (or person) that took on its task."))
@as_option
@on_behalf_note_option
@click.pass_context
def ack(ctx: click.Context, ref: str, unit: str, actor: str | None) -> None:
    """Record that a unit acknowledged its task in incident REF: no more reminders for it.

    \b
    Example:
        crisisflow ack KC-2026-0001 --unit ubnd-cua-tung
    """
    app = get_app(ctx)
    clocks = app.clocks.ack(ref, unit, actor=acting(ctx, actor))
    click.echo(
        _("{ref}: {unit} acknowledged {clocks}").format(
            ref=ref.upper(), unit=unit, clocks=", ".join(clocks)
        )
    )


@click.group("audit", cls=CrisisflowGroup, context_settings=CONTEXT)
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
    from . import views

    app = get_app(ctx)
    failure: AuditBroken | None = None
    try:
        results = app.records.audit(ref)
    except AuditBroken as exc:  # print every result, then fail with exit code 13
        results, failure = exc.results, exc
    broken = [r for r in results if r["broken_at"] is not None]
    if as_json:
        print_json(results)
    else:
        for line in views.entries_text(results, app.local):
            click.echo(line)
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
    if failure is not None:
        raise failure


@click.command("report", context_settings=CONTEXT)
@click.argument("target", metavar="REF|yearly")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "json", "docx"]),
    default="md",
    show_default=True,
    help=_("Output format (json and docx: yearly only; docx needs --output)."),
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
        crisisflow report yearly --year 2026 --format docx -o bao-cao-2026.docx
    """
    app = get_app(ctx)
    if target.lower() == "yearly":
        if year is None:
            raise InvalidInput(_("report yearly needs --year, e.g. --year 2026"))
        if fmt == "docx":
            if output is None:
                raise InvalidInput(_("--format docx writes a file: give --output FILE.docx"))
            write_output(output, app.reports.yearly_docx(year))
            return
        text = app.reports.yearly(year, fmt)
    else:
        if year is not None:
            raise InvalidInput(_("--year is for the yearly report; an incident's review has none"))
        if fmt in ("json", "docx"):
            raise InvalidInput(
                _(
                    "--format {fmt} is for the yearly report; for an incident use "
                    "`crisisflow show REF --json` or `crisisflow statement export`"
                ).format(fmt=fmt)
            )
        text = app.reports.after_action(target, fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    write_output(output, text.encode("utf-8"))


# --- delivery --------------------------------------------------------------------------------


@click.command("dispatch", context_settings=CONTEXT)
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

    failure: UndeliverableMail | None = None
    try:
        report = get_app(ctx).delivery.dispatch()
    except UndeliverableMail as exc:  # print the report, then fail with exit code 12
        report, failure = exc.report, exc
    if as_json:
        print_json(views.report_data(report))
    else:
        click.echo(views.report_text(report))
    if failure is not None:
        raise failure


@click.command("worker", context_settings=CONTEXT)
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
    banner = _("worker: delivering through {host}:{port}; stop with Ctrl-C").format(
        host=app.settings["smtp_host"], port=app.settings["smtp_port"]
    )
    total = app.delivery.run_worker(
        lambda report: click.echo(views.report_text(report)),
        lambda problem: click.echo(_("error: {message}").format(message=problem), err=True),
        lambda: click.echo(banner, err=True),  # once Ctrl-C and SIGTERM stop it cleanly
    )
    click.echo(
        _("worker stopped; in all: {summary}").format(summary=views.report_text(total)), err=True
    )


@click.group("outbox", cls=CrisisflowGroup, context_settings=CONTEXT, invoke_without_command=True)
@click.option(
    "--status",
    type=click.Choice(["pending", "sending", "sent", "dead"]),
    help=_("Only messages with this status."),
)
@click.option("--incident", "ref", metavar="REF", help=_("Only this incident's messages."))
@limit_option
@json_option
@click.pass_context
def outbox(
    ctx: click.Context, status: str | None, ref: str | None, limit: int, as_json: bool
) -> None:
    """List queued and delivered e-mail, newest first; `retry` puts dead ones back.

    \b
    Example:
        crisisflow outbox --status dead
        crisisflow outbox retry 3
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
        crisisflow outbox retry 3 4
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


@click.group("mailbox", cls=CrisisflowGroup, context_settings=CONTEXT, invoke_without_command=True)
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
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    try:
        with app.delivery.sink(port) as sink:
            click.echo(
                _(
                    "mailbox: listening on {host}:{port}, keeping mail in {folder}; "
                    "stop with Ctrl-C"
                ).format(host=sink.host, port=sink.port, folder=sink.folder),
                err=True,
            )
            signal.sigwait(stop_signals)
    finally:  # a sink that failed to start leaves the signals as they were
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
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

    delivery = get_app(ctx).delivery
    if raw:  # the stored bytes, not a re-serialisation that could fold or re-encode headers
        raw_bytes = delivery.received_bytes(key)
        binary = getattr(sys.stdout, "buffer", None)
        if binary is None:  # a text-only stdout (a caller's StringIO): the bytes as text
            click.echo(raw_bytes.decode("utf-8", "replace"), nl=False)
            return
        sys.stdout.flush()
        binary.write(raw_bytes)
        binary.flush()
        return
    click.echo(views.message_text(delivery.received_message(key)))


COMMANDS = [tick, ack, audit_, report, dispatch, worker, outbox, mailbox_]
