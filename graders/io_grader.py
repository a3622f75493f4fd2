"""The ``io`` kind: stdin/stdout cases run against the candidate's program.

Cases come from ``grader/cases/NAME.in`` + ``NAME.out`` and from inline
``grader.cases``. Each case runs in a fresh sandbox of its own
(``RunSpec.isolated_steps``), so nothing a program saved during a hidden case
reaches a later case. Only the inputs enter the candidate's container, as
each step's stdin; expected outputs stay on the host, where the comparison runs.
A ``checker`` comparator runs the author's program in a second sandbox of its
own, never in the candidate's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine import packs
from engine.errors import GraderError, Problem
from engine.models import GRADER_DIR, CheckStatus, RunOutcome, RunSpec, Step, StepOutcome, Task
from engine.ports import GraderRun, Grading, Runner
from graders import comparators
from graders._common import make_check, tail


@dataclass(frozen=True)
class Case:
    name: str
    stdin: bytes
    expected: bytes


def cases(task: Task) -> list[Case]:
    """Every case of the task, file cases then inline ones, in name order."""
    found: dict[str, Case] = {}
    folder = task.root / "grader" / "cases"
    if folder.is_dir():
        for given in sorted(folder.glob("*.in")):
            answer = given.with_suffix(".out")
            if answer.is_file():
                found[given.stem] = Case(given.stem, given.read_bytes(), answer.read_bytes())
    for inline in task.grader.get("cases", []):
        found[inline["name"]] = Case(inline["name"], inline.get("stdin", "").encode(), inline["expected"].encode())
    return [found[name] for name in sorted(found)]


class IoGrader:
    kind = "io"

    def __init__(self, runner: Runner, *, cache_dir: Path | None = None):
        """Takes the registry's one signature (``graders.GraderFactory``); it keeps no cache."""
        self._runner = runner

    def problems(self, task: Task) -> list[Problem]:
        problems = []
        folder = task.root / "grader" / "cases"
        if folder.is_dir():
            for given in sorted(folder.glob("*.in")):
                if not given.with_suffix(".out").is_file():
                    problems.append(
                        Problem(f"{task.id}/grader/cases/{given.name}", "", f"has no matching {given.stem}.out")
                    )
            for answer in sorted(folder.glob("*.out")):
                if not answer.with_suffix(".in").is_file():
                    problems.append(
                        Problem(f"{task.id}/grader/cases/{answer.name}", "", f"has no matching {answer.stem}.in")
                    )
        problems += _duplicate_cases(task)
        if not cases(task):
            problems.append(
                Problem(
                    f"{task.id}/task.yaml",
                    "$.grader",
                    "an io task needs cases (grader/cases/*.in + *.out, or grader.cases)",
                )
            )
        comparator = task.grader.get("comparator") or {}
        if comparator.get("type") == "checker":
            if not (task.root / "grader").is_dir():
                problems.append(Problem(f"{task.id}/grader", "", "the checker comparator needs the grader folder"))
            problems += packs.sandbox_file_problems(
                task, "grader.comparator.command", comparator["command"], mount=GRADER_DIR, folder="grader"
            )
        return problems

    def static_check_ids(self, task: Task) -> tuple[tuple[str, ...], bool]:
        """One check per case, named after it."""
        return tuple(case.name for case in cases(task)), False

    def build_run(self, task: Task, submission: Mapping[str, bytes]) -> RunSpec:
        command = tuple(task.grader["command"])
        return RunSpec(
            environment=task.environment,
            limits=task.limits,
            steps=tuple(Step(command, stdin=case.stdin) for case in cases(task)),
            workspace=submission,
            isolated_steps=True,  # a hidden case's input must not survive into a visible case's output
        )

    def grade(self, task: Task, submission: Mapping[str, bytes], outcome: RunOutcome) -> Grading:
        all_cases = cases(task)
        if len(outcome.steps) != len(all_cases):
            raise GraderError(
                f"task {task.id!r}: expected {len(all_cases)} case runs, the runner reported {len(outcome.steps)}"
            )
        config = task.grader.get("comparator") or {}
        ran = [(case, step) for case, step in zip(all_cases, outcome.steps, strict=True)]
        runs: tuple[GraderRun, ...] = ()
        if config.get("type") == "checker":
            verdicts, runs = self._run_checker(task, config, ran)
        else:
            compare = comparators.from_config(config)
            verdicts = [_verdict(step) or compare(_decode(step.stdout), _decode(case.expected)) for case, step in ran]
        checks = tuple(
            make_check(
                task, case.name, CheckStatus.PASS if ok else CheckStatus.FAIL, message=why, duration=step.wall_seconds
            )
            for (case, step), (ok, why) in zip(ran, verdicts, strict=True)
        )
        return Grading(checks, runs=runs)

    def _run_checker(
        self, task: Task, config: Mapping, ran: list[tuple[Case, StepOutcome]]
    ) -> tuple[list[tuple[bool, str]], tuple[GraderRun, ...]]:
        """Judge outputs with the author's checker, in a separate sandbox: ``CMD input expected actual``, exit 0 = pass.

        Returns the verdicts and the checker's run."""
        judged = [(case, step) for case, step in ran if _verdict(step) is None]
        files = dict(packs.grader_files(task))
        steps = []
        for case, step in judged:
            base = f".cases/{case.name}"
            files.update(
                {f"{base}/input": case.stdin, f"{base}/expected": case.expected, f"{base}/actual": step.stdout}
            )
            paths = tuple(f"{GRADER_DIR}/{base}/{name}" for name in ("input", "expected", "actual"))
            steps.append(Step(tuple(config["command"]) + paths))
        outcome = self._runner.run(
            RunSpec(environment=task.environment, limits=task.limits, steps=tuple(steps), grader_files=files)
        )
        runs = (GraderRun("checker", outcome),)
        by_case = {case.name: result for (case, _), result in zip(judged, outcome.steps, strict=True)}
        verdicts = []
        for case, step in ran:
            early = _verdict(step)
            if early is not None:
                verdicts.append(early)
                continue
            result = by_case[case.name]
            if result.timed_out or result.exit_code not in (0, 1):
                raise GraderError(
                    f"task {task.id!r}: the checker failed on case {case.name!r} "
                    f"(exit {result.exit_code}): {tail(result.stderr, 500)}",
                    runs=runs,
                )
            verdicts.append((result.exit_code == 0, tail(result.stdout, 1000).strip()))
        return verdicts, runs


