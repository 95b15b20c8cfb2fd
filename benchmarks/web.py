"""Requests/s and p95 latency of the web front end under 20 concurrent clients, each page against
a bare Starlette route that answers the same number of bytes, measured alternately in this run.

    python benchmarks/web.py [--incidents 1000] [--approvals 400] [--rounds 5] [--seconds 3]
                             [--clients 20] [--warmup 1] [--postgres URL]

The workspace is a fresh one made by `crisisflow init` (a SQLite file; with --postgres, a fresh
schema on that server, dropped afterwards) holding --incidents media-crisis incidents opened
through the use cases: the oldest walked up to its monitoring (the incident page shown), and
--approvals others, spread among the rest, walked up to the Chairman's approval of the initial
information (tests/conftest.py's MEDIA_CRISIS_PATH). Setting up is not timed.

Two servers run as processes of their own, each uvicorn on a free loopback port with the
settings of `crisisflow serve`: crisisflow's web application over that workspace, and a bare
Starlette application with a GET route that answers N bytes of HTML and a POST route that reads
its form and answers 303, nothing else. The Chairman (chu-tich) signs in once, the way people
do (a link asked for with the form, read from the outbox, opened, confirmed), and every request
carries that session and its form token. The load is --clients threads in this process, each
with a keep-alive connection of its own (http.client), all released at once:

  open incidents   GET /incidents, for --seconds
  incident page    GET /incidents/REF, for --seconds
  approve          POST .../statements/initial_info/approve (form: csrf, sha256), 303 expected,
                   each on a different incident at approval: (--approvals - --clients) / --rounds
                   of them a round, shared among the clients as they come free

Each page's size is read with one GET just before it runs, and its baseline answers that many
bytes (the approve: the same number of POSTs, answering 303 with the same empty body). A round
runs each page and its baseline one after the other, in the other order than the round before,
after one untimed warm-up round (--warmup seconds a page; one approval a client). Any other
status than the one expected stops the run; afterwards every approval is checked in the
database.

Prints, per round, each side's requests/s and p95 and the ratio crisisflow / bare; then, per
page, its requests/s (all rounds), p95 (all requests), the ratio of all requests/s with the
median and min-max of the rounds' ratios (higher is better; floor for the two pages >= 0.2).
"""

from __future__ import annotations

import argparse
import email
import http.client
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from advance import cf_start, cf_workspace  # how both benchmarks make their workspace
from conftest import MEDIA_CRISIS_PATH

# --- the crisisflow API: every call into it is here, to switch in one place ------------------
from crisisflow import actor as actors
from crisisflow import models
from crisisflow.actor import Actor
from crisisflow.app import App

PLAYBOOK = "media-crisis"
KIND = "initial_info"
CHAIRMAN = "chu-tich"
TRIGGERS = [t for t, _ in MEDIA_CRISIS_PATH]
# Submitted once, awaiting the Chairman (a text he returned would need --confirm-unchanged).
UP_TO_APPROVAL = MEDIA_CRISIS_PATH[: TRIGGERS.index("submit") + 1]
UP_TO_MONITORING = MEDIA_CRISIS_PATH[: TRIGGERS.index("close")]


def cf_web(workspace: Path, url: str) -> Any:
    from crisisflow.web import build

    return build(cf_start(workspace, url))


def cf_open(app: App, number: int) -> str:
    title = f"Mạng xã hội lan truyền tin sạt lở bờ kè Cửa Tùng ({number})"
    return app.incidents.open(PLAYBOOK, title, actor=app.identify()).ref


def cf_walk(app: App, ref: str, steps: list[tuple[str, dict[str, Any]]]) -> None:
    """Advance ``ref`` as the command line does (``kwargs["actor"]``: that person as themselves)."""
    for trigger, kwargs in steps:
        chosen = dict(kwargs)
        person = chosen.pop("actor", None)
        actor = Actor(person, actors.CLI_ACCOUNT) if person else app.identify()
        app.incidents.advance(ref, trigger, actor=actor, **chosen)


def cf_statement(app: App, ref: str) -> dict[str, Any]:
    return app.statements.show(ref, KIND)


def cf_email(app: App, person: str) -> str:
    return app.directory.people[person].email


def cf_sign_in_link(app: App, address: str) -> str:
    """The path of the newest sign-in link e-mailed to ``address``."""
    ob = models.outbox
    with app.store.reading() as conn:
        raw = conn.execute(
            sa.select(ob.c.raw)
            .where(ob.c.template == "access/sign-in", ob.c.recipient == address)
            .order_by(ob.c.id.desc())
            .limit(1)
        ).scalar_one()
    message = email.message_from_bytes(raw)
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    payload = text.get_payload(decode=True)
    assert isinstance(payload, bytes)
    found = re.search(r"https?://\S+?(/sign-in/\S+)", payload.decode("utf-8"))
    if found is None:
        raise RuntimeError(f"no sign-in link in the mail to {address}")
    return found.group(1)


