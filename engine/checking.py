"""``pack check``: prove a task's grader before a candidate meets it.

The reference solution must be ``ready`` with score 100, and ``ready`` with
100 in every micro-skill of the task; every ``grader.checks`` rule must map a
check the reference run produced; the bare starter must be ``not_ready``; on
every repeat (any difference between repeats is a flaky grader). Each
counter-example (``wrong/NAME/``) must get its declared verdict, stay at or
under its ``max_score`` and not be ready in the skills it must not earn. A
grader fault on any run fails the check.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from engine import packs, review
from engine.errors import ConfigurationError, Problem
from engine.grading import grade_submission
from engine.models import CheckStatus, CounterExample, Pack, RunStatus, Task, Verdict
from engine.ports import Grader, Runner
from engine.results import Result
from engine.scoring import micro_skill_scores


@dataclass
class TaskCheckReport:
    """What ``pack check`` found for one task: every grading's result, and every problem they show."""

    task_id: str
    reference: list[Result] = field(default_factory=list)
    starter: list[Result] = field(default_factory=list)
    #: Each counter-example's runs, by name.
    wrong: dict[str, list[Result]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def skills(self) -> dict[str, dict[str, object]]:
        """The reference's first run, per micro-skill: ``{slug: {score, verdict}}``."""
        return skills_of(self.reference[0]) if self.reference else {}

    def to_document(self) -> dict[str, Any]:
        return {
            "task": self.task_id,
            "ok": self.ok,
            "problems": self.problems,
            "reference": [_brief(r) for r in self.reference],
            "reference_skills": self.skills(),
            "starter": [_brief(r) for r in self.starter],
            "wrong": {name: [{**_brief(r), "skills": skills_of(r)} for r in runs] for name, runs in self.wrong.items()},
        }


def skills_of(result: Result) -> dict[str, dict[str, object]]:
    return micro_skill_scores(result.task.micro_skills, result.checks, result.status, result.task.pass_threshold)


def check_task(
    task: Task, *, runner: Runner, grader: Grader, repeat: int = 1, on_run: Callable[[], object] | None = None
) -> TaskCheckReport:
    """Grade the reference, the starter and each counter-example ``repeat`` times and report every problem."""
    return check_tasks([task], runner=runner, grader_for=lambda _: grader, repeat=repeat, on_run=on_run)[0]


@dataclass(frozen=True)
class _Grading:
    """One grading of a check: which task, which submission, and where its result goes."""

    task: Task
    files: Mapping[str, bytes]
    runs: list[Result]
    index: int
    top: bool  # a rubric's criteria: the reference at their top level, anything else at their bottom


def check_tasks(
    tasks: list[Task],
    *,
    runner: Runner,
    grader_for: Callable[[Task], Grader],
    repeat: int = 1,
    jobs: int = 1,
    on_run: Callable[[], object] | None = None,
) -> list[TaskCheckReport]:
    """``check_task`` for each of ``tasks``, with up to ``jobs`` gradings at a time; the reports (and the
    order of every list in them) are those of a sequential check.

    Every task's first reference grading runs before any other grading starts.

    Raises:
        ConfigurationError: ``jobs`` is below 1.
        RunnerError: a sandbox could not run (the gradings not started yet are dropped).
    """
    if jobs < 1:
        raise ConfigurationError(f"jobs must be at least 1 (got {jobs})")
    reports = [TaskCheckReport(task.id) for task in tasks]
    planned = [_plan(task, report, repeat) for task, report in zip(tasks, reports, strict=True)]

    def grade(item: _Grading) -> None:
        result = grade_submission(item.task, item.files, runner=runner, grader=grader_for(item.task))
        item.runs[item.index] = review.marked(result, top=item.top)
        if on_run:
            on_run()

    if jobs == 1:
        for gradings in planned:  # task by task
            for item in gradings:
                grade(item)
    else:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="tasktrial-check") as pool:
            try:
                for phase in ([g[0] for g in planned], [item for g in planned for item in g[1:]]):
                    list(pool.map(grade, phase))
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    for task, report in zip(tasks, reports, strict=True):
        _judge(task, report)
    return reports


