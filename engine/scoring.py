"""Scores and readiness: plain arithmetic over checks, no I/O.

A check earns ``weight * score / max_score``; the task score is the weighted
share of what could be earned, 0 to 100. ``skipped`` and ``error`` checks earn
nothing (a candidate must not be able to skip a hidden test out of the total).
A check tagged with a micro-skill counts toward that skill only; an untagged
check counts toward every skill the task evidences.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from engine.models import Check, CheckStatus, RunStatus, Verdict


def earned(check: Check) -> float:
    if check.status is not CheckStatus.PASS and check.status is not CheckStatus.FAIL:
        return 0.0
    if check.max_score <= 0:
        return 0.0
    # The share first: a share of at most 1 times the weight never exceeds the weight, whereas
    # weight * score / max_score can round past it for tiny max_scores (5e-324 gave scores over 100).
    return check.weight * (min(max(check.score, 0.0), check.max_score) / check.max_score)


def weighted_score(checks: Iterable[Check]) -> float:
    """0–100, rounded to two decimals; 0 when there is nothing to earn."""
    checks = list(checks)
    possible = sum(c.weight for c in checks)
    if possible <= 0:
        return 0.0
    return round(100.0 * sum(earned(c) for c in checks) / possible, 2)


def verdict(status: RunStatus, score: float, threshold: float) -> Verdict:
    """``ready`` only for a completed run at or above the threshold; ``error`` only for engine and grader faults."""
    if status.is_fault:
        return Verdict.ERROR
    if status is RunStatus.COMPLETED and score >= threshold:
        return Verdict.READY
    return Verdict.NOT_READY


def micro_skill_scores(
    skills: Sequence[str], checks: Sequence[Check], status: RunStatus, threshold: float
) -> dict[str, dict[str, object]]:
    """``{slug: {score, verdict}}`` for every skill the task evidences (and any a check names)."""
    names = list(dict.fromkeys([*skills, *(c.micro_skill for c in checks if c.micro_skill)]))
    out: dict[str, dict[str, object]] = {}
    for skill in names:
        relevant = [c for c in checks if c.micro_skill in (skill, None)]
        score = weighted_score(relevant)
        out[skill] = {"score": score, "verdict": verdict(status, score, threshold).value}
    return out
