"""Storage of cohorts, members, invitations, assessments and their clocks (keyword-only, like api/storage.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer
from sqlmodel import Session, col, func, select

from api import auth
from api.tables import (
    ApiToken,
    Assessment,
    AssessmentScore,
    AssessmentStart,
    Cohort,
    CohortMember,
    CohortStaff,
    Invitation,
    Regrade,
    ResultRow,
    Role,
    Run,
    RunEvent,
    RunState,
    SkillEvidence,
    Submission,
    utcnow,
)
from engine.errors import Conflict
from engine.roster import MemberRow

# -- cohorts ----------------------------------------------------------------------


def create_cohort(*, session: Session, name: str, organiser: str) -> Cohort:
    cohort = Cohort(name=name, organiser=organiser)
    session.add(cohort)
    session.commit()
    session.refresh(cohort)
    return cohort


def get_cohort(*, session: Session, cohort_id: str) -> Cohort | None:
    return session.get(Cohort, cohort_id)


def list_cohorts(*, session: Session, subject: str | None) -> list[Cohort]:
    """Every cohort (``subject`` None: an admin), else those ``subject`` organises, staffs or belongs to."""
    query = select(Cohort)
    if subject is not None:
        staffed = select(CohortStaff.cohort_id).where(CohortStaff.subject == subject)
        joined = select(CohortMember.cohort_id).where(CohortMember.subject == subject)
        query = query.where(
            (col(Cohort.organiser) == subject) | col(Cohort.id).in_(staffed) | col(Cohort.id).in_(joined)
        )
    return list(session.exec(query.order_by(col(Cohort.created_at))).all())


def assessments_run_by(*, session: Session, subject: str, organiser: bool) -> set[str]:
    """Ids of the assessments of the cohorts ``subject`` staffs (and, with ``organiser``, organises)."""
    staffed = select(CohortStaff.cohort_id).where(CohortStaff.subject == subject)
    where: ColumnElement[bool] = col(Assessment.cohort_id).in_(staffed)
    if organiser:
        where = where | col(Assessment.cohort_id).in_(select(Cohort.id).where(Cohort.organiser == subject))
    return set(session.exec(select(Assessment.id).where(where)).all())


def staff_of(*, session: Session, cohort_id: str) -> set[str]:
    return set(session.exec(select(CohortStaff.subject).where(CohortStaff.cohort_id == cohort_id)).all())


def add_staff(*, session: Session, cohort_id: str, subject: str) -> bool:
    """Assign a reviewer to the cohort; False if they already were."""
    session.add(CohortStaff(cohort_id=cohort_id, subject=subject))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def get_member(*, session: Session, cohort_id: str, subject: str) -> CohortMember | None:
    return session.exec(
        select(CohortMember).where(CohortMember.cohort_id == cohort_id, CohortMember.subject == subject)
    ).first()


def list_members(*, session: Session, cohort_id: str) -> list[CohortMember]:
    return list(
        session.exec(
            select(CohortMember).where(CohortMember.cohort_id == cohort_id).order_by(col(CohortMember.subject))
        ).all()
    )


def existing_members(*, session: Session, cohort_id: str, subjects: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(subjects), 500):
        chunk = list(subjects[start : start + 500])
        found |= set(
            session.exec(
                select(CohortMember.subject).where(
                    CohortMember.cohort_id == cohort_id, col(CohortMember.subject).in_(chunk)
                )
            ).all()
        )
    return found


def add_members(*, session: Session, cohort_id: str, rows: Sequence[MemberRow]) -> list[tuple[str, str]]:
    """Add every row and one invitation each, in one transaction; returns ``(subject, invitation secret)``.

    Raises:
        Conflict: a row's subject joined the cohort meanwhile (nothing is added).
    """
    invitations: list[tuple[str, str]] = []
    for row in rows:
        session.add(
            CohortMember(cohort_id=cohort_id, subject=row.subject, display_name=row.display_name, email=row.email)
        )
        secret = auth.new_token()
        session.add(Invitation(cohort_id=cohort_id, subject=row.subject, token_hash=auth.token_hash(secret)))
        invitations.append((row.subject, secret))
    session.exec(
        update(Assessment).where(col(Assessment.cohort_id) == cohort_id).values(revision=Assessment.revision + 1)
    )  # staff views list the members
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(
            "a member in the list joined the cohort meanwhile; nothing was imported, send the list again"
        ) from exc
    return invitations


def new_invitation(*, session: Session, cohort_id: str, subject: str) -> str:
    """A fresh one-time invitation for a member (an earlier unused one stays valid)."""
    secret = auth.new_token()
    session.add(Invitation(cohort_id=cohort_id, subject=subject, token_hash=auth.token_hash(secret)))
    session.commit()
    return secret


def redeem_invitation(*, session: Session, secret: str) -> tuple[Invitation, str] | None:
    """Use an invitation once: mark it used and create the member's candidate token, in one transaction.

    Returns ``(invitation, token secret)``, or None if it is unknown or already used (compare-and-set:
    two concurrent redemptions cannot both win).
    """
    invitation = session.exec(select(Invitation).where(Invitation.token_hash == auth.token_hash(secret))).first()
    if invitation is None or invitation.used_at is not None:
        return None
    used = session.exec(
        update(Invitation)
        .where(and_(col(Invitation.id) == invitation.id, col(Invitation.used_at).is_(None)))
        .values(used_at=utcnow())
    )
    if used.rowcount != 1:
        session.rollback()
        return None
    token = auth.new_token()
    session.add(
        ApiToken(
            name=f"invitation to cohort {invitation.cohort_id}",
            role=Role.CANDIDATE,
            subject=invitation.subject,
            token_hash=auth.token_hash(token),
        )
    )
    session.commit()
    return invitation, token


# -- assessments ---------------------------------------------------------------------


def create_assessment(*, session: Session, **fields: Any) -> Assessment:
    assessment = Assessment(**fields)
    session.add(assessment)
    session.commit()
    session.refresh(assessment)
    return assessment


def get_assessment(*, session: Session, assessment_id: str) -> Assessment | None:
    return session.get(Assessment, assessment_id)


def list_assessments(*, session: Session, cohort_ids: Sequence[str] | None) -> list[Assessment]:
    """Assessments of the given cohorts (None: all)."""
    query = select(Assessment)
    if cohort_ids is not None:
        query = query.where(col(Assessment.cohort_id).in_(list(cohort_ids)))
    return list(session.exec(query.order_by(col(Assessment.opens_at))).all())


def get_start(*, session: Session, assessment_id: str, candidate: str) -> AssessmentStart | None:
    return session.exec(
        select(AssessmentStart).where(
            AssessmentStart.assessment_id == assessment_id, AssessmentStart.candidate == candidate
        )
    ).first()


def starts(*, session: Session, assessment_id: str, since: int | None = None) -> dict[str, datetime]:
    """Who started when (``since``: only the starts stored after that revision of the assessment)."""
    query = select(AssessmentStart.candidate, AssessmentStart.started_at).where(
        AssessmentStart.assessment_id == assessment_id
    )
    if since is not None:
        query = query.where(AssessmentStart.revision > since)
    return dict(session.exec(query).all())


def start(*, session: Session, assessment_id: str, candidate: str) -> AssessmentStart:
    """Start the member's clock once; a second start returns the first (the clock never restarts)."""
    existing = get_start(session=session, assessment_id=assessment_id, candidate=candidate)
    if existing is not None:
        return existing
    from api.storage import bump_revision

    revision = bump_revision(session=session, assessment_id=assessment_id)  # the dashboard shows who started
    row = AssessmentStart(assessment_id=assessment_id, candidate=candidate, revision=revision)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        found = get_start(session=session, assessment_id=assessment_id, candidate=candidate)
        assert found is not None
        return found
    session.refresh(row)
    return row


