"""Grading time of the pytest kind: separate-sandbox (tamper-proof) against shared-process, in one process.

For every built-in pytest task that runs in the separate-sandbox mode, the
reference solution is graded ``-k`` times in each mode, alternating, with the
same Docker runner: the baseline is the same task with ``grader.isolation``
set to ``shared-process`` (the in-process mode every pytest task had before
issue 12). The expected-test lists are warmed first (collected once per
grader digest in both modes). ``--warm N`` grades with sandboxes started
ahead, as a worker does (service runs, like separate-sandbox gradings, make
their own sandboxes and network, so they do not use them).

Run: ``.venv/bin/python bench/bench_isolation.py [-k 5] [--warm 1]``. Prints per-task medians and
the ratio new/old, and the ratio of the summed medians.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

from engine import packs
from engine.grading import grade_submission
from engine.models import Verdict
from graders import GraderSet
from graders.pytest_grader import SEPARATE, SHARED, isolation
from runners import images
from runners.docker import DockerRunner

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", type=int, default=5, help="gradings per task and mode")
    parser.add_argument("--warm", type=int, default=0, help="sandboxes started ahead per kind of run")
    args = parser.parse_args()

    tasks = [
        task
        for folder in sorted((REPO / "tasks").iterdir())
        if (folder / "pack.yaml").is_file()
        for task in packs.load_pack(folder, environments=images.environments()).tasks
        if task.grader_kind == "pytest" and isolation(task) == SEPARATE
    ]
    runner = DockerRunner.from_env(warm=args.warm)
    graders = GraderSet(runner, cache_dir=Path(tempfile.mkdtemp(prefix="tasktrial-bench-")))
    old_total = new_total = 0.0
    print(
        "load average at the start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
        "(cold: no sandbox started ahead)" if not args.warm else f"(--warm {args.warm})",
    )
    print(f"{'task':<24} {'shared-process s':>17} {'separate-sandbox s':>19} {'ratio':>6}")
    try:
        for task in tasks:
            modes = {SHARED: dataclasses.replace(task, grader={**task.grader, "isolation": SHARED}), SEPARATE: task}
            submission = packs.reference_submission(task)
            times: dict[str, list[float]] = {SHARED: [], SEPARATE: []}
            for mode, variant in modes.items():  # warm-up: expected lists, images, page cache
                result = grade_submission(variant, submission, runner=runner, grader=graders.for_task(variant))
                assert result.verdict is Verdict.READY, (task.id, mode, result.reason)
            for _ in range(args.k):
                for mode, variant in modes.items():
                    began = time.perf_counter()
                    result = grade_submission(variant, submission, runner=runner, grader=graders.for_task(variant))
                    times[mode].append(time.perf_counter() - began)
                    assert result.score == 100.0, (task.id, mode, result.reason)
            old, new = statistics.median(times[SHARED]), statistics.median(times[SEPARATE])
            old_total, new_total = old_total + old, new_total + new
            print(f"{task.id:<24} {old:>17.2f} {new:>19.2f} {new / old:>6.2f}")
    finally:
        runner.close()
    print(f"{'all (sum of medians)':<24} {old_total:>17.2f} {new_total:>19.2f} {new_total / old_total:>6.2f}")
    print("load average at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
