"""How the hot read paths scale with the size of the database: the same operations timed on a
small and a large SQLite workspace in one run, so the ratio large / small shows whether a path
depends on the number of incidents (a full scan, a missing index) rather than on its result.

    python benchmarks/scale.py [--small 1000] [--large 100000] [--events-per-incident 10]
                               [--repeat 5]

Each workspace is made by ``crisisflow init``; one real media-crisis incident is opened and walked
to its end through the App, so the pinned playbook exists and every bulk row copies the shape of
a real one. The rest is bulk-inserted with SQLAlchemy Core: N incidents in all, each with
``--events-per-incident`` events, its clocks (deadlines), two statements and two outbox messages.
Most incidents are closed with every clock met; a share is open (5%, at least 250 so
``list --open`` returns a full page of 200 at both sizes, at most 1000). Every open incident has
one running clock. Of those, a fixed 50 are overdue (their due notices already sent) and a fixed
20 owe a reminder now; the rest run quietly, due in the future. Time is a fixed clock, so the due
and overdue sets are the same at both sizes and only the history around them grows.

Timed, per size, with the median over ``--repeat`` rounds; each round times an operation on the
small and then on the large workspace, so drift on this shared machine hits both alike:

* ``list --open``      ``app.records.list_incidents()``: open incidents, newest first, 200 of them;
* ``show``             ``app.records.show(ref)``, each call on a random ref (mostly closed ones);
* ``tick``             ``app.clocks.tick()``: finds the 20 due clocks among all clocks and
                       sends one reminder each (rendered mail, event, outbox rows, one durable
                       commit per clock). Before each round the 20 clocks are made due again
                       (their notices and queued mails removed, next_notice_at restored), so
                       every timed tick does the same real work, not an empty pass;
* ``list --overdue``   ``app.records.clocks_due(None)``: the 50 overdue running clocks.

Fast operations are called several times per round and reported per call, after one warm-up
round; every result size is checked against the fixed one above. After the timings come the query
plans (EXPLAIN QUERY PLAN on the large database) of each read and update statement the operations
ran, full table scans marked. The last line is ``ratio: X.XX``, the largest large / small ratio
(lower is better; target <= 1.5). Filling 100,000 incidents takes about a minute and a 2.4 GB
file in a temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import MEDIA_CRISIS_PATH

from crisisflow import audit
from crisisflow import models as m
from crisisflow.actor import CLI_ACCOUNT, Actor
from crisisflow.app import App
from crisisflow.config import load_settings
from crisisflow.deadlines import MET, RUNNING, NoticePolicy, notices
from crisisflow.workspace import init

NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # the benchmark's clock: 08:00 in Vĩnh Linh
HISTORY = timedelta(days=5 * 365)  # bulk incidents were opened over the five years before NOW
STEP = timedelta(minutes=20)  # between one incident's events
LIST_LIMIT = 200
OPEN_SHARE, OPEN_MIN, OPEN_MAX = 0.05, 250, 1000
OVERDUE = 50  # running clocks past due, their notices sent: what `list --overdue` shows
TICK_DUE = 20  # running clocks owing a reminder now: what `tick` sends
CHUNK = 5000  # incidents generated and inserted per batch
INNER = {"list --open": 20, "show": 50, "tick": 1, "list --overdue": 50}  # calls per round
EXPECTED = {"list --open": LIST_LIMIT, "show": 1, "tick": TICK_DUE, "list --overdue": OVERDUE}


@dataclass
class Workspace:
    """A filled workspace, its app (fixed clock) and what the operations need to know."""

    label: str
    app: App
    refs: list[str]
    due_deadlines: dict[int, datetime]  # the tick-due clocks and their next_notice_at
    due_incidents: list[int]
    counts: dict[str, int] = field(default_factory=dict)
    fill_seconds: float = 0.0
    megabytes: float = 0.0


# --- filling -----------------------------------------------------------------------------------


def fake_hash(incident_id: int, seq: int) -> str:
    """A 64-character stand-in for an event hash; the audit chain is not benchmarked here."""
    return f"{incident_id:032x}{seq:032x}"


def walk_template(folder: Path) -> tuple[Path, str]:
    """Create the workspace and walk one real incident to its end through the App."""
    workspace = init(folder).workspace
    clock = SimpleNamespace(now=NOW - timedelta(days=30))
    app = App(load_settings(workspace), clock=lambda: clock.now)
    try:
        ref = app.incidents.open(
            "media-crisis", "Tin sạt lở bờ kè Cửa Tùng", actor=app.identify()
        ).ref
        for trigger, kwargs in MEDIA_CRISIS_PATH:
            clock.now += STEP
            chosen = dict(kwargs)
            person = chosen.pop("actor", None)  # that person, acting as themselves
            actor = Actor(person, CLI_ACCOUNT) if person else app.identify()
            app.incidents.advance(ref, trigger, actor=actor, **chosen)
    finally:
        app.close()
    return workspace, ref


def bulk_engine(db: Path) -> sa.Engine:
    """An engine for filling only: no durable commits, a big page cache, no WAL."""
    engine = sa.create_engine(f"sqlite:///{db}")

    @sa.event.listens_for(engine, "connect")
    def pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=DELETE")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-262144")
        cursor.close()

    return engine


def rows_of(conn: sa.Connection, table: sa.Table, where: Any, order: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(sa.select(table).where(where).order_by(order))]


def event_shapes(template: list[dict[str, Any]], count: int, closed: bool) -> list[dict[str, Any]]:
    """``count`` events shaped like the template's: a closed incident's end in the final state,
    an open one's stop part way; past the template's length the history is notes."""
    body = template[:-1]
    note = {**body[-1], "kind": "note", "trigger": None, "from_state": None, "to_state": None}
    note |= {"note": "Cập nhật tình hình.", "data": {}}
    wanted = count - 1 if closed else count
    shapes = body[:wanted] + [note] * max(0, wanted - len(body))
    return [*shapes, template[-1]] if closed else shapes


def clock_schedule(
    values: dict[str, Any], policy: NoticePolicy, sent_until: datetime
) -> tuple[datetime, list[tuple[str, datetime]]]:
    """The notices a running clock has sent by ``sent_until`` and when it next owes one."""
    row = SimpleNamespace(**{**values, "acknowledged_at": None})
    sent: list[tuple[str, datetime]] = []
    while True:
        upcoming = notices(row, {key for key, _ in sent}, policy)[0]
        if upcoming.at > sent_until:
            return upcoming.at, sent
        sent.append((upcoming.key, upcoming.at))


def fill(label: str, folder: Path, total: int, per_incident: int, rng: random.Random) -> Workspace:
    started = time.perf_counter()
    workspace, template_ref = walk_template(folder)
    settings = load_settings(workspace)
    db = Path(sa.make_url(settings.database_url).database or "")
    engine = bulk_engine(db)
    policy = NoticePolicy.parse(settings["reminders"], settings["escalation_interval_hours"])
    app = App(settings, clock=lambda: NOW)
    tz = app.tz

    with engine.begin() as conn:
        inc = conn.execute(sa.select(m.incidents).where(m.incidents.c.ref == template_ref)).one()
        tpl_incident = dict(inc._mapping)
        tpl_events = rows_of(conn, m.events, m.events.c.incident_id == inc.id, m.events.c.seq)
        tpl_clocks = rows_of(conn, m.deadlines, m.deadlines.c.incident_id == inc.id, "id")
        tpl_statements = rows_of(conn, m.statements, m.statements.c.incident_id == inc.id, "id")
        tpl_versions = {
            r["statement_id"]: r
            for r in rows_of(
                conn,
                m.statement_versions,
                m.statement_versions.c.statement_id.in_([s["id"] for s in tpl_statements]),
                "id",
            )
        }
        tpl_mails = rows_of(conn, m.outbox, m.outbox.c.incident_id == inc.id, "id")[:2]
        counters = {
            (r.prefix, r.year): r.last for r in conn.execute(sa.select(m.reference_counters))
        }
        next_id = {
            t.name: int(conn.execute(sa.select(sa.func.max(t.c.id))).scalar() or 0) + 1
            for t in (m.incidents, m.events, m.deadlines, m.statements, m.outbox)
        }
    prefix = template_ref.split("-")[0]
    t0 = tpl_incident["opened_at"]
    closed_shapes = event_shapes(tpl_events, per_incident, closed=True)
    open_shapes = event_shapes(tpl_events, per_incident, closed=False)
    open_state = next(
        (e["to_state"] for e in reversed(open_shapes) if e["to_state"]), tpl_events[0]["to_state"]
    )
    running_clock = next(c for c in tpl_clocks if c["clock"] == "initial_info")
    met_clocks = [c for c in tpl_clocks if c["clock"] != "after_action"]

    bulk = total - 1  # the template incident is the first of ``total``
    n_open = min(bulk, max(OPEN_MIN, min(OPEN_MAX, round(total * OPEN_SHARE))))
    newest = range(bulk - min(bulk, 4 * n_open), bulk)  # open incidents are mostly recent ones
    open_indices = rng.sample(newest, n_open)
    kinds = {i: "quiet" for i in open_indices}
    kinds |= {i: "overdue" for i in open_indices[:OVERDUE]}
    kinds |= {i: "due" for i in open_indices[OVERDUE : OVERDUE + TICK_DUE]}

    refs = [template_ref]
    due_deadlines: dict[int, datetime] = {}
    due_incidents: list[int] = []
    counts = dict.fromkeys(["incidents", "events", "deadlines", "outbox"], 0)
    counts["incidents"], counts["events"] = 1, len(tpl_events)

    def chunk_rows(start: int, stop: int) -> dict[sa.Table, list[dict[str, Any]]]:
        out: dict[sa.Table, list[dict[str, Any]]] = {
            t: []
            for t in (
                m.incidents,
                m.events,
                m.deadlines,
                m.deadline_notices,
                m.statements,
                m.statement_versions,
                m.outbox,
            )
        }
        for i in range(start, stop):
            iid = next_id["incidents"] + i
            opened = NOW - HISTORY + timedelta(seconds=HISTORY.total_seconds() * i // bulk)
            shift = opened - t0
            kind = kinds.get(i)
            year = opened.astimezone(tz).year
            counters[(prefix, year)] = number = counters.get((prefix, year), 0) + 1
            ref = f"{prefix}-{year}-{number:04d}"
            refs.append(ref)
            shapes = open_shapes if kind else closed_shapes
            last_at = opened + STEP * (len(shapes) - 1)
            out[m.incidents].append(
                {
                    **tpl_incident,
                    "id": iid,
                    "ref": ref,
                    "state": open_state if kind else tpl_incident["state"],
                    "stamps": {  # an open incident has only the times of the steps it took
                        k: (datetime.fromisoformat(v) + shift).isoformat()
                        for k, v in tpl_incident["stamps"].items()
                        if not kind or datetime.fromisoformat(v) + shift <= last_at
                    },
                    "version": len(shapes),
                    "head_hash": fake_hash(iid, len(shapes)),
                    "opened_at": opened,
                    "updated_at": last_at,
                    "closed_at": None if kind else last_at,
                }
            )
            event_ids = []
            for seq, shape in enumerate(shapes, start=1):
                event_ids.append(next_id["events"])
                out[m.events].append(
                    {
                        **shape,
                        "id": next_id["events"],
                        "incident_id": iid,
                        "seq": seq,
                        "at": opened + STEP * (seq - 1),
                        "prev_hash": fake_hash(iid, seq - 1) if seq > 1 else audit.GENESIS,
                        "hash": fake_hash(iid, seq),
                    }
                )
                next_id["events"] += 1
            for clock in met_clocks if kind else tpl_clocks:
                if kind and clock is running_clock:
                    continue
                out[m.deadlines].append(
                    {
                        **clock,
                        "id": next_id["deadlines"],
                        "incident_id": iid,
                        "entered_at": clock["entered_at"] + shift,
                        "started_at": clock["started_at"] + shift,
                        "due_at": clock["due_at"] + shift,
                        "status": MET,
                        "stopped_at": clock["stopped_at"] + shift,
                    }
                )
                next_id["deadlines"] += 1
            if kind:
                add_running_clock(out, iid, kind)
            for statement in tpl_statements:
                sid = next_id["statements"]
                next_id["statements"] += 1
                created = statement["created_at"] + shift
                out[m.statements].append(
                    {**statement, "id": sid, "incident_id": iid, "created_at": created}
                )
                version = tpl_versions[statement["id"]]
                out[m.statement_versions].append(
                    {
                        **{k: v for k, v in version.items() if k != "id"},
                        "statement_id": sid,
                        "created_at": created,
                    }
                )
            for n, mail in enumerate(tpl_mails):
                out[m.outbox].append(
                    {
                        **mail,
                        "id": next_id["outbox"],
                        "incident_id": iid,
                        "event_id": event_ids[min(len(event_ids) - 1, 2 * n)],
                        "dedupe_key": mail["dedupe_key"].replace(template_ref, ref),
                        "message_id": f"<{iid:016x}{n:016x}.{ref.lower()}@vinhlinh.example>",
                        # 1% of open incidents have a mail that could not be delivered
                        "status": m.DEAD if kind and i % 100 == 7 else m.SENT,
                        "attempts": 1,
                        "next_attempt_at": opened,
                        "created_at": opened,
                        "sent_at": opened + timedelta(minutes=1),
                    }
                )
                next_id["outbox"] += 1
        return out

    def add_running_clock(out: dict[sa.Table, list[dict[str, Any]]], iid: int, kind: str) -> None:
        if kind == "overdue":  # ran out 1-48 h ago: reminders and escalations so far all sent
            started_at = NOW - timedelta(hours=24 + rng.uniform(1, 48))
        elif kind == "due":  # half its time gone two hours ago, the 50% reminder not yet sent
            started_at = NOW - timedelta(hours=14)
        else:  # started 1-20 h ago, due in the future, its reminders so far sent
            started_at = NOW - timedelta(hours=rng.uniform(1, 20))
        values = {
            **running_clock,
            "id": next_id["deadlines"],
            "incident_id": iid,
            "entered_at": started_at,
            "started_at": started_at,
            "due_at": started_at + (running_clock["due_at"] - running_clock["started_at"]),
            "status": RUNNING,
            "stopped_at": None,
        }
        next_id["deadlines"] += 1
        sent_until = NOW - timedelta(hours=3) if kind == "due" else NOW
        values["next_notice_at"], sent = clock_schedule(values, policy, sent_until)
        out[m.deadlines].append(values)
        for key, at in sent:
            out[m.deadline_notices].append({"deadline_id": values["id"], "key": key, "sent_at": at})
        if kind == "due":
            due_deadlines[values["id"]] = values["next_notice_at"]
            due_incidents.append(iid)

    for start in range(0, bulk, CHUNK):
        batch = chunk_rows(start, min(bulk, start + CHUNK))
        with engine.begin() as conn:
            for table, rows in batch.items():
                if rows:
                    conn.execute(table.insert(), rows)
        for name, table in (
            ("incidents", m.incidents),
            ("events", m.events),
            ("deadlines", m.deadlines),
            ("outbox", m.outbox),
        ):
            counts[name] += len(batch[table])
    counts["deadlines"] += len(tpl_clocks)
    counts["outbox"] += len(tpl_mails)

    with engine.begin() as conn:
        rc = m.reference_counters
        conn.execute(rc.delete())
        conn.execute(
            rc.insert(), [{"prefix": p, "year": y, "last": n} for (p, y), n in counters.items()]
        )
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")  # as the app keeps it
    engine.dispose()
    return Workspace(
        label,
        app,
        refs,
        due_deadlines,
        due_incidents,
        counts,
        time.perf_counter() - started,
        db.stat().st_size / 1e6,
    )


# --- measuring ---------------------------------------------------------------------------------


def make_due_again(ws: Workspace) -> None:
    """Undo the last tick on the tick-due clocks: forget their notices and queued mails and give
    them back their next_notice_at. The events it appended stay (the history only grows)."""
    dl, dn, ob = m.deadlines, m.deadline_notices, m.outbox
    with ws.app.store.writing() as conn:
        conn.execute(dn.delete().where(dn.c.deadline_id.in_(list(ws.due_deadlines))))
        conn.execute(
            ob.delete().where(ob.c.incident_id.in_(ws.due_incidents), ob.c.created_at >= NOW)
        )
        conn.execute(
            dl.update()
            .where(dl.c.id == sa.bindparam("_id"))
            .values(next_notice_at=sa.bindparam("_at")),
            [{"_id": i, "_at": at} for i, at in ws.due_deadlines.items()],
        )


def operations(ws: Workspace, rng: random.Random) -> dict[str, Callable[[], int]]:
    """Each operation as a callable returning its result size (``show``: one incident)."""
    app = ws.app

    def show() -> int:
        app.records.show(rng.choice(ws.refs))
        return 1

    return {
        "list --open": lambda: len(app.records.list_incidents()),
        "show": show,
        "tick": lambda: len(app.clocks.tick()),
        "list --overdue": lambda: len(app.records.clocks_due(None)),
    }


def sample(name: str, op: Callable[[], int], ws: Workspace) -> tuple[float, int]:
    """Seconds per call of one round, and the result size."""
    if name == "tick":
        make_due_again(ws)
    started = time.perf_counter()
    for _ in range(INNER[name]):
        size = op()
    return (time.perf_counter() - started) / INNER[name], size


@contextmanager
def captured(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    """The single-row statements run on ``engine`` inside the block."""
    seen: list[tuple[str, Any]] = []

    def record(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        if not many and statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            seen.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def query_plans(ws: Workspace, ops: dict[str, Callable[[], int]]) -> list[str]:
    """EXPLAIN QUERY PLAN of every distinct statement each operation ran, flagging full table
    scans."""
    engine = ws.app.store.engine
    lines: list[str] = []
    for name, op in ops.items():
        if name == "tick":
            make_due_again(ws)
        with captured(engine) as statements:
            op()
        lines.append(f"{name}:")
        done: set[str] = set()
        for statement, params in statements:
            text = " ".join(statement.split())
            if text in done:
                continue
            done.add(text)
            with engine.connect() as conn:
                plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            details = [str(row[-1]) for row in plan]
            bad = [d for d in details if d.startswith("SCAN ") and " INDEX " not in d]
            lines.append(f"  {'!! ' if bad else ''}{text[:110]}{'...' if len(text) > 110 else ''}")
            lines += [f"      {d}" for d in details]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--events-per-incident", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if min(args.small, args.large) < OPEN_MIN + 1 or args.events_per_incident < 2:
        parser.error(f"sizes must exceed {OPEN_MIN} and --events-per-incident be at least 2")
    for name in list(os.environ):  # the workspace's own SQLite file, whatever the shell says
        if name.startswith("CRISISFLOW_"):
            del os.environ[name]

    with tempfile.TemporaryDirectory(prefix="crisisflow-scale-") as tmp:
        rng = random.Random(args.seed)
        sizes = [
            fill(label, Path(tmp) / label, n, args.events_per_incident, rng)
            for label, n in (("small", args.small), ("large", args.large))
        ]
        for ws in sizes:
            c = ws.counts
            print(
                f"{ws.label}: {c['incidents']:,} incidents, {c['events']:,} events, "
                f"{c['deadlines']:,} clocks, {c['outbox']:,} messages; "
                f"{ws.megabytes:,.0f} MB, filled in {ws.fill_seconds:.1f} s"
            )
        ops = {ws.label: operations(ws, random.Random(args.seed)) for ws in sizes}
        for ws in sizes:  # warm up: caches, pinned playbook, templates, connections
            for name, op in ops[ws.label].items():
                sample(name, op, ws)
        times: dict[tuple[str, str], list[float]] = {}
        results: dict[tuple[str, str], set[int]] = {}
        for _ in range(args.repeat):
            for name in INNER:
                for ws in sizes:
                    seconds, size = sample(name, ops[ws.label][name], ws)
                    times.setdefault((name, ws.label), []).append(seconds)
                    results.setdefault((name, ws.label), set()).add(size)

        print(f"\nmedian seconds per call over {args.repeat} rounds")
        print(f"{'operation':<16}{'small':>12}{'large':>12}{'large/small':>13}  result size")
        ratios = []
        for name in INNER:
            small, large = (statistics.median(times[name, ws.label]) for ws in sizes)
            sizes_seen = sorted(results[name, "small"] | results[name, "large"])
            note = "" if sizes_seen == [EXPECTED[name]] else "  (UNEXPECTED)"
            ratios.append(large / small)
            print(
                f"{name:<16}{small:>12.5f}{large:>12.5f}{large / small:>13.2f}  "
                f"{', '.join(map(str, sizes_seen))}{note}"
            )
        print("\nquery plans on the large database (!! = full table scan):")
        for line in query_plans(sizes[1], ops["large"]):
            print(line)
        for ws in sizes:
            ws.app.close()
    print(f"ratio: {max(ratios):.2f}")


if __name__ == "__main__":
    main()
