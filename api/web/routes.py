"""The pages. Each handler decodes, calls the service or storage functions the JSON API uses, and renders.

Rules live elsewhere: who may see a submission (``api.routes.submissions``),
what a candidate may read of a result (the stored candidate view), how a
submission is accepted and a pack published, how a signature verifies
(``engine.signing``). Nothing here decides them a second time.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import AsyncGenerator, Callable, Collection, Coroutine
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.routing import APIRoute
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from api import cohorts, storage
from api import credentials as credentials_api
from api.deps import ServiceDep, SessionDep
from api.errors import TooManyRequests
from api.routes import authoring as authoring_api
from api.routes import catalogue as catalogue_api
from api.routes import submissions as submissions_api
from api.routes._uploads import read_body
from api.tables import PackState, RunState
from api.web import render
from api.web.assets import CACHE_FOREVER
from api.web.session import (
    COOKIE,
    PRE_COOKIE,
    SESSION_LIFETIME,
    AuthorUser,
    BadForm,
    MaybeUser,
    SignInRequired,
    StaffUser,
    UserDep,
    WebUser,
    check_csrf,
    secure_cookies,
)
from engine import archives, openbadges, packs, public_tests, results, signing
from engine.errors import Conflict, NotFound, PackError, RunnerError, SubmissionRejected, TaskTrialError
from engine.models import Task
from engine.trees import from_mapping

#: The navigation, in one place: (label, path, who sees it). Cohort pages add their entry here.
NAV: list[tuple[str, str, str]] = [
    ("Tasks", "/tasks", "everyone"),
    ("Profile", "/profile", "everyone"),
    ("Packs", "/author/packs", "authors"),
    ("Readiness", "/review/readiness", "staff"),
    ("Assessments", "/assessments", "everyone"),
    ("Cohorts", "/cohorts", "authors"),
    ("Reviews", "/reviews", "authors"),
    ("Verify a result", "/verify", "public"),
]
STATES = [RunState.QUEUED.value, RunState.RUNNING.value, RunState.GRADING.value, RunState.DONE.value]
STARTER_TEXT_CAP = 256 * 1024  # starter files larger than this are not opened in the editor
PAGE_SIZE = 48  # tasks per catalogue page: keeps a page small whatever the catalogue's size
READINESS_PAGE_SIZE = 50  # candidates per readiness page: a page costs the same whatever the number of candidates


class PageRoute(APIRoute):
    """Errors on pages become pages: sign-in redirects, a 404 page for anything not visible, a 403 for stale forms."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return see_other(request, f"/signin?next={quote(request.url.path)}")
            except BadForm as exc:
                return error_page(request, 403, "Form refused", str(exc))
            except NotFound:
                return error_page(request, 404, "Not found", "There is nothing here, or it is not yours to see.")
            except TooManyRequests as exc:  # the API's admission and stream limits, as a page
                response = error_page(request, 429, "Too many requests", str(exc))
                response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
                return response
            except HTTPException as exc:
                if exc.status_code in (403, 404):
                    return error_page(request, 404 if exc.status_code == 404 else 403, "Not allowed", str(exc.detail))
                raise

        return handle


router = APIRouter(route_class=PageRoute, include_in_schema=False)


# -- rendering ---------------------------------------------------------------


