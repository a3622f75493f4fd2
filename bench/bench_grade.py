"""Per-submission cost of a cold engine grade against a raw ``docker run``, in one process.

Both sides run the same image and the same hidden pytest tests over the same
submission (retry-backoff's reference, 8 tests). The baseline is the
``docker`` CLI doing the least it can: ``docker run --rm`` with the
submission and tests bind-mounted read-only and no limits. The engine side
is ``engine.grading.grade_submission`` with the Docker runner: a fresh
container with the full limit set, files streamed in, the report and cgroup
counters read back, the container removed. The expected-test list is
collected once per task version and cached, as in the service, so it is
warmed before timing.

Run: ``.venv/bin/python bench/bench_grade.py [-k 15]``. Prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from engine import packs
from engine.grading import grade_submission
from graders import GraderSet
from runners import images
from runners.docker import DockerRunner
from testkit.packs import write_files

REPO = Path(__file__).resolve().parent.parent
PACK = REPO / "tasks" / "python-foundations"
TASK = "retry-backoff"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", type=int, default=15, help="submissions per side")
    args = parser.parse_args()

    pack = packs.load_pack(PACK, environments=images.environments())
    task = pack.task(TASK)
    submission = packs.reference_submission(task)
    runner = DockerRunner.from_env()
    warm_runner = DockerRunner.from_env(warm=1)
    cache = Path(tempfile.mkdtemp(prefix="tasktrial-bench-"))
    grader = GraderSet(runner, cache_dir=cache).for_task(task)
    warm_grader = GraderSet(warm_runner, cache_dir=cache).for_task(task)
    image = images.runtime_image(task.environment).tag

    with tempfile.TemporaryDirectory() as tmp:
        work, hidden = Path(tmp) / "workspace", Path(tmp) / "grader"
        write_files(work, submission)
        write_files(hidden, packs.grader_files(task))
        raw_cmd = [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            f"{work}:/workspace:ro",
            "-v",
            f"{hidden}:/grader:ro",
            "-w",
            "/workspace",
            "-e",
            "PYTHONPATH=/workspace",
            image,
            "python3",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "/grader/tests",
        ]

        def raw() -> float:
            began = time.perf_counter()
            proc = subprocess.run(raw_cmd, capture_output=True, check=False)
            elapsed = time.perf_counter() - began
            assert proc.returncode == 0, proc.stdout.decode()[-2000:]
            return elapsed

        def engine(on=runner, by=grader) -> float:
            began = time.perf_counter()
            result = grade_submission(task, submission, runner=on, grader=by)
            elapsed = time.perf_counter() - began
            assert result.score == 100, result.to_document()
            return elapsed

        def warm() -> float:
            elapsed = engine(warm_runner, warm_grader)
            time.sleep(0.3)  # a worker between submissions: the pool refills, the used sandbox goes
            return elapsed

        raw(), engine(), warm()  # warm every path (page cache, image layers, collected test list)
        raw_times, engine_times, warm_times = [], [], []
        for _ in range(args.k):  # interleave so drift on the machine hits every side alike
            raw_times.append(raw())
            engine_times.append(engine())
            warm_times.append(warm())
        warm_runner.close()

    raw_median, engine_median = statistics.median(raw_times), statistics.median(engine_times)
    report = {
        "task": f"{pack.id}/{TASK}",
        "submissions_per_side": args.k,
        "raw_docker_run_median_s": round(raw_median, 4),
        "engine_grade_median_s": round(engine_median, 4),
        "engine_grade_p90_s": round(sorted(engine_times)[int(0.9 * (len(engine_times) - 1))], 4),
        "ratio_engine_to_raw": round(engine_median / raw_median, 3),
        "target_ratio": 1.3,
        "warm_engine_grade_median_s": round(statistics.median(warm_times), 4),
        "ratio_warm_engine_to_raw": round(statistics.median(warm_times) / raw_median, 3),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
