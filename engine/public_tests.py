"""Public example tests: the tests a task's starter already gives the candidate, run on request.

They run in the task's own environment and limits, like grading, but they
are not grading: no grader file enters the sandbox, nothing is signed or
stored, and the answer is the tests' own output. A task has public tests
when its starter holds test files this module recognises for its
environment; the task's pristine copies of them are laid over the
candidate's files, so what runs are the task's tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from engine import packs
from engine.models import RunSpec, Step, Task
from engine.ports import Runner
from engine.results import OUTPUT_CAP_CHARS, text

#: Per environment: which starter files are public tests, and the command that runs them.
PATTERNS: dict[str, tuple[str, ...]] = {
    "python": ("test_*.py", "*_test.py"),
    "node": ("*.test.js", "*.test.mjs"),
    "bash": ("test.sh", "run-examples.sh", "check_examples.py"),
}
LABELS = {"tasktrial.purpose": "public-tests"}


def public_test_files(task: Task) -> dict[str, bytes]:
    """The starter's public test files of ``task`` (empty when it has none)."""
    patterns = PATTERNS.get(task.environment, ())
    return {
        path: data
        for path, data in packs.starter_files(task).items()
        if any(fnmatchcase(path.rsplit("/", 1)[-1], p) for p in patterns)
    }


def command(task: Task, tests: list[str]) -> tuple[str, ...] | None:
    if not tests:
        return None
    if task.environment == "python":
        return ("python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests)
    if task.environment == "node":
        return ("node", "--test", *tests)
    if task.environment == "bash":
        script = tests[0]
        return ("python3", script) if script.endswith(".py") else ("bash", script)
    return None


@dataclass(frozen=True)
class PublicTestRun:
    """What the public tests printed and how they ended. Never a score or a verdict."""

    command: tuple[str, ...]
    passed: bool
    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    oom_killed: bool
    output_truncated: bool
    wall_seconds: float
    limits: dict[str, Any]

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> PublicTestRun:
        """The run as ``to_document`` wrote it (a worker's report of it)."""
        return cls(
            command=tuple(document["command"]),
            passed=document["passed"],
            exit_code=document["exit_code"],
            stdout=document["stdout"],
            stderr=document["stderr"],
            timed_out=document["timed_out"],
            oom_killed=document["oom_killed"],
            output_truncated=document["output_truncated"],
            wall_seconds=document["wall_seconds"],
            limits=document["limits"],
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "command": list(self.command),
            "passed": self.passed,
            "exit_code": self.exit_code,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "timed_out": self.timed_out,
            "oom_killed": self.oom_killed,
            "output_truncated": self.output_truncated,
            "wall_seconds": self.wall_seconds,
            "limits": self.limits,
            "signed": False,
        }


def run_public_tests(task: Task, files: dict[str, bytes], runner: Runner) -> PublicTestRun | None:
    """Run ``task``'s public tests over the candidate's ``files`` in the task's image and limits.

    Returns None when the task has no public tests.

    Raises:
        RunnerError: the sandbox could not run (an infrastructure fault, not the candidate's).
    """
    tests = public_test_files(task)
    argv = command(task, sorted(tests))
    if argv is None:
        return None
    workspace = {**files, **tests}
    outcome = runner.run(
        RunSpec(
            environment=task.environment, limits=task.limits, steps=(Step(argv),), workspace=workspace, labels=LABELS
        )
    )
    step = outcome.steps[0] if outcome.steps else None
    return PublicTestRun(
        command=argv,
        passed=bool(step and step.exit_code == 0 and not outcome.timed_out and not outcome.oom_killed),
        exit_code=step.exit_code if step else None,
        stdout=text(step.stdout, OUTPUT_CAP_CHARS) if step else "",
        stderr=text(step.stderr, OUTPUT_CAP_CHARS) if step else "",
        timed_out=outcome.timed_out,
        oom_killed=outcome.oom_killed,
        output_truncated=outcome.output_truncated,
        wall_seconds=round(outcome.wall_seconds, 3),
        limits=task.limits.to_document(),
    )
