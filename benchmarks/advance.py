"""Throughput of `advance` against a raw SQLAlchemy Core loop that makes exactly the same writes,
measured interleaved so that the disk's speed, which drifts, is the same for both.

    python benchmarks/advance.py [--incidents 30] [--rounds 5] [--backend auto]
                                 [--postgres URL]

Each incident is opened and walked through the media-crisis playbook (tests/conftest.py's
MEDIA_CRISIS_PATH) by crisisflow; right after each step the raw loop replays that step's writes
into a database of its own, in one transaction: the incident row (state, facts, stamps, head
hash, version, times, optimistic lock), the event, the outbox rows, the statements, their
versions and actions, the clocks started or stopped, and the register numbers taken. The
replay of a step needs the rows the step wrote, so it always follows it; the timeline is
crisisflow, raw, crisisflow, raw, ... and each side's step sits between two steps of the other.

Timed on both sides: a step from just before its first database work to its commit (crisisflow:
the whole `advance` call; raw: the transaction). Not timed: crisisflow's start (a warm-up
incident is walked first on both sides), opening incidents, and reading back what a step wrote.

SQLite: a file with crisisflow's durable settings (WAL, synchronous=FULL), both sides through
`crisisflow.store.make_engine`. PostgreSQL: two fresh schemas, dropped afterwards, when
--postgres or CRISISFLOW_TEST_POSTGRES_URL names a server, or with `--backend auto` (the default)
when the local test server answers. Prints, per backend, transitions/s of both sides, the ratio
crisisflow / raw (higher is better; targets: >= 0.7 on SQLite, >= 0.6 on PostgreSQL) and its
median and min-max over the rounds, and the median of the time crisisflow takes beyond the raw
loop per step (what the ratio hides when a slow disk makes both sides slow).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import MEDIA_CRISIS_PATH

# --- the crisisflow API: every call into it is here, to switch in one place ------------------
from crisisflow import actor as actors
from crisisflow import models
from crisisflow.actor import Actor
from crisisflow.app import App
from crisisflow.config import load_settings
from crisisflow.store import make_engine
from crisisflow.workspace import init

PLAYBOOK = "media-crisis"
TITLE = "Mạng xã hội lan truyền tin sạt lở bờ kè Cửa Tùng"


def cf_workspace(folder: Path, url: str) -> Path:
    """A workspace made by `crisisflow init`, its database (schema included) at ``url``."""
    saved = os.environ.get("CRISISFLOW_DATABASE_URL")
    os.environ["CRISISFLOW_DATABASE_URL"] = url
    try:
        return init(folder).workspace
    finally:
        if saved is None:
            del os.environ["CRISISFLOW_DATABASE_URL"]
        else:
            os.environ["CRISISFLOW_DATABASE_URL"] = saved


def cf_start(workspace: Path, url: str) -> App:
    return App(load_settings(workspace, {"database_url": url}))


def cf_open(app: App) -> str:
    return app.incidents.open(PLAYBOOK, TITLE, actor=app.identify()).ref


def cf_step(app: App, ref: str, trigger: str, kwargs: dict[str, Any]) -> None:
    """One `advance` as the command line makes it (``kwargs["actor"]``: that person)."""
    chosen = dict(kwargs)
    person = chosen.pop("actor", None)
    # The person acting as themselves, from the account bound to them.
    actor = Actor(person, actors.CLI_ACCOUNT) if person else app.identify()
    app.incidents.advance(ref, trigger, actor=actor, **chosen)


def cf_engine(app: App) -> Engine:
    return app.store.engine


def cf_stop(app: App) -> None:
    app.close()


def raw_engine(url: str) -> Engine:
    """An engine set up as crisisflow sets up its own (SQLite: WAL, synchronous=FULL, ...)."""
    return make_engine(url)


def create_tables(engine: Engine) -> None:
    models.metadata.create_all(engine)


# The tables both sides write.
INCIDENTS = models.incidents
EVENTS = models.events
OUTBOX = models.outbox
STATEMENTS = models.statements
VERSIONS = models.statement_versions
ACTIONS = models.statement_actions
CLOCKS = models.deadlines
PINNED = models.playbook_versions
REGISTER = models.register_entries
COUNTERS = models.register_counters

# --- what one step wrote, read back from crisisflow's database (not timed) -------------------

TARGETS = {"sqlite": 0.7, "postgresql": 0.6}
WATERMARKED = (EVENTS, OUTBOX, STATEMENTS, VERSIONS, ACTIONS, REGISTER)


def _values(row: Any, *drop: str) -> dict[str, Any]:
    return {k: v for k, v in row._mapping.items() if k not in drop}


@dataclass
class Step:
    """The writes of one crisisflow command, as the raw loop replays them."""

    incident_id: int
    opened: bool
    incident: dict[str, Any]
    expected_version: int
    pins: list[dict[str, Any]] = field(default_factory=list)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    clock_updates: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


class Recorder:
    """Reads back, after each crisisflow command, the rows it wrote: every row newer than the
    last one seen, and the incident's clocks compared with how they were."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen = dict.fromkeys((t.name for t in WATERMARKED), 0)
        self.pinned: set[str] = set()
        self.clocks: dict[int, dict[str, Any]] = {}
        self.versions: dict[int, int] = {}

    def step(self, ref: str) -> Step:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(INCIDENTS).where(INCIDENTS.c.ref == ref)).one()
            opened = row.id not in self.versions
            step = Step(
                row.id,
                opened,
                _values(row, "id") if opened else _incident_update(row),
                self.versions.get(row.id, 0),
            )
            self.versions[row.id] = row.version
            if opened:
                pins = conn.execute(sa.select(PINNED).where(PINNED.c.hash.not_in(self.pinned)))
                step.pins = [_values(p) for p in pins]
                self.pinned |= {p["hash"] for p in step.pins}
            for table in WATERMARKED:
                found = conn.execute(
                    sa.select(table).where(table.c.id > self.seen[table.name]).order_by(table.c.id)
                ).all()
                step.rows[table.name] = [_values(r) for r in found]
                if found:
                    self.seen[table.name] = found[-1].id
            step.rows[CLOCKS.name] = []
            for clock in conn.execute(
                sa.select(CLOCKS).where(CLOCKS.c.incident_id == row.id).order_by(CLOCKS.c.id)
            ):
                now, before = _values(clock), self.clocks.get(clock.id)
                if before is None:
                    step.rows[CLOCKS.name].append(now)
                else:
                    changed = {k: v for k, v in now.items() if before[k] != v}
                    if changed:
                        step.clock_updates.append((clock.id, changed))
                self.clocks[clock.id] = now
        assert len(step.rows[EVENTS.name]) == 1, "one command, one event"
        return step


