"""Submissions: accept (202), follow (SSE), read results and profiles.

A candidate sees only their own submissions, results and profile; a pack's
author and reviewers see everything about that pack's submissions. Others get
404, so ids cannot be probed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import suppress
from datetime import datetime
from typing import Annotated, Any

import anyio
from anyio import to_thread
from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from api import cohorts, storage
from api.auth import Principal
from api.deps import PersonDep, ServiceDep, SessionDep, StaffDep
from api.routes._uploads import read_body
from api.service import AppService
from api.tables import Role, RunState, Submission, SubmissionPublic
from engine import archives, results
from engine.digest import tree_digest
from engine.errors import Conflict, NotFound
from engine.trees import from_mapping

router = APIRouter(prefix="/v1", tags=["submissions"])

#: Every database's integer holds this (an offset beyond it was a 500 from SQLite, not a 422).
MAX_OFFSET = 2**31 - 1
SubmissionId = Annotated[str, Path(max_length=128)]
ResultId = Annotated[str, Path(max_length=128)]

SUBMISSION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["task", "files"],
                    "properties": {
                        "task": {"type": "string", "description": "PACK/TASK"},
                        "version": {"type": "string", "description": "pack version (default: latest)"},
                        "assessment": {"type": "string", "description": "an assessment's id"},
                        "files": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                            "description": "path -> UTF-8 content",
                        },
                    },
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["task", "archive"],
                    "properties": {
                        "task": {"type": "string"},
                        "version": {"type": "string"},
                        "assessment": {"type": "string"},
                        "archive": {
                            "type": "string",
                            "format": "binary",
                            "description": ".zip or .tar.gz of the submission folder",
                        },
                    },
                }
            },
        },
    }
}


class SubmissionCreate(BaseModel):
    task: str = Field(pattern=r"^[a-z0-9-]+/[a-z0-9-]+$", description="PACK/TASK")
    version: str | None = None
    #: An attempt at an assessment's task: its window, clock and attempt limit apply, its pinned version is used.
    assessment: str | None = None
    files: dict[str, str]


class SubmissionAccepted(BaseModel):
    id: str
    run_id: str
    state: RunState
    links: dict[str, str]
    #: Keep it: with your id it proves the signed result is yours (``tasktrial verify --subject --salt``).
    subject_salt: str | None = None


class ListSubmissions(BaseModel):
    data: list[SubmissionPublic]
    count: int


class SkillRecord(BaseModel):
    score: float
    verdict: str
    at: datetime
    result_id: str


class SkillProfile(BaseModel):
    latest: SkillRecord
    best: SkillRecord
    results: list[str]


class Profile(BaseModel):
    candidate: str
    skills: dict[str, SkillProfile]


@router.post(
    "/submissions",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SubmissionAccepted,
    openapi_extra=SUBMISSION_BODY,
    responses={
        404: {"description": "unknown task"},
        413: {"description": "upload too large"},
        409: {
            "description": "the pack version is retired (no new submissions), or an "
            "assessment's rule refuses the attempt (the message names it)"
        },
        415: {"description": "neither application/json nor multipart/form-data"},
        422: {"description": "malformed body or unsafe archive (the message names the problem)"},
        429: {"description": "this candidate's submission rate, or the queue, is full: see Retry-After"},
    },
)
async def create_submission(
    request: Request, response: Response, service: ServiceDep, person: PersonDep
) -> SubmissionAccepted:
    """Accept a submission. Parsing, archiving and storing run on a worker thread, never on the event loop."""
    media_type = _media_type(request)
    # Admission first: a flooding candidate is refused before their body is read or parsed.
    await admit(service, person)
    body = await read_body(request, service.settings.max_upload_bytes)
    if media_type == "application/json":
        task_ref, version, assessment_id, files = await to_thread.run_sync(_parse_json, body)
    else:
        async with request.form() as form:  # closes the upload's spooled temporary file
            task_ref, version, assessment_id, upload = _form_parts(form)
            data = await upload.read()
        caps = archives.ArchiveCaps(max_archive_bytes=service.settings.max_upload_bytes)
        files = await to_thread.run_sync(lambda: archives.extract(data, caps=caps))
    submission, run = await accept_submission(service, person, task_ref, version, files, assessment_id=assessment_id)
    location = service.settings.link(f"/v1/submissions/{submission.id}")
    response.headers["Location"] = location
    return SubmissionAccepted(
        id=submission.id,
        run_id=run.id,
        state=run.state,
        subject_salt=submission.subject_salt,
        links={"self": location, "events": f"{location}/events", "result": f"{location}/result"},
    )


async def admit(service: AppService, person: Principal) -> None:
    """Refuse a candidate over their submission rate, or any when the queue is full (the API and the web pages).

    Raises:
        TooManyRequests: see ``AppService.admit``.
    """
    await to_thread.run_sync(lambda: _admit(service, person))


async def accept_submission(
    service: AppService,
    person: Principal,
    task_ref: str,
    version: str | None,
    files: dict[str, bytes],
    *,
    assessment_id: str | None = None,
) -> tuple[Submission, Any]:
    """Store a submission with its queued run and enqueue it, off the event loop (the API and the web pages
    both call this, after ``admit``).

    Raises:
        NotFound: no such task in a live (or retired) version.
        VersionRetired: the named version is retired.
        Conflict: outside the assessment's window, over its attempt limit, or its pinned task changed.
    """
    submission, run = await to_thread.run_sync(
        lambda: _accept(service, person, task_ref, version, assessment_id, files)
    )
    service.metrics.submissions.inc()
    await to_thread.run_sync(_enqueue, service, run.id)  # a broker call may block: never on the loop
    return submission, run


MEDIA_TYPES = ("application/json", "multipart/form-data")


def _media_type(
    request: Request, hint: str = "send application/json ({task, files}) or multipart/form-data (task, archive)"
) -> str:
    """The request's media type, matched exactly (``application/jsonhax`` is not JSON); else 415 with ``hint``."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in MEDIA_TYPES:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, hint)
    return media_type


