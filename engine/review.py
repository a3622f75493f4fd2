"""Human review: rubric criteria scored by a reviewer, combined with the automated checks into one result.

A reviewed criterion becomes a check ``review.NAME`` (score = the level's points, max = the top
level's), so scoring, readiness and the signed document treat it like any other check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from engine import packs, scoring
from engine.errors import Problem, SubmissionRejected
from engine.models import Check, CheckStatus, RunStatus, Task
from engine.results import Result

COMMENT_CHARS = 4000


class ReviewRejected(SubmissionRejected):
    """A review that does not score every criterion at one of its levels (422; nothing stored)."""


def rubric_problems(task: Task) -> list[Problem]:
    """A rubric's own problems, for ``pack validate``: skills, names, levels, the reviewers' reference answer."""
    label = f"{task.id}/task.yaml"
    problems: list[Problem] = []
    if task.grader_kind == "review" and not task.rubric:
        problems.append(Problem(label, "$.rubric", "grader kind review needs a rubric: there is nothing else to grade"))
    if task.rubric and not (task.root / packs.REVIEW_REFERENCE).is_file():
        problems.append(
            Problem(
                label,
                "$.rubric",
                f"a task with a rubric needs {task.id}/{packs.REVIEW_REFERENCE}: the reference answer reviewers read",
            )
        )
    seen: set[str] = set()
    for index, criterion in enumerate(task.rubric):
        where = f"$.rubric[{index}]"
        if criterion.name in seen:
            problems.append(Problem(label, f"{where}.name", f"criterion {criterion.name!r} is named twice"))
        seen.add(criterion.name)
        if criterion.micro_skill is not None and criterion.micro_skill not in task.micro_skills:
            problems.append(
                Problem(
                    label,
                    f"{where}.micro_skill",
                    f"{criterion.micro_skill!r} is not one of the task's micro_skills ({', '.join(task.micro_skills)})",
                )
            )
        points = [level.points for level in criterion.levels]
        if len(set(points)) != len(points):
            problems.append(
                Problem(label, f"{where}.levels", "two levels give the same points; each level needs its own")
            )
        if criterion.max_points <= 0:
            problems.append(Problem(label, f"{where}.levels", "no level gives any points"))
    return problems


def reviewed_checks(task: Task, scores: Mapping[str, float], comments: Mapping[str, str]) -> tuple[Check, ...]:
    """One check per criterion from a reviewer's scores.

    Raises:
        ReviewRejected: a criterion unscored, an unknown criterion, or points that are no level's.
    """
    by_name = {c.name: c for c in task.rubric}
    problems = [
        f"criterion {name!r} is not in the rubric (it has: {', '.join(by_name)})"
        for name in scores
        if name not in by_name
    ]
    problems += [f"criterion {name!r} is not in the rubric" for name in comments if name not in by_name]
    checks = []
    for criterion in task.rubric:
        if criterion.name not in scores:
            problems.append(f"criterion {criterion.name!r} has no score")
            continue
        points = float(scores[criterion.name])
        levels = {level.points: level for level in criterion.levels}
        if points not in levels:
            problems.append(
                f"criterion {criterion.name!r}: {points:g} is not one of its levels "
                f"({', '.join(f'{p:g}' for p in sorted(levels))})"
            )
            continue
        comment = comments.get(criterion.name, "")[:COMMENT_CHARS]
        message = f"{levels[points].descriptor}" + (f"\nReviewer: {comment}" if comment else "")
        checks.append(
            Check(
                id=criterion.check_id,
                name=f"review: {criterion.name}",
                status=CheckStatus.PASS if points == criterion.max_points else CheckStatus.FAIL,
                score=points,
                max_score=criterion.max_points,
                weight=criterion.weight,
                micro_skill=criterion.micro_skill,
                message=message,
                visible=True,
            )
        )
    if problems:
        raise ReviewRejected(
            "the review is incomplete or wrong; nothing was stored:\n" + "\n".join(f"  - {p}" for p in problems)
        )
    return tuple(checks)


def _check(document: Mapping[str, Any]) -> Check:
    return Check(
        id=document["id"],
        name=document["name"],
        status=CheckStatus(document["status"]),
        score=document["score"],
        max_score=document["max_score"],
        weight=document.get("weight", 1.0),
        micro_skill=document.get("micro_skill"),
        message=document.get("message", ""),
        duration_seconds=document.get("duration_seconds"),
        visible=document.get("visible", False),
    )


def combine(task: Task, automated: Mapping[str, Any], reviewed: Sequence[Check]) -> dict[str, Any]:
    """The automated result document with the reviewed checks added, its score, verdict and skills recomputed."""
    checks = [_check(c) for c in automated["checks"] if not c["id"].startswith("review.")] + list(reviewed)
    status = RunStatus(automated["status"])
    score = scoring.weighted_score(checks) if not status.is_fault else 0.0
    return {
        **automated,
        "checks": [c.to_document() for c in checks],
        "score": score,
        "verdict": scoring.verdict(status, score, task.pass_threshold).value,
        "micro_skills": scoring.micro_skill_scores(task.micro_skills, checks, status, task.pass_threshold),
    }


def marked(result: Result, *, top: bool) -> Result:
    """``result`` with every criterion scored at its top (or bottom) level: how ``pack check`` judges
    a reviewed task's arithmetic, since no human reviews its runs (the reference is assumed to earn the
    top level, the starter and counter-examples the bottom)."""
    task = result.task
    if not task.rubric or result.status.is_fault:
        return result
    scores = {c.name: (c.max_points if top else min(level.points for level in c.levels)) for c in task.rubric}
    return replace(result, checks=result.checks + reviewed_checks(task, scores, {}))