def _duplicate_cases(task: Task) -> list[Problem]:
    """A case name defined twice (twice inline, or inline and as files): one of them would be silently lost."""
    problems = []
    folder = task.root / "grader" / "cases"
    as_files = {p.stem for p in folder.glob("*.in")} if folder.is_dir() else set()
    first: dict[str, int] = {}
    for index, inline in enumerate(task.grader.get("cases", [])):
        name, where = inline["name"], f"$.grader.cases[{index}].name"
        if name in first:
            problems.append(
                Problem(
                    f"{task.id}/task.yaml",
                    where,
                    f"case {name!r} is defined twice (also at $.grader.cases[{first[name]}])",
                )
            )
        elif name in as_files:
            problems.append(
                Problem(
                    f"{task.id}/task.yaml",
                    where,
                    f"case {name!r} is also defined by "
                    f"grader/cases/{name}.in: define each case once, inline or as files",
                )
            )
        first.setdefault(name, index)
    return problems


def _verdict(step: StepOutcome) -> tuple[bool, str] | None:
    """A failure decided before comparing: the program timed out or failed."""
    if step.timed_out:
        return False, "exceeded the time limit"
    if step.exit_code is None:
        return False, "did not run: the sandbox was stopped"
    if step.exit_code != 0:
        return False, f"exited with code {step.exit_code}\n{tail(step.stderr, 1000)}"
    return None


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")
