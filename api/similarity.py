"""The similarity report of an assessment, for staff: flags pairs for a human, never changes a score."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from api import cohort_storage as store
from api import storage
from api.tables import Assessment
from engine import archives, packs, similarity
from engine.errors import NotFound


def _prints(service, task_ref: dict[str, str], submissions) -> tuple[dict[str, similarity.Fingerprints], set[int]]:
    task = service.pack_store.task(task_ref["pack_id"], task_ref["task_id"], task_ref["pack_version"])
    starter = similarity.fingerprint(packs.starter_files(task)).hashes
    prints = {
        s.id: similarity.without(similarity.fingerprint(archives.extract_stored(s.archive)), starter)
        for s in submissions
    }
    return prints, starter


def report(service, session: Session, assessment: Assessment, *, threshold: float) -> dict[str, Any]:
    """For each task: pairs of members' last submissions that share at least ``threshold`` of their fingerprints."""
    pairs: list[dict[str, Any]] = []
    for task_ref in assessment.tasks:
        submissions = store.latest_attempts(
            session=session, assessment_id=assessment.id, pack_id=task_ref["pack_id"], task_id=task_ref["task_id"]
        )
        by_id = {s.id: s for s in submissions}
        prints, _ = _prints(service, task_ref, submissions)
        for pair in similarity.similar_pairs(prints, threshold=threshold):
            pairs.append(
                {
                    "task": f"{task_ref['pack_id']}/{task_ref['task_id']}",
                    "score": pair.score,
                    "shared": pair.shared,
                    "a": {"submission_id": pair.a, "candidate": by_id[pair.a].candidate},
                    "b": {"submission_id": pair.b, "candidate": by_id[pair.b].candidate},
                    "links": {
                        "side_by_side": service.settings.link(
                            f"/v1/assessments/{assessment.id}/similarity/{pair.a}/{pair.b}"
                        )
                    },
                }
            )
    pairs.sort(key=lambda p: -p["score"])
    return {
        "assessment_id": assessment.id,
        "threshold": threshold,
        "data": pairs,
        "count": len(pairs),
        "note": "flags for a human reviewer; scores are never changed by this report",
    }


def side_by_side(service, session: Session, assessment: Assessment, a: str, b: str) -> dict[str, Any]:
    """Both submissions' files with the lines where their shared fingerprints start (starter code excluded)."""
    found = [s for i in (a, b) if (s := storage.get_submission(session=session, submission_id=i)) is not None]
    if len(found) != 2 or any(s.assessment_id != assessment.id for s in found) or found[0].task_id != found[1].task_id:
        raise NotFound(f"no pair {a}/{b} of one task in assessment {assessment.id!r}")
    task_ref = next(
        t for t in assessment.tasks if t["pack_id"] == found[0].pack_id and t["task_id"] == found[0].task_id
    )
    prints, _ = _prints(service, task_ref, found)
    left, right = similarity.matched_lines(prints[a], prints[b])
    sides = []
    for submission, lines in zip(found, (left, right), strict=True):
        files = {p: d.decode("utf-8", "replace") for p, d in archives.extract_stored(submission.archive).items()}
        sides.append(
            {"submission_id": submission.id, "candidate": submission.candidate, "files": files, "matched_lines": lines}
        )
    return {"task": f"{found[0].pack_id}/{found[0].task_id}", "a": sides[0], "b": sides[1]}
