"""``check_tasks`` with several gradings at a time: the same reports as a sequential check."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from engine import packs
from engine.checking import check_task, check_tasks
from engine.errors import ConfigurationError, RunnerError
from graders import GraderSet
from graders.pytest_grader import REPORT
from tests import factories

UPPER = "import sys\nsys.stdout.write(sys.stdin.read().upper())\n"
ECHO = "import sys\nsys.stdout.write(sys.stdin.read())\n"


def io_pack(root: Path, count: int = 5) -> Path:
    """``count`` io tasks; every other one has a counter-example, and task-2's reference is wrong."""
    tasks = {}
    for index in range(count):
        wrong = [{"name": "echo", "verdict": "not_ready"}] if index % 2 else []
        files = factories.io_task_files(
            **{
                "solution/main.py": f"# task {index}\n" + (ECHO if index == 2 else UPPER),
                "starter/main.py": f"# starter {index}\n" + ECHO,
            }
        )
        if wrong:
            files["wrong/echo/main.py"] = f"# wrong {index}\n" + ECHO
        tasks[f"task-{index}"] = {"task": factories.io_task_yaml(f"task-{index}", wrong=wrong), "files": files}
    return factories.write_pack(root, tasks)


def answering(delay: float = 0.0):
    """A runner playing the sandbox: upper-cases stdin when the program does; records which program ran when."""
    seen: list[bytes] = []
    lock = threading.Lock()

    def answer(spec):
        program = dict(spec.workspace)["main.py"]
        with lock:
            seen.append(program)
        time.sleep(delay)
        steps = [factories.step(0, s.stdin.upper() if b"upper()" in program else s.stdin) for s in spec.steps]
        return factories.outcome(*steps)

    return factories.harness_runner(answer), seen


def documents(reports):
    strip = lambda runs: [{k: v for k, v in r.items() if k != "wall_seconds"} for r in runs]  # noqa: E731
    return [
        {
            **d,
            "reference": strip(d["reference"]),
            "starter": strip(d["starter"]),
            "wrong": {n: strip(runs) for n, runs in d["wrong"].items()},
        }
        for d in (r.to_document() for r in reports)
    ]


def check(root: Path, jobs: int, repeat: int = 2, delay: float = 0.0):
    pack = packs.load_pack(root, environments=["python"])
    runner, seen = answering(delay)
    graders = GraderSet(runner)
    return check_tasks(list(pack.tasks), runner=runner, grader_for=graders.for_task, repeat=repeat, jobs=jobs), seen


def test_several_jobs_give_the_reports_of_a_sequential_check(tmp_path: Path):
    root = io_pack(tmp_path / "pack")
    sequential, _ = check(root, jobs=1)
    parallel, _ = check(root, jobs=4, delay=0.01)
    assert documents(parallel) == documents(sequential)
    assert [r.task_id for r in parallel] == [f"task-{i}" for i in range(5)]
    assert [r.ok for r in parallel] == [True, True, False, True, True]  # task-2's reference echoes
    assert len(parallel[1].reference) == len(parallel[1].starter) == len(parallel[1].wrong["echo"]) == 2


def test_a_single_task_check_is_the_same_as_before(tmp_path: Path):
    root = io_pack(tmp_path / "pack", count=2)
    pack = packs.load_pack(root, environments=["python"])
    runner, _ = answering()
    graders = GraderSet(runner)
    task = pack.task("task-1")
    [many] = check_tasks([task], runner=runner, grader_for=graders.for_task, repeat=2, jobs=3)
    assert documents([many]) == documents([check_task(task, runner=runner, grader=graders.for_task(task), repeat=2)])


def test_every_tasks_first_reference_runs_before_its_other_gradings(tmp_path: Path):
    root = io_pack(tmp_path / "pack")
    pack = packs.load_pack(root, environments=["python"])
    _, seen = check(root, jobs=3, delay=0.01)
    for task in pack.tasks:
        reference = packs.reference_submission(task)["main.py"]
        mine = [program for program in seen if program.split(b"\n")[0].endswith(task.id.split("-")[1].encode())]
        assert len(mine) == 2 * (2 + len(task.counter_examples)) and mine[0] == reference


def test_a_pytest_task_checked_in_parallel_needs_no_collection_sandbox(tmp_path: Path):
    tests = ["test_sample.py::test_small", "test_sample.py::test_negative"]
    tasks = {
        f"t{i}": {
            "task": factories.pytest_task_yaml(f"t{i}"),
            "files": factories.pytest_task_files(
                **{"solution/sample.py": f"# {i}\ndef add(a, b):\n    return a + b\n"}
            ),
        }
        for i in range(4)
    }
    pack = packs.load_pack(factories.write_pack(tmp_path / "pack", tasks), environments=["python"])

    def run(spec):
        passing = b"return a + b" in dict(spec.workspace)["sample.py"]
        results = dict.fromkeys(tests, "pass" if passing else "fail")
        return factories.outcome(collected={REPORT: factories.pytest_report(tests, results)})

    runner = factories.pytest_runner(tests, run=run)
    graders = GraderSet(runner, cache_dir=tmp_path / "cache")
    reports = check_tasks(list(pack.tasks), runner=runner, grader_for=graders.for_task, jobs=2)
    assert all(r.ok for r in reports), [r.problems for r in reports]
    assert [(spec.client or spec).steps[0].argv[3] for spec in runner.specs] == ["run"] * 8  # 4 references + 4 starters


def test_jobs_below_one_is_refused(tmp_path: Path):
    runner, _ = answering()
    with pytest.raises(ConfigurationError, match="jobs must be at least 1"):
        check_tasks([], runner=runner, grader_for=GraderSet(runner).for_task, jobs=0)


def test_an_infrastructure_fault_stops_the_check_and_is_raised(tmp_path: Path):
    root = io_pack(tmp_path / "pack")
    pack = packs.load_pack(root, environments=["python"])
    started = []

    def broken(spec):
        started.append(spec)
        raise RunnerError("the Docker engine went away")

    runner = factories.harness_runner(broken)
    with pytest.raises(RunnerError, match="went away"):
        check_tasks(list(pack.tasks), runner=runner, grader_for=GraderSet(runner).for_task, repeat=3, jobs=2)
    assert len(started) < 5 * 3 * 2  # what had not started was dropped