def page(request: Request, template: str, user: WebUser | None, status: int = 200, **context: Any) -> HTMLResponse:
    env = request.app.state.web_templates
    nav = [(label, path) for label, path, who in NAV if _sees(user, who)]
    body = env.get_template(template).render(request=request, user=user, nav=nav, path=request.url.path, **context)
    response = HTMLResponse(body, status_code=status)
    response.headers.update(render.SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-store" if user else "no-cache"
    return response


def see_other(request: Request, path: str) -> RedirectResponse:
    """A 303 to ``path``, one of this app's own paths (``/tasks``), below the site's root (``settings.site_root``)."""
    return RedirectResponse(request.app.state.web_root + path, status_code=303)


def _sees(user: WebUser | None, who: str) -> bool:
    if who == "public":
        return True
    if user is None:
        return False
    return (
        who == "everyone"
        or (who == "staff" and user.is_staff())
        or (who == "authors" and (user.is_author() or user.is_staff()))
    )


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return page(request, "error.html", None, status=status, title=title, message=message)


@router.get("/static/{name:path}")
def static(name: str, request: Request) -> Response:
    asset = request.app.state.web_assets.by_path.get(name)
    if asset is None:
        raise NotFound(f"no static file {name!r}")
    headers = {"Cache-Control": CACHE_FOREVER, "X-Content-Type-Options": "nosniff", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


# -- sign in and out -------------------------------------------------------------


@router.get("/")
def home(request: Request, user: MaybeUser) -> RedirectResponse:
    return see_other(request, "/tasks" if user else "/signin")


def _pre_token(request: Request) -> tuple[str, bool]:
    from api.auth import new_token

    existing = request.cookies.get(PRE_COOKIE)
    return (existing, False) if existing else (new_token(), True)


def _with_pre_cookie(response: Response, request: Request, service, token: str, fresh: bool) -> Response:
    if fresh:
        response.set_cookie(
            PRE_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            path=request.app.state.web_root + "/signin",
            secure=secure_cookies(request, service.settings.public_url),
        )
    return response


@router.get("/signin")
def signin_form(request: Request, service: ServiceDep, user: MaybeUser, next: str = "/tasks") -> Response:
    token, fresh = _pre_token(request)
    response = page(request, "signin.html", user, pre=token, next=_safe_next(next), problem=None)
    return _with_pre_cookie(response, request, service, token, fresh)


@router.post("/signin")
async def signin_with_token(request: Request, service: ServiceDep) -> Response:
    form = await request.form()
    check_csrf(request.cookies.get(PRE_COOKIE, ""), form.get("pre"))
    secret = form.get("token")
    principal = service.principal(secret.strip()) if isinstance(secret, str) and secret.strip() else None
    if principal is None or principal.role.value == "worker":
        return page(
            request,
            "signin.html",
            None,
            status=401,
            pre=request.cookies.get(PRE_COOKIE),
            next=_safe_next(str(form.get("next", "/tasks"))),
            problem="That token is unknown, revoked or expired. Ask for a new sign-in link.",
        )
    return _open_session(request, service, principal.token_id, _safe_next(str(form.get("next", "/tasks"))))


@router.get("/signin/{code}")
def signin_link(code: str, request: Request, service: ServiceDep) -> Response:
    """A confirm button rather than signing in on GET: link scanners in mail clients must not spend the link."""
    token, fresh = _pre_token(request)
    response = page(request, "signin_link.html", None, code=code, pre=token)
    return _with_pre_cookie(response, request, service, token, fresh)


@router.post("/signin/{code}")
async def signin_link_confirm(code: str, request: Request, service: ServiceDep, session: SessionDep) -> Response:
    form = await request.form()
    check_csrf(request.cookies.get(PRE_COOKIE, ""), form.get("pre"))
    token = storage.redeem_sign_in_link(session=session, code=code)
    if token is None:
        return page(
            request,
            "signin.html",
            None,
            status=401,
            pre=request.cookies.get(PRE_COOKIE),
            next="/tasks",
            problem="This sign-in link was already used, has expired, or was revoked. Ask for a new one.",
        )
    return _open_session(request, service, token.id, "/tasks")


def _open_session(request: Request, service, token_id: str, target: str) -> Response:
    with service.session() as session:
        secret, _ = storage.create_web_session(session=session, token_id=token_id, lifetime=SESSION_LIFETIME)
    response = see_other(request, target)
    response.set_cookie(
        COOKIE,
        secret,
        httponly=True,
        samesite="lax",
        path=request.app.state.web_root + "/",
        max_age=int(SESSION_LIFETIME.total_seconds()),
        secure=secure_cookies(request, service.settings.public_url),
    )
    response.delete_cookie(PRE_COOKIE, path=request.app.state.web_root + "/signin")
    return response


def _safe_next(target: str) -> str:
    """Only a path on this site: never ``//elsewhere`` or a full URL (no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/tasks"


@router.post("/signout")
async def signout(request: Request, user: UserDep, session: SessionDep) -> Response:
    form = await request.form()
    check_csrf(user.csrf, form.get("csrf"))
    storage.end_web_session(session=session, secret=request.cookies.get(COOKIE, ""))
    response = see_other(request, "/signin")
    response.delete_cookie(COOKIE, path=request.app.state.web_root + "/")
    return response


# -- candidate: catalogue, task, submit ------------------------------------------


def filter_tasks(tasks: list[Task], *, q: str, skill: str, difficulty: str, environment: str, pack: str) -> list[Task]:
    words = q.lower().split()

    def matches(task: Task) -> bool:
        text = " ".join((task.id, task.title, task.summary, " ".join(task.micro_skills))).lower()
        return (
            all(w in text for w in words)
            and (not skill or skill in task.micro_skills)
            and (not difficulty or task.difficulty.value == difficulty)
            and (not environment or task.environment == environment)
            and (not pack or task.pack_id == pack)
        )

    return [t for t in tasks if matches(t)]


@router.get("/tasks")
def catalogue_page(
    request: Request,
    service: ServiceDep,
    session: SessionDep,
    user: UserDep,
    q: str = "",
    skill: str = "",
    difficulty: str = "",
    environment: str = "",
    pack: str = "",
    page_number: Annotated[int, Query(alias="page")] = 1,
) -> Response:
    every = [t for p in service.pack_store.packs(service.pack_state(session)) for t in p.tasks]
    shown = filter_tasks(every, q=q, skill=skill, difficulty=difficulty, environment=environment, pack=pack)
    best = storage.best_results(session=session, candidate=user.subject, hidden=withheld(session, user.subject))
    options = {
        "skill": sorted({s for t in every for s in t.micro_skills}),
        "difficulty": sorted({t.difficulty.value for t in every}),
        "environment": sorted({t.environment for t in every}),
        "pack": sorted({t.pack_id for t in every}),
    }
    chosen = {"q": q, "skill": skill, "difficulty": difficulty, "environment": environment, "pack": pack}
    pages = max(1, -(-len(shown) // PAGE_SIZE))
    number = max(1, min(page_number, pages))
    link = lambda n: "/tasks?" + urlencode({**{k: v for k, v in chosen.items() if v}, "page": n})  # noqa: E731
    return page(
        request,
        "catalogue.html",
        user,
        tasks=shown[(number - 1) * PAGE_SIZE : number * PAGE_SIZE],
        matched=len(shown),
        total=len(every),
        best=best,
        options=options,
        chosen=chosen,
        pager={
            "number": number,
            "pages": pages,
            "previous": link(number - 1) if number > 1 else None,
            "next": link(number + 1) if number < pages else None,
        },
    )


def starter_texts(task: Task) -> dict[str, str]:
    """The starter's text files for the editor (binary or large files stay download-only)."""
    texts = {}
    for path, data in sorted(packs.starter_files(task).items()):
        if len(data) > STARTER_TEXT_CAP:
            continue
        try:
            texts[path] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return texts


@router.get("/tasks/{pack_id}/{task_id}")
def task_page(
    pack_id: str, task_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    return task_view(request, session, user, live_task(service, session, pack_id, task_id))


def live_task(service, session, pack_id: str, task_id: str) -> Task:
    """The task as candidates meet it: its latest live version (checking, rejected or retired ones are as if absent)."""
    return service.pack_store.task(pack_id, task_id, None, service.pack_state(session))


def task_view(
    request: Request,
    session,
    user: WebUser,
    task: Task,
    *,
    status: int = 200,
    problem: str | None = None,
    public_run: dict | None = None,
    public_problem: str | None = None,
) -> Response:
    attempts = storage.task_results(
        session=session,
        candidate=user.subject,
        pack_id=task.pack_id,
        task_id=task.id,
        hidden=withheld(session, user.subject),
    )
    files = starter_texts(task)
    return page(
        request,
        "task.html",
        user,
        status=status,
        task=task,
        attempts=attempts,
        starter=files,
        starter_json=json.dumps(
            {"key": f"tasktrial-draft:{task.pack_id}/{task.id}@{task.digest}", "files": files}
        ).replace("<", "\\u003c"),
        problem=problem,
        public_run=public_run,
        public_problem=public_problem,
        has_public_tests=bool(public_tests.public_test_files(task)),
    )


@router.get("/tasks/{pack_id}/{task_id}/starter.zip")
def starter_zip(pack_id: str, task_id: str, service: ServiceDep, session: SessionDep, user: UserDep) -> Response:
    return catalogue_api.starter_zip(pack_id, task_id, service, session, user.principal)


@router.get("/tasks/{pack_id}/{task_id}/starter.tar.gz")
def starter_tar_gz(pack_id: str, task_id: str, service: ServiceDep, session: SessionDep, user: UserDep) -> Response:
    return catalogue_api.starter_tar_gz(pack_id, task_id, service, session, user.principal)


@router.post("/tasks/{pack_id}/{task_id}/submit")
async def submit(
    pack_id: str, task_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    task = live_task(service, session, pack_id, task_id)
    cap = service.settings.max_upload_bytes
    try:
        await submissions_api.admit(service, user.principal)  # before the body, as the API
        await read_body(request, cap)
        async with request.form(max_files=archives.ArchiveCaps().max_files) as form:
            check_csrf(user.csrf, form.get("csrf"))
            files = await _uploaded_files(form, cap)
        submission, _ = await submissions_api.accept_submission(
            service, user.principal, f"{task.pack_id}/{task.id}", None, files
        )
    except SubmissionRejected as exc:
        return task_view(request, session, user, task, status=422, problem=str(exc))
    except Conflict as exc:  # the version was retired since the page was read
        return task_view(request, session, user, task, status=409, problem=str(exc))
    except TooManyRequests as exc:
        response = task_view(request, session, user, task, status=429, problem=str(exc))
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response
    return see_other(request, f"/submissions/{submission.id}")


@router.post("/tasks/{pack_id}/{task_id}/public-tests")
async def run_public_tests(
    pack_id: str, task_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    """The task's public tests over the posted files (the API's admission and ``AppService.run_public_tests``):
    output only, never a result. The editor's button gets the fragment it shows, a refusal included."""
    task = live_task(service, session, pack_id, task_id)
    if not public_tests.public_test_files(task):
        raise NotFound(f"task {pack_id}/{task_id} has no public tests")
    cap = service.settings.max_upload_bytes
    try:
        await submissions_api.admit_public_tests(service, user.principal)  # before the body, as the API
        await read_body(request, cap)
        async with request.form(max_files=archives.ArchiveCaps().max_files) as form:
            check_csrf(user.csrf, form.get("csrf"))
            files = await _uploaded_files(form, cap)
    except SubmissionRejected as exc:
        return _public_tests_answer(request, session, user, task, status=422, problem=str(exc))
    except TooManyRequests as exc:
        response = _public_tests_answer(request, session, user, task, status=429, problem=str(exc))
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response
    try:
        ran = await service.public_tests(task, files)
    except RunnerError as exc:  # no sandbox engine, or no worker answered in time: say so where the output goes
        return _public_tests_answer(request, session, user, task, status=503, problem=str(exc))
    if ran is None:  # checked above; the service says so too
        raise NotFound(f"task {pack_id}/{task_id} has no public tests")
    return _public_tests_answer(request, session, user, task, run=ran.to_document())


def _public_tests_answer(
    request: Request,
    session,
    user: WebUser,
    task: Task,
    *,
    status: int = 200,
    run: dict | None = None,
    problem: str | None = None,
) -> Response:
    """The run (or why it did not run): as the fragment the editor swaps in, or within the task page."""
    if request.headers.get("hx-request") or request.headers.get("x-requested-with") == "fetch":
        env = request.app.state.web_templates
        response = HTMLResponse(
            env.get_template("_public_tests.html").render(run=run, problem=problem), status_code=status
        )
        response.headers.update(render.SECURITY_HEADERS)
        return response
    return task_view(request, session, user, task, status=status, public_run=run, public_problem=problem)


async def _uploaded_files(form, cap: int) -> dict[str, bytes]:
    """An archive, a folder (its top folder name dropped) or single files; checked by the engine's rules."""
    archive = form.get("archive")
    if archive is not None and not isinstance(archive, str) and archive.filename:
        return archives.extract(await archive.read(), caps=archives.ArchiveCaps(max_archive_bytes=cap))
    mapping: dict[str, bytes] = {}
    for field, strip_top in (("files", False), ("folder", True)):
        for upload in form.getlist(field):
            if isinstance(upload, str) or not upload.filename:
                continue
            name = upload.filename
            if strip_top and "/" in name:
                name = name.split("/", 1)[1]
            mapping[name] = await upload.read()
    if not mapping:
        raise SubmissionRejected("nothing to submit: choose files, a folder or an archive (.zip or .tar.gz)")
    return from_mapping(mapping)


# -- candidate: progress and results --------------------------------------------------


@router.get("/submissions/{submission_id}")
def submission_page(submission_id: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    submission = submissions_api.visible_submission(session, user.principal, submission_id)
    result = storage.latest_result(session=session, submission_id=submission.id)
    if result is not None and submissions_api.reveals_result(session, user.principal, submission):
        return see_other(request, f"/results/{result.id}")
    run = storage.latest_run(session=session, submission_id=submission.id)
    position = storage.queue_position(session=session, run_id=run.id) if run else None
    return page(
        request,
        "progress.html",
        user,
        submission=submission,
        state=run.state.value if run else "queued",
        states=STATES,
        position=position,
    )


@router.get("/submissions/{submission_id}/events")
async def submission_events(
    submission_id: str,
    request: Request,
    service: ServiceDep,
    user: UserDep,
    last_event_id: Annotated[str | None, Header(max_length=20, pattern=r"^[0-9]+$")] = None,
) -> StreamingResponse:
    """The API's event stream (its caps, resumption and shutdown notice), each event as the HTML fragment htmx swaps in."""
    with service.session() as session:  # closed before the stream starts, as the API's
        submission = submissions_api.visible_submission(session, user.principal, submission_id)
        run = storage.latest_run(session=session, submission_id=submission.id)
        reveal = submissions_api.reveals_result(session, user.principal, submission)
    if run is None:
        raise NotFound(f"submission {submission_id!r} has no run")
    release = service.streams.acquire(user.principal.token_id)
    env = request.app.state.web_templates
    stream = submissions_api._event_stream(
        service, run.id, submission.id, 1800.0, int(last_event_id) if last_event_id else 0, reveal
    )
    return submissions_api.EventStreamResponse(
        _as_html_events(stream, env, service, run.id),
        release,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _as_html_events(stream: AsyncGenerator[str, None], env, service, run_id: str) -> AsyncGenerator[str, None]:
    template = env.get_template("_progress.html")
    try:
        async for chunk in stream:
            lines = chunk.strip().splitlines()
            fields = dict(line.split(": ", 1) for line in lines if ": " in line and not line.startswith(":"))
            if "data" not in fields or fields.get("event") not in STATES:
                yield chunk  # retry, keep-alive, timeout and reconnect pass through as the API sends them
                continue
            data = json.loads(fields["data"])
            state = data.get("state", fields["event"])
            position = None
            if state == RunState.QUEUED.value:
                position = await run_in_threadpool(_queue_position, service, run_id)
            fragment = template.render(state=state, states=STATES, data=data, position=position)
            name = "done" if state == RunState.DONE.value else "state"
            # The event's id passes through: the browser's EventSource resumes from it (Last-Event-ID).
            yield (
                (f"id: {fields['id']}\n" if "id" in fields else "")
                + f"event: {name}\n"
                + "".join(f"data: {line}\n" for line in fragment.splitlines())
                + "\n"
            )
    finally:
        await stream.aclose()


def _queue_position(service, run_id: str) -> int | None:
    with service.session() as session:
        return storage.queue_position(session=session, run_id=run_id)


def _viewer_document(session, user: WebUser, result_id: str) -> tuple[dict, Any]:
    """The result document this viewer may read: the same stored view the API returns to them."""
    result = storage.get_result(session=session, result_id=result_id)
    if result is None:
        raise NotFound(f"unknown result {result_id!r}")
    submission = submissions_api.visible_submission(session, user.principal, result.submission_id)
    return result.document[submissions_api.result_view(session, user.principal, submission)], submission


@router.get("/results/{result_id}")
def result_page(result_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep) -> Response:
    document, submission = _viewer_document(session, user, result_id)
    try:
        task = service.pack_store.task(submission.pack_id, submission.task_id, submission.pack_version)
    except NotFound:
        task = None
    try:
        files = render.submitted_files_view(submissions_api.submitted_files(session, submission))
    except SubmissionRejected:
        files = None
    return page(
        request,
        "result.html",
        user,
        doc=document,
        submission=submission,
        task=task,
        files=files,
        limits_words=render.limits_in_words(document.get("runner", {})),
    )


@router.get("/results/{result_id}/download")
def result_download(result_id: str, session: SessionDep, user: UserDep) -> Response:
    document, _ = _viewer_document(session, user, result_id)
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="result-{result_id}.json"'},
    )


@router.get("/tasks/{pack_id}/{task_id}/history")
def history_page(
    pack_id: str, task_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    task = live_task(service, session, pack_id, task_id)
    attempts = storage.task_results(
        session=session,
        candidate=user.subject,
        pack_id=pack_id,
        task_id=task_id,
        hidden=withheld(session, user.subject),
    )
    chart = render.score_chart([(a.created_at, a.score) for a in attempts], title=f"Score per attempt at {task.title}")
    return page(request, "history.html", user, task=task, attempts=attempts, chart=chart)


def withheld(session, candidate: str) -> set[str]:
    """The candidate's results an assessment still withholds from them: their own pages leave these out, as the API."""
    return cohorts.withheld_results(session, candidate)


def _profile_context(
    session, candidate: str, *, as_candidate: bool = False, hidden: set[str] | None = None
) -> dict[str, Any]:
    """A profile page's content without ``hidden`` results; ``as_candidate``: what the candidate reads
    themselves (withheld results left out too)."""
    hidden = (hidden or set()) | (withheld(session, candidate) if as_candidate else set())
    evidence = [
        row
        for row in storage.skill_evidence(session=session, candidate=candidate)  # read once: the
        if row.result_id not in hidden
    ]  # profile and the chart
    profile = submissions_api.profile_from_evidence(candidate, evidence)
    # Readiness over time: the share of this candidate's micro-skills whose latest evidence is ready.
    latest: dict[str, bool] = {}
    points = []
    for row in evidence:
        latest[row.skill] = row.verdict == "ready"
        points.append((row.at, 100.0 * sum(latest.values()) / len(latest)))
    chart = render.score_chart(points, title=f"Share of {candidate}'s micro-skills ready, over time")
    results = storage.candidate_results(session=session, candidate=candidate, hidden=hidden)
    return {"profile": profile, "chart": chart, "results": results, "candidate": candidate}


@router.get("/profile")
def profile_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    return page(request, "profile.html", user, **_profile_context(session, user.subject, as_candidate=True))


# -- public verification -------------------------------------------------------------


@router.get("/verify")
def verify_form(request: Request, user: MaybeUser) -> Response:
    return page(request, "verify.html", user, outcome=None, problem=None, text="", subject="", salt="")


@router.post("/verify")
async def verify_submit(request: Request, service: ServiceDep, user: MaybeUser) -> Response:
    """Anyone may check a result against this service's keys: the same ``engine.signing.verify`` as ``tasktrial verify``."""
    await read_body(request, service.settings.max_upload_bytes)
    async with request.form() as form:
        text = form.get("document")
        upload = form.get("file")
        subject, salt = (str(form.get(name) or "").strip()[:200] for name in ("subject", "salt"))
        raw = (
            (await upload.read())
            if upload is not None and not isinstance(upload, str) and upload.filename
            else (text or "").encode("utf-8")
            if isinstance(text, str)
            else b""
        )
    shown = raw.decode("utf-8", "replace")
    try:
        document = json.loads(raw)
    except ValueError as exc:
        return page(
            request,
            "verify.html",
            user,
            status=422,
            outcome=None,
            text=shown,
            subject=subject,
            salt=salt,
            problem=f"That is not valid JSON: {exc}",
        )
    if not isinstance(document, dict):
        return page(
            request,
            "verify.html",
            user,
            status=422,
            outcome=None,
            text=shown,
            subject=subject,
            salt=salt,
            problem="That is not a result document: expected a JSON object.",
        )
    if "proof" in document and "@context" in document:  # an Open Badges 3.0 credential, as `tasktrial verify` tells
        report = await run_in_threadpool(_check_credential, service, document)  # JSON-LD canonicalisation: CPU
        return page(
            request,
            "verify.html",
            user,
            outcome=None,
            credential=report,
            problem=None,
            text=shown,
            subject=subject,
            salt=salt,
        )
    verification = signing.verify(document, service.jwks())  # every published key, with its status
    problems = list(verification.problems)
    bound = None
    if verification.ok and subject and salt:
        problems += results.subject_problems(document, subject=subject, salt=salt)
        bound = subject if not problems else None
    outcome = {"ok": not problems, "problems": problems, "kid": verification.kid, "bound": bound}
    return page(
        request,
        "verify.html",
        user,
        outcome=outcome,
        doc=document,
        problem=None,
        text=shown,
        subject=subject,
        salt=salt,
    )


def _check_credential(service, credential: dict) -> openbadges.CredentialReport:
    """``engine.openbadges.check`` as ``tasktrial verify CREDENTIAL.json`` runs it, against this service: its
    published keys, and its own revocation list (made here rather than fetched from ourselves)."""
    base = service.credentials.public_url.rstrip("/")

    def status_list(url: str) -> Any:
        return service.credentials.status_list() if url == base + credentials_api.STATUS_PATH else None

    return openbadges.check(credential, service_url=base, jwks=service.jwks(), status_list=status_list)


# -- authors: packs ------------------------------------------------------------------


def _packs_context(service, session, user: WebUser) -> dict[str, Any]:
    """Live and retired versions for every author; checking and rejected ones only to their owner (and admins)."""
    state = service.pack_state(session)
    records = {(v.pack_id, v.version): v for v in storage.list_pack_versions(session=session, owner=None)}
    rows = []
    for pack in service.pack_store.all_versions():
        record = records.get((pack.id, pack.version))
        mine = record is not None and authoring_api.manages(user.principal, record)
        if state(pack) in (PackState.LIVE.value, PackState.RETIRED.value) or mine:
            rows.append(
                {
                    "pack": pack,
                    "builtin": service.pack_store.is_builtin(pack),
                    "record": record,
                    "state": state(pack),
                    "mine": mine,
                }
            )
    return {"rows": rows}


@router.get("/author/packs")
def packs_page(request: Request, service: ServiceDep, session: SessionDep, user: AuthorUser) -> Response:
    return page(request, "packs.html", user, report=None, uploaded=None, **_packs_context(service, session, user))


@router.post("/author/packs")
async def packs_upload(request: Request, service: ServiceDep, session: SessionDep, user: AuthorUser) -> Response:
    """Publish a pack through the API's own ``publish_pack``; a refused pack shows every problem, file and field."""
    await read_body(request, service.settings.max_upload_bytes)
    status, report, uploaded = 200, None, None
    try:
        async with request.form(max_files=archives.ArchiveCaps().max_files) as form:
            check_csrf(user.csrf, form.get("csrf"))
            upload = form.get("archive")
            data = await upload.read() if upload is not None and not isinstance(upload, str) else b""
            if not data and form.getlist("folder"):
                # A folder: its files under the engine's path rules, as the archive the API would receive.
                data = archives.make_zip(await _uploaded_files(form, service.settings.max_upload_bytes))
        if not data:
            raise SubmissionRejected("choose a pack archive (.zip or .tar.gz) or a pack folder to upload")
        pack, digest, created, row = await catalogue_api.publish_pack(
            service=service, session=session, author=user.principal, data=data
        )
        uploaded = {"pack": pack, "digest": digest, "created": created, "state": row.state}
    except PackError as exc:
        status, report = 422, {"message": str(exc), "problems": exc.problems}
    except TaskTrialError as exc:
        status, report = 409 if exc.__class__.__name__ == "PackConflict" else 422, {"message": str(exc), "problems": []}
    return page(
        request,
        "packs.html",
        user,
        status=status,
        report=report,
        uploaded=uploaded,
        **_packs_context(service, session, user),
    )


@router.get("/author/packs/{pack_id}/{version}")
def version_page(
    pack_id: str, version: str, request: Request, service: ServiceDep, session: SessionDep, user: AuthorUser
) -> Response:
    """An uploaded version's state and the workers' check report: its author's (or an admin's) only, as in the API."""
    row = authoring_api.owned_version(session, user.principal, pack_id, version)
    return _version_view(request, service, user, row)


def _version_view(
    request: Request, service, user: WebUser, row, *, status: int = 200, problem: str | None = None
) -> Response:
    try:
        pack = service.pack_store.pack(row.pack_id, row.version)
    except NotFound:
        pack = None
    return page(
        request, "version.html", user, status=status, row=row, pack=pack, report=row.report or None, problem=problem
    )


@router.post("/author/packs/{pack_id}/{version}/retire")
async def retire_version(
    pack_id: str, version: str, request: Request, service: ServiceDep, session: SessionDep, user: AuthorUser
) -> Response:
    """Retire through the API's own ``retire``: no new submissions; results stay valid."""
    async with request.form() as form:
        check_csrf(user.csrf, form.get("csrf"))
    try:
        authoring_api.retire(pack_id, version, session, user.principal, service)
    except Conflict as exc:
        row = authoring_api.owned_version(session, user.principal, pack_id, version)
        return _version_view(request, service, user, row, status=409, problem=str(exc))
    return see_other(request, f"/author/packs/{quote(pack_id)}/{quote(version)}")


@router.get("/author/packs/{pack_id}/{version}/{task_id}")
def task_preview(
    pack_id: str,
    version: str,
    task_id: str,
    request: Request,
    service: ServiceDep,
    session: SessionDep,
    user: AuthorUser,
) -> Response:
    """What a candidate will see, plus the grader kind: never a grader or solution file. A version not
    yet live (or rejected) is previewed by its author and admins only."""
    task = service.pack_store.task(pack_id, task_id, version)
    if service.pack_state(session)(service.pack_store.pack(pack_id, version)) not in (
        PackState.LIVE.value,
        PackState.RETIRED.value,
    ):
        authoring_api.owned_version(session, user.principal, pack_id, version)
    return page(request, "preview.html", user, task=task, starter=starter_texts(task))


# -- reviewers: readiness ----------------------------------------------------------------


def _staff_scope(session, user: WebUser) -> Collection[str] | None:
    """The assessments whose work ``user`` may see in the readiness table (None: every one; practice always)."""
    return cohorts.work_scope(session, user.principal).assessments


@router.get("/review/readiness")
def readiness_page(
    request: Request,
    session: SessionDep,
    user: StaffUser,
    sort: str = "candidate",
    page_number: Annotated[int, Query(alias="page")] = 1,
) -> Response:
    """Candidates × micro-skills, a page of candidates at a time: the storage reads only this page's cells."""
    ready_in = request.query_params.getlist("ready")
    scope = _staff_scope(session, user)
    number = max(1, page_number)
    table = storage.readiness_table(
        session=session,
        ready_in=ready_in,
        sort=sort,
        assessments=scope,
        offset=(number - 1) * READINESS_PAGE_SIZE,
        limit=READINESS_PAGE_SIZE,
    )
    pages = max(1, -(-table.matched // READINESS_PAGE_SIZE))
    if number > pages:  # past the end (the filter narrowed): the last page
        number = pages
        table = storage.readiness_table(
            session=session,
            ready_in=ready_in,
            sort=sort,
            assessments=scope,
            offset=(number - 1) * READINESS_PAGE_SIZE,
            limit=READINESS_PAGE_SIZE,
        )
    # Each distinct cell (score, verdict) rendered once here, so the template only places them.
    shown: dict[tuple[float, str], Markup] = {}
    rows = [
        (candidate, [_readiness_cell(table.cells[candidate].get(s), shown) for s in table.skills])
        for candidate in table.candidates
    ]
    query = urlencode([("ready", s) for s in ready_in] + [("sort", sort)])
    link = lambda n: f"/review/readiness?{query}&page={n}"  # noqa: E731
    return page(
        request,
        "readiness.html",
        user,
        skills=table.skills,
        matched=table.matched,
        rows=rows,
        ready_in=ready_in,
        sort=sort,
        query=query,
        ready_query=urlencode([("ready", s) for s in ready_in]),
        pager={
            "number": number,
            "pages": pages,
            "previous": link(number - 1) if number > 1 else None,
            "next": link(number + 1) if number < pages else None,
        },
    )


def _readiness_cell(cell: tuple[float, str, float] | None, shown: dict[tuple[float, str], Markup]) -> Markup | str:
    if cell is None:
        return "—"
    key = cell[:2]
    if key not in shown:
        shown[key] = Markup(f"{key[0]:g} ") + render.verdict_badge(key[1])  # noqa: S704 - a number formatted here
    return shown[key]


@router.get("/review/readiness.csv")
def readiness_csv(request: Request, session: SessionDep, user: StaffUser, sort: str = "candidate") -> Response:
    table = storage.readiness_table(
        session=session,
        ready_in=request.query_params.getlist("ready"),
        sort=sort,
        assessments=_staff_scope(session, user),
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["candidate", *table.skills])
    for candidate in table.candidates:
        cells = table.cells[candidate]
        writer.writerow(
            [_csv_safe(candidate), *(f"{cells[s][0]:g} {cells[s][1]}" if s in cells else "" for s in table.skills)]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="readiness.csv"'},
    )


def _csv_safe(value: str) -> str:
    """Keep spreadsheet programs from running a cell as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@router.get("/review/candidates/{candidate}")
def candidate_page(candidate: str, request: Request, session: SessionDep, user: StaffUser) -> Response:
    hidden = cohorts.out_of_scope_results(session, candidate, cohorts.work_scope(session, user.principal))
    return page(request, "candidate.html", user, **_profile_context(session, candidate, hidden=hidden))
