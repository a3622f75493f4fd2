"""The ``script`` kind: the author's grader program writes a results file.

The program runs in the sandbox beside the submission (at ``/grader``) and
writes ``/grader/results.json``: a documented subset of Gradescope's
``results.json`` (``tests`` with ``name``, ``score``, ``max_score``,
``output``, ``status``), validated against ``script-results.schema.json``.
The candidate's stdout is never read as results; a missing or invalid file,
or a grader that did not exit with status 0, means the run crashed.

The grader runs as the same user as the code it tests, so it must stop every
process that code left behind (``kill -9 -1``) before it writes the results,
or a leftover process could rewrite them. ``tasktrial pack init --kind script``
generates a grader that does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from engine import packs, schemas
from engine.errors import Problem
from engine.models import GRADER_DIR, CheckStatus, RunOutcome, RunSpec, Step, Task
from engine.ports import Grading, Runner
from graders._common import make_check

RESULTS = f"{GRADER_DIR}/results.json"


class ScriptGrader:
    kind = "script"

    def __init__(self, runner: Runner):
        self._runner = runner

    def problems(self, task: Task) -> list[Problem]:
        return packs.sandbox_file_problems(task, "grader.command", task.grader["command"], mount=GRADER_DIR,
                                           folder="grader")

    def build_run(self, task: Task, submission: Mapping[str, bytes]) -> RunSpec:
        return RunSpec(
            environment=task.environment,
            limits=task.limits,
            steps=(Step(tuple(task.grader["command"])),),
            workspace=submission,
            grader=packs.grader_files(task),
            collect=(RESULTS,),
        )

    def grade(self, task: Task, submission: Mapping[str, bytes], outcome: RunOutcome) -> Grading:
        if outcome.exit_code != 0:
            # Killed, crashed, or stopped by a process of the candidate's: whatever the file says is void.
            return Grading((), crashed=f"the grader program ended with exit {outcome.exit_code} instead of 0")
        raw = outcome.collected.get(RESULTS)
        if raw is None:
            return Grading((), crashed=f"the grader wrote no {RESULTS} (exit {outcome.exit_code})")
        try:
            document = json.loads(raw)
        except ValueError as exc:
            return Grading((), crashed=f"{RESULTS} is not valid JSON: {exc}")
        problems = schemas.problems("script-results", document)
        if problems:
            where, message = problems[0]
            return Grading((), crashed=f"{RESULTS} does not follow the results schema at {where}: {message}")
        checks = []
        for test in document["tests"]:
            score, max_score = float(test["score"]), float(test["max_score"])
            passed = test.get("status", "passed" if score >= max_score else "failed") == "passed"
            visibility = test.get("visibility")
            checks.append(
                make_check(
                    task, str(test.get("number") or test["name"]), CheckStatus.PASS if passed else CheckStatus.FAIL,
                    name=test["name"], score=min(score, max_score), max_score=max_score,
                    message=str(test.get("output", "")),
                    visible=None if visibility is None else visibility == "visible",
                )
            )
        return Grading(tuple(checks))
