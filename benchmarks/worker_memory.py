"""Memory of the dispatcher: peak resident size of `crisisflow dispatch` delivering 2,000 and
then 20,000 queued messages to a local sink.

    python benchmarks/worker_memory.py [--small 2000] [--large 20000]

A dispatcher claims a batch at a time and keeps at most one batch queued and one batch of
results unrecorded, so its memory must not grow with the length of the queue: a worker left
running through a long crisis would otherwise be killed for it. Each run is a fresh child
process on a fresh SQLite workspace, and its peak is read from its own resource usage (os.wait4
in a bare launcher, see LAUNCHER), so neither this script nor the other run counts. The last
line is the ratio large / small (target <= 1.2).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from dispatch import HOST, fresh_workspace, sink

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_crash import outbox_rows, queue_messages

from crisisflow import models as m
from crisisflow.store import Store
from crisisflow.store_outbox import outbox_counts

# Runs the command in its arguments and prints its exit code and peak RSS (KiB, on Linux). The
# measured process must not be spawned by this script directly: a child's ru_maxrss starts from
# the RSS of the process that spawned it (Linux carries the old memory's high-water mark across
# exec), and this script holds 20,000 composed messages. This launcher is a bare interpreter.
LAUNCHER = """\
import os, sys
quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=quiet)
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak_rss_mib(folder: Path, messages: int, port: int) -> float:
    """Queue ``messages`` in a fresh workspace, run one `crisisflow dispatch` over them in a
    child process, check that it delivered them all, and return the child's peak RSS."""
    workspace = fresh_workspace(folder)
    url = f"sqlite:///{workspace / 'crisisflow.db'}"
    queue_messages(url, outbox_rows(messages, "memory"))
    env = {
        **os.environ,
        "CRISISFLOW_HOME": str(workspace),
        "CRISISFLOW_SMTP_HOST": HOST,
        "CRISISFLOW_SMTP_PORT": str(port),
        "CRISISFLOW_SMTP_SECURITY": "none",
    }
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCHER, sys.executable, "-m", "crisisflow", "dispatch"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    exit_code, max_rss_kib = map(int, launched.stdout.split())
    if exit_code != 0:
        raise SystemExit(f"crisisflow dispatch failed with exit code {exit_code}")
    db = Store(url)
    try:
        with db.reading() as conn:
            counts = outbox_counts(conn)
    finally:
        db.dispose()
    if counts != {m.SENT: messages}:
        raise SystemExit(f"not everything was delivered: {counts}")
    return max_rss_kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=20000)
    args = parser.parse_args()
    with sink() as port, tempfile.TemporaryDirectory(prefix="crisisflow-bench-") as tmp:
        small = peak_rss_mib(Path(tmp) / "small", args.small, port)
        print(f"{args.small:>6} messages: peak RSS {small:.1f} MiB")
        large = peak_rss_mib(Path(tmp) / "large", args.large, port)
        print(f"{args.large:>6} messages: peak RSS {large:.1f} MiB")
    print(f"ratio: {large / small:.2f}")


if __name__ == "__main__":
    main()
