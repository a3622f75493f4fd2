"""The worker side: claim a run, report progress, write its result once.

Workers authenticate with a ``worker`` token. They never get grader files
from here: they read task packs from the shared pack store.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, Field
from sqlmodel import Session

from api import storage
from api.auth import Principal
from api.deps import ServiceDep, SessionDep, WorkerDep
from api.tables import Run, RunState, Submission
from engine import schemas
from engine.errors import NotFound

router = APIRouter(prefix="/v1/runs", tags=["workers"])


class WorkerRef(BaseModel):
    #: The process within the token (e.g. ``host:pid``), for workers sharing one token; default: the token's subject.
    #: Only a label: the claim belongs to the authenticated token.
    worker: str | None = Field(None, min_length=1, max_length=200)


class Progress(WorkerRef):
    state: RunState


class Failure(WorkerRef):
    reason: str = Field(max_length=4000)


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


RunId = Annotated[str, Path(max_length=128)]


def holder(worker: Principal, name: str | None) -> tuple[str, str | None]:
    """Who acts on a run: the authenticated token, and (when given) the process name within it."""
    return worker.token_id, name


def _submission_of(session: Session, run: Run, *, with_archive: bool = True) -> Submission:
    submission = storage.get_submission(session=session, submission_id=run.submission_id, with_archive=with_archive)
    if submission is None:  # the run's foreign key: only a damaged database gets here
        raise NotFound(f"run {run.id} names an unknown submission {run.submission_id!r}")
    return submission


def held_run(session, run_id: str, acting: tuple[str, str | None]) -> Run:
    """The run, if ``acting`` holds it (or held it to the end); 404 if unknown, else 409."""
    run = storage.get_run(session=session, run_id=run_id)
    if run is None:
        raise NotFound(f"unknown run {run_id!r}")
    if run.state is RunState.QUEUED:
        raise HTTPException(status.HTTP_409_CONFLICT, f"run {run_id} is not claimed: claim it first")
    token_id, name = acting
    if run.worker_token_id != token_id or (name is not None and run.worker != name):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"run {run_id} is held by another worker, not " + (name if name is not None else "this token"),
        )
    return run


@router.post("/{run_id}/claim", response_model=JobPayload, responses={409: {"description": "done or claimed"}})
def claim(run_id: RunId, body: WorkerRef, session: SessionDep, service: ServiceDep, worker: WorkerDep) -> JobPayload:
    run = storage.get_run(session=session, run_id=run_id)
    if run is None:
        raise NotFound(f"unknown run {run_id!r}")
    submission = _submission_of(session, run)
    version, digest = run.pack_version or submission.pack_version, run.task_digest or submission.task_digest
    lease = service.lease_seconds(submission.pack_id, version, submission.task_id)
    if not storage.claim_run(
        session=session,
        run_id=run_id,
        worker=body.worker or worker.subject,
        token_id=worker.token_id,
        lease_seconds=lease,
    ):
        raise HTTPException(status.HTTP_409_CONFLICT, f"run {run_id} is done or claimed by another worker")
    service.notify(run_id)
    return JobPayload(
        run_id=run_id,
        submission_id=submission.id,
        pack_id=submission.pack_id,
        pack_version=version,
        task_id=submission.task_id,
        task_digest=digest,
        submission_digest=submission.submission_digest,
        archive=base64.b64encode(submission.archive).decode("ascii"),
        lease_seconds=lease,
    )


@router.post("/{run_id}/progress", responses={409: {"description": "the worker does not hold the run"}})
def progress(
    run_id: RunId, body: Progress, session: SessionDep, service: ServiceDep, worker: WorkerDep
) -> dict[str, str]:
    acting = holder(worker, body.worker)
    run = held_run(session, run_id, acting)
    submission = _submission_of(session, run, with_archive=False)
    lease = service.lease_seconds(submission.pack_id, run.pack_version or submission.pack_version, submission.task_id)
    if body.state not in (RunState.RUNNING, RunState.GRADING) or not storage.advance_run(
        session=session, run_id=run_id, worker=acting[1], token_id=acting[0], state=body.state, lease_seconds=lease
    ):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"run {run_id} is not held by this worker in a state that may move to {body.state.value}",
        )
    service.notify(run_id)
    return {"state": body.state.value}


@router.post("/{run_id}/release", responses={409: {"description": "the worker does not hold the run"}})
def release(
    run_id: RunId, body: WorkerRef, session: SessionDep, service: ServiceDep, worker: WorkerDep
) -> dict[str, str]:
    acting = holder(worker, body.worker)
    held_run(session, run_id, acting)
    if not storage.release_run(session=session, run_id=run_id, holder=acting):
        raise HTTPException(status.HTTP_409_CONFLICT, f"run {run_id} is not held by this worker")
    service.notify(run_id)
    return {"state": RunState.QUEUED.value}


@router.post(
    "/{run_id}/result",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "this worker's result was already stored; nothing changed"},
        409: {"description": "the run is not claimed, or another worker holds it"},
        422: {"description": "not a valid result document for this run"},
    },
)
def post_result(
    run_id: RunId,
    document: dict[str, Any],
    response: Response,
    session: SessionDep,
    service: ServiceDep,
    worker: WorkerDep,
    name: Annotated[
        str | None, Query(alias="worker", min_length=1, max_length=200, description="the process within the token")
    ] = None,
) -> dict[str, Any]:
    acting = holder(worker, name)
    run = held_run(session, run_id, acting)
    submission = _submission_of(session, run, with_archive=False)
    problems = schemas.problems("result", document)
    if problems:
        raise HTTPException(422, [{"loc": where, "msg": message} for where, message in problems[:20]])
    task = document["task"]
    # A regrade's run names its own (newer) pack version and task digest.
    version, digest = run.pack_version or submission.pack_version, run.task_digest or submission.task_digest
    if (
        task["task_digest"] != digest
        or document["submission_digest"] != submission.submission_digest
        or (task["pack"], task["pack_version"], task["id"]) != (submission.pack_id, version, submission.task_id)
    ):
        raise HTTPException(422, "the result names a different task version or submission than this run")
    stored, created = service.store_result(run_id=run_id, document=document, holder=acting)
    if not created:
        response.status_code = status.HTTP_200_OK
    return {"id": stored["id"], "created": created}


@router.post(
    "/{run_id}/fail",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "the run is not claimed, or another worker holds it"}},
)
def fail(run_id: RunId, body: Failure, session: SessionDep, service: ServiceDep, worker: WorkerDep) -> dict[str, str]:
    acting = holder(worker, body.worker)
    held_run(session, run_id, acting)
    service.fail_run(run_id=run_id, reason=body.reason, holder=acting)
    return {"state": RunState.DONE.value}


# -- public tests handed to workers (Celery deployments) ------------------------------

public_tests_router = APIRouter(prefix="/v1/public-test-jobs", tags=["workers"])


class PublicTestsPayload(BaseModel):
    job_id: str
    pack_id: str
    pack_version: str
    task_id: str
    task_digest: str
    archive: str  # base64 tar.gz of the candidate's files


class PublicTestsOutcome(BaseModel):
    """What the public tests printed (``engine.public_tests.PublicTestRun.to_document``), or why they could not run."""

    command: list[str] = Field(default_factory=list, max_length=1000)
    passed: bool = False
    exit_code: int | None = None
    stdout: str = Field("", max_length=1_000_000)
    stderr: str = Field("", max_length=1_000_000)
    timed_out: bool = False
    oom_killed: bool = False
    output_truncated: bool = False
    wall_seconds: float = 0.0
    limits: dict[str, Any] = Field(default_factory=dict)
    #: Set when the worker could not run them (no sandbox engine, an unknown task version): the API answers 503.
    error: str | None = Field(None, max_length=4000)


@public_tests_router.post(
    "/{job_id}/claim",
    response_model=PublicTestsPayload,
    responses={409: {"description": "claimed by another worker, answered, or given up"}},
)
def claim_public_tests(job_id: RunId, session: SessionDep, worker: WorkerDep) -> PublicTestsPayload:
    job = storage.claim_public_test_job(session=session, job_id=job_id, token_id=worker.token_id)
    if job is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"public tests {job_id} are claimed, answered or given up")
    return PublicTestsPayload(
        job_id=job.id,
        pack_id=job.pack_id,
        pack_version=job.pack_version,
        task_id=job.task_id,
        task_digest=job.task_digest,
        archive=base64.b64encode(job.archive).decode("ascii"),
    )


@public_tests_router.post(
    "/{job_id}/outcome", responses={409: {"description": "this worker does not hold the job, or posted already"}}
)
def post_public_tests(
    job_id: RunId, body: PublicTestsOutcome, session: SessionDep, worker: WorkerDep
) -> dict[str, str]:
    if not storage.finish_public_test_job(
        session=session, job_id=job_id, token_id=worker.token_id, outcome=body.model_dump()
    ):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"public tests {job_id} are not held by this worker, were answered already, or were given up",
        )
    return {"state": "done"}