# The columns an `advance` writes to the incident row.
UPDATED = ("state", "facts", "stamps", "version", "head_hash", "updated_at", "closed_at")


def _incident_update(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in UPDATED}


# --- the raw loop --------------------------------------------------------------------------

UPDATE_INCIDENT = (
    INCIDENTS.update()
    .where(INCIDENTS.c.id == sa.bindparam("_id"), INCIDENTS.c.version == sa.bindparam("_expected"))
    .values({c: sa.bindparam(c) for c in UPDATED})
)


def _pk(result: Any) -> int:
    return int(result.inserted_primary_key[0])


class Replayer:
    """Writes a recorded step into the raw database: plain Core statements, one transaction,
    new ids mapped from crisisflow's (incidents, events, statements, clocks)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ids: dict[str, dict[int | None, int | None]] = {
            t.name: {None: None} for t in (INCIDENTS, EVENTS, STATEMENTS, CLOCKS)
        }

    def replay(self, step: Step) -> float:
        """Write ``step``; return the seconds from just before its first write to its commit."""
        rows, ids = step.rows, self.ids
        started = time.perf_counter()
        with self.engine.begin() as conn:
            self._write(conn, step, rows, ids)
        return time.perf_counter() - started

    @staticmethod
    def _write(
        conn: Connection,
        step: Step,
        rows: dict[str, list[dict[str, Any]]],
        ids: dict[str, dict[int | None, int | None]],
    ) -> None:
        if step.pins:
            conn.execute(PINNED.insert(), step.pins)
        if step.opened:
            new_id = _pk(conn.execute(INCIDENTS.insert(), step.incident))
            ids[INCIDENTS.name][step.incident_id] = new_id
        else:
            params = {
                "_id": ids[INCIDENTS.name][step.incident_id],
                "_expected": step.expected_version,
                **step.incident,
            }
            if conn.execute(UPDATE_INCIDENT, params).rowcount != 1:
                raise RuntimeError("the raw replay lost track of an incident's version")
        incident = ids[INCIDENTS.name]
        for event in rows[EVENTS.name]:
            values = {**event, "incident_id": incident[event["incident_id"]]}
            del values["id"]
            ids[EVENTS.name][event["id"]] = _pk(conn.execute(EVENTS.insert(), values))
        statement = ids[STATEMENTS.name]
        for head in rows[STATEMENTS.name]:
            values = {
                **head,
                "incident_id": incident[head["incident_id"]],
                "corrects_id": statement[head["corrects_id"]],
            }
            del values["id"]
            statement[head["id"]] = _pk(conn.execute(STATEMENTS.insert(), values))
        for table in (VERSIONS, ACTIONS):
            for each in rows[table.name]:
                values = {**each, "statement_id": statement[each["statement_id"]]}
                del values["id"]
                conn.execute(table.insert(), values)
        mails = [
            {
                **{k: v for k, v in mail.items() if k != "id"},
                "incident_id": incident[mail["incident_id"]],
                "event_id": ids[EVENTS.name][mail["event_id"]],
            }
            for mail in rows[OUTBOX.name]
        ]
        if mails:
            conn.execute(OUTBOX.insert(), mails)
        clock = ids[CLOCKS.name]
        for each in rows[CLOCKS.name]:
            values = {**each, "incident_id": incident[each["incident_id"]]}
            del values["id"]
            clock[each["id"]] = _pk(conn.execute(CLOCKS.insert(), values))
        for clock_id, changed in step.clock_updates:
            conn.execute(CLOCKS.update().where(CLOCKS.c.id == clock[clock_id]).values(changed))
        for entry in rows[REGISTER.name]:  # a number taken: the counter row, then the entry
            _take(conn, entry["year"], entry["symbol"])
            values = {**entry, "statement_id": statement[entry["statement_id"]]}
            del values["id"]
            conn.execute(REGISTER.insert(), values)


def _take(conn: Connection, year: int, symbol: str) -> None:
    """The register counter's upsert and increment, as the publication makes them."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(COUNTERS)
        .values(year=year, symbol=symbol, last_number=0)
        .on_conflict_do_nothing()
    )
    conn.execute(
        COUNTERS.update()
        .where(COUNTERS.c.year == year, COUNTERS.c.symbol == symbol)
        .values(last_number=COUNTERS.c.last_number + 1)
        .returning(COUNTERS.c.last_number)
    ).scalar_one()


