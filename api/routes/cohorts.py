"""Cohorts, members, invitations and assessments.

Organisers (authors, admins) create cohorts, import members and open assessments; a cohort's
staff read its work; members see their cohorts' assessments. Another cohort's ids answer 404.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from api import cohort_storage as store
from api import regrades, similarity, staff_views
from api.cohorts import Standing, assessment_for, aware, cohort_for, standing, window
from api.deps import AuthorDep, PersonDep, ServiceDep, SessionDep
from api.routes._uploads import read_body
from api.tables import Assessment, Role, utcnow
from api.webhooks import EVENTS as webhook_events
from engine import assessments as rules
from engine import plots
from engine.errors import NotFound
from engine.roster import RosterError, parse_members

router = APIRouter(prefix="/v1", tags=["cohorts"])
#: Outside /v1, like every route that needs no token: the invitation is the credential.
public_router = APIRouter(tags=["cohorts"])


class CohortCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class CohortPublic(BaseModel):
    id: str
    name: str
    organiser: str
    created_at: datetime
    #: What the caller is to it: organiser, staff or member.
    standing: str


class ListCohorts(BaseModel):
    data: list[CohortPublic]
    count: int


class StaffAdd(BaseModel):
    subject: str = Field(min_length=1, max_length=128)


class MemberPublic(BaseModel):
    subject: str
    display_name: str
    email: str
    joined_at: datetime


class ListMembers(BaseModel):
    data: list[MemberPublic]
    count: int


class InvitationPublic(BaseModel):
    subject: str
    #: Shown once: redeem with ``POST /invitations/redeem`` (or ``tasktrial join``).
    invitation: str


class Imported(BaseModel):
    imported: int
    invitations: list[InvitationPublic]


class Redeem(BaseModel):
    invitation: str = Field(min_length=1, max_length=200)


class Redeemed(BaseModel):
    subject: str
    cohort_id: str
    #: The member's candidate API token (shown once).
    token: str


class PinnedTask(BaseModel):
    task: str = Field(pattern=r"^[a-z0-9-]+/[a-z0-9-]+$", description="PACK/TASK")
    version: str | None = Field(default=None, description="the pack version to pin (default: the latest live)")


class AssessmentCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    tasks: list[PinnedTask] = Field(min_length=1, max_length=50)
    opens_at: AwareDatetime
    closes_at: AwareDatetime
    duration_seconds: int | None = Field(default=None, ge=60, le=7 * 24 * 3600)
    attempt_limit: int | None = Field(default=None, ge=1, le=1000)
    scoring: rules.Scoring = rules.Scoring.BEST
    late: rules.LatePolicy = rules.LatePolicy.REFUSE
    result_visibility: rules.Visibility = rules.Visibility.ALWAYS
    check_visibility: rules.Visibility = rules.Visibility.ALWAYS
    #: check-id glob -> visibility, overriding ``check_visibility`` (first match wins).
    check_overrides: dict[str, rules.Visibility] = Field(default_factory=dict, max_length=100)

    @model_validator(mode="after")
    def _window(self) -> AssessmentCreate:
        if self.closes_at <= self.opens_at:
            raise ValueError(
                f"closes_at ({self.closes_at.isoformat()}) must be after opens_at ({self.opens_at.isoformat()})"
            )
        return self


class AssessmentPublic(BaseModel):
    id: str
    cohort_id: str
    title: str
    tasks: list[dict[str, str]]
    opens_at: datetime
    closes_at: datetime
    duration_seconds: int | None
    attempt_limit: int | None
    scoring: str
    late: str
    result_visibility: str
    check_visibility: str
    check_overrides: dict[str, str]
    state: str = Field(description="upcoming, open or closed")
    #: For a member of a timed assessment: when they started and the seconds left (None: not started).
    started_at: datetime | None = None
    time_left_seconds: float | None = None


class ListAssessments(BaseModel):
    data: list[AssessmentPublic]
    count: int


def _cohort_public(cohort, level: Standing) -> CohortPublic:
    return CohortPublic(
        id=cohort.id,
        name=cohort.name,
        organiser=cohort.organiser,
        created_at=cohort.created_at,
        standing=level.name.lower(),
    )


def assessment_public(session, assessment: Assessment, candidate: str | None) -> AssessmentPublic:
    rule = window(assessment)
    now = utcnow()
    state = "upcoming" if now < rule.opens_at else "closed" if rule.is_closed(now) else "open"
    started = store.get_start(session=session, assessment_id=assessment.id, candidate=candidate) if candidate else None
    started_at = aware(started.started_at) if started else None
    return AssessmentPublic(
        **assessment.model_dump(exclude={"created_by", "created_at"}),
        state=state,
        started_at=started_at,
        time_left_seconds=rule.time_left(started_at, now),
    )


@router.post("/cohorts", status_code=status.HTTP_201_CREATED, response_model=CohortPublic)
def create_cohort(body: CohortCreate, session: SessionDep, author: AuthorDep) -> CohortPublic:
    cohort = store.create_cohort(session=session, name=body.name, organiser=author.subject)
    return _cohort_public(cohort, Standing.ORGANISER)


@router.get("/cohorts", response_model=ListCohorts)
def list_cohorts(session: SessionDep, person: PersonDep) -> ListCohorts:
    rows = store.list_cohorts(session=session, subject=None if person.role is Role.ADMIN else person.subject)
    data = [_cohort_public(c, level) for c in rows if (level := standing(session, person, c)) > Standing.NONE]
    return ListCohorts(data=data, count=len(data))


@router.get("/cohorts/{cohort_id}", response_model=CohortPublic)
def get_cohort(cohort_id: str, session: SessionDep, person: PersonDep) -> CohortPublic:
    cohort = cohort_for(session, person, cohort_id, Standing.MEMBER)
    return _cohort_public(cohort, standing(session, person, cohort))


@router.post("/cohorts/{cohort_id}/staff", status_code=status.HTTP_201_CREATED)
def add_staff(cohort_id: str, body: StaffAdd, session: SessionDep, author: AuthorDep) -> dict[str, object]:
    """Assign a reviewer (by subject) to the cohort: they read its members' assessment work."""
    cohort = cohort_for(session, author, cohort_id, Standing.ORGANISER)
    added = store.add_staff(session=session, cohort_id=cohort.id, subject=body.subject)
    return {
        "subject": body.subject,
        "added": added,
        "staff": sorted(store.staff_of(session=session, cohort_id=cohort.id)),
    }


