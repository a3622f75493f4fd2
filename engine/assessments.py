"""The rules of an assessment: its window, its clock, its attempt limit, what a candidate may see,
and which attempt counts. Plain functions over plain values; the API stores, this decides.

Every refusal is an ``AssessmentRuleBroken`` naming the rule, raised before anything is stored.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from engine.errors import Conflict


class Visibility(enum.StrEnum):
    """When a candidate may see something (Gradescope's release settings)."""

    ALWAYS = "always"
    AFTER_CLOSE = "after_close"
    NEVER = "never"


class Scoring(enum.StrEnum):
    """Which of a member's attempts at a task counts."""

    BEST = "best"
    LAST = "last"


class LatePolicy(enum.StrEnum):
    REFUSE = "refuse"
    ACCEPT = "accept-and-mark-late"


class AssessmentRuleBroken(Conflict):
    """A submission or start the assessment's rules refuse; ``rule`` names which (409, nothing stored)."""

    def __init__(self, rule: str, message: str):
        super().__init__(f"{rule}: {message}")
        self.rule = rule


@dataclass(frozen=True)
class Window:
    """An assessment's timing rules, in UTC."""

    opens_at: datetime
    closes_at: datetime
    duration_seconds: int | None = None
    attempt_limit: int | None = None
    late: LatePolicy = LatePolicy.REFUSE

    def __post_init__(self) -> None:
        if self.closes_at <= self.opens_at:
            raise ValueError(
                f"the window closes ({self.closes_at.isoformat()}) before or when it opens "
                f"({self.opens_at.isoformat()}): closes_at must be after opens_at"
            )

    def is_closed(self, now: datetime) -> bool:
        return now >= self.closes_at

    def deadline(self, started_at: datetime | None) -> datetime | None:
        """When a timed attempt begun at ``started_at`` ends (never past the close if late work is refused)."""
        if self.duration_seconds is None or started_at is None:
            return None
        end = started_at + timedelta(seconds=self.duration_seconds)
        return min(end, self.closes_at) if self.late is LatePolicy.REFUSE else end

    def time_left(self, started_at: datetime | None, now: datetime) -> float | None:
        """Seconds left in a timed attempt (0 once over); None if untimed or not started."""
        deadline = self.deadline(started_at)
        return None if deadline is None else max(0.0, (deadline - now).total_seconds())


def check_start(window: Window, now: datetime) -> None:
    """A timed attempt may start only while the window is open.

    Raises:
        AssessmentRuleBroken: ``untimed``, ``window_not_open`` or ``window_closed``.
    """
    if window.duration_seconds is None:
        raise AssessmentRuleBroken("untimed", "this assessment has no time limit: there is no clock to start")
    if now < window.opens_at:
        raise AssessmentRuleBroken("window_not_open", f"the assessment opens at {window.opens_at.isoformat()}")
    if window.is_closed(now):
        raise AssessmentRuleBroken("window_closed", f"the assessment closed at {window.closes_at.isoformat()}")


def admit(window: Window, *, now: datetime, started_at: datetime | None, attempts_used: int) -> bool:
    """Whether a new attempt may be stored now; returns whether it is late.

    Raises:
        AssessmentRuleBroken: ``window_not_open``, ``not_started`` (timed, clock not started),
            ``time_limit`` (the timed attempt is over), ``attempt_limit``, ``window_closed``
            (late work refused).
    """
    if now < window.opens_at:
        raise AssessmentRuleBroken(
            "window_not_open", f"the assessment opens at {window.opens_at.isoformat()}; nothing is accepted before"
        )
    if window.duration_seconds is not None:
        if started_at is None:
            raise AssessmentRuleBroken(
                "not_started", "this is a timed assessment: start it first (its clock starts then)"
            )
        deadline = window.deadline(started_at)
        if deadline is not None and now > deadline:
            raise AssessmentRuleBroken(
                "time_limit",
                f"the timed attempt ended at {deadline.isoformat()} ({window.duration_seconds} s after it started)",
            )
    if window.attempt_limit is not None and attempts_used >= window.attempt_limit:
        raise AssessmentRuleBroken(
            "attempt_limit", f"{attempts_used} of {window.attempt_limit} attempt(s) at this task used"
        )
    late = window.is_closed(now)
    if late and window.late is LatePolicy.REFUSE:
        raise AssessmentRuleBroken(
            "window_closed", f"the assessment closed at {window.closes_at.isoformat()} and refuses late submissions"
        )
    return late


def visible(policy: Visibility, *, closed: bool) -> bool:
    return policy is Visibility.ALWAYS or (policy is Visibility.AFTER_CLOSE and closed)


def check_policy(check_id: str, default: Visibility, overrides: Mapping[str, str]) -> Visibility:
    """The first override whose glob matches ``check_id``, else ``default``."""
    for pattern, policy in overrides.items():
        if fnmatchcase(check_id, pattern):
            return Visibility(policy)
    return default


def candidate_views(
    view: dict[str, Any], default: Visibility, overrides: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """The candidate view cut by check visibility: ``during`` (before the close) and ``after``.

    Both are signed and stored with the result, so what a candidate reads is always a signed document.
    """

    def cut(closed: bool) -> dict[str, Any]:
        kept = [c for c in view.get("checks", []) if visible(check_policy(c["id"], default, overrides), closed=closed)]
        return {**view, "checks": kept}

    return {"during": cut(False), "after": cut(True)}


@dataclass(frozen=True)
class Attempt:
    """One attempt's outcome as the scoring policy sees it."""

    at: datetime
    score: float
    verdict: str
    result_id: str
    #: micro-skill -> (score, verdict)
    skills: Mapping[str, tuple[float, str]] = field(default_factory=dict)


def counting(attempts: Sequence[Attempt], scoring: Scoring) -> Attempt | None:
    """The attempt that counts: the best score (earliest on a tie) or the last; ``error`` results never count."""
    graded = [a for a in attempts if a.verdict != "error"]
    if not graded:
        return None
    if scoring is Scoring.LAST:
        return max(graded, key=lambda a: a.at)
    return min(graded, key=lambda a: (-a.score, a.at))


def skill_readiness(per_task: Sequence[Mapping[str, tuple[float, str]]]) -> dict[str, tuple[float, str]]:
    """A member's readiness per micro-skill from the counting attempt of each task.

    A skill several tasks assess scores the mean of their scores, and is ``ready`` only if
    every one of them says ``ready`` (one weak task is enough to doubt it).
    """
    scores: dict[str, list[float]] = {}
    ready: dict[str, bool] = {}
    for skills in per_task:
        for skill, (score, verdict) in skills.items():
            scores.setdefault(skill, []).append(float(score))
            ready[skill] = ready.get(skill, True) and verdict == "ready"
    return {
        skill: (round(sum(values) / len(values), 2), "ready" if ready[skill] else "not_ready")
        for skill, values in scores.items()
    }