def _plan(task: Task, report: TaskCheckReport, repeat: int) -> list[_Grading]:
    """The gradings of one task in sequential order, the first reference first; their slots in ``report``."""
    reference, starter = packs.reference_submission(task), packs.starter_files(task)
    wrong = {example.name: packs.wrong_submission(task, example.name) for example in task.counter_examples}
    report.reference.extend([None] * repeat)  # type: ignore[list-item]  # each slot filled by its grading
    report.starter.extend([None] * repeat)  # type: ignore[list-item]
    for name in wrong:
        report.wrong[name] = [None] * repeat  # type: ignore[list-item]
    return [
        _Grading(task, files, runs, index, top=runs is report.reference)
        for index in range(repeat)
        for runs, files in (
            (report.reference, reference),
            (report.starter, starter),
            *((report.wrong[name], files) for name, files in wrong.items()),
        )
    ]


def _judge(task: Task, report: TaskCheckReport) -> None:
    """Add every problem the gradings of ``report`` show."""
    labelled = [
        ("reference", report.reference),
        ("starter", report.starter),
        *((f"counter-example {name}", runs) for name, runs in report.wrong.items()),
    ]
    for label, results in labelled:
        report.problems += [
            _fault(label, index, r) for index, r in enumerate(results, start=1) if r.status is RunStatus.GRADER_ERROR
        ]
    for index, result in enumerate(report.reference, start=1):
        report.problems += _reference_problems(index, result)
    if report.reference and report.reference[0].status is not RunStatus.GRADER_ERROR:
        report.problems += [str(p) for p in rule_problems(task, [c.id for c in report.reference[0].checks])]
    for index, result in enumerate(report.starter, start=1):
        if result.verdict is not Verdict.NOT_READY and result.status is not RunStatus.GRADER_ERROR:
            report.problems.append(
                f"starter run {index}: {result.verdict.value} with score {result.score:g}; "
                "the bare starter must be not_ready"
            )
    for example in task.counter_examples:
        for index, result in enumerate(report.wrong.get(example.name, []), start=1):
            report.problems += _counter_example_problems(example, index, result)
    for label, results in labelled:
        if len({_signature(r) for r in results}) > 1:
            report.problems.append(f"flaky grader: the {label} got different checks across {len(results)} repeats")


def _fault(label: str, index: int, result: Result) -> str:
    printed = f"\n  the grader printed:\n{result.grader_output}" if result.grader_output else ""
    return f"{label} run {index}: {result.reason}{printed}"


def _reference_problems(index: int, result: Result) -> list[str]:
    """Ready with 100 overall and in every micro-skill (a grader fault is reported on its own)."""
    if result.status is RunStatus.GRADER_ERROR:
        return []
    problems = []
    if result.verdict is not Verdict.READY or result.score != 100:
        failing = [c.id for c in result.checks if c.status is not CheckStatus.PASS]
        problems.append(
            f"reference run {index}: {result.verdict.value}, score {result.score:g}, status {result.status.value}"
            + (f"; failing checks: {', '.join(failing)}" if failing else "")
            + (f"; {result.reason}" if result.reason else "")
        )
    short = {
        slug: value
        for slug, value in skills_of(result).items()
        if value["verdict"] != Verdict.READY.value or value["score"] != 100
    }
    if short:
        problems.append(
            f"reference run {index}: must be ready with 100 in every micro-skill; "
            + ", ".join(f"{slug} {v['score']:g} {v['verdict']}" for slug, v in short.items())
        )
    return problems


def pack_report(pack: Pack, reports: list[TaskCheckReport]) -> dict[str, Any]:
    """The one document of a pack check (``pack check --json`` and the service's check of an upload)."""
    return {
        "pack": pack.id,
        "version": pack.version,
        "ok": all(r.ok for r in reports),
        "problems": [],
        "tasks": [r.to_document() for r in reports],
    }


def _counter_example_problems(example: CounterExample, index: int, result: Result) -> list[str]:
    if result.status is RunStatus.GRADER_ERROR:
        return []  # reported with the grader faults
    label = f"counter-example {example.name} run {index}"
    problems = []
    if result.verdict is not example.verdict:
        problems.append(
            f"{label}: {result.verdict.value} with score {result.score:g}; it must be "
            f"{example.verdict.value} (the grader does not tell this wrong answer apart)"
        )
    if example.max_score is not None and result.score > example.max_score:
        problems.append(f"{label}: score {result.score:g} is above its max_score {example.max_score:g}")
    earned = [slug for slug in example.must_not_earn if skills_of(result).get(slug, {}).get("verdict") == "ready"]
    if earned:
        problems.append(f"{label}: earned {', '.join(earned)}, which it must not (no check fails it there)")
    return problems