def attempts_used(*, session: Session, assessment_id: str, candidate: str, pack_id: str, task_id: str) -> int:
    """Attempts that count against the limit: every submission but those whose result is an engine or grader fault."""
    faulted = select(ResultRow.submission_id).where(ResultRow.verdict == "error")
    return int(
        session.exec(
            select(func.count())
            .select_from(Submission)
            .where(
                Submission.assessment_id == assessment_id,
                Submission.candidate == candidate,
                Submission.pack_id == pack_id,
                Submission.task_id == task_id,
                col(Submission.id).not_in(faulted),
            )
        ).one()
    )


def assessment_results(*, session: Session, candidate: str) -> list[tuple[str, str]]:
    """``(result id, assessment id)`` of the candidate's assessment attempts."""
    rows = session.exec(
        select(ResultRow.id, Submission.assessment_id)
        .join(Submission, col(Submission.id) == ResultRow.submission_id)
        .where(ResultRow.candidate == candidate, col(Submission.assessment_id).is_not(None))
    ).all()
    return [(result_id, assessment_id) for result_id, assessment_id in rows if assessment_id is not None]


def closed_unreleased(*, session: Session, now: datetime) -> list[str]:
    """Ids of the assessments that withheld results until a close that has passed, not yet released."""
    return list(
        session.exec(
            select(Assessment.id).where(
                Assessment.result_visibility == "after_close",
                col(Assessment.released_at).is_(None),
                Assessment.closes_at <= now,
            )
        ).all()
    )


