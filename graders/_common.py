"""Helpers shared by the grader kinds."""

from __future__ import annotations

from engine.models import Check, CheckStatus, Task


def make_check(
    task: Task,
    check_id: str,
    status: CheckStatus,
    *,
    name: str | None = None,
    score: float | None = None,
    max_score: float = 1.0,
    message: str = "",
    duration: float | None = None,
    visible: bool | None = None,
) -> Check:
    """A check with the author's metadata (weight, micro-skill, visibility) applied by id."""
    rule = task.rule_for(check_id)
    if score is None:
        score = max_score if status is CheckStatus.PASS else 0.0
    return Check(
        id=check_id,
        name=name or check_id,
        status=status,
        score=score,
        max_score=max_score,
        weight=rule.weight,
        micro_skill=rule.micro_skill,
        message=message,
        duration_seconds=None if duration is None else round(duration, 4),
        visible=rule.visible if visible is None else visible,
    )


def tail(data: bytes, limit: int = 2000) -> str:
    value = data.decode("utf-8", "replace")
    return value if len(value) <= limit else "..." + value[-limit:]