def same_rows(crisisflow: Engine, raw: Engine) -> None:
    """Check, after the run, that the raw database holds what crisisflow's does (ids aside)."""

    def content(engine: Engine, table: sa.Table) -> list[tuple[Any, ...]]:
        columns = [c for c in table.c if not c.name.endswith("id")]
        with engine.connect() as conn:
            rows = conn.execute(sa.select(*columns).order_by(*table.primary_key.columns))
            return [tuple(repr(v) for v in r) for r in rows]

    for table in (INCIDENTS, *WATERMARKED, CLOCKS, COUNTERS):
        if content(crisisflow, table) != content(raw, table):
            raise RuntimeError(f"the raw replay wrote {table.name} differently")


# --- the run -------------------------------------------------------------------------------


class Statements:
    """Counts the SQL statements an engine executes while ``counting`` is on (BEGIN included
    where the driver sends it as a statement; COMMIT is not a statement here on either side)."""

    def __init__(self, *engines: Engine) -> None:
        self.counting = False
        self.counts = [0] * len(engines)
        for index, engine in enumerate(engines):
            sa.event.listen(engine, "before_cursor_execute", self._counter(index))

    def _counter(self, index: int) -> Any:
        def count(*_args: Any) -> None:
            if self.counting:
                self.counts[index] += 1

        return count


@dataclass
class Round:
    crisisflow: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)

    def rates(self) -> tuple[float, float]:
        return len(self.crisisflow) / sum(self.crisisflow), len(self.raw) / sum(self.raw)


def walk(
    app: App,
    recorder: Recorder,
    replayer: Replayer,
    result: Round | None,
    statements: Statements | None = None,
) -> None:
    """Open one incident and walk it, each crisisflow step followed by its raw replay."""
    ref = cf_open(app)
    replayer.replay(recorder.step(ref))  # opening is set-up on both sides, not timed
    for trigger, kwargs in MEDIA_CRISIS_PATH:
        step = recorder.step  # the recorder reads through an engine of its own, not counted
        if statements is not None:
            statements.counting = True
        started = time.perf_counter()
        cf_step(app, ref, trigger, kwargs)
        cf_seconds = time.perf_counter() - started
        recorded = step(ref)
        raw_seconds = replayer.replay(recorded)
        if statements is not None:
            statements.counting = False
        if result is not None:
            result.crisisflow.append(cf_seconds)
            result.raw.append(raw_seconds)


def measure(cf_url: str, reader_url: str, raw_url: str, folder: Path, args: Any) -> list[Round]:
    workspace = cf_workspace(folder / "ws", cf_url)
    app = cf_start(workspace, cf_url)
    reader = sa.create_engine(reader_url)
    raw = raw_engine(raw_url)
    try:
        create_tables(raw)
        recorder, replayer = Recorder(reader), Replayer(raw)
        walk(app, recorder, replayer, None)  # warm-up: imports, caches, prepared statements
        statements = Statements(cf_engine(app), raw)
        walk(app, recorder, replayer, None, statements)  # one walk, to count statements
        steps = len(MEDIA_CRISIS_PATH)
        print(
            f"  SQL statements per step: crisisflow {statements.counts[0] / steps:.1f},"
            f" raw {statements.counts[1] / steps:.1f}",
            flush=True,
        )
        rounds = []
        for _ in range(args.rounds):
            result = Round()
            for _ in range(args.incidents):
                walk(app, recorder, replayer, result)
            rounds.append(result)
            cf_rate, raw_rate = result.rates()
            print(
                f"  round {len(rounds)}: crisisflow {cf_rate:6,.0f}/s  raw {raw_rate:6,.0f}/s"
                f"  ratio {cf_rate / raw_rate:.2f}",
                flush=True,
            )
        same_rows(reader, raw)
        return rounds
    finally:
        cf_stop(app)
        reader.dispose()
        raw.dispose()