@router.post(
    "/cohorts/{cohort_id}/members",
    status_code=status.HTTP_201_CREATED,
    response_model=Imported,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {
                        "type": "string",
                        "description": "a header (subject,display_name,email) and one member a line",
                    }
                }
            },
        }
    },
    responses={422: {"description": "bad rows: every one named with its line; nothing imported"}},
)
async def import_members(
    cohort_id: str, request: Request, session: SessionDep, service: ServiceDep, author: AuthorDep
) -> Imported:
    """Import members from CSV; each gets a one-time invitation (shown once). All rows or none."""
    cohort = cohort_for(session, author, cohort_id, Standing.ORGANISER)
    invitations = import_roster(session, cohort.id, await read_body(request, service.settings.max_upload_bytes))
    return Imported(
        imported=len(invitations),
        invitations=[InvitationPublic(subject=s, invitation=secret) for s, secret in invitations],
    )


def import_roster(session, cohort_id: str, data: bytes) -> list[tuple[str, str]]:
    """Add the CSV's members with a one-time invitation each: ``(subject, secret)`` pairs. All rows or none.

    Raises:
        RosterError: every bad row, each with its line (a subject already a member is one).
    """
    rows = parse_members(data)
    already = store.existing_members(session=session, cohort_id=cohort_id, subjects=[r.subject for r in rows])
    if already:
        raise RosterError([f"line {r.line}: {r.subject!r} is already a member" for r in rows if r.subject in already])
    return store.add_members(session=session, cohort_id=cohort_id, rows=rows)


@router.get("/cohorts/{cohort_id}/members", response_model=ListMembers)
def list_members(cohort_id: str, session: SessionDep, person: PersonDep) -> ListMembers:
    cohort = cohort_for(session, person, cohort_id, Standing.STAFF)
    rows = store.list_members(session=session, cohort_id=cohort.id)
    data = [MemberPublic(**r.model_dump(include={"subject", "display_name", "email", "joined_at"})) for r in rows]
    return ListMembers(data=data, count=len(data))


@router.post(
    "/cohorts/{cohort_id}/members/{subject}/invitation",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationPublic,
)
def reinvite(cohort_id: str, subject: str, session: SessionDep, author: AuthorDep) -> InvitationPublic:
    """A fresh one-time invitation for a member who lost theirs."""
    cohort = cohort_for(session, author, cohort_id, Standing.ORGANISER)
    if store.get_member(session=session, cohort_id=cohort.id, subject=subject) is None:
        raise NotFound(f"cohort {cohort_id!r} has no member {subject!r}")
    return InvitationPublic(
        subject=subject, invitation=store.new_invitation(session=session, cohort_id=cohort.id, subject=subject)
    )


