"""Regrade: an assessment's (or one task's) submissions graded again against a newer pack version.

New runs go through the queue like any other, so every worker takes a share; each new result is
signed and supersedes the old one, which stays stored and verifiable. The report lists every
changed verdict.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from api import cohort_storage as store
from api.auth import Principal
from api.cohorts import Standing, assessment_for
from api.tables import Regrade, RunState
from engine.errors import NotFound


def start(
    service, session: Session, principal: Principal, assessment_id: str, *, task: str | None, version: str | None
) -> tuple[Regrade, list[str]]:
    """Queue a run per submission of the assessment's tasks (or of ``task``) against ``version``
    (default: each pack's latest live version), and pin the assessment to it.

    Raises:
        NotFound: no such assessment for this organiser, task in it, or live version.
    """
    assessment, _ = assessment_for(session, principal, assessment_id, Standing.ORGANISER)
    keys = [f"{t['pack_id']}/{t['task_id']}" for t in assessment.tasks]
    if task is not None and task not in keys:
        raise NotFound(f"assessment {assessment_id!r} has no task {task} (it has: {', '.join(keys)})")
    runs, pins, versions = [], [], {}
    for pinned in assessment.tasks:
        key = f"{pinned['pack_id']}/{pinned['task_id']}"
        if task is not None and key != task:
            pins.append(pinned)
            continue
        target = service.submittable_task(session, pinned["pack_id"], pinned["task_id"], version)
        versions[key] = target.pack_version
        pins.append({**pinned, "pack_version": target.pack_version, "task_digest": target.digest})
        for submission_id in store.assessment_submissions(
            session=session, assessment_id=assessment.id, pack_id=pinned["pack_id"], task_id=pinned["task_id"]
        ):
            runs.append((submission_id, target.pack_version, target.digest))
    regrade = Regrade(assessment_id=assessment.id, task=task, versions=versions, created_by=principal.subject)
    run_ids = store.create_regrade(session=session, regrade=regrade, runs=runs, assessment=assessment, tasks=pins)
    return regrade, run_ids


def report(session: Session, principal: Principal, regrade_id: str) -> dict[str, Any]:
    """Progress (runs done of total) and every changed verdict, old and new side by side."""
    regrade = store.get_regrade(session=session, regrade_id=regrade_id)
    if regrade is None:
        raise NotFound(f"unknown regrade {regrade_id!r}")
    assessment_for(session, principal, regrade.assessment_id, Standing.STAFF)  # 404 to anyone else
    changed, done = [], 0
    for run, submission, result in store.regrade_outcomes(session=session, regrade_id=regrade_id):
        if run.state is not RunState.DONE or result is None:
            continue
        done += 1
        old = store.previous_result(session=session, submission_id=submission.id, before=result)
        if old is None or old.verdict != result.verdict:
            changed.append(
                {
                    "submission_id": submission.id,
                    "candidate": submission.candidate,
                    "task": f"{submission.pack_id}/{submission.task_id}",
                    "old": {"result_id": old.id, "verdict": old.verdict, "score": old.score} if old else None,
                    "new": {"result_id": result.id, "verdict": result.verdict, "score": result.score},
                }
            )
    return {
        "id": regrade.id,
        "assessment_id": regrade.assessment_id,
        "task": regrade.task,
        "versions": regrade.versions,
        "total": regrade.total,
        "done": done,
        "finished": done == regrade.total,
        "changed": changed,
    }
