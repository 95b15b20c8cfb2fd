"""Throughput of `advance`: incidents walked through the whole media-crisis playbook on a SQLite
file with durable commits, against a raw SQLAlchemy Core loop replaying exactly the same writes
(update the incident row, insert the event and the same outbox rows, commit) in the same run.

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
    """Replay every transition event of the crisisflow run with plain Core statements."""
    source = sa.create_engine(f"sqlite:///{source_db}")
    with source.connect() as conn:
        incidents = conn.execute(sa.select(models.incidents)).all()
        events = conn.execute(sa.select(models.events).order_by(models.events.c.id)).all()
        outbox = conn.execute(sa.select(models.outbox).order_by(models.outbox.c.id)).all()
        pinned = conn.execute(sa.select(models.playbook_versions)).all()
    source.dispose()
    mails_by_event: dict[int, list[dict[str, object]]] = {}
    for row in outbox:
        mails_by_event.setdefault(row.event_id, []).append(dict(row._mapping))

    engine = make_engine(f"sqlite:///{target_db}")  # the same pragmas: WAL, synchronous=FULL
    models.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(models.playbook_versions.insert(), [dict(r._mapping) for r in pinned])
        conn.execute(
            models.incidents.insert(),
            [{**r._mapping, "state": "detected", "version": 1} for r in incidents],
        )
        conn.execute(
            models.events.insert(), [dict(e._mapping) for e in events if e.kind == "opened"]
        )
    inc, ev, ob = models.incidents, models.events, models.outbox
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
            mails = mails_by_event.get(event.id)
            if mails:
                conn.execute(ob.insert(), mails)
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
