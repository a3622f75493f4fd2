"""One grading: build the run, run it in the sandbox, grade it, score it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from engine.digest import tree_digest
from engine.errors import GraderError
from engine.models import RunStatus, Task
from engine.ports import Grader, Runner
from engine.results import Result, now, status_of


def grade_submission(
    task: Task,
    submission: Mapping[str, bytes],
    *,
    runner: Runner,
    grader: Grader,
    progress: Callable[[str], object] | None = None,
) -> Result:
    """Grade ``submission`` (a ``{path: bytes}`` tree) against ``task``.

    A failing, crashing, looping or memory-hungry submission yields a result;
    a broken grader (``GraderError``) yields a ``grader_error`` result, verdict
    ``error``, which is never the candidate's outcome; only infrastructure
    faults raise.

    ``progress`` hears ``"running"`` before the sandbox starts and ``"grading"``
    after it finished.

    Raises:
        RunnerError: the sandbox could not run.
    """
    started = now()
    outcome = None
    try:
        if getattr(grader, "runs_sandbox", True) is False:  # a reviewed answer is read, never run
            grading = grader.grade(task, submission, None)  # type: ignore[arg-type]  # runs nothing: no outcome
            return Result(
                task=task,
                submission_digest=tree_digest(submission),
                status=RunStatus.COMPLETED,
                checks=grading.checks,
                started_at=started,
                finished_at=now(),
            )
        spec = grader.build_run(task, submission)
        if progress:
            progress("running")
        outcome = runner.run(spec)
        if progress:
            progress("grading")
        grading = grader.grade(task, submission, outcome)
    except GraderError as exc:
        return Result(
            task=task,
            submission_digest=tree_digest(submission),
            status=RunStatus.GRADER_ERROR,
            checks=(),
            started_at=started,
            finished_at=now(),
            outcome=outcome,
            grader_runs=exc.runs,
            reason=f"the task's grader failed: {exc}",
            grader_output=exc.output,
        )
    status = status_of(outcome, crashed=bool(grading.crashed))
    return Result(
        task=task,
        submission_digest=tree_digest(submission),
        status=status,
        checks=grading.checks,
        started_at=started,
        finished_at=now(),
        outcome=outcome,
        grader_runs=grading.runs,
        reason=_reason(status, task, grading.crashed),
    )


def engine_error_result(task: Task, submission_digest: str, reason: str, *, started_at: datetime) -> Result:
    """The result of a grading the engine could not complete: verdict ``error``, never a score of 0."""
    return Result(
        task=task,
        submission_digest=submission_digest,
        status=RunStatus.ENGINE_ERROR,
        checks=(),
        started_at=started_at,
        finished_at=now(),
        reason=reason,
    )


def _reason(status: RunStatus, task: Task, crashed: str) -> str:
    limits = task.limits
    return {
        RunStatus.COMPLETED: "",
        RunStatus.TIMEOUT: f"the run exceeded its {limits.time_seconds:g} s time limit",
        RunStatus.MEMORY_LIMIT: f"the run was killed for exceeding its {limits.memory_mb} MB memory limit",
        RunStatus.CRASHED: crashed,
        RunStatus.ENGINE_ERROR: "",
        RunStatus.GRADER_ERROR: "",
    }[status]