def candidates_with_results(*, session: Session, assessment_id: str) -> list[str]:
    return list(
        session.exec(
            select(ResultRow.candidate)
            .distinct()
            .join(Submission, col(Submission.id) == ResultRow.submission_id)
            .where(Submission.assessment_id == assessment_id)
        ).all()
    )


def mark_released(*, session: Session, assessment_id: str, at: datetime) -> None:
    session.exec(update(Assessment).where(col(Assessment.id) == assessment_id).values(released_at=at))
    session.commit()


# -- the counting attempts, for staff views ---------------------------------------------


def task_attempts(
    *, session: Session, assessment_id: str, candidate: str, pack_id: str, task_id: str
) -> list[tuple[ResultRow, Submission]]:
    """Every graded attempt of one member at one task, oldest first."""
    rows = session.exec(
        select(ResultRow, Submission)
        .join(Submission, col(Submission.id) == ResultRow.submission_id)
        .where(
            Submission.assessment_id == assessment_id,
            Submission.candidate == candidate,
            Submission.pack_id == pack_id,
            Submission.task_id == task_id,
            col(ResultRow.superseded_by).is_(None),
        )
        .order_by(col(Submission.created_at))
    ).all()
    return list(rows)


def skills_of(*, session: Session, result_ids: Sequence[str]) -> dict[str, dict[str, tuple[float, str]]]:
    found: dict[str, dict[str, tuple[float, str]]] = {}
    if result_ids:
        rows = session.exec(select(SkillEvidence).where(col(SkillEvidence.result_id).in_(list(result_ids)))).all()
        for row in rows:
            found.setdefault(row.result_id, {})[row.skill] = (row.score, row.verdict)
    return found


def put_score(
    *,
    session: Session,
    assessment_id: str,
    candidate: str,
    pack_id: str,
    task_id: str,
    values: dict[str, Any] | None,
    revision: int,
) -> None:
    """Set (or with None, clear) the counting attempt on a member's progress row for a task, stamped with
    the assessment's ``revision`` (from ``storage.bump_revision``, taken first). The caller commits."""
    cleared: dict[str, Any] = {"result_id": None, "score": None, "verdict": None, "skills": {}, "late": False}
    row = session.exec(
        select(AssessmentScore).where(
            AssessmentScore.assessment_id == assessment_id,
            AssessmentScore.candidate == candidate,
            AssessmentScore.pack_id == pack_id,
            AssessmentScore.task_id == task_id,
        )
    ).first()
    if row is None:  # attempts from before progress rows were kept
        row = AssessmentScore(
            assessment_id=assessment_id, candidate=candidate, pack_id=pack_id, task_id=task_id, attempts=1
        )
    for key, value in (values or cleared).items():
        setattr(row, key, value)
    row.revision = revision
    session.add(row)
    session.flush()


def scores(*, session: Session, assessment_id: str, with_skills: bool, since: int | None = None) -> list[tuple]:
    """``(candidate, pack_id, task_id, attempts, score, verdict, late, skills)`` of every member's progress
    at every task they attempted (``score`` and ``verdict`` None until one attempt is graded).

    A narrow Core read (no ORM objects); ``skills`` are decoded in one ``json.loads`` over all rows
    (per-row JSON decoding dominated the time on a cohort of thousands), or None without ``with_skills``.
    ``since``: only the rows written after that revision of the assessment (``ix_assessment_score_revision``).
    """
    columns: list[Any] = [
        AssessmentScore.candidate,
        AssessmentScore.pack_id,
        AssessmentScore.task_id,
        AssessmentScore.attempts,
        AssessmentScore.score,
        AssessmentScore.verdict,
        AssessmentScore.late,
    ]
    if with_skills:
        columns.append(cast(AssessmentScore.skills, String))
    query = sa_select(*columns).where(col(AssessmentScore.assessment_id) == assessment_id)
    if since is not None:
        query = query.where(col(AssessmentScore.revision) > since)
    rows = session.connection().execute(query).all()
    if not with_skills:
        return [(*row, None) for row in rows]
    skills = json.loads("[" + ",".join(row[7] for row in rows) + "]") if rows else []
    return [(*row[:7], found) for row, found in zip(rows, skills, strict=True)]


def member_signature(*, session: Session, cohort_id: str) -> tuple[int, int]:
    """How many members, and the newest one's row id: changes when members join (they are never removed)."""
    count, newest = session.exec(
        select(func.count(), func.max(CohortMember.id)).where(CohortMember.cohort_id == cohort_id)
    ).one()
    return int(count), int(newest or 0)


