"""Results for tests and benchmarks: stored straight through ``api.storage``, or posted as a worker would."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from api import storage
from api.tables import ResultRow, Run, Submission


def stored_submission(session: Session, *, candidate: str = "alice") -> tuple[Submission, Run]:
    """A queued submission by ``candidate`` of task ``p/t`` (version 1.0.0) and its first run."""
    return storage.create_submission(
        session=session,
        candidate=candidate,
        pack_id="p",
        pack_version="1.0.0",
        task_id="t",
        task_digest="sha256:" + "1" * 64,
        submission_digest="sha256:" + "2" * 64,
        archive=b"archive",
    )


def stored_result(
    session: Session,
    *,
    document: dict[str, Any],
    candidate: str = "alice",
    candidate_view: dict[str, Any] | None = None,
    log_digests: dict[str, str] | None = None,
) -> ResultRow:
    """``document`` stored as the result of a new submission by ``candidate`` (see ``stored_submission``).

    The candidate's view is empty unless given; ``log_digests`` (view -> digest) go to the
    transparency log with it, as ``storage.record_result`` does.
    """
    submission, run = stored_submission(session, candidate=candidate)
    result, _ = storage.record_result(
        session=session,
        run=run,
        submission=submission,
        document=document,
        candidate_view=candidate_view if candidate_view is not None else {},
        log_digests=log_digests,
    )
    return result


def result_document(job: dict[str, Any]) -> dict[str, Any]:
    """A minimal schema-valid result document (ready, no checks) for a claimed ``job``, for a test or
    benchmark that plays the worker through the HTTP API."""
    return {
        "schema_version": 1,
        "id": "r-" + job["run_id"],
        "task": {
            "pack": job["pack_id"],
            "pack_version": job["pack_version"],
            "id": job["task_id"],
            "task_digest": job["task_digest"],
        },
        "submission_digest": job["submission_digest"],
        "score": 100.0,
        "verdict": "ready",
        "status": "completed",
        "reason": "",
        "checks": [],
        "micro_skills": {},
        "runner": {
            "backend": "testkit",
            "image": "",
            "limits": {},
            "wall_seconds": 0.0,
            "cpu_seconds": None,
            "peak_memory_bytes": None,
            "exit_code": 0,
            "timed_out": False,
            "oom_killed": False,
            "output_truncated": False,
        },
        "output": {"stdout": "", "stderr": ""},
        "started_at": "2026-01-01T00:00:00.000Z",
        "finished_at": "2026-01-01T00:00:01.000Z",
        "engine_version": "testkit",
    }