@public_router.post(
    "/invitations/redeem",
    response_model=Redeemed,
    responses={404: {"description": "unknown or already used invitation"}},
)
def redeem(body: Redeem, session: SessionDep) -> Redeemed:
    """Turn a one-time invitation into the member's candidate token (no token needed: the invitation is one)."""
    redeemed = store.redeem_invitation(session=session, secret=body.invitation)
    if redeemed is None:
        raise NotFound("unknown or already used invitation")
    invitation, token = redeemed
    return Redeemed(subject=invitation.subject, cohort_id=invitation.cohort_id, token=token)


@router.post("/cohorts/{cohort_id}/assessments", status_code=status.HTTP_201_CREATED, response_model=AssessmentPublic)
def create_assessment(
    cohort_id: str, body: AssessmentCreate, session: SessionDep, service: ServiceDep, author: AuthorDep
) -> AssessmentPublic:
    """Open an assessment: each task pinned to a live pack version, its digest recorded."""
    cohort = cohort_for(session, author, cohort_id, Standing.ORGANISER)
    tasks, seen = [], set()
    for item in body.tasks:
        pack_id, _, task_id = item.task.partition("/")
        task = service.submittable_task(session, pack_id, task_id, item.version)
        if (pack_id, task_id) in seen:
            raise HTTPException(422, f"task {item.task} is listed twice")
        seen.add((pack_id, task_id))
        tasks.append(
            {"pack_id": task.pack_id, "pack_version": task.pack_version, "task_id": task.id, "task_digest": task.digest}
        )
    assessment = store.create_assessment(
        session=session,
        cohort_id=cohort.id,
        title=body.title,
        tasks=tasks,
        opens_at=body.opens_at,
        closes_at=body.closes_at,
        duration_seconds=body.duration_seconds,
        attempt_limit=body.attempt_limit,
        scoring=body.scoring.value,
        late=body.late.value,
        result_visibility=body.result_visibility.value,
        check_visibility=body.check_visibility.value,
        check_overrides={k: v.value for k, v in body.check_overrides.items()},
        created_by=author.subject,
    )
    return assessment_public(session, assessment, None)


@router.get("/assessments", response_model=ListAssessments)
def list_assessments(session: SessionDep, person: PersonDep) -> ListAssessments:
    """The assessments of the caller's cohorts (a candidate: only those of cohorts they belong to)."""
    cohorts = store.list_cohorts(session=session, subject=None if person.role is Role.ADMIN else person.subject)
    ids = [c.id for c in cohorts if standing(session, person, c) > Standing.NONE]
    rows = store.list_assessments(session=session, cohort_ids=ids)
    candidate = person.subject if person.role is Role.CANDIDATE else None
    data = [assessment_public(session, a, candidate) for a in rows]
    return ListAssessments(data=data, count=len(data))


@router.get("/assessments/{assessment_id}", response_model=AssessmentPublic)
def get_assessment(assessment_id: str, session: SessionDep, person: PersonDep) -> AssessmentPublic:
    assessment, level = assessment_for(session, person, assessment_id, Standing.MEMBER)
    return assessment_public(session, assessment, person.subject if level is Standing.MEMBER else None)


@router.post(
    "/assessments/{assessment_id}/start",
    response_model=AssessmentPublic,
    responses={409: {"description": "untimed, or the window is not open (the message names the rule)"}},
)
def start_assessment(assessment_id: str, session: SessionDep, person: PersonDep) -> AssessmentPublic:
    """Start a timed assessment's clock (once: starting again shows the running clock)."""
    assessment, level = assessment_for(session, person, assessment_id, Standing.MEMBER)
    if level is not Standing.MEMBER:
        raise NotFound(f"only the cohort's members take assessment {assessment_id!r}")
    if store.get_start(session=session, assessment_id=assessment.id, candidate=person.subject) is None:
        rules.check_start(window(assessment), utcnow())
    store.start(session=session, assessment_id=assessment.id, candidate=person.subject)
    return assessment_public(session, assessment, person.subject)


# -- staff views ------------------------------------------------------------------------


# its members come from the one list of event names; mypy cannot read them from a comprehension
WebhookEvent = enum.StrEnum("WebhookEvent", {name.replace(".", "_").upper(): name for name in webhook_events})  # type: ignore[misc]


