"""``pack check``: prove a task's grader before a candidate meets it.

The reference solution must be ``ready`` with score 100 and the bare starter
must be ``not_ready``, on every repeat; any difference between repeats is a
flaky grader.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine import packs
from engine.errors import GraderError
from engine.grading import grade_submission
from engine.models import CheckStatus, Task, Verdict
from engine.ports import Grader, Runner
from engine.results import Result


@dataclass
class TaskCheck:
    task_id: str
    reference: list[Result] = field(default_factory=list)
    starter: list[Result] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_document(self) -> dict:
        return {
            "task": self.task_id,
            "ok": self.ok,
            "problems": self.problems,
            "reference": [_brief(r) for r in self.reference],
            "starter": [_brief(r) for r in self.starter],
        }


def check_task(task: Task, *, runner: Runner, grader: Grader, repeat: int = 1, on_run=None) -> TaskCheck:
    """Grade the reference and the starter ``repeat`` times each and report every problem."""
    report = TaskCheck(task.id)
    try:
        reference, starter = packs.reference_submission(task), packs.starter_files(task)
        for _ in range(repeat):
            report.reference.append(grade_submission(task, reference, runner=runner, grader=grader))
            if on_run:
                on_run()
            report.starter.append(grade_submission(task, starter, runner=runner, grader=grader))
            if on_run:
                on_run()
    except GraderError as exc:
        report.problems.append(f"grader error: {exc}")
        return report
    for index, result in enumerate(report.reference, start=1):
        if result.verdict is not Verdict.READY or result.score != 100:
            failing = [c.id for c in result.checks if c.status is not CheckStatus.PASS]
            report.problems.append(
                f"reference run {index}: {result.verdict.value}, score {result.score:g}, status {result.status.value}"
                + (f"; failing checks: {', '.join(failing)}" if failing else "")
                + (f"; {result.reason}" if result.reason else "")
            )
    for index, result in enumerate(report.starter, start=1):
        if result.verdict is not Verdict.NOT_READY:
            report.problems.append(f"starter run {index}: {result.verdict.value} with score {result.score:g}; the bare starter must be not_ready")
    for label, results in (("reference", report.reference), ("starter", report.starter)):
        if len({_signature(r) for r in results}) > 1:
            report.problems.append(f"flaky grader: the {label} got different checks across {len(results)} repeats")
    return report


def _signature(result: Result) -> tuple:
    return (result.verdict, result.score, result.status, tuple((c.id, c.status) for c in result.checks))


def _brief(result: Result) -> dict:
    return {"verdict": result.verdict.value, "score": result.score, "status": result.status.value,
            "wall_seconds": round(result.outcome.wall_seconds, 3) if result.outcome else None}