def _parse_json(body: bytes) -> tuple[str, str | None, str | None, dict[str, bytes]]:
    try:
        data = SubmissionCreate.model_validate_json(body)
    except ValidationError as exc:
        # Without the input: it may be megabytes of the candidate's files (or bytes JSON cannot carry).
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise HTTPException(422, errors) from exc
    files = from_mapping({path: text.encode("utf-8") for path, text in data.files.items()})
    return data.task, data.version, data.assessment, files


def _form_parts(form) -> tuple[str, str | None, str | None, Any]:
    task, upload = form.get("task"), form.get("archive")
    if not isinstance(task, str) or "/" not in task:
        raise HTTPException(422, [{"loc": ["body", "task"], "msg": "PACK/TASK is required"}])
    if upload is None or isinstance(upload, str):
        raise HTTPException(422, [{"loc": ["body", "archive"], "msg": "a .zip or .tar.gz file is required"}])
    version, assessment = form.get("version"), form.get("assessment")
    return (
        task,
        version if isinstance(version, str) and version else None,
        assessment if isinstance(assessment, str) and assessment else None,
        upload,
    )


async def admit_public_tests(service: AppService, person: Principal) -> None:
    """Refuse a candidate over their public-test rate (the API, the web page and so ``tasktrial test``).

    Raises:
        TooManyRequests: see ``AppService.admit_public_tests``.
    """
    await to_thread.run_sync(lambda: _admit(service, person, public_tests=True))


def _admit(service: AppService, person: Principal, *, public_tests: bool = False) -> None:
    with service.session() as session:
        (service.admit_public_tests if public_tests else service.admit)(session=session, candidate=person.subject)


def _enqueue(service: AppService, run_id: str) -> None:
    try:
        service.queue.enqueue(run_id)
    except Exception:  # noqa: BLE001 - any broker fault: the run is stored as queued; the reaper re-queues it when the broker is back
        service.metrics.rejected.labels("enqueue_failed").inc()


def _accept(
    service: AppService,
    person: Principal,
    task_ref: str,
    version: str | None,
    assessment_id: str | None,
    files: dict[str, bytes],
):
    """The stored submission and its queued run (an assessment's attempt: its rules admit it, its pin is used)."""
    pack_id, _, task_id = task_ref.partition("/")
    with service.session() as session:
        late, limit = False, None
        if assessment_id is not None:
            pinned, late, limit = cohorts.admit(session, person, assessment_id, pack_id, task_id)
            version = pinned["pack_version"]
        task = service.submittable_task(session, pack_id, task_id, version)
        if assessment_id is not None and task.digest != pinned["task_digest"]:
            raise Conflict(
                f"task {task_ref}@{version} changed since assessment {assessment_id} pinned it "
                f"({pinned['task_digest']}, now {task.digest}); ask the organiser"
            )
        archive = archives.make_tar_gz(files)
        return storage.create_submission(
            session=session,
            candidate=person.subject,
            pack_id=task.pack_id,
            pack_version=task.pack_version,
            task_id=task.id,
            task_digest=task.digest,
            submission_digest=tree_digest(files),
            archive=archive,
            subject_salt=results.new_subject_salt(),
            assessment_id=assessment_id,
            late=late,
            attempt_limit=limit,
        )