class Format(enum.StrEnum):
    JSON = "json"
    CSV = "csv"


class MatrixBy(enum.StrEnum):
    TASKS = "tasks"
    SKILLS = "skills"


class PlotKind(enum.StrEnum):
    SCORES = "scores"
    READINESS = "readiness"


def _staff_assessment(session, person, assessment_id: str) -> Assessment:
    assessment, _ = assessment_for(session, person, assessment_id, Standing.STAFF)
    return assessment


@router.get("/assessments/{assessment_id}/dashboard", responses={200: {"content": {"application/json": {}}}})
def assessment_dashboard(assessment_id: str, session: SessionDep, person: PersonDep) -> Response:
    """Progress per member and task (started, submitted, graded, ready), time left in timed attempts."""
    return Response(
        staff_views.dashboard_json(session, _staff_assessment(session, person, assessment_id)),
        media_type="application/json",
    )


@router.get(
    "/assessments/{assessment_id}/matrix", responses={200: {"content": {"application/json": {}, "text/csv": {}}}}
)
def assessment_matrix(
    assessment_id: str,
    session: SessionDep,
    person: PersonDep,
    by: MatrixBy = MatrixBy.SKILLS,
    format: Format = Format.JSON,
) -> Response:
    """Readiness: members × micro-skills or × tasks, with the scoring policy applied; JSON or CSV."""
    assessment = _staff_assessment(session, person, assessment_id)
    if format is Format.CSV:
        return Response(
            staff_views.matrix_csv_text(session, assessment, by.value),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="matrix-{assessment_id}-{by.value}.csv"'},
        )
    return Response(staff_views.matrix_json(session, assessment, by.value), media_type="application/json")


@router.get(
    "/assessments/{assessment_id}/hiring", responses={200: {"content": {"application/json": {}, "text/csv": {}}}}
)
def assessment_hiring(
    assessment_id: str,
    session: SessionDep,
    person: PersonDep,
    skill: Annotated[list[str], Query(min_length=1, max_length=50)],
    format: Format = Format.JSON,
) -> Response:
    """Members ready in every given micro-skill, ranked by their mean score over them."""
    table = staff_views.hiring(session, _staff_assessment(session, person, assessment_id), skill)
    if format is Format.CSV:
        return Response(
            staff_views.hiring_csv(table),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="hiring-{assessment_id}.csv"'},
        )
    return Response(json.dumps(table, ensure_ascii=False), media_type="application/json")


@router.get(
    "/assessments/{assessment_id}/plots/{kind}.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
def assessment_plot(assessment_id: str, kind: PlotKind, session: SessionDep, person: PersonDep) -> Response:
    """A server-rendered SVG: the score distribution per task, or readiness per micro-skill."""
    assessment = _staff_assessment(session, person, assessment_id)
    if kind is PlotKind.SCORES:
        svg = plots.score_distribution(
            staff_views.score_distribution(session, assessment),
            title=f"{assessment.title}: score distribution per task",
        )
    else:
        svg = plots.readiness(
            staff_views.readiness_by_skill(session, assessment), title=f"{assessment.title}: readiness per micro-skill"
        )
    return Response(svg, media_type="image/svg+xml")


# -- regrades -----------------------------------------------------------------------------


class RegradeCreate(BaseModel):
    task: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9-]+/[a-z0-9-]+$",
        description="only this PACK/TASK's submissions (default: every task)",
    )
    version: str | None = Field(default=None, description="the pack version to grade against (default: latest live)")


@router.post("/assessments/{assessment_id}/regrade", status_code=status.HTTP_202_ACCEPTED)
def start_regrade(
    assessment_id: str, body: RegradeCreate, session: SessionDep, service: ServiceDep, author: AuthorDep
) -> dict[str, Any]:
    """Grade the submissions again against a newer pack version, on the workers, in parallel."""
    regrade, run_ids = regrades.start(service, session, author, assessment_id, task=body.task, version=body.version)
    for run_id in run_ids:
        try:
            service.queue.enqueue(run_id)
        except Exception:  # noqa: BLE001 - any broker fault: stored as queued, the reaper queues it again when the broker is back
            service.metrics.rejected.labels("enqueue_failed").inc()
    return {
        "id": regrade.id,
        "total": regrade.total,
        "versions": regrade.versions,
        "links": {"report": service.settings.link(f"/v1/regrades/{regrade.id}")},
    }


@router.get("/regrades/{regrade_id}")
def regrade_report(regrade_id: str, session: SessionDep, person: PersonDep) -> dict[str, Any]:
    """Progress and every changed verdict (old and new result side by side)."""
    return regrades.report(session, person, regrade_id)


