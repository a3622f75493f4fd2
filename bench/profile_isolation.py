"""Where a separate-sandbox pytest grading spends its time: a timeline of the runner's steps.

Grades one built-in task's reference ``-k`` times in each isolation mode with a cold runner (as
``tasktrial grade`` runs) and prints, per mode, the median time of each runner step (network, sandbox
starts, uploads, the pytest exec, the service, kill, counters and files, removal) as seen from the
host, and what the harness reports from inside the grader's sandbox (pytest imported, connected to the
candidate's sandbox, collected, finished). The steps overlap (threads), so they do not add up to the total.

Run: ``.venv/bin/python bench/profile_isolation.py [TASK] [-k 5] [--warm 0]``.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import functools
import statistics
import tempfile
import threading
import time
from pathlib import Path

from engine import packs
from engine.grading import grade_submission
from graders import GraderSet
from graders._harness import read_report
from graders.pytest_grader import SEPARATE, SHARED
from runners import images
from runners.docker import DockerRunner, collect, runner, sandbox, service, steps

REPO = Path(__file__).resolve().parent.parent
#: Functions of the Docker backend timed (wherever a module of the package imported them), by the label printed.
STEPS = {
    "upload (tar exec)": "upload",
    "upload+first step exec": "upload_and_exec",
    "exec (any)": "exec_step",
    "kill processes exec": "kill_processes",
    "collect exec": "collect",
    "finish (collect+inspect)": "finish",
}
#: ``Sandboxes`` methods timed, by the label printed.
SANDBOX_STEPS = {
    "network create": "create_network",
    "sandbox create+start": "create",
    "remove sandboxes+network": "remove_all",
    "remove one sandbox": "remove",
}
MODULES = (runner, service, collect, steps)


def instrument(spans: dict[str, list[float]]) -> None:
    """Time the backend's steps for the rest of the process (module functions and methods are replaced)."""
    lock = threading.Lock()

    def timed(label: str, method):
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            began = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                with lock:
                    spans[label].append(time.perf_counter() - began)

        return wrapper

    for label, name in STEPS.items():
        wrapped = timed(label, getattr(steps, name) if hasattr(steps, name) else getattr(collect, name))
        for module in MODULES:
            if hasattr(module, name):
                setattr(module, name, wrapped)
    for label, name in SANDBOX_STEPS.items():
        setattr(sandbox.Sandboxes, name, timed(label, getattr(sandbox.Sandboxes, name)))
    start = service.ServiceProcess.start.__func__  # type: ignore[attr-defined]

    def service_start(cls, *args, **kwargs):
        began = time.perf_counter()
        try:
            return start(cls, *args, **kwargs)
        finally:
            with lock:
                spans["service exec start"].append(time.perf_counter() - began)

    setattr(service.ServiceProcess, "start", classmethod(service_start))  # noqa: B010  (mypy: no method-assign)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", nargs="?", default="fix-pagination-cursor")
    parser.add_argument("-k", type=int, default=5, help="gradings per mode")
    parser.add_argument("--warm", type=int, default=0, help="sandboxes started ahead per kind of run")
    args = parser.parse_args()

    task = next(
        t
        for folder in sorted((REPO / "tasks").iterdir())
        if (folder / "pack.yaml").is_file()
        for t in packs.load_pack(folder, environments=images.environments()).tasks
        if t.id == args.task
    )
    docker_runner = DockerRunner.from_env(warm=args.warm)
    graders = GraderSet(docker_runner, cache_dir=Path(tempfile.mkdtemp(prefix="tasktrial-profile-")))
    submission = packs.reference_submission(task)
    modes = {SHARED: dataclasses.replace(task, grader={**task.grader, "isolation": SHARED}), SEPARATE: task}
    for variant in modes.values():  # expected lists, images, page cache
        grade_submission(variant, submission, runner=docker_runner, grader=graders.for_task(variant))
    spans: dict[str, dict[str, list[float]]] = {mode: collections.defaultdict(list) for mode in modes}
    inside: dict[str, dict[str, list[float]]] = {mode: collections.defaultdict(list) for mode in modes}
    real_run = docker_runner.run
    current: list[str] = [SHARED]
    instrument(_Spans(spans, current))

    def run(spec):
        began = time.time()
        outcome = real_run(spec)
        tests = outcome.client if outcome.client is not None else outcome
        grader = graders.for_task(modes[current[0]])
        report = read_report(tests, grader._keys.derive(modes[current[0]], submission))  # type: ignore[attr-defined]
        for mark, at in ((report or {}).get("timings") or {}).items():
            inside[current[0]][mark].append(at - began)
        return outcome

    docker_runner.run = run  # type: ignore[method-assign]
    try:
        for _ in range(args.k):
            for mode, variant in modes.items():
                current[0] = mode
                began = time.perf_counter()
                grade_submission(variant, submission, runner=docker_runner, grader=graders.for_task(variant))
                spans[mode]["TOTAL grading"].append(time.perf_counter() - began)
    finally:
        docker_runner.close()
    for mode in modes:
        print(f"\n{task.id} {mode} (cold)" if not args.warm else f"\n{task.id} {mode} (warm {args.warm})")
        for label, values in sorted(spans[mode].items()):
            print(f"  {label:<28} n/grading {len(values) / args.k:>4.1f}  median {statistics.median(values):6.3f} s")
        for mark, values in inside[mode].items():
            print(f"  inside: {mark:<20} at {statistics.median(values):6.3f} s after the run began")


class _Spans(dict):
    """Routes each span to the mode being graded now."""

    def __init__(self, spans: dict[str, dict[str, list[float]]], current: list[str]):
        super().__init__()
        self._spans, self._current = spans, current

    def __getitem__(self, label: str) -> list[float]:
        return self._spans[self._current[0]][label]


if __name__ == "__main__":
    main()
