"""The ``script`` kind: the author's grader program writes a results file.

The program runs in the sandbox beside the submission (at ``/grader``) and
writes ``/grader/results.json``: a documented subset of Gradescope's
``results.json`` (``tests`` with ``name``, ``score``, ``max_score``,
``output``, ``status``), validated against ``script-results.schema.json``.
The candidate's stdout is never read as results; a missing or invalid file,
or a grader that did not exit with status 0, is the grader's fault
(``GraderError``: the attempt does not count), not the candidate's outcome.

The grader runs as the same user as the code it tests, so it must stop every
process that code left behind (``kill -9 -1``) before it writes the results,
or a leftover process could rewrite them. ``tasktrial pack init --kind script``
generates a grader that does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from engine import packs, schemas
from engine.errors import GraderError, Problem
from engine.models import GRADER_DIR, CheckStatus, RunOutcome, RunSpec, Step, Task
from engine.ports import Grading, Runner
from graders._common import make_check, tail

RESULTS = f"{GRADER_DIR}/results.json"


class ScriptGrader:
    kind = "script"

    def __init__(self, runner: Runner | None = None, *, cache_dir: Path | None = None):
        """Takes the registry's one signature (``graders.GraderFactory``); it starts no run of its own."""

    def problems(self, task: Task) -> list[Problem]:
        return packs.sandbox_file_problems(
            task, "grader.command", task.grader["command"], mount=GRADER_DIR, folder="grader"
        )

    def build_run(self, task: Task, submission: Mapping[str, bytes]) -> RunSpec:
        return RunSpec(
            environment=task.environment,
            limits=task.limits,
            steps=(Step(tuple(task.grader["command"])),),
            workspace=submission,
            grader_files=packs.grader_files(task),
            collect=(RESULTS,),
        )

    def grade(self, task: Task, submission: Mapping[str, bytes], outcome: RunOutcome) -> Grading:
        """Raises ``GraderError`` when the grader program failed or wrote no valid results: the author's fault."""
        if outcome.timed_out or outcome.oom_killed:
            # The limits bound the candidate's code and the grader together: the status says which limit.
            return Grading((), crashed=f"the grader program ended with exit {outcome.exit_code} at a limit")
        output = _output(outcome)
        if outcome.exit_code != 0:
            # Crashed, or stopped by a process of the candidate's: whatever the file says is void.
            raise GraderError(
                f"task {task.id!r}: the grader program ended with exit {outcome.exit_code} instead of 0", output=output
            )
        raw = outcome.collected.get(RESULTS)
        if raw is None:
            raise GraderError(
                f"task {task.id!r}: the grader wrote no {RESULTS} (exit {outcome.exit_code})", output=output
            )
        try:
            document = json.loads(raw)
        except ValueError as exc:
            raise GraderError(f"task {task.id!r}: {RESULTS} is not valid JSON: {exc}", output=output) from exc
        problems = schemas.problems("script-results", document)
        if problems:
            where, message = problems[0]
            raise GraderError(
                f"task {task.id!r}: {RESULTS} does not follow the results schema at {where}: {message}", output=output
            )
        checks = []
        for test in document["tests"]:
            score, max_score = float(test["score"]), float(test["max_score"])
            passed = test.get("status", "passed" if score >= max_score else "failed") == "passed"
            visibility = test.get("visibility")
            checks.append(
                make_check(
                    task,
                    str(test.get("number") or test["name"]),
                    CheckStatus.PASS if passed else CheckStatus.FAIL,
                    name=test["name"],
                    score=min(score, max_score),
                    max_score=max_score,
                    message=str(test.get("output", "")),
                    visible=None if visibility is None else visibility == "visible",
                )
            )
        return Grading(tuple(checks))


def _output(outcome: RunOutcome) -> str:
    """The grader program's stderr then stdout, capped: staff see it when the grader fails."""
    step = outcome.steps[-1] if outcome.steps else None
    return (
        ""
        if step is None
        else (tail(step.stderr, 3000) + ("\n" if step.stderr else "") + tail(step.stdout, 1000)).strip()
    )
