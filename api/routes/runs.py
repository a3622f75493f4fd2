"""The worker side: claim a run, report progress, write its result once.

Workers authenticate with a ``worker`` token. They never get grader files
from here: they read task packs from the shared pack store.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel

from api import storage
from api.deps import ServiceDep, SessionDep, WorkerDep
from api.tables import RunState
from engine import schemas
from engine.errors import NotFound

router = APIRouter(prefix="/v1/runs", tags=["workers"])


class WorkerRef(BaseModel):
    worker: str


class Progress(WorkerRef):
    state: RunState


class Failure(WorkerRef):
    reason: str


class JobPayload(BaseModel):
    run_id: str
    submission_id: str
    pack_id: str
    pack_version: str
    task_id: str
    task_digest: str
    submission_digest: str
    archive: str  # base64 tar.gz
    lease_seconds: float


@router.post("/{run_id}/claim", response_model=JobPayload, responses={409: {"description": "done or claimed"}})
def claim(run_id: str, body: WorkerRef, session: SessionDep, service: ServiceDep, _: WorkerDep) -> JobPayload:
    run = storage.get_run(session=session, run_id=run_id)
    if run is None:
        raise NotFound(f"unknown run {run_id!r}")
    submission = storage.get_submission(session=session, submission_id=run.submission_id)
    version, digest = run.pack_version or submission.pack_version, run.task_digest or submission.task_digest
    lease = service.lease_seconds(submission.pack_id, version, submission.task_id)
    if not storage.claim_run(session=session, run_id=run_id, worker=body.worker, lease_seconds=lease):
        raise HTTPException(status.HTTP_409_CONFLICT, f"run {run_id} is done or claimed by another worker")
    service.notify()
    return JobPayload(run_id=run_id, submission_id=submission.id, pack_id=submission.pack_id,
                      pack_version=version, task_id=submission.task_id,
                      task_digest=digest, submission_digest=submission.submission_digest,
                      archive=base64.b64encode(submission.archive).decode("ascii"), lease_seconds=lease)


@router.post("/{run_id}/progress", responses={409: {"description": "the worker no longer holds the run"}})
def progress(run_id: str, body: Progress, session: SessionDep, service: ServiceDep, _: WorkerDep) -> dict[str, str]:
    run = storage.get_run(session=session, run_id=run_id)
    if run is None:
        raise NotFound(f"unknown run {run_id!r}")
    submission = storage.get_submission(session=session, submission_id=run.submission_id)
    lease = service.lease_seconds(submission.pack_id, run.pack_version or submission.pack_version, submission.task_id)
    if body.state not in (RunState.RUNNING, RunState.GRADING) or not storage.advance_run(
            session=session, run_id=run_id, worker=body.worker, state=body.state, lease_seconds=lease):
        raise HTTPException(status.HTTP_409_CONFLICT, f"run {run_id} is not held by {body.worker}")
    service.notify()
    return {"state": body.state.value}


@router.post("/{run_id}/release", responses={409: {"description": "the worker does not hold the run"}})
def release(run_id: str, body: WorkerRef, session: SessionDep, _: WorkerDep) -> dict[str, str]:
    if storage.get_run(session=session, run_id=run_id) is None:
        raise NotFound(f"unknown run {run_id!r}")
    if not storage.release_run(session=session, run_id=run_id, worker=body.worker):
        raise HTTPException(status.HTTP_409_CONFLICT, f"run {run_id} is not held by {body.worker}")
    return {"state": RunState.QUEUED.value}


@router.post("/{run_id}/result", status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "a result was already stored; nothing changed"},
                        422: {"description": "not a valid result document for this run"}})
def post_result(run_id: str, document: dict[str, Any], response: Response, session: SessionDep,
                service: ServiceDep, _: WorkerDep) -> dict[str, Any]:
    run = storage.get_run(session=session, run_id=run_id)
    if run is None:
        raise NotFound(f"unknown run {run_id!r}")
    submission = storage.get_submission(session=session, submission_id=run.submission_id)
    problems = schemas.problems("result", document)
    if problems:
        raise HTTPException(422, [{"loc": where, "msg": message} for where, message in problems[:20]])
    if document["task"]["task_digest"] != (run.task_digest or submission.task_digest) or \
            document["submission_digest"] != submission.submission_digest:
        raise HTTPException(422, "the result names a different task version or submission than this run")
    stored, created = service.store_result(run_id=run_id, document=document)
    if not created:
        response.status_code = status.HTTP_200_OK
    return {"id": stored["id"], "created": created}


@router.post("/{run_id}/fail", status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "another worker holds the run"}})
def fail(run_id: str, body: Failure, session: SessionDep, service: ServiceDep, _: WorkerDep) -> dict[str, str]:
    run = storage.get_run(session=session, run_id=run_id)
    if run is None:
        raise NotFound(f"unknown run {run_id!r}")
    if run.state in (RunState.RUNNING, RunState.GRADING) and run.worker != body.worker:
        raise HTTPException(status.HTTP_409_CONFLICT, f"run {run_id} is held by another worker, not {body.worker}")
    service.fail_run(run_id=run_id, reason=body.reason)
    return {"state": RunState.DONE.value}
