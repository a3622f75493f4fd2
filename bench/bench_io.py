"""Per-submission cost of grading a multi-case ``io`` task against raw ``docker run``, in one process.

The task is python-foundations/word-frequency (its reference solution;
six cases). Two baselines with the ``docker`` CLI and no limits, the
submission bind-mounted read-only:

- ``raw_one_container``: one ``docker run --rm`` feeding every case in turn
  to the program inside one container (the least work; cases share state);
- ``raw_per_case``: one ``docker run --rm -i`` per case (what isolated cases
  cost with nothing but the CLI).

The engine side is ``engine.grading.grade_submission`` with the Docker
runner, cold (``warm=0``) and warm (``warm=1``, as the service runs it):
every case in a fresh sandbox of its own. The ``engine_shared_sandbox``
sides run the same grading with every case in one sandbox, as before cases
were isolated (issue 14), so the cost of isolation is read in one process.
Every side is interleaved so drift on the machine hits all alike.

Run: ``.venv/bin/python bench/bench_io.py [-k 7] [--task PACK/TASK]``. Prints medians and ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from engine import packs
from engine.grading import grade_submission
from engine.models import CheckStatus
from graders import GraderSet
from graders.io_grader import cases
from runners import images
from runners.docker import DockerRunner
from testkit.packs import write_files

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", type=int, default=7, help="submissions per side")
    parser.add_argument("--task", default="python-foundations/word-frequency")
    args = parser.parse_args()

    pack_id, task_id = args.task.split("/")
    pack = packs.load_pack(REPO / "tasks" / pack_id, environments=images.environments())
    task = pack.task(task_id)
    submission = packs.reference_submission(task)
    all_cases = cases(task)
    command = list(task.grader["command"])
    image = images.runtime_image(task.environment).tag
    cold, warm = DockerRunner.from_env(), DockerRunner.from_env(warm=1)
    cold_grader, warm_grader = GraderSet(cold).for_task(task), GraderSet(warm).for_task(task)

    with tempfile.TemporaryDirectory() as tmp:
        work, inputs = Path(tmp) / "workspace", Path(tmp) / "cases"
        write_files(work, submission)
        write_files(inputs, {f"{c.name}.in": c.stdin for c in all_cases})
        mounts = ["-v", f"{work}:/workspace:ro", "-v", f"{inputs}:/cases:ro", "-w", "/workspace"]
        loop = " ".join(f'"$@" < /cases/{c.name}.in;' for c in all_cases)

        def raw_one() -> float:
            began = time.perf_counter()
            proc = subprocess.run(
                ["docker", "run", "--rm", "--network", "none", *mounts, image, "sh", "-c", loop, "sh", *command],
                capture_output=True,
                check=False,
            )
            assert proc.returncode == 0, proc.stderr.decode()[-2000:]
            return time.perf_counter() - began

        def raw_per_case() -> float:
            began = time.perf_counter()
            for case in all_cases:
                proc = subprocess.run(
                    ["docker", "run", "--rm", "-i", "--network", "none", *mounts, image, *command],
                    input=case.stdin,
                    capture_output=True,
                    check=False,
                )
                assert proc.returncode == 0, proc.stderr.decode()[-2000:]
            return time.perf_counter() - began

        def engine(runner, grader, pause: float = 0.0) -> float:
            began = time.perf_counter()
            result = grade_submission(task, submission, runner=runner, grader=grader)
            elapsed = time.perf_counter() - began
            assert result.score == 100, result.to_document()
            time.sleep(pause)  # a worker between submissions: the pool refills, used sandboxes go
            return elapsed

        def shared(runner, grader, pause: float = 0.0) -> float:
            """The same grading with every case in one sandbox, as before cases were isolated (issue 14)."""
            began = time.perf_counter()
            spec = replace(grader.build_run(task, submission), isolated_steps=False)
            grading = grader.grade(task, submission, runner.run(spec))
            elapsed = time.perf_counter() - began
            assert all(c.status is CheckStatus.PASS for c in grading.checks)
            time.sleep(pause)
            return elapsed

        sides = {
            "raw_one_container": raw_one,
            "raw_per_case": raw_per_case,
            "engine_cold": lambda: engine(cold, cold_grader),
            "engine_warm": lambda: engine(warm, warm_grader, pause=0.5),
            "engine_shared_sandbox_cold": lambda: shared(cold, cold_grader),
            "engine_shared_sandbox_warm": lambda: shared(warm, warm_grader, pause=0.5),
        }
        for run in sides.values():
            run()  # page cache, image layers
        times: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(args.k):
            for name, run in sides.items():
                times[name].append(run())
        warm.close()

    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["raw_one_container"]
    report = {
        "task": args.task,
        "cases": len(all_cases),
        "submissions_per_side": args.k,
        **{f"{name}_median_s": round(value, 4) for name, value in medians.items()},
        **{
            f"ratio_{name}_to_raw_one_container": round(value / base, 3)
            for name, value in medians.items()
            if name != "raw_one_container"
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
