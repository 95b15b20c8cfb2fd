"""The web front end and who may use it: `serve`, `session list|revoke`, `person totp`,
`secret rotate`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from .cli_common import CONTEXT, CrisisflowGroup, get_app, json_option, print_json
from .i18n import _


@click.command("serve", context_settings=CONTEXT)
@click.option("--host", metavar="ADDRESS", help=_("Address to listen on (default: web_host)."))
@click.option(
    "--port", type=click.IntRange(1, 65535), help=_("Port to listen on (default: web_port).")
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the web pages where people sign in and act as themselves; stop it with Ctrl+C.

    Listens on the loopback address unless told otherwise; for other machines put a reverse
    proxy with TLS in front of it, list the proxy in forwarded_allow_ips, and set base_url to
    the proxy's address (e-mailed links start with it).

    \b
    Example:
        crisisflow serve
    """
    import uvicorn

    from .web import build

    app = get_app(ctx)
    host = host or app.settings["web_host"]
    port = port or app.settings["web_port"]
    web = build(app)  # a missing secret key or a broken directory stops it here, in one line
    _check_free(host, port)
    proxies = app.settings["forwarded_allow_ips"].strip()
    banner = _("serving {url} on http://{host}:{port}; Ctrl+C stops").format(
        url=app.settings["base_url"], host=host, port=port
    )
    config = uvicorn.Config(
        web,
        host=host,
        port=port,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or "",
        server_header=False,
        log_level="warning",
    )
    _stopping_server(lambda: click.echo(banner, err=True))(config).run()


def _stopping_server(on_start: Callable[[], None]) -> type:
    import contextlib
    import signal
    from collections.abc import Iterator

    import uvicorn

    class Server(uvicorn.Server):
        """Stops cleanly on SIGINT or SIGTERM and exits 0, as `worker` does (uvicorn's own
        would end the process by the signal again)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            def stop(*_args: object) -> None:
                self.should_exit = True

            previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
            on_start()  # the banner says it is up once the signals stop it cleanly
            try:
                yield
            finally:
                for number, handler in previous.items():
                    signal.signal(number, handler)

    return Server


def _check_free(host: str, port: int) -> None:
    """Refuse, in one line, an address another program holds."""
    import socket

    from .errors import ConfigError

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise ConfigError(
            _("cannot listen on {host}:{port}: {error}; choose another with --port").format(
                host=host, port=port, error=exc.strerror or exc
            )
        ) from exc


@click.group("session", cls=CrisisflowGroup, context_settings=CONTEXT)
def session() -> None:
    """Web sessions: who is signed in, and ending them.

    \b
    Example:
        crisisflow session list
    """


@session.command("list", context_settings=CONTEXT)
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    default=30,
    show_default=True,
    help=_("Sessions begun in the last DAYS days."),
)
@json_option
@click.pass_context
def session_list(ctx: click.Context, days: int, as_json: bool) -> None:
    """List web sessions, newest first: person, client, when begun and last seen, status.

    \b
    Example:
        crisisflow session list
    """
    from .app.access import Access

    app = get_app(ctx)
    found = Access(app).sessions(days=days)
    if as_json:
        print_json(
            [
                {
                    **s,
                    "created_at": s["created_at"].isoformat(),
                    "last_seen_at": s["last_seen_at"].isoformat(),
                }
                for s in found
            ]
        )
        return
    if not found:
        click.echo(_("no web session"))
    for s in found:
        click.echo(
            f"{s['id']:>5}  {s['person']:<20} {s['status']:<8} {s['client']:<16} "
            f"{app.local(s['created_at'])} → {app.local(s['last_seen_at'])}"
        )


@session.command("revoke", context_settings=CONTEXT)
@click.argument("ids", type=int, nargs=-1)
@click.option("--person", metavar="PERSON", help=_("End every session of this person."))
@click.pass_context
def session_revoke(ctx: click.Context, ids: tuple[int, ...], person: str | None) -> None:
    """End web sessions by ID (from `session list`), or all of --person's.

    \b
    Example:
        crisisflow session revoke 1
        crisisflow session revoke --person chu-tich
    """
    from .app.access import Access
    from .errors import InvalidInput

    if bool(ids) == bool(person):
        raise InvalidInput(_("name the sessions: IDs, or --person PERSON"))
    ended = Access(get_app(ctx)).revoke(ids=list(ids), person=person)
    click.echo(
        _("ended: {ids}").format(ids=", ".join(map(str, ended)))
        if ended
        else _("no active session matched; nothing changed")
    )


@click.group("person", cls=CrisisflowGroup, context_settings=CONTEXT)
def person() -> None:
    """Directory people's sign-in settings.

    \b
    Example:
        crisisflow person totp chu-tich
    """


@person.command("totp", context_settings=CONTEXT)
@click.argument("person_id", metavar="PERSON")
@click.pass_context
def person_totp(ctx: click.Context, person_id: str) -> None:
    """Enrol PERSON's second factor: prints the address and QR code for an authenticator
    app. Once enrolled, approving and publishing on the web ask for a current code. Running
    it again replaces the old secret.

    \b
    Example:
        crisisflow person totp chu-tich
    """
    from .app.second_factor import SecondFactor
    from .totp import terminal_qr

    secret, uri = SecondFactor(get_app(ctx)).enrol(person_id)
    click.echo(terminal_qr(uri))
    click.echo(uri)
    click.echo(_("secret (to type in by hand): {secret}").format(secret=secret))


@click.group("secret", cls=CrisisflowGroup, context_settings=CONTEXT)
def secret() -> None:
    """The workspace's secret key, which signs sessions and e-mailed links.

    \b
    Example:
        crisisflow secret rotate
    """


@secret.command("rotate", context_settings=CONTEXT)
@click.pass_context
def secret_rotate(ctx: click.Context) -> None:
    """Replace the secret key: everyone is signed out and unused links stop working;
    nothing else changes.

    \b
    Example:
        crisisflow secret rotate
    """
    from .signing import KEY_ENV, write_new_key

    app = get_app(ctx)
    path = write_new_key(app.workspace)
    click.echo(
        _("new secret key in {path}; every web session and unused link has ended").format(path=path)
    )
    import os

    if os.environ.get(KEY_ENV):
        click.echo(
            _("note: {env} is set and wins over the file; change it too").format(env=KEY_ENV)
        )


COMMANDS: list[Any] = [serve, session, person, secret]
