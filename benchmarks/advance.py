"""Throughput of `advance`: incidents walked through the whole media-crisis playbook on a SQLite
file with durable commits, against a raw SQLAlchemy Core loop replaying exactly the same writes
(update the incident row, insert the event and the same outbox rows, and the statement versions
and actions and the clocks each step wrote, then commit) in the same run.

    python benchmarks/advance.py [--incidents 2000]

The last line is the ratio crisisflow / raw loop (higher is better; target >= 0.5).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import MEDIA_CRISIS_PATH

from crisisflow import models
from crisisflow.app import App
from crisisflow.config import load_settings
from crisisflow.store import make_engine
from crisisflow.workspace import init


def run_crisisflow(folder: Path, incidents: int) -> tuple[float, int]:
    workspace = init(folder / "ws").workspace
    app = App(load_settings(workspace))
    transitions = 0
    started = time.perf_counter()
    for _ in range(incidents):
        ref = app.open("media-crisis", "Tin sạt lở bờ kè Cửa Tùng").ref
        for trigger, kwargs in MEDIA_CRISIS_PATH:
            app.advance(ref, trigger, **kwargs)  # type: ignore[arg-type]
            transitions += 1
    elapsed = time.perf_counter() - started
    app.close()
    return elapsed, transitions


def replay_raw(source_db: Path, target_db: Path) -> tuple[float, int]:
    """Replay every transition of the crisisflow run with plain Core statements: the same rows
    each one wrote (incident, event, outbox rows, statement versions and actions, clocks)."""
    m = models
    source = sa.create_engine(f"sqlite:///{source_db}")
    with source.connect() as conn:
        incidents = conn.execute(sa.select(m.incidents)).all()
        events = conn.execute(sa.select(m.events).order_by(m.events.c.id)).all()
        pinned = conn.execute(sa.select(m.playbook_versions)).all()
        tables = {
            t: conn.execute(sa.select(t).order_by(t.c.id)).all()
            for t in (
                m.outbox,
                m.statements,
                m.statement_versions,
                m.statement_actions,
                m.deadlines,
            )
        }
    source.dispose()
    statement_incident = {r.id: r.incident_id for r in tables[m.statements]}

    # What each transition wrote, found by incident and time (a command writes at one time).
    writes: dict[tuple[int, object], list[tuple[sa.Table, dict[str, object]]]] = {}

    def wrote(incident_id: int, at: object, table: sa.Table, row: object) -> None:
        writes.setdefault((incident_id, at), []).append((table, dict(row._mapping)))  # type: ignore[attr-defined]

    for row in tables[m.outbox]:
        wrote(row.incident_id, row.created_at, m.outbox, row)
    for row in tables[m.statements]:
        wrote(row.incident_id, row.created_at, m.statements, row)
    for row in tables[m.statement_versions]:
        wrote(statement_incident[row.statement_id], row.created_at, m.statement_versions, row)
    for row in tables[m.statement_actions]:
        wrote(statement_incident[row.statement_id], row.at, m.statement_actions, row)
    stops: dict[tuple[int, object], list[object]] = {}
    for row in tables[m.deadlines]:
        wrote(row.incident_id, row.entered_at, m.deadlines, row)
        if row.stopped_at is not None:
            stops.setdefault((row.incident_id, row.stopped_at), []).append(row)

    engine = make_engine(f"sqlite:///{target_db}")  # the same pragmas: WAL, synchronous=FULL
    m.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(m.playbook_versions.insert(), [dict(r._mapping) for r in pinned])
        conn.execute(
            m.incidents.insert(),
            [{**r._mapping, "state": "detected", "version": 1} for r in incidents],
        )
        opened = [e for e in events if e.kind == "opened"]
        conn.execute(m.events.insert(), [dict(e._mapping) for e in opened])
        for event in opened:
            for table, row in writes.pop((event.incident_id, event.at), []):
                conn.execute(table.insert(), row)
    inc, ev, dl = m.incidents, m.events, m.deadlines
    transitions = [e for e in events if e.kind == "transition"]
    started = time.perf_counter()
    for event in transitions:
        with engine.begin() as conn:
            conn.execute(
                inc.update()
                .where(inc.c.id == event.incident_id)
                .values(state=event.to_state, version=inc.c.version + 1, updated_at=event.at)
            )
            conn.execute(ev.insert().values(**event._mapping))
            for table, row in writes.get((event.incident_id, event.at), []):
                conn.execute(table.insert(), row)
            for row in stops.get((event.incident_id, event.at), []):
                conn.execute(
                    dl.update()
                    .where(dl.c.id == row.id)  # type: ignore[attr-defined]
                    .values(status=row.status, stopped_at=row.stopped_at)
                )  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, len(transitions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crisisflow-bench-") as tmp:
        folder = Path(tmp)
        cf_time, cf_count = run_crisisflow(folder, args.incidents)
        raw_time, raw_count = replay_raw(folder / "ws" / "crisisflow.db", folder / "raw.db")
    assert cf_count == raw_count
    cf_rate, raw_rate = cf_count / cf_time, raw_count / raw_time
    print(f"incidents: {args.incidents}, transitions: {cf_count}")
    print(f"crisisflow advance: {cf_rate:,.0f} transitions/s ({cf_time:.1f} s)")
    print(f"raw Core loop:      {raw_rate:,.0f} transitions/s ({raw_time:.1f} s)")
    print(f"ratio: {cf_rate / raw_rate:.2f}")


if __name__ == "__main__":
    main()
