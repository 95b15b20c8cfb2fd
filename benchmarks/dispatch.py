"""Delivery throughput: crisisflow's dispatcher against plain aiosmtplib sending the same
prepared messages over the same number of persistent connections, to the same local sink.

    python benchmarks/dispatch.py [--messages 2000] [--connections 1 8] [--repeat 3]

crisisflow claims the messages from a fresh SQLite outbox (durable commits) and records every
result; the baseline only sends, with no database at all, so the ratio is what the bookkeeping
costs. The sink (aiosmtpd answering 250 to everything) runs in a process of its own so that it
does not share the interpreter lock with either sender. The last line is the ratio
crisisflow / raw at the largest connection count (higher is better; target >= 0.8); the
8-connection speed-up over one connection targets >= 2.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiosmtplib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_crash import outbox_rows, queue_messages

from crisisflow.app import App
from crisisflow.config import load_settings
from crisisflow.mailbox import free_port
from crisisflow.workspace import init

HOST = "127.0.0.1"


@contextmanager
def sink() -> Iterator[int]:
    """aiosmtpd's own command-line server with its do-nothing handler, in another process;
    yields its port once it accepts connections."""
    port = free_port(HOST)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"{HOST}:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ]
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait()


def fresh_workspace(folder: Path) -> Path:
    """A new SQLite workspace: the database URL in the environment, if any, is not ours."""
    os.environ.pop("CRISISFLOW_DATABASE_URL", None)
    return init(folder).workspace


def run_crisisflow(folder: Path, rows: list[dict[str, Any]], port: int, connections: int) -> float:
    """Seconds `Dispatcher.run_once()` takes to deliver ``rows`` from a fresh outbox."""
    workspace = fresh_workspace(folder)
    settings = load_settings(
        workspace,
        {
            "smtp_host": HOST,
            "smtp_port": port,
            "smtp_security": "none",
            "smtp_connections": connections,
        },
    )
    app = App(settings)
    queue_messages(settings.database_url, rows)

    async def once() -> float:
        dispatcher = app.delivery.dispatcher()
        try:
            started = time.perf_counter()
            report = await dispatcher.run_once()
            elapsed = time.perf_counter() - started
        finally:
            await dispatcher.close()
        assert report.sent == len(rows) and report.handled == len(rows), report
        return elapsed

    try:
        return asyncio.run(once())
    finally:
        app.close()


def run_raw(rows: list[dict[str, Any]], port: int, connections: int) -> float:
    """Seconds plain aiosmtplib takes to send ``rows``: ``connections`` tasks, each with one
    connection, pulling from one queue; connecting counts, as it does for crisisflow."""

    async def send_all() -> float:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for row in rows:
            queue.put_nowait(row)
        clients = [
            aiosmtplib.SMTP(
                hostname=HOST, port=port, start_tls=False, local_hostname="vinhlinh.example"
            )
            for _ in range(connections)
        ]

        async def worker(client: aiosmtplib.SMTP) -> None:
            await client.connect()
            while not queue.empty():
                row = queue.get_nowait()
                await client.sendmail(row["sender"], [row["recipient"]], row["raw"])

        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in clients))
        elapsed = time.perf_counter() - started
        await asyncio.gather(*(c.quit() for c in clients))
        return elapsed

    return asyncio.run(send_all())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each measurement, alternating the two senders; the fastest counts "
        "(the least disturbed by whatever else the machine is doing)",
    )
    args = parser.parse_args()
    rows = outbox_rows(args.messages, "bench")
    size = sum(len(r["raw"]) for r in rows) / len(rows)
    print(f"messages: {args.messages} of {size:,.0f} bytes on average, best of {args.repeat}")
    rates: dict[int, tuple[float, float]] = {}
    with sink() as port, tempfile.TemporaryDirectory(prefix="crisisflow-bench-") as tmp:
        folders = (Path(tmp) / f"ws{n}" for n in itertools.count())
        for connections in args.connections:
            raw_time = ours_time = float("inf")
            for _ in range(args.repeat):
                raw_time = min(raw_time, run_raw(rows, port, connections))
                ours_time = min(ours_time, run_crisisflow(next(folders), rows, port, connections))
            ours, raw = args.messages / ours_time, args.messages / raw_time
            rates[connections] = ours, raw
            print(
                f"{connections} connection(s): crisisflow {ours:,.0f} msg/s, "
                f"raw aiosmtplib {raw:,.0f} msg/s, ratio {ours / raw:.2f}"
            )
    if 1 in rates and 8 in rates:
        print(f"crisisflow speed-up, 8 connections / 1: {rates[8][0] / rates[1][0]:.2f}")
    ours, raw = rates[max(rates)]
    print(f"ratio: {ours / raw:.2f}")


if __name__ == "__main__":
    main()
