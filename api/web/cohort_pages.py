"""Cohort pages: organisers, staff, reviewers and members in the browser.

Each handler decodes the form, calls the function the JSON API route calls (often the route
function itself, with the signed-in principal) and renders. Who may see what is decided by
``api.cohorts`` (another cohort's ids answer 404), the assessment rules by ``engine.assessments``,
what a member reads of a result by ``api.routes.submissions.result_view``: nothing twice here.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from pydantic import ValidationError
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

from api import cohort_storage as store
from api import regrades, similarity, staff_views, storage
from api.cohorts import Standing, assessment_for, cohort_for, standing, window
from api.deps import ServiceDep, SessionDep
from api.errors import TooManyRequests
from api.routes import cohorts as cohorts_api
from api.routes import reviews as reviews_api
from api.routes import submissions as submissions_api
from api.routes._uploads import read_body
from api.tables import ReviewState, utcnow
from api.web import render
from api.web.routes import (
    PageRoute,
    _open_session,
    _pre_token,
    _uploaded_files,
    _with_pre_cookie,
    page,
    see_other,
)
from api.web.session import PRE_COOKIE, UserDep, WebUser, check_csrf
from api.webhooks import EVENTS as WEBHOOK_EVENTS
from engine import archives
from engine import assessments as rules
from engine.errors import Conflict, NotFound, SubmissionRejected, TaskTrialError
from engine.roster import RosterError

router = APIRouter(route_class=PageRoute, include_in_schema=False)

STATE_WORDS = {
    "not_started": "not started",
    "started": "started",
    "submitted": "submitted, not graded yet",
    "graded": "graded, not ready",
    "ready": "✓ ready",
}
MATRIX_BY = ("skills", "tasks")
#: Members per page on the staff tables: a page stays within its size budget whatever the cohort's size.
PAGE_SIZE = 50


def pager(total: int, number: int, link) -> tuple[int, int, dict[str, Any]]:
    """The slice ``[start, stop)`` of page ``number`` of ``total`` rows, and its pager (``link(n)``: page n's URL)."""
    pages = max(1, -(-total // PAGE_SIZE))
    number = max(1, min(number, pages))
    return (
        (number - 1) * PAGE_SIZE,
        number * PAGE_SIZE,
        {
            "number": number,
            "pages": pages,
            "previous": link(number - 1) if number > 1 else None,
            "next": link(number + 1) if number < pages else None,
        },
    )


def paged(rows: list, number: int, link) -> tuple[list, dict[str, Any]]:
    start, stop, pages = pager(len(rows), number, link)
    return rows[start:stop], pages


def _page_number(request: Request) -> int:
    try:
        return int(request.query_params.get("page", "1"))
    except ValueError:
        return 1


def _organiser(user: WebUser) -> None:
    """Creating a cohort is for authors and admins, as ``AuthorDep`` has it in the API."""
    if not user.is_author():
        raise NotFound("this page is for organisers")


def _form_problems(exc: ValidationError) -> list[str]:
    """Pydantic's messages, each naming its field, as the API's 422 body does."""
    return [
        f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    ]


# -- invitations: a one-time link, like a sign-in link -------------------------------------


def invitation_url(service, secret: str) -> str:
    return f"{service.settings.public_url.rstrip('/')}/signin/join/{quote(secret)}"


@router.get("/signin/join/{secret}")
def join_form(secret: str, request: Request, service: ServiceDep) -> Response:
    """A confirm button rather than joining on GET: a mail client's link scanner must not spend the invitation."""
    token, fresh = _pre_token(request)
    response = page(request, "cohorts/join.html", None, secret=secret, pre=token, problem=None)
    return _with_pre_cookie(response, request, service, token, fresh)


@router.post("/signin/join/{secret}")
async def join(secret: str, request: Request, service: ServiceDep, session: SessionDep) -> Response:
    form = await request.form()
    check_csrf(request.cookies.get(PRE_COOKIE, ""), form.get("pre"))
    redeemed = store.redeem_invitation(session=session, secret=secret)
    if redeemed is None:
        return page(
            request,
            "cohorts/join.html",
            None,
            status=404,
            secret=secret,
            pre=request.cookies.get(PRE_COOKIE),
            problem="This invitation was already used or is unknown. Ask the organiser for a new one.",
        )
    _, token_secret = redeemed
    principal = service.principal(token_secret)
    if principal is None:  # issued just now: never expected
        raise NotFound("the invitation's token is unknown")
    return _open_session(request, service, principal.token_id, "/assessments")


# -- cohorts -----------------------------------------------------------------------------


@router.get("/cohorts")
def cohorts_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    listed = cohorts_api.list_cohorts(session, user.principal)
    rows = [c for c in listed.data if c.standing != "member"]
    if not rows and not user.is_author() and not user.is_staff():
        raise NotFound("no cohorts to run")
    return page(request, "cohorts/list.html", user, cohorts=rows, problem=None)


@router.post("/cohorts")
async def create_cohort(request: Request, session: SessionDep, user: UserDep) -> Response:
    _organiser(user)
    form = await request.form()
    check_csrf(user.csrf, form.get("csrf"))
    try:
        body = cohorts_api.CohortCreate(name=str(form.get("name") or "").strip())
    except ValidationError as exc:
        listed = [c for c in cohorts_api.list_cohorts(session, user.principal).data if c.standing != "member"]
        return page(
            request, "cohorts/list.html", user, status=422, cohorts=listed, problem="; ".join(_form_problems(exc))
        )
    made = cohorts_api.create_cohort(body, session, user.principal)
    return see_other(request, f"/cohorts/{made.id}")


def _cohort_view(
    request: Request, session, service, user: WebUser, cohort_id: str, *, status: int = 200, **extra: Any
) -> Response:
    cohort = cohort_for(session, user.principal, cohort_id, Standing.STAFF)
    level = standing(session, user.principal, cohort)
    number = _page_number(request)
    rows, total = store.member_page(
        session=session, cohort_id=cohort.id, offset=(max(1, number) - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    _, _, pages = pager(total, number, lambda n: f"/cohorts/{cohort.id}?page={n}")
    members = [
        cohorts_api.MemberPublic(**r.model_dump(include={"subject", "display_name", "email", "joined_at"}))
        for r in rows
    ]
    assessments = [
        cohorts_api.assessment_public(session, a, None)
        for a in store.list_assessments(session=session, cohort_ids=[cohort.id])
    ]
    context = {"import_problems": None, "invitations": None, "staff_problem": None, "roster_text": ""}
    context.update(extra)
    return page(
        request,
        "cohorts/cohort.html",
        user,
        status=status,
        cohort=cohort,
        members=members,
        member_count=total,
        pager=pages,
        staff=sorted(store.staff_of(session=session, cohort_id=cohort.id)),
        assessments=assessments,
        organiser=level is Standing.ORGANISER,
        **context,
    )


@router.get("/cohorts/{cohort_id}")
def cohort_page(cohort_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep) -> Response:
    return _cohort_view(request, session, service, user, cohort_id)


@router.post("/cohorts/{cohort_id}/members")
async def import_members(
    cohort_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    """The API's ``import_roster``: every bad row shown with its line, and nothing imported if any is bad."""
    cohort = cohort_for(session, user.principal, cohort_id, Standing.ORGANISER)
    await read_body(request, service.settings.max_upload_bytes)
    async with request.form() as form:
        check_csrf(user.csrf, form.get("csrf"))
        upload = form.get("roster")
        data = await upload.read() if upload is not None and not isinstance(upload, str) and upload.filename else b""
        text = str(form.get("roster_text") or "")
    if not data:
        data = text.encode("utf-8")
    try:
        if not data.strip():
            raise RosterError(["choose a CSV file or paste the member list"])
        invitations = cohorts_api.import_roster(session, cohort.id, data)
    except RosterError as exc:
        return _cohort_view(
            request, session, service, user, cohort_id, status=422, import_problems=exc.problems, roster_text=text
        )
    links = [(subject, invitation_url(service, secret), secret) for subject, secret in invitations]
    return _cohort_view(request, session, service, user, cohort_id, status=201, invitations=links)


@router.post("/cohorts/{cohort_id}/members/{subject}/invitation")
async def reinvite(
    cohort_id: str, subject: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    """A fresh one-time invitation link for one member (the API's ``reinvite``)."""
    cohort_for(session, user.principal, cohort_id, Standing.ORGANISER)
    form = await request.form()
    check_csrf(user.csrf, form.get("csrf"))
    made = cohorts_api.reinvite(cohort_id, subject, session, user.principal)
    return _cohort_view(
        request,
        session,
        service,
        user,
        cohort_id,
        status=201,
        invitations=[(made.subject, invitation_url(service, made.invitation), made.invitation)],
    )


@router.post("/cohorts/{cohort_id}/staff")
async def add_staff(
    cohort_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    cohort_for(session, user.principal, cohort_id, Standing.ORGANISER)
    form = await request.form()
    check_csrf(user.csrf, form.get("csrf"))
    try:
        body = cohorts_api.StaffAdd(subject=str(form.get("subject") or "").strip())
    except ValidationError as exc:
        return _cohort_view(
            request, session, service, user, cohort_id, status=422, staff_problem="; ".join(_form_problems(exc))
        )
    cohorts_api.add_staff(cohort_id, body, session, user.principal)
    return see_other(request, f"/cohorts/{cohort_id}")


# -- assessments: create ------------------------------------------------------------------------


ASSESSMENT_DEFAULTS = {
    "title": "",
    "tasks": "",
    "opens_at": "",
    "closes_at": "",
    "duration_minutes": "",
    "attempt_limit": "",
    "scoring": "best",
    "late": "refuse",
    "result_visibility": "always",
    "check_visibility": "always",
}


def _choices() -> dict[str, list[str]]:
    return {
        "scoring": [s.value for s in rules.Scoring],
        "late": [s.value for s in rules.LatePolicy],
        "visibility": [s.value for s in rules.Visibility],
    }


def _assessment_form(
    request: Request,
    session,
    service,
    user: WebUser,
    cohort,
    *,
    values: dict[str, str],
    problems: list[str] | None = None,
    status: int = 200,
) -> Response:
    live = sorted(f"{t.pack_id}/{t.id}" for p in service.pack_store.packs(service.pack_state(session)) for t in p.tasks)
    return page(
        request,
        "cohorts/assessment_form.html",
        user,
        status=status,
        cohort=cohort,
        values=values,
        problems=problems or [],
        choices=_choices(),
        live_tasks=live,
    )


@router.get("/cohorts/{cohort_id}/assessments/new")
def new_assessment(
    cohort_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    cohort = cohort_for(session, user.principal, cohort_id, Standing.ORGANISER)
    return _assessment_form(request, session, service, user, cohort, values=dict(ASSESSMENT_DEFAULTS))


def _utc(text: str) -> str:
    """A ``datetime-local`` value is read as UTC (the form says so); an explicit offset is kept."""
    text = text.strip()
    if text and "+" not in text[10:] and not text.endswith("Z") and "-" not in text[10:]:
        return text + "+00:00"
    return text


def _assessment_body(values: dict[str, str]) -> cohorts_api.AssessmentCreate:
    tasks: list[dict[str, str | None]] = []
    for line in values["tasks"].replace(",", "\n").splitlines():
        ref, _, version = line.strip().partition("@")
        if ref:
            tasks.append({"task": ref, "version": version or None})
    minutes = values["duration_minutes"].strip()
    duration: int | str | None = None
    if minutes:
        try:
            duration = round(float(minutes) * 60)
        except ValueError:
            duration = minutes  # pydantic names the field and the problem
    # model_validate: the form's strings, validated (and their problems named) by the API's own model
    return cohorts_api.AssessmentCreate.model_validate(
        {
            "title": values["title"].strip(),
            "tasks": tasks,
            "opens_at": _utc(values["opens_at"]),
            "closes_at": _utc(values["closes_at"]),
            "duration_seconds": duration,
            "attempt_limit": values["attempt_limit"].strip() or None,
            "scoring": values["scoring"],
            "late": values["late"],
            "result_visibility": values["result_visibility"],
            "check_visibility": values["check_visibility"],
        }
    )


@router.post("/cohorts/{cohort_id}/assessments")
async def create_assessment(
    cohort_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    """The API's ``create_assessment``; its 422s (window, tasks, fields) shown beside the form."""
    cohort = cohort_for(session, user.principal, cohort_id, Standing.ORGANISER)
    form = await request.form()
    check_csrf(user.csrf, form.get("csrf"))
    values = {k: str(form.get(k) or default) for k, default in ASSESSMENT_DEFAULTS.items()}
    try:
        made = cohorts_api.create_assessment(cohort_id, _assessment_body(values), session, service, user.principal)
    except ValidationError as exc:
        return _assessment_form(
            request, session, service, user, cohort, values=values, status=422, problems=_form_problems(exc)
        )
    except HTTPException as exc:
        return _assessment_form(
            request, session, service, user, cohort, values=values, status=422, problems=[str(exc.detail)]
        )
    except TaskTrialError as exc:  # an unknown or retired task: named in the message
        return _assessment_form(request, session, service, user, cohort, values=values, status=422, problems=[str(exc)])
    return see_other(request, f"/assessments/{made.id}")


# -- assessments: members and staff -----------------------------------------------------------


@router.get("/assessments")
def assessments_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    """The assessments of the viewer's cohorts (a candidate: only their cohorts'), as ``GET /v1/assessments``."""
    listed = cohorts_api.list_assessments(session, user.principal)
    return page(request, "cohorts/assessments.html", user, assessments=listed.data)


def _task_titles(service, assessment) -> dict[str, str]:
    titles = {}
    for t in assessment.tasks:
        try:
            titles[f"{t['pack_id']}/{t['task_id']}"] = service.pack_store.task(
                t["pack_id"], t["task_id"], t["pack_version"]
            ).title
        except NotFound:
            titles[f"{t['pack_id']}/{t['task_id']}"] = f"{t['pack_id']}/{t['task_id']}"
    return titles


def _member_view(
    request: Request, session, service, user: WebUser, assessment, *, status: int = 200, problem: str | None = None
) -> Response:
    shown = cohorts_api.assessment_public(session, assessment, user.subject)
    titles = _task_titles(service, assessment)
    attempts: dict[str, list[dict[str, Any]]] = {key: [] for key in titles}
    for submission in store.member_submissions(session=session, assessment_id=assessment.id, candidate=user.subject):
        result = storage.latest_result(session=session, submission_id=submission.id)
        revealed = result is not None and submissions_api.reveals_result(session, user.principal, submission)
        attempts.setdefault(f"{submission.pack_id}/{submission.task_id}", []).append(
            {"submission": submission, "result": result if revealed else None, "graded": result is not None}
        )
    timed = shown.duration_seconds is not None
    rule = window(assessment)
    try:  # the engine's admission rule (window, clock, late policy); the attempt limit answers 409 per task
        rules.admit(rule, now=utcnow(), started_at=shown.started_at, attempts_used=0)
        can_submit = True
    except rules.AssessmentRuleBroken:
        can_submit = False
    deadline = rule.deadline(shown.started_at) if timed and shown.started_at is not None else None
    return page(
        request,
        "cohorts/assessment_member.html",
        user,
        status=status,
        a=shown,
        titles=titles,
        attempts=attempts,
        timed=timed,
        can_submit=can_submit,
        deadline=deadline,
        problem=problem,
        visibility_words=_visibility_words(shown),
    )


def _visibility_words(shown) -> str:
    words = {
        "always": "as soon as it is graded",
        "after_close": "after the assessment closes",
        "never": "never: staff read them",
    }
    return words.get(shown.result_visibility, shown.result_visibility)


def _staff_view(request: Request, session, service, user: WebUser, assessment, level: Standing) -> Response:
    shown = cohorts_api.assessment_public(session, assessment, None)
    titles = _task_titles(service, assessment)
    total = len(store.member_names(session=session, cohort_id=assessment.cohort_id))
    start, stop, pages = pager(total, _page_number(request), lambda n: f"/assessments/{assessment.id}?page={n}")
    board = staff_views.dashboard_page(session, assessment, start, stop)
    return page(
        request,
        "cohorts/assessment_staff.html",
        user,
        a=shown,
        board=board,
        members=board["members"],
        pager=pages,
        titles=titles,
        organiser=level is Standing.ORGANISER,
        state_words=STATE_WORDS,
    )


@router.get("/assessments/{assessment_id}")
def assessment_page(
    assessment_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    assessment, level = assessment_for(session, user.principal, assessment_id, Standing.MEMBER)
    if level is Standing.MEMBER:
        return _member_view(request, session, service, user, assessment)
    return _staff_view(request, session, service, user, assessment, level)


@router.post("/assessments/{assessment_id}/start")
async def start_assessment(
    assessment_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    """Start the clock through the API's ``start_assessment`` (its rules, its 409 messages)."""
    form = await request.form()
    check_csrf(user.csrf, form.get("csrf"))
    try:
        cohorts_api.start_assessment(assessment_id, session, user.principal)
    except Conflict as exc:
        assessment, _ = assessment_for(session, user.principal, assessment_id, Standing.MEMBER)
        return _member_view(request, session, service, user, assessment, status=409, problem=str(exc))
    return see_other(request, f"/assessments/{assessment_id}")


@router.post("/assessments/{assessment_id}/tasks/{pack_id}/{task_id}/submit")
async def submit_attempt(
    assessment_id: str,
    pack_id: str,
    task_id: str,
    request: Request,
    service: ServiceDep,
    session: SessionDep,
    user: UserDep,
) -> Response:
    """An attempt through the API's ``accept_submission``: the window, clock and attempt limit answer 409 here too."""
    assessment, level = assessment_for(session, user.principal, assessment_id, Standing.MEMBER)
    if level is not Standing.MEMBER:
        raise NotFound(f"only the cohort's members take assessment {assessment_id!r}")
    cap = service.settings.max_upload_bytes
    try:
        await submissions_api.admit(service, user.principal)
        await read_body(request, cap)
        async with request.form(max_files=archives.ArchiveCaps().max_files) as form:
            check_csrf(user.csrf, form.get("csrf"))
            files = await _uploaded_files(form, cap)
        submission, _ = await submissions_api.accept_submission(
            service, user.principal, f"{pack_id}/{task_id}", None, files, assessment_id=assessment.id
        )
    except SubmissionRejected as exc:
        return _member_view(request, session, service, user, assessment, status=422, problem=str(exc))
    except Conflict as exc:
        session.expire_all()
        return _member_view(request, session, service, user, assessment, status=409, problem=str(exc))
    except TooManyRequests as exc:
        return _member_view(request, session, service, user, assessment, status=429, problem=str(exc))
    return see_other(request, f"/submissions/{submission.id}")


# -- staff views: matrix, plots, hiring ---------------------------------------------------------------


def _staff_assessment(session, user: WebUser, assessment_id: str):
    assessment, _ = assessment_for(session, user.principal, assessment_id, Standing.STAFF)
    return assessment


@router.get("/assessments/{assessment_id}/matrix")
def matrix_page(
    assessment_id: str, request: Request, session: SessionDep, user: UserDep, by: str = "skills"
) -> Response:
    assessment = _staff_assessment(session, user, assessment_id)
    by = by if by in MATRIX_BY else "skills"
    total = len(store.member_names(session=session, cohort_id=assessment.cohort_id))
    start, stop, pages = pager(
        total, _page_number(request), lambda n: f"/assessments/{assessment.id}/matrix?by={by}&page={n}"
    )
    table = staff_views.matrix_page(session, assessment, by, start, stop)
    return page(request, "cohorts/matrix.html", user, a=assessment, table=table, rows=table["rows"], pager=pages, by=by)


def _download(text: str, media: str, name: str) -> Response:
    return Response(text, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/assessments/{assessment_id}/matrix.csv")
def matrix_csv(assessment_id: str, session: SessionDep, user: UserDep, by: str = "skills") -> Response:
    assessment = _staff_assessment(session, user, assessment_id)
    by = by if by in MATRIX_BY else "skills"
    return _download(
        staff_views.matrix_csv_text(session, assessment, by),
        "text/csv; charset=utf-8",
        f"matrix-{assessment_id}-{by}.csv",
    )


@router.get("/assessments/{assessment_id}/matrix.json")
def matrix_json(assessment_id: str, session: SessionDep, user: UserDep, by: str = "skills") -> Response:
    assessment = _staff_assessment(session, user, assessment_id)
    by = by if by in MATRIX_BY else "skills"
    return _download(
        staff_views.matrix_json(session, assessment, by), "application/json", f"matrix-{assessment_id}-{by}.json"
    )


@router.get("/assessments/{assessment_id}/plots/{kind}.svg")
def plot(assessment_id: str, kind: str, session: SessionDep, user: UserDep) -> Response:
    """The API's plots (its access rule, its SVG), for an ``<img>`` on the matrix page."""
    if kind not in ("scores", "readiness"):
        raise NotFound(f"no plot {kind!r}")
    response = cohorts_api.assessment_plot(assessment_id, cohorts_api.PlotKind(kind), session, user.principal)
    response.headers.update({"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
    return response


def _hiring(session, user: WebUser, assessment_id: str, skills: list[str]):
    assessment = _staff_assessment(session, user, assessment_id)
    wanted = [s for s in skills if s][:50]
    return assessment, wanted, (staff_views.hiring(session, assessment, wanted) if wanted else None)


@router.get("/assessments/{assessment_id}/hiring")
def hiring_page(
    assessment_id: str,
    request: Request,
    session: SessionDep,
    user: UserDep,
    skill: Annotated[list[str] | None, Query()] = None,
) -> Response:
    assessment, wanted, table = _hiring(session, user, assessment_id, skill or [])
    columns = staff_views.matrix_page(session, assessment, "skills", 0, 0)["columns"]
    query = urlencode([("skill", s) for s in wanted])
    rows, pages = paged(
        table["data"] if table else [],
        _page_number(request),
        lambda n: f"/assessments/{assessment.id}/hiring?{query}&page={n}",
    )
    return page(
        request,
        "cohorts/hiring.html",
        user,
        a=assessment,
        skills=columns,
        wanted=wanted,
        table=table,
        rows=rows,
        pager=pages,
        query=query,
    )


@router.get("/assessments/{assessment_id}/hiring.csv")
def hiring_csv(
    assessment_id: str, session: SessionDep, user: UserDep, skill: Annotated[list[str] | None, Query()] = None
) -> Response:
    _, _, table = _hiring(session, user, assessment_id, skill or [])
    if table is None:
        raise NotFound("choose at least one micro-skill")
    return _download(staff_views.hiring_csv(table), "text/csv; charset=utf-8", f"hiring-{assessment_id}.csv")


# -- similarity ---------------------------------------------------------------------------------------


@router.get("/assessments/{assessment_id}/similarity")
def similarity_page(
    assessment_id: str,
    request: Request,
    service: ServiceDep,
    session: SessionDep,
    user: UserDep,
    threshold: float = 0.5,
) -> Response:
    assessment = _staff_assessment(session, user, assessment_id)
    threshold = min(1.0, max(0.1, threshold))
    report = similarity.report(service, session, assessment, threshold=threshold)
    return page(request, "cohorts/similarity.html", user, a=assessment, report=report)


def _highlighted(path: str, text: str, lines: list[int]) -> Markup:
    """One file as escaped, highlighted HTML (Pygments), the shared lines marked."""
    try:
        lexer = get_lexer_for_filename(path, stripnl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False)
    return Markup(highlight(text, lexer, HtmlFormatter(linenos="inline", hl_lines=lines, wrapcode=True)))  # noqa: S704 - Pygments escapes the source it highlights


@router.get("/assessments/{assessment_id}/similarity/{a}/{b}")
def similarity_pair(
    assessment_id: str, a: str, b: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    assessment = _staff_assessment(session, user, assessment_id)
    pair = similarity.side_by_side(service, session, assessment, a, b)
    paths = sorted(set(pair["a"]["files"]) | set(pair["b"]["files"]))
    rows = [
        {
            "path": p,
            "sides": [
                _highlighted(p, side["files"][p], side["matched_lines"].get(p, [])) if p in side["files"] else None
                for side in (pair["a"], pair["b"])
            ],
        }
        for p in paths
    ]
    return page(request, "cohorts/similarity_pair.html", user, a=assessment, pair=pair, rows=rows)


# -- regrades ---------------------------------------------------------------------------------------


@router.post("/assessments/{assessment_id}/regrade")
async def start_regrade(
    assessment_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    """The API's ``start_regrade`` (queued on the workers), then its report."""
    form = await request.form()
    check_csrf(user.csrf, form.get("csrf"))
    task = str(form.get("task") or "").strip() or None
    version = str(form.get("version") or "").strip() or None
    started = cohorts_api.start_regrade(
        assessment_id, cohorts_api.RegradeCreate(task=task, version=version), session, service, user.principal
    )
    return see_other(request, f"/regrades/{started['id']}")


@router.get("/regrades/{regrade_id}")
def regrade_page(regrade_id: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    report = regrades.report(session, user.principal, regrade_id)
    return page(request, "cohorts/regrade.html", user, report=report)


@router.get("/regrades/{regrade_id}/report")
def regrade_fragment(regrade_id: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    """The report alone, for htmx to swap in while the regrade runs."""
    report = regrades.report(session, user.principal, regrade_id)
    response = HTMLResponse(
        request.app.state.web_templates.get_template("cohorts/_regrade_report.html").render(
            report=report, verdict_badge=render.verdict_badge
        )
    )
    response.headers.update(render.SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    return response


# -- webhooks ---------------------------------------------------------------------------------------


def _webhooks_view(
    request: Request,
    session,
    service,
    user: WebUser,
    cohort_id: str,
    *,
    status: int = 200,
    problems: list[str] | None = None,
    created=None,
    values: dict | None = None,
) -> Response:
    cohort = cohort_for(session, user.principal, cohort_id, Standing.ORGANISER)
    listed = cohorts_api.list_webhooks(cohort_id, session, service, user.principal)
    return page(
        request,
        "cohorts/webhooks.html",
        user,
        status=status,
        cohort=cohort,
        endpoints=listed["data"],
        events=WEBHOOK_EVENTS,
        problems=problems or [],
        created=created,
        values=values or {"url": "", "events": list(WEBHOOK_EVENTS)},
    )


@router.get("/cohorts/{cohort_id}/webhooks")
def webhooks_page(
    cohort_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    return _webhooks_view(request, session, service, user, cohort_id)


@router.post("/cohorts/{cohort_id}/webhooks")
async def register_webhook(
    cohort_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    cohort_for(session, user.principal, cohort_id, Standing.ORGANISER)
    form = await request.form()
    check_csrf(user.csrf, form.get("csrf"))
    values = {"url": str(form.get("url") or "").strip(), "events": [str(e) for e in form.getlist("events")]}
    try:
        body = cohorts_api.WebhookCreate.model_validate({"url": values["url"], "events": values["events"]})
        created = cohorts_api.create_webhook(cohort_id, body, session, service, user.principal)
    except ValidationError as exc:
        return _webhooks_view(
            request, session, service, user, cohort_id, status=422, problems=_form_problems(exc), values=values
        )
    except (HTTPException, TaskTrialError) as exc:  # e.g. a URL the service refuses to call
        detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
        return _webhooks_view(
            request, session, service, user, cohort_id, status=422, problems=[str(detail)], values=values
        )
    return _webhooks_view(request, session, service, user, cohort_id, status=201, created=created)


@router.get("/webhooks/{endpoint_id}")
def deliveries_page(
    endpoint_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep, redelivered: str = ""
) -> Response:
    endpoint = cohorts_api._endpoint_for(session, service, user.principal, endpoint_id)
    log = cohorts_api.webhook_deliveries(endpoint_id, session, service, user.principal)
    return page(
        request, "cohorts/deliveries.html", user, endpoint=endpoint, deliveries=log["data"], redelivered=redelivered
    )


@router.post("/webhooks/deliveries/{delivery_id}/redeliver")
async def redeliver(
    delivery_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    form = await request.form()
    check_csrf(user.csrf, form.get("csrf"))
    cohorts_api.redeliver_webhook(delivery_id, session, service, user.principal)
    delivery = service.webhooks.delivery(delivery_id)
    if delivery is None:  # redelivered just now: never expected
        raise NotFound(f"unknown webhook delivery {delivery_id!r}")
    endpoint_id = delivery.endpoint_id
    return see_other(request, f"/webhooks/{endpoint_id}?redelivered={quote(delivery_id)}")


# -- reviews: blind ----------------------------------------------------------------------------------


@router.get("/reviews")
def reviews_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    """The queue: the reviews this person may score (their cohorts' assessments), oldest first, no names,
    a page at a time (the API's paging: the storage reads only this page)."""
    if not (user.is_staff() or user.is_author()):
        raise NotFound("this page is for reviewers")
    number = max(1, min(_page_number(request), submissions_api.MAX_OFFSET // PAGE_SIZE))

    def read(n: int) -> reviews_api.ListReviews:
        return reviews_api.list_reviews(
            session, user.principal, ReviewState.AWAITING, None, limit=PAGE_SIZE, offset=(n - 1) * PAGE_SIZE
        )

    queue = read(number)
    start, _, pages = pager(queue.count, number, lambda n: f"/reviews?page={n}")
    if pages["number"] != number:  # past the end (reviews scored meanwhile): the last page
        queue = read(pages["number"])
    pages["label"] = "Pages of the review queue"
    return page(request, "cohorts/reviews.html", user, reviews=queue.data, first=start, total=queue.count, pager=pages)


def _review_view(
    request: Request,
    session,
    service,
    user: WebUser,
    review_id: str,
    *,
    status: int = 200,
    problem: str | None = None,
    given: dict | None = None,
    done: dict | None = None,
) -> Response:
    detail = reviews_api.get_review(review_id, session, service, user.principal)
    files = {path: _highlighted(path, text, []) for path, text in detail.files.items()}
    return page(
        request,
        "cohorts/review.html",
        user,
        status=status,
        review=detail,
        files=files,
        problem=problem,
        given=given or {"scores": {k: str(v) for k, v in detail.scores.items()}, "comments": detail.comments},
        done=done,
    )


@router.get("/reviews/{review_id}")
def review_page(review_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep) -> Response:
    return _review_view(request, session, service, user, review_id)


@router.post("/reviews/{review_id}")
async def score_review(
    review_id: str, request: Request, service: ServiceDep, session: SessionDep, user: UserDep
) -> Response:
    """The API's ``score_review``: every criterion at one of its levels, or the form again with the reason."""
    detail = reviews_api.get_review(review_id, session, service, user.principal)  # 404 before reading the form
    form = await request.form()
    check_csrf(user.csrf, form.get("csrf"))
    scores: dict[str, float] = {}
    given: dict[str, dict[str, str]] = {"scores": {}, "comments": {}}
    for criterion in detail.rubric:
        name = criterion["name"]
        raw = str(form.get(f"score-{name}") or "")
        given["scores"][name] = raw
        comment = str(form.get(f"comment-{name}") or "").strip()
        if comment:
            given["comments"][name] = comment
        if raw:
            try:
                scores[name] = float(raw)
            except ValueError:
                return _review_view(
                    request,
                    session,
                    service,
                    user,
                    review_id,
                    status=422,
                    given=given,
                    problem=f"criterion {name!r}: {raw!r} is not a number of points",
                )
    try:
        done = reviews_api.score_review(
            review_id,
            reviews_api.ReviewScores(scores=scores, comments=given["comments"]),
            session,
            service,
            user.principal,
        )
    except Conflict as exc:
        return _review_view(request, session, service, user, review_id, status=409, problem=str(exc), given=given)
    except TaskTrialError as exc:
        return _review_view(request, session, service, user, review_id, status=422, problem=str(exc), given=given)
    session.expire_all()
    return _review_view(request, session, service, user, review_id, done=done)