def report(backend: str, rounds: list[Round]) -> None:
    cf_all = [s for r in rounds for s in r.crisisflow]
    raw_all = [s for r in rounds for s in r.raw]
    cf_rate, raw_rate = len(cf_all) / sum(cf_all), len(raw_all) / sum(raw_all)
    ratios = [cf / raw for cf, raw in (r.rates() for r in rounds)]
    ratio, target = cf_rate / raw_rate, TARGETS[backend]
    print(f"{backend}: {len(cf_all)} transitions a side")
    print(
        f"  crisisflow advance: {cf_rate:6,.0f} transitions/s"
        f" (median step {statistics.median(cf_all) * 1000:.2f} ms)"
    )
    print(
        f"  raw Core loop:      {raw_rate:6,.0f} transitions/s"
        f" (median step {statistics.median(raw_all) * 1000:.2f} ms)"
    )
    extra = statistics.median(cf - raw for cf, raw in zip(cf_all, raw_all, strict=True))
    print(f"  crisisflow's extra time per step: median {extra * 1000:.2f} ms")
    print(
        f"  ratio crisisflow/raw: {ratio:.2f}  (per round: median {statistics.median(ratios):.2f},"
        f" min-max {min(ratios):.2f}-{max(ratios):.2f}; target >= {target}:"
        f" {'met' if ratio >= target else 'NOT met'})"
    )


def run_sqlite(args: Any) -> None:
    print("sqlite (file, WAL, synchronous=FULL):", flush=True)
    with tempfile.TemporaryDirectory(prefix="crisisflow-bench-") as tmp:
        folder = Path(tmp)
        cf_url = f"sqlite:///{folder / 'ws' / 'crisisflow.db'}"
        rounds = measure(cf_url, cf_url, f"sqlite:///{folder / 'raw.db'}", folder, args)
    report("sqlite", rounds)


@contextmanager
def schemas(base: str, *names: str) -> Iterator[list[str]]:
    """Fresh PostgreSQL schemas, dropped afterwards; yields a URL for each."""
    admin = sa.create_engine(base)
    tag = uuid.uuid4().hex[:8]
    made = [f"bench_{tag}_{name}" for name in names]
    sep = "&" if "?" in base else "?"
    try:
        with admin.begin() as conn:
            for schema in made:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        yield [f"{base}{sep}options=-csearch_path%3D{schema}" for schema in made]
    finally:
        with admin.begin() as conn:
            for schema in made:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def run_postgres(base: str, args: Any) -> None:
    print(f"postgresql ({sa.make_url(base).render_as_string(hide_password=True)}):", flush=True)
    with (
        schemas(base, "crisisflow", "raw") as (cf_url, raw_url),
        tempfile.TemporaryDirectory(prefix="crisisflow-bench-") as tmp,
    ):
        rounds = measure(cf_url, cf_url, raw_url, Path(tmp), args)
    report("postgresql", rounds)


def reachable(url: str) -> bool:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--incidents", type=int, default=30, help="incidents per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--backend",
        choices=["auto", "sqlite", "postgresql", "both"],
        default="auto",
        help="auto: SQLite, and PostgreSQL too when it answers",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("CRISISFLOW_TEST_POSTGRES_URL"),
        help="PostgreSQL server (default: $CRISISFLOW_TEST_POSTGRES_URL, else the local test one)",
    )
    args = parser.parse_args()
    pg_url = args.postgres or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    print(
        f"{args.rounds} rounds x {args.incidents} incidents x {len(MEDIA_CRISIS_PATH)} steps"
        " (media-crisis, open to review)",
        flush=True,
    )
    if args.backend in ("auto", "sqlite", "both"):
        run_sqlite(args)
    if args.backend in ("postgresql", "both") or (args.backend == "auto" and args.postgres):
        run_postgres(pg_url, args)
    elif args.backend == "auto":
        if reachable(pg_url):
            run_postgres(pg_url, args)
        else:
            print(f"postgresql: skipped, nothing answers at {pg_url} (give --postgres URL)")


if __name__ == "__main__":
    main()
