"""Machine time per grading: what one submission costs the host, against a raw ``docker run`` and a bare container.

On a host whose cores are all busy (a batch), throughput is set by CPU time per job, not latency: a
service that spends more CPU per submission than a raw ``docker run`` cannot out-run it, however its
sandboxes are started ahead. This bench measures that cost, one job at a time, in one process:

- ``bare container``: ``docker run --rm`` of ``true`` with the task's limits: a container's own
  lifecycle (create, start, wait, remove), the floor of any single-use sandbox;
- ``raw docker run``: ``bench_batch``'s baseline, pytest in the candidate's own process;
- ``raw, same isolation``: ``bench_batch``'s second peer, our two-sandbox grading by hand (two
  ``docker run``, the bridge and the harness);
- ``ours, shared-process``: ``grade_submission`` on a warm runner, the tests in the candidate's sandbox;
- ``ours, separate-sandbox``: the default: the tests in a grader sandbox, the candidate's modules served
  from its own (two sandboxes per grading).

CPU is the whole machine's busy time (``/proc/stat``: every process, the Docker daemons, the
containers, this one) over the jobs, less the machine's busy rate measured just before (other work),
divided by the jobs: run it on an otherwise idle machine. ``cpu_ratio_to_raw`` below 1 means cheaper
than raw; the CPU-bound throughput ratio it allows is its inverse.

Run: ``.venv/bin/python bench/bench_cpu.py [-n 20]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_batch import RawFolders, in_process_job, isolated_job, write_catalogue
from engine import packs
from engine.grading import grade_submission
from engine.models import Verdict
from graders import GraderSet
from graders.pytest_grader import SEPARATE, SHARED
from runners import images
from runners.docker import DockerRunner
from testkit.raw_docker import raw_docker_run

#: How long the machine's own busy rate is sampled before each side.
QUIET_SECONDS = 3.0
#: Above this many cores busy with other work, the subtraction is too rough to trust (the report says so).
BUSY_MACHINE_CORES = 0.3


def busy_seconds() -> float:
    """CPU seconds the machine has spent busy since boot, over all cores (``/proc/stat``)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def measure(job: Callable[[], None], count: int) -> dict:
    """Wall and machine CPU per job for ``count`` jobs one at a time, less the background measured before."""
    job()  # warm: page cache, images, the collected test list, a sandbox started ahead
    time.sleep(1.0)
    before, began = busy_seconds(), time.perf_counter()
    time.sleep(QUIET_SECONDS)
    background_rate = (busy_seconds() - before) / (time.perf_counter() - began)
    before, began = busy_seconds(), time.perf_counter()
    for _ in range(count):
        job()
    wall = time.perf_counter() - began
    cpu = busy_seconds() - before - background_rate * wall
    return {
        "wall_s_per_job": round(wall / count, 3),
        "cpu_s_per_job": round(cpu / count, 3),
        "background_cores_busy": round(background_rate, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="jobs per side")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tasktrial-bench-cpu-"))
    write_catalogue(tmp / "catalogue")
    task = packs.load_pack(tmp / "catalogue" / "bench", environments=images.environments()).tasks[0]
    folders = RawFolders.write(tmp / "raw")
    image = images.runtime_image(task.environment).tag
    bare = raw_docker_run(image, ["true"], limits=task.limits, mounts={}, workdir="/")

    def run(command: list[str]) -> Callable[[], None]:
        def job() -> None:
            done = subprocess.run(command, capture_output=True, check=False)
            assert done.returncode == 0, done.stdout.decode()[-2000:]

        return job

    runner = DockerRunner.from_env(warm=1)
    graders = GraderSet(runner, cache_dir=tmp / "cache")
    reference = packs.reference_submission(task)

    def ours(isolation: str) -> Callable[[], None]:
        variant = dataclasses.replace(task, grader={**task.grader, "isolation": isolation})

        def job() -> None:
            result = grade_submission(variant, reference, runner=runner, grader=graders.for_task(variant))
            assert result.verdict is Verdict.READY, result

        return job

    sides = {
        "bare container": run(bare),
        "raw docker run": in_process_job(folders, image, task.limits),
        "raw, same isolation": isolated_job(folders, image, task.limits),
        f"ours, {SHARED}": ours(SHARED),
        f"ours, {SEPARATE}": ours(SEPARATE),
    }
    report: dict[str, dict] = {}
    try:
        for name, job in sides.items():
            report[name] = measure(job, args.n)
            print(f"{name}: {report[name]}", file=sys.stderr, flush=True)
    finally:
        runner.close()
    raw_cpu = report["raw docker run"]["cpu_s_per_job"]
    for figures in report.values():
        figures["cpu_ratio_to_raw"] = round(figures["cpu_s_per_job"] / raw_cpu, 2)
    busiest = max(figures["background_cores_busy"] for figures in report.values())
    document = {
        "task": "bench/seven (7 pytest tests)",
        "jobs_per_side": args.n,
        "cpus": os.cpu_count(),
        "sides": report,
    }
    if busiest > BUSY_MACHINE_CORES:
        document["warning"] = f"{busiest} cores were busy with other work: the CPU figures are not reliable"
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
