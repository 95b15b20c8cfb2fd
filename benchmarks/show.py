"""Latency of `crisisflow show REF` against the cost of merely importing SQLAlchemy's ORM and
click (`python -c "import sqlalchemy.orm, click"`), both measured in this run.

    python benchmarks/show.py [--runs 15]

Prints medians and, last, the ratio show / baseline (lower is better; target <= 1.3).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_seconds(command: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    exe = shutil.which("crisisflow", path=str(Path(sys.executable).parent)) or "crisisflow"
    with tempfile.TemporaryDirectory(prefix="crisisflow-bench-") as tmp:
        env = {**os.environ, "CRISISFLOW_HOME": str(Path(tmp) / "ws")}
        env.pop("CRISISFLOW_DATABASE_URL", None)
        subprocess.run([exe, "init", str(Path(tmp) / "ws")], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(
            [exe, "open", "media-crisis", "--title", "Tin sạt lở bờ kè"],
            check=True,
            stdout=subprocess.DEVNULL,
            env=env,
        )
        for step in (["triage"], ["verify", "--set", "field_unit=ubnd-cua-tung"]):
            subprocess.run(
                [exe, "advance", "KC-2026-0001", *step],
                check=True,
                stdout=subprocess.DEVNULL,
                env=env,
            )
        baseline = median_seconds(
            [sys.executable, "-c", "import sqlalchemy.orm, click"], args.runs, env
        )
        show = median_seconds([exe, "show", "KC-2026-0001"], args.runs, env)
        help_time = median_seconds([exe, "--help"], args.runs, env)
    print(f"baseline (import sqlalchemy.orm, click): {baseline * 1000:.0f} ms")
    print(f"crisisflow --help:                       {help_time * 1000:.0f} ms")
    print(f"crisisflow show REF:                     {show * 1000:.0f} ms")
    print(f"ratio: {show / baseline:.2f}")


if __name__ == "__main__":
    main()