def _signature(result: Result) -> tuple[object, ...]:
    return (result.verdict, result.score, result.status, tuple((c.id, c.status) for c in result.checks))


def _brief(result: Result) -> dict[str, Any]:
    return {
        "verdict": result.verdict.value,
        "score": result.score,
        "status": result.status.value,
        "wall_seconds": round(result.outcome.wall_seconds, 3) if result.outcome else None,
    }


def rule_problems(task: Task, check_ids: Collection[str], *, unsure: Collection[int] = ()) -> list[Problem]:
    """The ``grader.checks`` rules that map no check: they match none of ``check_ids``, or
    every check they match is claimed by an earlier rule (the first match wins).

    ``unsure`` lists rules whose ids cannot be known before a run (checked by ``pack check``).
    A rule that maps nothing means a weight or micro-skill the author believes in and no check carries.
    """
    label = f"{task.id}/task.yaml"
    owner = {}
    for check_id in check_ids:
        owner[check_id] = next(
            (i for i, rule in enumerate(task.check_rules) if fnmatchcase(check_id, rule.match)), None
        )
    known = ", ".join(sorted(check_ids)[:8]) + (", ..." if len(check_ids) > 8 else "")
    problems = []
    for index, rule in enumerate(task.check_rules):
        if index in unsure:
            continue
        matching = [c for c in check_ids if fnmatchcase(c, rule.match)]
        where = f"$.grader.checks[{index}].match"
        if not matching:
            problems.append(
                Problem(
                    label,
                    where,
                    f"{rule.match!r} matches no check of this task (its checks: "
                    f"{known or 'none'}); fix the pattern or remove the rule",
                )
            )
        elif all(owner[c] != index for c in matching):
            first = owner[matching[0]]
            problems.append(
                Problem(
                    label,
                    where,
                    f"{rule.match!r} matches only checks that the earlier rule "
                    f"$.grader.checks[{first}] already maps (the first match wins); "
                    "move this rule up or remove it",
                )
            )
    return problems


def skill_problems(task: Task) -> list[Problem]:
    """Check rules naming a micro-skill the task does not list (a typo would create a skill of its own)."""
    listed = ", ".join(task.micro_skills)
    return [
        Problem(
            f"{task.id}/task.yaml",
            f"$.grader.checks[{index}].micro_skill",
            f"{rule.micro_skill!r} is not one of the task's micro_skills ({listed}); "
            "fix the spelling or add it to micro_skills",
        )
        for index, rule in enumerate(task.check_rules)
        if rule.micro_skill is not None and rule.micro_skill not in task.micro_skills
    ]


def counter_example_problems(task: Task) -> list[Problem]:
    """Every declared counter-example has its folder, every folder is declared, and the skills it
    must not earn are the task's."""
    label = f"{task.id}/task.yaml"
    folder = task.root / packs.WRONG_DIR
    present = {p.name for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else set()
    problems = []
    for index, example in enumerate(task.counter_examples):
        if example.name not in present:
            problems.append(
                Problem(
                    label,
                    f"$.wrong[{index}].name",
                    f"there is no folder {task.id}/wrong/{example.name}/; create it or remove the entry",
                )
            )
        for skill in example.must_not_earn:
            if skill not in task.micro_skills:
                listed = ", ".join(task.micro_skills)
                problems.append(
                    Problem(
                        label,
                        f"$.wrong[{index}].must_not_earn",
                        f"{skill!r} is not one of the task's micro_skills ({listed})",
                    )
                )
    declared = {example.name for example in task.counter_examples}
    for name in sorted(present - declared):
        problems.append(
            Problem(
                f"{task.id}/wrong/{name}",
                "",
                "is not declared: add {name: "
                + name
                + ", verdict: not_ready} under wrong in task.yaml, or remove the folder",
            )
        )
    return problems
