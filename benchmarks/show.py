"""Latency of `crisisflow show REF` against the cost of merely importing SQLAlchemy Core and click
(`python -c "import sqlalchemy, click"`), both run as processes, alternately, in this run.

    python benchmarks/show.py [--runs 20] [--warmup 3] [--no-bytecode-cache]

The workspace is a fresh SQLite one with one media-crisis incident walked up to its monitoring
(statements, e-mail, clocks and some twenty events to show). After a warm-up of both commands,
the two alternate (each pair in the other order than the one before), so a drift in the
machine's speed touches both alike. Both run with compiled bytecode cached, as an installed
package has it, in a folder of this run (PYTHONPYCACHEPREFIX; PYTHONDONTWRITEBYTECODE dropped);
--no-bytecode-cache keeps the caller's environment as it is.

Prints each one's median and min-max, the ratio of the medians show / baseline with the spread
of the per-pair ratios (lower is better; target <= 1.2), and then which heavy modules `show`
imports, from `python -X importtime`: transitions, jinja2 and yaml must not be among them.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import MEDIA_CRISIS_PATH

# --- the crisisflow command line: every use of it is here, to switch in one place ------------

REF = "KC-2026-0001"
# The installed script next to this Python (a Python file, so `python -X importtime` runs it).
EXE = shutil.which("crisisflow", path=str(Path(sys.executable).parent)) or "crisisflow"


def cli_env(workspace: Path) -> dict[str, str]:
    env = {**os.environ, "CRISISFLOW_HOME": str(workspace)}
    env.pop("CRISISFLOW_DATABASE_URL", None)
    return env


def cli_prepare(workspace: Path) -> str:
    """`crisisflow init`, open an incident and walk it up to monitoring; return its reference."""
    env = cli_env(workspace)

    def run(*args: str) -> None:
        subprocess.run([EXE, *args], check=True, stdout=subprocess.DEVNULL, env=env)

    run("init", str(workspace))
    settings = workspace / "crisisflow.toml"  # the Chairman decides by phone here
    settings.write_text(
        settings.read_text(encoding="utf-8") + 'on_behalf_approvals = "allowed"\n', "utf-8"
    )
    run("open", "media-crisis", "--title", "Tin sạt lở bờ kè Cửa Tùng", "--set", "channel=social")
    for trigger, kwargs in MEDIA_CRISIS_PATH[: [t for t, _ in MEDIA_CRISIS_PATH].index("close")]:
        flags = [f"--set={k}={v}" for k, v in kwargs.get("given", {}).items()]
        if "note" in kwargs:
            flags.append(f"--note={kwargs['note']}")
        if kwargs.get("confirm_unchanged"):
            flags.append("--confirm-unchanged")
        if "actor" in kwargs:  # the Chairman's decisions, entered for him as if by phone
            flags += [f"--as={kwargs['actor']}", "--on-behalf"]
            if "note" not in kwargs:
                flags.append("--note=Chủ tịch quyết định qua điện thoại.")
        run("advance", REF, trigger, *flags)
    return REF


def show_command(ref: str) -> list[str]:
    return [EXE, "show", ref]


# Modules `show` has no use for: the playbook machine, templates, YAML.
FORBIDDEN = ("transitions", "jinja2", "yaml")
BASELINE = [sys.executable, "-c", "import sqlalchemy, click"]


def seconds(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def imports(command: list[str], env: dict[str, str]) -> list[tuple[int, str, float]]:
    """What a Python command imports, from `python -X importtime`: (depth, module, its own
    seconds), in the order the imports finished (a module after those it imported)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *command],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    found = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        if own.strip().isdigit():
            depth = (len(name) - len(name.lstrip()) - 1) // 2
            found.append((depth, name.strip(), int(own) / 1e6))
    return found


def by_package(found: list[tuple[int, str, float]]) -> dict[str, float]:
    """Top-level package → its modules' own import time, summed."""
    total: dict[str, float] = {}
    for _, name, own in found:
        top = name.split(".")[0]
        total[top] = total.get(top, 0.0) + own
    return total


def imported_via(found: list[tuple[int, str, float]], package: str) -> str | None:
    """The chain of imports that first brought ``package`` in, outermost last."""
    for i, (depth, name, _) in enumerate(found):
        if name.split(".")[0] != package:
            continue
        chain = [name]
        for later_depth, later, _ in found[i + 1 :]:
            if later_depth < depth:
                chain.append(later)
                depth = later_depth
        return " <- ".join(chain)
    return None


def spread(values: list[float], scale: float = 1000) -> str:
    return (
        f"median {statistics.median(values) * scale:.0f}, "
        f"min-max {min(values) * scale:.0f}-{max(values) * scale:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each command")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs of each first")
    parser.add_argument(
        "--no-bytecode-cache", action="store_true", help="run with the caller's environment as is"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crisisflow-bench-") as tmp:
        workspace = Path(tmp) / "ws"
        ref = cli_prepare(workspace)
        env = cli_env(workspace)
        if not args.no_bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        show = show_command(ref)
        for _ in range(args.warmup):
            seconds(BASELINE, env)
            seconds(show, env)
        base_times, show_times = [], []
        for run in range(args.runs):
            if run % 2:
                show_times.append(seconds(show, env))
                base_times.append(seconds(BASELINE, env))
            else:
                base_times.append(seconds(BASELINE, env))
                show_times.append(seconds(show, env))
        loaded = imports(show, env)
    pairs = [s / b for s, b in zip(show_times, base_times, strict=True)]
    ratio = statistics.median(show_times) / statistics.median(base_times)
    cache = "none" if args.no_bytecode_cache else "cached"
    print(
        f"{args.runs} runs each, alternating, after {args.warmup} warm-up runs each;"
        f" bytecode: {cache}"
    )
    print(f"{'baseline (import sqlalchemy, click)':36} {spread(base_times)} ms")
    print(f"{'crisisflow show ' + ref:36} {spread(show_times)} ms")
    print(
        f"ratio show/baseline: {ratio:.2f}  (per pair: median {statistics.median(pairs):.2f},"
        f" min-max {min(pairs):.2f}-{max(pairs):.2f}; target <= 1.2:"
        f" {'met' if ratio <= 1.2 else 'NOT met'})"
    )
    packages = by_package(loaded)
    heavy = sorted(packages.items(), key=lambda item: -item[1])[:12]
    print("what show imports (top-level package: its modules' own import time, ms):")
    print("  " + ", ".join(f"{name} {t * 1000:.0f}" for name, t in heavy))
    for name in FORBIDDEN:
        via = imported_via(loaded, name)
        print(f"  {name}: " + (f"IMPORTED, via {via}" if via else "not imported, ok"))


if __name__ == "__main__":
    main()