SESSION_COOKIE = "cf_session"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def incident_path(ref: str) -> str:
    return f"/incidents/{quote(ref)}"


def approve_path(ref: str) -> str:
    return f"/incidents/{quote(ref)}/statements/{KIND}/approve"


# --- the two servers, each a process of its own --------------------------------------------


def bare_web() -> Any:
    """Starlette and nothing else: N bytes of HTML for GET /bytes/N, 303 for a POSTed form."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Route

    bodies: dict[int, bytes] = {}

    async def sized(request: Request) -> Response:
        size = request.path_params["size"]
        if size not in bodies:
            bodies[size] = b"x" * size
        return HTMLResponse(bodies[size])

    async def form(request: Request) -> Response:
        await request.body()
        return Response(status_code=303, headers={"location": "/bytes/0"})

    return Starlette(
        routes=[
            Route("/bytes/{size:int}", sized, methods=["GET"]),
            Route("/form", form, methods=["POST"]),
        ]
    )


def serve(kind: str, workspace: str | None, url: str | None) -> None:
    """Run one server on a free loopback port; its port is the first line on stdout."""
    import uvicorn

    if kind == "crisisflow":
        assert workspace and url, "the crisisflow server needs its workspace and database"
        web = cf_web(Path(workspace), url)
    else:
        web = bare_web()
    # IPPROTO_TCP named, as asyncio names it when it binds: only then does it set TCP_NODELAY on
    # the connections, and without it each small answer waits out the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    config = uvicorn.Config(
        web, proxy_headers=False, server_header=False, log_level="warning", lifespan="off"
    )
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(config).run(sockets=[sock])


@contextmanager
def server(kind: str, workspace: Path | None = None, url: str = "") -> Iterator[int]:
    """A server process of ``kind``; yields its port, stops it afterwards."""
    command = [sys.executable, __file__, "--serve", kind]
    if workspace is not None:
        command += ["--serve-workspace", str(workspace), "--serve-url", url]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"the {kind} server did not start")
        yield int(line)
    finally:
        process.terminate()
        process.wait(timeout=30)


# --- the clients ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: bytes | None = None


class Browser:
    """One signed-in visitor's cookies and form token, for requests made one at a time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def headers(self, body: bytes | None) -> dict[str, str]:
        found = {"cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            found["content-type"] = "application/x-www-form-urlencoded"
        return found

    def ask(self, call: Call) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(call.method, call.path, call.body, self.headers(call.body))
            response = conn.getresponse()
            body = response.read()
            for header in response.headers.get_all("set-cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    if morsel.value and morsel["max-age"] != "0":
                        self.cookies[name] = morsel.value
                    else:  # deleted
                        self.cookies.pop(name, None)
        finally:
            conn.close()
        found = CSRF.search(body.decode("utf-8", "replace"))
        if found:
            self.csrf = found.group(1)
        return response.status, body

    def form(self, **fields: str) -> bytes:
        return urlencode({"csrf": self.csrf, **fields}).encode()

    def sign_in(self, app: App, person: str) -> None:
        """Ask for a link with the form, open it from the outbox, confirm it."""
        address = cf_email(app, person)
        self.ask(Call("GET", "/sign-in"))
        status, _ = self.ask(Call("POST", "/sign-in", self.form(email=address)))
        if status != 200:
            raise RuntimeError(f"asking for a sign-in link answered {status}")
        link = cf_sign_in_link(app, address)
        self.ask(Call("GET", link))
        status, _ = self.ask(Call("POST", link, self.form()))
        if status != 303 or SESSION_COOKIE not in self.cookies:
            raise RuntimeError(f"confirming the sign-in link answered {status}")
        self.ask(Call("GET", "/incidents"))  # the signed-in session's form token


@dataclass
class Run:
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def p95(self) -> float:
        return p95(self.latencies)


def p95(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=20, method="inclusive")[-1]


def load(
    browser: Browser,
    port: int,
    clients: int,
    expect: int,
    calls: Callable[[], Call | None],
    seconds: float | None = None,
) -> Run:
    """``clients`` threads, each on a keep-alive connection of its own, asking ``calls()`` until
    it gives None or, with ``seconds``, until that long after they were released together."""
    headers = {
        "get": browser.headers(None),
        "post": browser.headers(b""),
    }
    release = threading.Barrier(clients + 1)
    stop_at = [float("inf")]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []

    def client(mine: list[float]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.connect()
        release.wait()
        try:
            while time.perf_counter() < stop_at[0] and not failures:
                call = calls()
                if call is None:
                    break
                kind = headers["post" if call.body is not None else "get"]
                started = time.perf_counter()
                conn.request(call.method, call.path, call.body, kind)
                response = conn.getresponse()
                body = response.read()
                mine.append(time.perf_counter() - started)
                if response.status != expect:
                    failures.append(f"{call.method} {call.path}: {response.status} {body[:300]!r}")
        except Exception as exc:  # reported below, in the main thread
            failures.append(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(mine,)) for mine in latencies]
    for thread in threads:
        thread.start()
    if seconds is not None:
        stop_at[0] = time.perf_counter() + seconds
    release.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, the first: {failures[0]}")
    every = [t for mine in latencies for t in mine]
    return Run(len(every), elapsed, every)


def repeating(call: Call) -> Callable[[], Call | None]:
    return lambda: call


def taking(calls: list[Call]) -> Callable[[], Call | None]:
    """Each call once, to whichever client comes free first."""
    queue = iter(calls)
    lock = threading.Lock()

    def next_call() -> Call | None:
        with lock:
            return next(queue, None)

    return next_call


# --- the run --------------------------------------------------------------------------------


@dataclass
class Page:
    name: str
    path: str = ""  # a GET page; empty: the approve POST
    floor: float | None = None
    size: int = 0  # bytes of the page's body, as last read
    runs: list[tuple[Run, Run]] = field(default_factory=list)  # (crisisflow, bare) per round


@dataclass
class Setup:
    incident: str
    at_approval: list[tuple[str, str]]  # (ref, SHA-256 of its initial information)


def prepare(app: App, incidents: int, approvals: int) -> Setup:
    """Open ``incidents``; walk the oldest to its monitoring and ``approvals`` others, spread
    among the rest, up to the Chairman's approval."""
    started = time.perf_counter()
    refs = [cf_open(app, number) for number in range(1, incidents + 1)]
    print(f"  opened {incidents} incidents ({time.perf_counter() - started:.0f} s)", flush=True)
    cf_walk(app, refs[0], UP_TO_MONITORING)
    spacing = (incidents - 1) / approvals
    chosen = [refs[1 + int(k * spacing)] for k in range(approvals)]
    for ref in chosen:
        cf_walk(app, ref, UP_TO_APPROVAL)
    print(
        f"  walked {approvals} to approval, {refs[0]} to monitoring"
        f" ({time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    return Setup(refs[0], [(ref, cf_statement(app, ref)["sha256"]) for ref in chosen])


def measure_pair(
    page: Page,
    browser: Browser,
    cf_port: int,
    bare_port: int,
    args: Any,
    approvals: list[tuple[str, str]],
    page_first: bool,
    seconds: float,
) -> tuple[Run, Run]:
    """One run of ``page`` and one of its bare baseline, in the order asked."""
    if page.path:
        status, body = browser.ask(Call("GET", page.path))
        if status != 200:
            raise RuntimeError(f"GET {page.path} answered {status}")
        page.size = len(body)
        cf_calls = partial(repeating, Call("GET", page.path))
        bare_calls = partial(repeating, Call("GET", f"/bytes/{page.size}"))
        expect, timed = 200, seconds
    else:
        posts = [
            Call("POST", approve_path(ref), browser.form(sha256=sha)) for ref, sha in approvals
        ]
        # The same form, so that the bare route reads as many bytes as crisisflow does.
        bare = [Call("POST", "/form", call.body) for call in posts]
        cf_calls, bare_calls = partial(taking, posts), partial(taking, bare)
        expect, timed = 303, None

    def cf() -> Run:
        return load(browser, cf_port, args.clients, expect, cf_calls(), timed)

    def baseline() -> Run:
        return load(browser, bare_port, args.clients, expect, bare_calls(), timed)

    if page_first:
        first = cf()
        return first, baseline()
    second = baseline()
    return cf(), second


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def report(pages: list[Page]) -> None:
    print("all rounds:")
    for page in pages:
        cf_runs = [cf for cf, _ in page.runs]
        bare_runs = [bare for _, bare in page.runs]
        cf_rate = sum(r.requests for r in cf_runs) / sum(r.seconds for r in cf_runs)
        bare_rate = sum(r.requests for r in bare_runs) / sum(r.seconds for r in bare_runs)
        cf_p95 = p95([t for r in cf_runs for t in r.latencies])
        bare_p95 = p95([t for r in bare_runs for t in r.latencies])
        ratios = [cf.rate / bare.rate for cf, bare in page.runs]
        ratio = cf_rate / bare_rate
        if page.floor is None:
            verdict = "no floor"
        else:
            verdict = f"floor >= {page.floor}: {'met' if ratio >= page.floor else 'NOT met'}"
        print(
            f"  {page.name:15} crisisflow {cf_rate:7,.0f} req/s, p95 {ms(cf_p95):>9}"
            f" ({sum(r.requests for r in cf_runs):,} requests)"
        )
        print(
            f"  {'':15} bare       {bare_rate:7,.0f} req/s, p95 {ms(bare_p95):>9}"
            f" ({sum(r.requests for r in bare_runs):,} requests)"
        )
        print(
            f"  {'':15} ratio crisisflow/bare: {ratio:.3f}  (per round: median"
            f" {statistics.median(ratios):.3f}, min-max {min(ratios):.3f}-{max(ratios):.3f};"
            f" {verdict})"
        )


def benchmark(workspace: Path, url: str, args: Any) -> None:
    app = cf_start(workspace, url)
    try:
        print("setting up (not timed):", flush=True)
        setup = prepare(app, args.incidents, args.approvals)
        pages = [
            Page("open incidents", "/incidents", 0.2),
            Page("incident page", incident_path(setup.incident), 0.2),
            Page("approve POST"),
        ]
        per_round = (args.approvals - args.clients) // args.rounds
        queue = setup.at_approval
        with server("crisisflow", workspace, url) as cf_port, server("bare") as bare_port:
            browser = Browser(cf_port)
            browser.sign_in(app, CHAIRMAN)
            print(
                f"{args.rounds} rounds after a warm-up round; {args.clients} clients;"
                f" pages for {args.seconds:g} s a run, {per_round} approvals a round",
                flush=True,
            )
            for index in range(-1, args.rounds):
                warmup = index < 0
                line = []
                for page in pages:
                    take = 0 if page.path else args.clients if warmup else per_round
                    used, queue = queue[:take], queue[take:]
                    pair = measure_pair(
                        page,
                        browser,
                        cf_port,
                        bare_port,
                        args,
                        used,
                        page_first=index % 2 == 0,
                        seconds=args.warmup if warmup else args.seconds,
                    )
                    if not warmup:
                        page.runs.append(pair)
                    cf, bare = pair
                    size = f" ({page.size / 1000:.1f} kB)" if page.path else ""
                    line.append(
                        f"{page.name}{size} {cf.rate:,.0f}/s p95 {ms(cf.p95)}"
                        f" vs bare {bare.rate:,.0f}/s p95 {ms(bare.p95)}"
                        f" = {cf.rate / bare.rate:.3f}"
                    )
                label = "warm-up" if warmup else f"round {index + 1}"
                print(f"  {label}: " + "\n           ".join(line), flush=True)
        done = setup.at_approval[: len(setup.at_approval) - len(queue)]
        approved = sum(cf_statement(app, ref)["status"] == "approved" for ref, _ in done)
        if approved != len(done):
            raise RuntimeError(f"only {approved} of {len(done)} POSTed approvals are approved")
        print(f"approvals checked in the database: {approved} of {len(done)} approved")
        report(pages)
    finally:
        app.close()


@contextmanager
def schema(base: str) -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards; yields its URL."""
    admin = sa.create_engine(base)
    name = f"bench_{uuid.uuid4().hex[:8]}_web"
    sep = "&" if "?" in base else "?"
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
        yield f"{base}{sep}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--incidents", type=int, default=1000, help="incidents in the database")
    parser.add_argument(
        "--approvals", type=int, default=400, help="incidents walked to approval (one per POST)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of a page's run")
    parser.add_argument("--warmup", type=float, default=1.0, help="length of a warm-up run")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument(
        "--postgres", metavar="URL", help="a PostgreSQL server to use instead of a SQLite file"
    )
    parser.add_argument("--serve", choices=["crisisflow", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--serve-workspace", help=argparse.SUPPRESS)
    parser.add_argument("--serve-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.serve_workspace, args.serve_url)
        return
    if args.approvals >= args.incidents:
        parser.error("--approvals must be fewer than --incidents")
    if (args.approvals - args.clients) // args.rounds < args.clients:
        parser.error("--approvals must leave at least --clients approvals a round after warm-up")
    with tempfile.TemporaryDirectory(prefix="crisisflow-bench-") as tmp:
        folder = Path(tmp)
        if args.postgres:
            shown = sa.make_url(args.postgres).render_as_string(hide_password=True)
            print(f"postgresql ({shown}), {args.incidents} incidents", flush=True)
            with schema(args.postgres) as url:
                benchmark(cf_workspace(folder / "ws", url), url, args)
        else:
            print(f"sqlite (file, WAL, synchronous=FULL), {args.incidents} incidents", flush=True)
            url = f"sqlite:///{folder / 'ws' / 'crisisflow.db'}"
            benchmark(cf_workspace(folder / "ws", url), url, args)


if __name__ == "__main__":
    main()
