"""Start-up cost of the ``tasktrial`` command line against a bare interpreter, in one process.

Three sides, interleaved so drift on the machine hits all alike, each run ``-k`` times in a fresh process:

- ``python``: ``python -c pass`` (the floor: the interpreter and site);
- ``typer``: ``python -c "import typer, rich.console"`` (what any typer + rich command line pays);
- ``import``: ``python -c "import cli.main"`` (every command registered, nothing rendered);
- ``help``: ``tasktrial --help`` (the help rendered by typer's rich formatter);
- ``help_plain``: ``tasktrial --help`` with ``TYPER_USE_RICH=0`` (click's plain formatter), which shows
  what typer's rich formatter costs (it imports rich.markdown and markdown-it whatever the help holds).

Wall time is what a user waits; CPU time (user + system, from ``os.wait4``) is steadier on a shared
machine. Issue 12's goal: ``tasktrial --help`` in at most 0.25 s.

Run: ``.venv/bin/python bench/bench_cli_startup.py [-k 10]``. Prints medians and ratios to ``python``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
SIDES = {
    "python": ([sys.executable, "-c", "pass"], {}),
    "typer": ([sys.executable, "-c", "import typer, rich.console"], {}),
    "import": ([sys.executable, "-c", "import cli.main"], {}),
    "help": ([str(BIN / "tasktrial"), "--help"], {}),
    "help_plain": ([str(BIN / "tasktrial"), "--help"], {"TYPER_USE_RICH": "0"}),
}


def once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv``."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **env})
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", type=int, default=10, help="runs of each side")
    k = parser.parse_args().k
    walls: dict[str, list[float]] = {name: [] for name in SIDES}
    cpus: dict[str, list[float]] = {name: [] for name in SIDES}
    for _ in range(k):
        for name, (argv, env) in SIDES.items():
            wall, cpu = once(argv, env)
            walls[name].append(wall)
            cpus[name].append(cpu)
    base_wall, base_cpu = statistics.median(walls["python"]), statistics.median(cpus["python"])
    print(f"{'side':10} {'wall median':>12} {'x python':>9} {'cpu median':>11} {'x python':>9}")
    for name in SIDES:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"{name:10} {wall:11.3f}s {wall / base_wall:9.1f} {cpu:10.3f}s {cpu / base_cpu:9.1f}")


if __name__ == "__main__":
    main()
