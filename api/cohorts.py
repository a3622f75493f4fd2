"""Who may see what of a cohort, and the assessment rules applied to stored state.

One access rule: a cohort's organiser (and any admin) runs it; its staff read its members'
assessment work; its members see its assessments and their own work. Anyone else gets 404,
as if the cohort did not exist.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from sqlmodel import Session

from api import cohort_storage as store
from api import storage
from api.auth import Principal
from api.tables import Assessment, Cohort, Role, Submission, utcnow
from engine import assessments as rules
from engine.errors import NotFound


class Standing(enum.IntEnum):
    """What a principal is to a cohort; higher includes lower."""

    NONE = 0
    MEMBER = 1
    STAFF = 2
    ORGANISER = 3


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time here is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def standing(session: Session, principal: Principal, cohort: Cohort) -> Standing:
    if principal.role is Role.ADMIN or (principal.role is Role.AUTHOR and principal.subject == cohort.organiser):
        return Standing.ORGANISER
    if principal.role in (Role.REVIEWER, Role.AUTHOR) and principal.subject in store.staff_of(
        session=session, cohort_id=cohort.id
    ):
        return Standing.STAFF
    if (
        principal.role is Role.CANDIDATE
        and store.get_member(session=session, cohort_id=cohort.id, subject=principal.subject) is not None
    ):
        return Standing.MEMBER
    return Standing.NONE


def cohort_for(session: Session, principal: Principal, cohort_id: str, at_least: Standing) -> Cohort:
    """The cohort if ``principal`` stands at least ``at_least`` in it; else 404 (never 403: ids cannot be probed)."""
    cohort = store.get_cohort(session=session, cohort_id=cohort_id)
    if cohort is None or standing(session, principal, cohort) < at_least:
        raise NotFound(f"unknown cohort {cohort_id!r}")
    return cohort


def assessment_for(
    session: Session, principal: Principal, assessment_id: str, at_least: Standing
) -> tuple[Assessment, Standing]:
    assessment = store.get_assessment(session=session, assessment_id=assessment_id)
    cohort = store.get_cohort(session=session, cohort_id=assessment.cohort_id) if assessment else None
    level = standing(session, principal, cohort) if cohort else Standing.NONE
    if assessment is None or level < at_least:
        raise NotFound(f"unknown assessment {assessment_id!r}")
    return assessment, level


def window(assessment: Assessment) -> rules.Window:
    return rules.Window(
        opens_at=aware(assessment.opens_at),
        closes_at=aware(assessment.closes_at),
        duration_seconds=assessment.duration_seconds,
        attempt_limit=assessment.attempt_limit,
        late=rules.LatePolicy(assessment.late),
    )


def pinned(assessment: Assessment, pack_id: str, task_id: str) -> dict[str, str]:
    for task in assessment.tasks:
        if task["pack_id"] == pack_id and task["task_id"] == task_id:
            return task
    raise NotFound(
        f"assessment {assessment.id!r} has no task {pack_id}/{task_id} "
        f"(it has: {', '.join(t['pack_id'] + '/' + t['task_id'] for t in assessment.tasks)})"
    )


def admit(
    session: Session, principal: Principal, assessment_id: str, pack_id: str, task_id: str
) -> tuple[dict[str, str], bool, int | None]:
    """The pinned task a member's new attempt is for, whether it is late, and the attempt limit the
    storing transaction checks again (``storage.create_submission``: this check alone could race).

    Raises:
        NotFound: not a member of the assessment's cohort, or no such task in it.
        AssessmentRuleBroken: the window, clock, attempt limit or late policy refuses it (409).
    """
    assessment, _ = assessment_for(session, principal, assessment_id, Standing.MEMBER)
    if standing(session, principal, _stored_cohort(session, assessment.cohort_id)) is not Standing.MEMBER:
        raise NotFound(f"only the cohort's members take assessment {assessment_id!r}")
    task = pinned(assessment, pack_id, task_id)
    started = store.get_start(session=session, assessment_id=assessment.id, candidate=principal.subject)
    used = store.attempts_used(
        session=session, assessment_id=assessment.id, candidate=principal.subject, pack_id=pack_id, task_id=task_id
    )
    late = rules.admit(
        window(assessment), now=utcnow(), started_at=aware(started.started_at) if started else None, attempts_used=used
    )
    return task, late, assessment.attempt_limit


@dataclass(frozen=True)
class WorkScope:
    """Whose work a principal reads beyond their own: practice work of ``packs`` and the work of
    ``assessments`` (None: every one). The same rule as ``sees_assessment_work`` and the submissions'
    ``sees_everything``, as sets a query can filter by (lists and queues are never filtered after a limit)."""

    packs: frozenset[str] | None
    assessments: frozenset[str] | None


def work_scope(session: Session, principal: Principal) -> WorkScope:
    if principal.role is Role.ADMIN:
        return WorkScope(packs=None, assessments=None)
    if principal.role not in (Role.REVIEWER, Role.AUTHOR):
        return WorkScope(packs=frozenset(), assessments=frozenset())
    author = principal.role is Role.AUTHOR
    assessments = frozenset(store.assessments_run_by(session=session, subject=principal.subject, organiser=author))
    packs = frozenset(storage.packs_owned_by(session=session, owner=principal.subject)) if author else None
    return WorkScope(packs=packs, assessments=assessments)


def sees_assessment_work(session: Session, principal: Principal, submission: Submission) -> bool:
    """Staff, organiser and admins of the submission's cohort read the full result."""
    assessment = store.get_assessment(session=session, assessment_id=submission.assessment_id or "")
    cohort = store.get_cohort(session=session, cohort_id=assessment.cohort_id) if assessment else None
    return cohort is not None and standing(session, principal, cohort) >= Standing.STAFF