def visible_submission(session, principal: Principal, submission_id: str) -> Submission:
    """The submission if ``principal`` may see it; otherwise 404, as if it did not exist."""
    submission = storage.get_submission(session=session, submission_id=submission_id, with_archive=False)
    if submission is None or not may_see(session, principal, submission):
        raise NotFound(f"unknown submission {submission_id!r}")
    return submission


def submitted_files(session, submission: Submission) -> dict[str, bytes]:
    """The files the candidate sent, exactly as stored and graded: theirs only (the starter, graders and
    solutions are never in a submission's archive). Call after ``visible_submission``.

    Raises:
        SubmissionRejected: the stored archive cannot be read (never expected: the API wrote it).
    """
    stored = storage.get_submission(session=session, submission_id=submission.id)
    if stored is None:
        raise NotFound(f"unknown submission {submission.id!r}")
    return archives.extract(stored.archive, strip_top_folder=False)  # as the worker reads it (api.jobs)


def may_see(session, principal: Principal, submission: Submission) -> bool:
    """The candidate who made it, and whoever sees everything of its pack (of an assessment's: its cohort's staff)."""
    return principal.subject == submission.candidate or sees_full(session, principal, submission)


def sees_full(session, principal: Principal, submission: Submission) -> bool:
    """Who reads the full result: an assessment attempt's cohort staff and organiser (and admins) only;
    other work, whoever sees everything of its pack."""
    if submission.assessment_id is not None:
        return cohorts.sees_assessment_work(session, principal, submission)
    return sees_everything(session, principal, submission.pack_id)


def result_view(session, principal: Principal, submission: Submission) -> str:
    """The name of the stored signed view ``principal`` reads (404 while an assessment withholds it)."""
    if sees_full(session, principal, submission):
        return "full"
    return cohorts.candidate_view_name(session, submission)


def reveals_result(session, principal: Principal, submission: Submission) -> bool:
    """Whether ``principal`` may learn how the submission went (its stream's verdict and score)."""
    try:
        return bool(result_view(session, principal, submission))
    except NotFound:  # an assessment withholds the result: the stream says when it is done, not how it went
        return False


def sees_everything(session, principal: Principal, pack_id: str) -> bool:
    """Authors of the pack, reviewers and admins read hidden messages and output."""
    if principal.is_staff():
        return True
    return principal.role is Role.AUTHOR and principal.subject in storage.pack_owners(session=session, pack_id=pack_id)


def public(session, submission: Submission) -> SubmissionPublic:
    run = storage.latest_run(session=session, submission_id=submission.id)
    result = storage.result_for_run(session=session, run_id=run.id) if run else None
    held = storage.review_of(session=session, submission_id=submission.id)
    return SubmissionPublic(
        **submission.model_dump(exclude={"archive"}),
        state=run.state if run else RunState.QUEUED,
        run_id=run.id if run else "",
        result_id=result.id if result else None,
        review=held.state if held else None,
    )


@router.get("/submissions", response_model=ListSubmissions)
def list_submissions(
    session: SessionDep,
    person: PersonDep,
    limit: Annotated[int, Query(ge=1, le=200, description="at most this many")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="skip this many, newest first")] = 0,
) -> ListSubmissions:
    """Your own submissions; staff: everyone's they may read (a reviewer: practice work and the cohorts they staff)."""
    candidate = None if person.is_staff() else person.subject
    scope = cohorts.work_scope(session, person)
    rows, count = storage.list_submissions(
        session=session,
        candidate=candidate,
        limit=limit,
        offset=offset,
        packs=scope.packs,
        assessments=scope.assessments,
    )
    return ListSubmissions(data=[public(session, s) for s in rows], count=count)


@router.get("/submissions/{submission_id}", response_model=SubmissionPublic)
def get_submission(submission_id: SubmissionId, session: SessionDep, person: PersonDep) -> SubmissionPublic:
    return public(session, visible_submission(session, person, submission_id))


@router.get(
    "/submissions/{submission_id}/result",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "the signed result document"}},
)
async def submission_result(submission_id: SubmissionId, session: SessionDep, person: PersonDep) -> Response:
    """The result document. ``async`` on purpose: two short indexed reads cost less on the event
    loop than a worker thread fighting the others for the GIL (the hottest read of the API)."""
    submission = visible_submission(session, person, submission_id)
    result = storage.latest_result(session=session, submission_id=submission.id)
    if result is None:
        run = storage.latest_run(session=session, submission_id=submission.id)
        held = storage.review_of(session=session, submission_id=submission.id)
        state = held.state if held else run.state.value if run else "queued"
        raise NotFound(f"submission {submission_id!r} has no result yet (state: {state})")
    return _json(result.document[result_view(session, person, submission)])


