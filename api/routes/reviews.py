"""Human review of tasks with a rubric, blind: a reviewer sees the task, the rubric, the reference
answer and the submitted files, never who submitted them.

Who reviews: an assessment attempt's cohort staff and organiser; other work, whoever sees
everything of its pack (reviewers, admins, the pack's authors). Others get 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api import cohort_storage, storage
from api.auth import Principal
from api.cohorts import Standing, standing, work_scope
from api.deps import PersonDep, ServiceDep, SessionDep
from api.routes.submissions import MAX_OFFSET, sees_everything
from api.tables import Review, ReviewState
from engine import archives, packs
from engine.errors import NotFound

router = APIRouter(prefix="/v1", tags=["reviews"])
#: What a reviewer is shown of one submitted file (the rest is cut, and said so).
FILE_CHARS = 100_000


class ReviewSummary(BaseModel):
    id: str
    task: str
    pack_version: str
    assessment_id: str | None
    state: str
    created_at: datetime


class ListReviews(BaseModel):
    data: list[ReviewSummary]
    count: int


class ReviewDetail(ReviewSummary):
    title: str
    statement: str
    rubric: list[dict[str, Any]]
    reference_answer: str
    files: dict[str, str]
    automated_checks: list[dict[str, Any]]
    scores: dict[str, float]
    comments: dict[str, str]


class ReviewScores(BaseModel):
    scores: dict[str, float] = Field(description="criterion name -> the points of one of its levels")
    comments: dict[str, str] = Field(default_factory=dict, description="criterion name -> a comment")


def may_review(session, principal: Principal, item: Review) -> bool:
    if item.assessment_id is not None:
        assessment = cohort_storage.get_assessment(session=session, assessment_id=item.assessment_id)
        cohort = cohort_storage.get_cohort(session=session, cohort_id=assessment.cohort_id) if assessment else None
        return cohort is not None and standing(session, principal, cohort) >= Standing.STAFF
    return sees_everything(session, principal, item.pack_id)


def _visible(session, principal: Principal, review_id: str) -> Review:
    item = storage.get_review(session=session, review_id=review_id)
    if item is None or not may_review(session, principal, item):
        raise NotFound(f"unknown review {review_id!r}")
    return item


def _summary(item: Review) -> dict[str, Any]:
    return {
        "id": item.id,
        "task": f"{item.pack_id}/{item.task_id}",
        "pack_version": item.pack_version,
        "assessment_id": item.assessment_id,
        "state": item.state,
        "created_at": item.created_at,
    }


@router.get("/reviews", response_model=ListReviews)
def list_reviews(
    session: SessionDep,
    person: PersonDep,
    state: ReviewState | None = ReviewState.AWAITING,
    assessment: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200, description="at most this many")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="skip this many, oldest first")] = 0,
) -> ListReviews:
    """The reviews you may score (awaiting by default), oldest first, a page at a time; ``count`` is the
    whole queue's. No candidate is named. A cohort's reviewer sees the work of the cohorts they staff,
    never another's."""
    scope = work_scope(session, person)
    rows, count = storage.list_reviews(
        session=session,
        state=state.value if state else None,
        limit=limit,
        offset=offset,
        packs=scope.packs,
        assessments=scope.assessments,
        assessment_id=assessment,
    )
    return ListReviews(data=[ReviewSummary(**_summary(r)) for r in rows], count=count)


@router.get("/reviews/{review_id}", response_model=ReviewDetail)
def get_review(review_id: str, session: SessionDep, service: ServiceDep, person: PersonDep) -> ReviewDetail:
    """Everything a reviewer needs, blind: task, rubric, reference answer, the submitted files."""
    item = _visible(session, person, review_id)
    task = service.pack_store.task(item.pack_id, item.task_id, item.pack_version)
    submission = storage.get_submission(session=session, submission_id=item.submission_id)
    if submission is None:  # the review's foreign key: only a damaged database gets here
        raise NotFound(f"review {review_id!r} names an unknown submission")
    files = {}
    for path, data in archives.extract_stored(submission.archive).items():
        text = data.decode("utf-8", "replace")
        files[path] = text if len(text) <= FILE_CHARS else text[:FILE_CHARS] + "\n[... cut for the review page ...]"
    reference = task.root / packs.REVIEW_REFERENCE
    rubric = [
        {
            "name": c.name,
            "micro_skill": c.micro_skill,
            "weight": c.weight,
            "levels": [{"points": lv.points, "descriptor": lv.descriptor} for lv in c.levels],
        }
        for c in task.rubric
    ]
    return ReviewDetail(
        **_summary(item),
        title=task.title,
        statement=task.statement,
        rubric=rubric,
        reference_answer=reference.read_text("utf-8") if reference.is_file() else "",
        files=files,
        automated_checks=item.automated.get("checks", []),
        scores=item.scores,
        comments=item.comments,
    )


@router.post(
    "/reviews/{review_id}",
    responses={
        409: {"description": "already completed"},
        422: {"description": "a criterion unscored or off its levels"},
    },
)
def score_review(
    review_id: str, body: ReviewScores, session: SessionDep, service: ServiceDep, person: PersonDep
) -> dict[str, Any]:
    """Score every criterion; the automated and reviewed checks become one signed result."""
    item = _visible(session, person, review_id)
    stored = service.complete_review(
        review_id=item.id, reviewer=person.subject, scores=body.scores, comments=body.comments
    )
    return {"review": item.id, "result_id": stored["id"], "score": stored["score"], "verdict": stored["verdict"]}