def candidate_view_name(session: Session, submission: Submission) -> str:
    """Which signed candidate view the member reads now, by the assessment's visibility policy.

    Raises:
        NotFound: the whole result is withheld (``never``, or ``after_close`` before the close).
    """
    if submission.assessment_id is None:
        return "candidate"
    assessment = _stored_assessment(session, submission.assessment_id)
    closed = window(assessment).is_closed(utcnow())
    policy = rules.Visibility(assessment.result_visibility)
    if not rules.visible(policy, closed=closed):
        when = "until the assessment closes" if policy is rules.Visibility.AFTER_CLOSE else "from candidates"
        raise NotFound(
            f"the result of submission {submission.id!r} is withheld {when} "
            f"(the assessment's result visibility is {policy.value})"
        )
    return "candidate_after" if closed else "candidate"


def extra_views(session: Session, submission: Submission, view: dict) -> dict[str, dict]:
    """The candidate views an assessment's check visibility calls for, by stored name (none outside one)."""
    if submission.assessment_id is None:
        return {}
    assessment = _stored_assessment(session, submission.assessment_id)
    cut = rules.candidate_views(view, rules.Visibility(assessment.check_visibility), assessment.check_overrides)
    return {"candidate": cut["during"], "candidate_after": cut["after"]}


class HiddenWork(NamedTuple):
    """A candidate's assessment work a view leaves out: whole assessments, and their results."""

    assessments: set[str]
    results: set[str]