def member_names(*, session: Session, cohort_id: str) -> list[tuple[str, str]]:
    """``(subject, display_name)`` of every member, by subject."""
    return list(
        session.exec(
            select(CohortMember.subject, CohortMember.display_name)
            .where(CohortMember.cohort_id == cohort_id)
            .order_by(col(CohortMember.subject))
        ).all()
    )


# -- regrades ---------------------------------------------------------------------------


def assessment_submissions(*, session: Session, assessment_id: str, pack_id: str, task_id: str) -> list[str]:
    """Ids of every submission of one task in an assessment."""
    return list(
        session.exec(
            select(Submission.id)
            .where(
                Submission.assessment_id == assessment_id, Submission.pack_id == pack_id, Submission.task_id == task_id
            )
            .order_by(col(Submission.created_at))
        ).all()
    )


def create_regrade(
    *,
    session: Session,
    regrade: Regrade,
    runs: Sequence[tuple[str, str, str]],
    assessment: Assessment,
    tasks: list[dict[str, str]],
) -> list[str]:
    """Store the regrade, one queued run per ``(submission id, pack version, task digest)``, and the
    assessment's new pins, in one transaction; returns the run ids to enqueue."""
    regrade.total = len(runs)
    session.add(regrade)
    session.flush()
    ids = []
    for submission_id, version, digest in runs:
        run = Run(submission_id=submission_id, pack_version=version, task_digest=digest, regrade_id=regrade.id)
        session.add(run)
        session.flush()
        session.add(RunEvent(run_id=run.id, kind=RunState.QUEUED.value, detail=f"regrade {regrade.id}"))
        ids.append(run.id)
    assessment.tasks = tasks
    session.add(assessment)
    session.flush()
    session.exec(update(Assessment).where(col(Assessment.id) == assessment.id).values(revision=Assessment.revision + 1))
    session.commit()
    session.refresh(regrade)
    return ids


def get_regrade(*, session: Session, regrade_id: str) -> Regrade | None:
    return session.get(Regrade, regrade_id)


def regrade_outcomes(*, session: Session, regrade_id: str) -> list[tuple[Run, Submission, ResultRow | None]]:
    """Each run of the regrade with its submission and new result (None while it is graded)."""
    without_files = defer(Submission.archive)  # type: ignore[arg-type]  # SQLModel types the column as bytes
    rows = session.exec(
        select(Run, Submission, ResultRow)
        .join(Submission, col(Submission.id) == Run.submission_id)
        .join(ResultRow, col(ResultRow.run_id) == Run.id, isouter=True)
        .where(Run.regrade_id == regrade_id)
        .options(without_files)
    ).all()
    return list(rows)


def previous_result(*, session: Session, submission_id: str, before: ResultRow | None) -> ResultRow | None:
    """The result a regrade's new one replaced: the one it superseded, else (an ``error`` regrade) the
    submission's newest graded result from before."""
    if before is not None and before.verdict != "error":
        found = session.exec(
            select(ResultRow).where(ResultRow.superseded_by == before.id).order_by(col(ResultRow.created_at).desc())
        ).first()
        if found is not None:
            return found
    query = select(ResultRow).where(ResultRow.submission_id == submission_id, ResultRow.verdict != "error")
    if before is not None:
        query = query.where(ResultRow.id != before.id)
    return session.exec(query.order_by(col(ResultRow.created_at).desc())).first()


def latest_attempts(*, session: Session, assessment_id: str, pack_id: str, task_id: str) -> list[Submission]:
    """Each member's last submission of one task in an assessment, with its files."""
    rows = session.exec(
        select(Submission)
        .where(Submission.assessment_id == assessment_id, Submission.pack_id == pack_id, Submission.task_id == task_id)
        .order_by(col(Submission.created_at))
    ).all()
    last: dict[str, Submission] = {}
    for row in rows:
        last[row.candidate] = row
    return list(last.values())


def member_submissions(*, session: Session, assessment_id: str, candidate: str) -> list[Submission]:
    """One member's submissions in an assessment, oldest first (pending ones too): their own page lists them."""
    return list(
        session.exec(
            select(Submission)
            .options(defer(Submission.archive))  # type: ignore[arg-type]  # SQLModel types the column as bytes
            .where(Submission.assessment_id == assessment_id, Submission.candidate == candidate)
            .order_by(col(Submission.created_at))
        ).all()
    )


def member_page(*, session: Session, cohort_id: str, offset: int, limit: int) -> tuple[list[CohortMember], int]:
    """A page of the cohort's members by subject, and how many there are (a web page never loads them all)."""
    total = int(
        session.exec(select(func.count()).select_from(CohortMember).where(CohortMember.cohort_id == cohort_id)).one()
    )
    rows = session.exec(
        select(CohortMember)
        .where(CohortMember.cohort_id == cohort_id)
        .order_by(col(CohortMember.subject))
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), total
