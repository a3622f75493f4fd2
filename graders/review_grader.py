"""The ``review`` kind: nothing runs; the task's rubric, scored by a human reviewer, is the whole grading.

A written answer (an incident summary, a design brief) is read, never executed, so it needs no sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from engine.errors import GraderError, Problem
from engine.models import RunOutcome, RunSpec, Task
from engine.ports import Grading, Runner


class ReviewGrader:
    kind = "review"
    #: grade_submission skips the sandbox for a grader that runs nothing.
    runs_sandbox = False

    def __init__(self, runner: Runner | None = None, *, cache_dir: Path | None = None):
        """Takes the registry's one signature (``graders.GraderFactory``); it runs nothing."""

    def problems(self, task: Task) -> list[Problem]:
        return []  # the rubric's problems are engine.review.rubric_problems, for every kind

    def static_check_ids(self, task: Task) -> tuple[tuple[str, ...], bool]:
        return (), False

    def build_run(self, task: Task, submission: Mapping[str, bytes]) -> RunSpec:
        raise GraderError(f"task {task.id!r}: a review task runs nothing")

    def grade(self, task: Task, submission: Mapping[str, bytes], outcome: RunOutcome | None) -> Grading:
        """No automated checks: the submission waits for its reviewer."""
        return Grading(checks=())