def hidden_work(
    session: Session,
    candidate: str,
    *,
    as_candidate: bool = False,
    scope: WorkScope | None = None,
    assessments: Collection[str] | None = None,
) -> HiddenWork:
    """What a view of the candidate's work leaves out: with ``as_candidate``, the assessments whose
    visibility policy still withholds results from them; with a staff ``scope``, the assessments
    outside it (another cohort's work). Always whole assessments, so a profile can leave out a
    standing's scope as it leaves out the scope's results.

    ``assessments``: the candidate's assessments with work, when the caller already knows them (a
    profile: its standings' scopes); their results are then read only if one of them is hidden.
    """
    if not as_candidate and (scope is None or scope.assessments is None):
        return HiddenWork(set(), set())
    attempts = None
    if assessments is None:
        attempts = store.assessment_results(session=session, candidate=candidate)
        assessments = {assessment_id for _, assessment_id in attempts}
    hidden: set[str] = set()
    if as_candidate:
        now = utcnow()
        for assessment_id in assessments:
            assessment = _stored_assessment(session, assessment_id)
            policy = rules.Visibility(assessment.result_visibility)
            if not rules.visible(policy, closed=window(assessment).is_closed(now)):
                hidden.add(assessment_id)
    if scope is not None and scope.assessments is not None:
        hidden |= set(assessments) - scope.assessments
    if not hidden:
        return HiddenWork(set(), set())
    if attempts is None:
        attempts = store.assessment_results(session=session, candidate=candidate)
    return HiddenWork(hidden, {result_id for result_id, assessment_id in attempts if assessment_id in hidden})


def out_of_scope_results(session: Session, candidate: str, scope: WorkScope) -> set[str]:
    """Ids of the candidate's assessment results outside ``scope`` (another cohort's work)."""
    return hidden_work(session, candidate, scope=scope).results


def withheld_results(session: Session, candidate: str) -> set[str]:
    """Ids of the candidate's results an assessment's visibility policy still withholds from them."""
    return hidden_work(session, candidate, as_candidate=True).results


def _stored_assessment(session: Session, assessment_id: str) -> Assessment:
    """The assessment a stored row names (by foreign key): only a damaged database lacks it."""
    assessment = store.get_assessment(session=session, assessment_id=assessment_id)
    if assessment is None:
        raise NotFound(f"unknown assessment {assessment_id!r}")
    return assessment


def _stored_cohort(session: Session, cohort_id: str) -> Cohort:
    """The cohort a stored assessment names (by foreign key): only a damaged database lacks it."""
    cohort = store.get_cohort(session=session, cohort_id=cohort_id)
    if cohort is None:
        raise NotFound(f"unknown cohort {cohort_id!r}")
    return cohort


def refresh_score(session: Session, submission: Submission) -> None:
    """Recompute which attempt counts for the submission's member and task, in the new result's transaction
    (after taking the assessment's revision: concurrent results of one member are counted one after another)."""
    if submission.assessment_id is None:
        return
    revision = storage.bump_revision(session=session, assessment_id=submission.assessment_id)
    assessment = _stored_assessment(session, submission.assessment_id)
    pairs = store.task_attempts(
        session=session,
        assessment_id=assessment.id,
        candidate=submission.candidate,
        pack_id=submission.pack_id,
        task_id=submission.task_id,
    )
    skills = store.skills_of(session=session, result_ids=[r.id for r, _ in pairs])
    late = {r.id: s.late for r, s in pairs}
    attempts = [
        rules.Attempt(
            at=aware(s.created_at), score=r.score, verdict=r.verdict, result_id=r.id, skills=skills.get(r.id, {})
        )
        for r, s in pairs
    ]
    chosen = rules.counting(attempts, rules.Scoring(assessment.scoring))
    values = (
        None
        if chosen is None
        else {
            "result_id": chosen.result_id,
            "score": chosen.score,
            "verdict": chosen.verdict,
            "late": late[chosen.result_id],
            "skills": {k: [v[0], v[1]] for k, v in chosen.skills.items()},
            "at": chosen.at,
        }
    )
    store.put_score(
        session=session,
        assessment_id=assessment.id,
        candidate=submission.candidate,
        pack_id=submission.pack_id,
        task_id=submission.task_id,
        values=values,
        revision=revision,
    )


def cohort_id_of(session: Session, assessment_id: str | None) -> str | None:
    """The cohort an assessment belongs to (None outside any assessment)."""
    if assessment_id is None:
        return None
    assessment = store.get_assessment(session=session, assessment_id=assessment_id)
    return assessment.cohort_id if assessment else None