# -- similarity ------------------------------------------------------------------------------


@router.get("/assessments/{assessment_id}/similarity")
def similarity_report(
    assessment_id: str,
    session: SessionDep,
    service: ServiceDep,
    person: PersonDep,
    threshold: Annotated[float, Query(ge=0.1, le=1.0)] = 0.5,
) -> dict[str, Any]:
    """Pairs of members' submissions of one task that are suspiciously alike (winnowing; starter excluded).
    A flag for a human: no score changes."""
    return similarity.report(service, session, _staff_assessment(session, person, assessment_id), threshold=threshold)


@router.get("/assessments/{assessment_id}/similarity/{a}/{b}")
def similarity_pair(
    assessment_id: str, a: str, b: str, session: SessionDep, service: ServiceDep, person: PersonDep
) -> dict[str, Any]:
    """Two submissions side by side with the lines where what they share starts."""
    return similarity.side_by_side(service, session, _staff_assessment(session, person, assessment_id), a, b)


# -- webhooks ---------------------------------------------------------------------------------


class WebhookCreate(BaseModel):
    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=2000)
    events: list[WebhookEvent] = Field(min_length=1)


class WebhookPublic(BaseModel):
    id: str
    cohort_id: str
    url: str
    events: list[str]
    created_at: datetime
    #: Only in the answer to its creation: the key receivers verify signatures with.
    secret: str | None = None


def _endpoint_for(session, service, person, endpoint_id: str):
    endpoint = service.webhooks.endpoint(endpoint_id)
    if endpoint is None:
        raise NotFound(f"unknown webhook {endpoint_id!r}")
    cohort_for(session, person, endpoint.cohort_id, Standing.ORGANISER)  # 404 to anyone else
    return endpoint


@router.post("/cohorts/{cohort_id}/webhooks", status_code=status.HTTP_201_CREATED, response_model=WebhookPublic)
def create_webhook(
    cohort_id: str, body: WebhookCreate, session: SessionDep, service: ServiceDep, author: AuthorDep
) -> WebhookPublic:
    """Register a URL for the cohort's events (Standard Webhooks signing); the secret is shown once."""
    cohort = cohort_for(session, author, cohort_id, Standing.ORGANISER)
    endpoint = service.webhooks.register(
        cohort_id=cohort.id, url=body.url, events=[e.value for e in body.events], created_by=author.subject
    )
    return WebhookPublic(**endpoint.model_dump(include={"id", "cohort_id", "url", "events", "created_at", "secret"}))


@router.get("/cohorts/{cohort_id}/webhooks")
def list_webhooks(cohort_id: str, session: SessionDep, service: ServiceDep, author: AuthorDep) -> dict[str, Any]:
    cohort = cohort_for(session, author, cohort_id, Standing.ORGANISER)
    data = [
        WebhookPublic(**e.model_dump(include={"id", "cohort_id", "url", "events", "created_at"}))
        for e in service.webhooks.endpoints(cohort_id=cohort.id)
    ]
    return {"data": data, "count": len(data)}


@router.get("/webhooks/{endpoint_id}/deliveries")
def webhook_deliveries(endpoint_id: str, session: SessionDep, service: ServiceDep, author: AuthorDep) -> dict[str, Any]:
    """The endpoint's delivery log: each event, its state, and every try with the receiver's answer."""
    endpoint = _endpoint_for(session, service, author, endpoint_id)
    data = [
        {**d.model_dump(exclude={"endpoint_id"}), "tries": [t.model_dump(exclude={"id", "delivery_id"}) for t in tries]}
        for d, tries in service.webhooks.deliveries(endpoint_id=endpoint.id)
    ]
    return {"data": data, "count": len(data)}


@router.post("/webhooks/deliveries/{delivery_id}/redeliver", status_code=status.HTTP_202_ACCEPTED)
def redeliver_webhook(delivery_id: str, session: SessionDep, service: ServiceDep, author: AuthorDep) -> dict[str, Any]:
    """Send a delivery again now, with the same webhook-id (receivers deduplicate on it)."""
    delivery = service.webhooks.delivery(delivery_id)
    if delivery is None:
        raise NotFound(f"unknown delivery {delivery_id!r}")
    _endpoint_for(session, service, author, delivery.endpoint_id)
    row = service.webhooks.redeliver(delivery_id)
    return {"id": row.id, "state": row.state, "message_id": row.message_id}