@router.get(
    "/results/{result_id}",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "the signed result document"}},
)
async def get_result(result_id: ResultId, session: SessionDep, person: PersonDep) -> Response:
    """The result document by id; ``async`` for the same reason as ``submission_result``."""
    result = storage.get_result(session=session, result_id=result_id)
    if result is None:
        raise NotFound(f"unknown result {result_id!r}")
    submission = visible_submission(session, person, result.submission_id)
    return _json(result.document[result_view(session, person, submission)])


def _json(document: dict[str, Any]) -> Response:
    """The stored document as is: it is already plain JSON, so skip re-encoding it."""
    return Response(json.dumps(document, ensure_ascii=False), media_type="application/json")


KEEP_ALIVE_SECONDS = 15.0
#: What a client told to reconnect waits first (the SSE ``retry`` field, in milliseconds).
RECONNECT_MS = 1000


class EventStreamResponse(StreamingResponse):
    """A Server-Sent Events response that gives back its slot under the stream caps however it ends.

    It ends as soon as the client goes away: Starlette, under ASGI 2.4 servers, would notice
    only at the next write (up to a keep-alive later), keeping the slot that long.
    """

    def __init__(self, content: AsyncGenerator[str, None], release: Callable[[], None], **kwargs: Any):
        super().__init__(content, media_type="text/event-stream", **kwargs)
        self._events = content
        self._release = release

    async def __call__(self, scope, receive, send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    with suppress(OSError):  # the client went away mid-write
                        await self.stream_response(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            self._release()
            await self._events.aclose()  # runs the stream's own clean-up now, not at garbage collection


@router.get(
    "/submissions/{submission_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Server-Sent Events: queued, running, grading, done; then "
            "`timeout` if the run outlasts `timeout`, or `reconnect` when the "
            "server shuts down (send `Last-Event-ID` to resume)",
        },
        429: {"description": "too many open event streams for this token or this server"},
    },
)
async def submission_events(
    submission_id: SubmissionId,
    service: ServiceDep,
    person: PersonDep,
    timeout: Annotated[float, Query(gt=0, le=3600, description="stop following after this many seconds")] = 1800.0,
    last_event_id: Annotated[
        str | None, Header(max_length=20, pattern=r"^[0-9]+$", description="resume after this event id")
    ] = None,
) -> StreamingResponse:
    """Follow a submission. ``async``, with no session held: a waiting stream costs no connection or thread."""
    with service.session() as session:  # closed before the stream starts
        submission = visible_submission(session, person, submission_id)
        run = storage.latest_run(session=session, submission_id=submission.id)
        reveal = reveals_result(session, person, submission)
    if run is None:
        raise NotFound(f"submission {submission_id!r} has no run")
    release = service.streams.acquire(person.token_id)
    after = int(last_event_id) if last_event_id else 0
    return EventStreamResponse(
        _event_stream(service, run.id, submission.id, timeout, after, reveal),
        release,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _event_stream(
    service: AppService, run_id: str, submission_id: str, timeout: float, after: int, reveal: bool = True
) -> AsyncGenerator[str, None]:
    """Replay the run's events after ``after``, then follow new ones until ``done``.

    Between looks it holds nothing: each look is one short session on a worker thread.
    """
    hub = service.streams
    last, deadline = after, time.monotonic() + timeout
    idle_since = time.monotonic()
    changed = hub.subscribe(run_id)
    try:
        yield f"retry: {RECONNECT_MS}\n\n"
        while True:
            changed.clear()  # before the look: a change during it sets the flag again
            events, result = await to_thread.run_sync(_look, service, run_id, last)
            for event in events:
                last = event.id
                data = {"state": event.kind, "at": event.at.isoformat(), "submission": submission_id}
                if event.kind == RunState.DONE.value and result is not None and reveal:
                    data.update(result_id=result.id, verdict=result.verdict, score=result.score)
                yield f"id: {event.id}\nevent: {event.kind}\ndata: {json.dumps(data)}\n\n"
                if event.kind == RunState.DONE.value:
                    return
            if events:
                idle_since = time.monotonic()
            if hub.closing:
                yield (
                    "event: reconnect\ndata: "
                    + json.dumps({"reason": "the server is shutting down", "retry_ms": RECONNECT_MS})
                    + "\n\n"
                )
                return
            now = time.monotonic()
            if now >= deadline:
                yield "event: timeout\ndata: {}\n\n"
                return
            # Wake on a change, at shutdown, or for the keep-alive (after which it looks again:
            # a net under a missed wake-up).
            with suppress(TimeoutError):
                await asyncio.wait_for(
                    changed.wait(), max(0.0, min(deadline - now, KEEP_ALIVE_SECONDS - (now - idle_since)))
                )
            if time.monotonic() - idle_since >= KEEP_ALIVE_SECONDS:
                idle_since = time.monotonic()
                yield ": keep-alive\n\n"
    finally:
        hub.unsubscribe(run_id, changed)


def _look(service: AppService, run_id: str, after: int):
    with service.session() as session:
        events = storage.events_after(session=session, run_id=run_id, after_id=after)
        result = (
            storage.result_for_run(session=session, run_id=run_id)
            if any(e.kind == RunState.DONE.value for e in events)
            else None
        )
        return events, result


def build_profile(
    session, candidate: str, *, as_candidate: bool = False, scope: cohorts.WorkScope | None = None
) -> Profile:
    """A candidate's skills; what they read themselves (``as_candidate``) leaves out the assessments that still
    withhold results from them, what staff read leaves out the assessments outside their ``scope``.

    Latest and best come from the standings (one row per skill and scope, whatever the amount of
    evidence); the results per skill from two columns of the evidence's covering index. The same
    profile as ``profile_from_evidence`` over the evidence left in view (the hidden parts are whole
    assessments, which are the standings' scopes).
    """
    # The evidence first: a result stored meanwhile has its standings stored with it, so every assessment
    # whose results are in this list is among the standings' scopes, the assessments looked at for hiding.
    evidence = storage.evidence_results(session=session, candidate=candidate)
    rows = storage.skill_standings(session=session, candidate=candidate)
    scopes = {row.scope for row in rows} - {""}  # the attempts are read only if one of these is hidden
    hidden = cohorts.hidden_work(session, candidate, as_candidate=as_candidate, scope=scope, assessments=scopes)
    results: dict[str, list[str]] = {}
    for skill, result_id in evidence:
        if result_id not in hidden.results:
            results.setdefault(skill, []).append(result_id)
    standings: dict[str, tuple[SkillRecord, SkillRecord]] = {}
    for row in rows:
        if row.scope in hidden.assessments:
            continue
        latest = SkillRecord(score=row.score, verdict=row.verdict, at=row.at, result_id=row.result_id)
        best = SkillRecord(score=row.best, verdict=row.best_verdict, at=row.best_at, result_id=row.best_result_id)
        if row.skill in standings:  # the same skill in several scopes: the newest latest, the first best
            was_latest, was_best = standings[row.skill]
            latest = latest if latest.at >= was_latest.at else was_latest
            earlier_equal = best.score == was_best.score and best.at < was_best.at
            best = best if best.score > was_best.score or earlier_equal else was_best
        standings[row.skill] = (latest, best)
    return Profile(
        candidate=candidate,
        skills={
            skill: SkillProfile(latest=latest, best=best, results=results.get(skill, []))
            for skill, (latest, best) in sorted(standings.items())
        },
    )


def profile_from_evidence(candidate: str, evidence) -> Profile:
    """Latest and best per micro-skill from one candidate's evidence rows, oldest first."""
    skills: dict[str, dict[str, Any]] = {}
    for row in evidence:
        record = SkillRecord(score=row.score, verdict=row.verdict, at=row.at, result_id=row.result_id)
        entry = skills.setdefault(row.skill, {"latest": record, "best": record, "results": []})
        entry["latest"] = record
        if record.score > entry["best"].score:
            entry["best"] = record
        entry["results"].append(row.result_id)
    return Profile(candidate=candidate, skills={k: SkillProfile(**v) for k, v in sorted(skills.items())})


@router.get("/profile", response_model=Profile)
def my_profile(session: SessionDep, person: PersonDep) -> Profile:
    return build_profile(session, person.subject, as_candidate=True)


@router.get("/candidates/{candidate}/profile", response_model=Profile)
def candidate_profile(candidate: Annotated[str, Path(max_length=256)], session: SessionDep, staff: StaffDep) -> Profile:
    """A candidate's skills as staff read them: practice work, and the assessments of the cohorts they staff."""
    return build_profile(session, candidate, scope=cohorts.work_scope(session, staff))
