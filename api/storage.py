"""Storage operations. Each takes a session and keyword-only arguments; none commits half a change.

The database is the source of truth: the queue only carries run ids, and the
run's state machine lives here (``queued → running → grading → done``) with
a compare-and-set claim so a redelivered message never grades twice.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, and_, case, delete, insert, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer
from sqlmodel import Session, col, func, select

from api import auth
from api.tables import (
    ApiToken,
    Assessment,
    AssessmentScore,
    LogCheckpoint,
    LogEntry,
    LogNode,
    PackState,
    PackVersion,
    PublicTestAdmission,
    PublicTestJob,
    ResultRow,
    Review,
    ReviewState,
    Role,
    Run,
    RunEvent,
    RunState,
    SignInLink,
    SkillEvidence,
    SkillStanding,
    Submission,
    WebSession,
    utcnow,
)
from engine.errors import Conflict, NotFound
from engine.merkle import NodeLookup

# -- tokens ----------------------------------------------------------------


def create_token(*, session: Session, name: str, role: Role, subject: str, expires_at: datetime | None = None) -> str:
    """Create a token and return its secret; only its digest is stored."""
    secret = auth.new_token()
    session.add(
        ApiToken(name=name, role=role, subject=subject, token_hash=auth.token_hash(secret), expires_at=expires_at)
    )
    session.commit()
    return secret


def find_token(*, session: Session, secret: str, now: datetime | None = None) -> ApiToken | None:
    """The token whose secret this is, if it is neither revoked nor expired."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == auth.token_hash(secret))).first()
    return row if row is not None and token_usable(row, now) else None


def token_usable(row: ApiToken, now: datetime | None = None) -> bool:
    """Neither revoked nor expired: the one rule for API calls and the browser sessions opened with a token."""
    return not row.revoked and (row.expires_at is None or _aware(row.expires_at) > (now or utcnow()))


def list_tokens(*, session: Session) -> Sequence[ApiToken]:
    return session.exec(select(ApiToken).order_by(col(ApiToken.created_at))).all()


def revoke_token(*, session: Session, token_id: str) -> ApiToken:
    """Revoke the token ``token_id`` (again is harmless). Raises ``NotFound`` for an unknown id."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"unknown token {token_id!r} (`tasktrial admin list-tokens` shows the ids)")
    if not row.revoked:
        row.revoked, row.revoked_at = True, utcnow()
        session.add(row)
        session.commit()
        session.refresh(row)
    return row


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time here is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- packs -----------------------------------------------------------------


def pack_owners(*, session: Session, pack_id: str) -> set[str]:
    rows = session.exec(select(PackVersion.owner).where(PackVersion.pack_id == pack_id)).all()
    return {owner for owner in rows if owner}


def packs_owned_by(*, session: Session, owner: str) -> set[str]:
    return set(session.exec(select(PackVersion.pack_id).where(PackVersion.owner == owner)).all())


def work_filter(
    model: type[Submission] | type[Review], *, packs: Collection[str] | None, assessments: Collection[str] | None
) -> list[Any]:
    """Conditions keeping a query to practice work of ``packs`` and the work of ``assessments`` (None: every one)."""
    practice: ColumnElement[bool] = col(model.assessment_id).is_(None)
    if packs is not None:
        practice = practice & col(model.pack_id).in_(list(packs))
    if assessments is None:
        return [] if packs is None else [practice | col(model.assessment_id).is_not(None)]
    return [practice | col(model.assessment_id).in_(list(assessments))]


def record_pack_version(
    *,
    session: Session,
    pack_id: str,
    version: str,
    digest: str,
    owner: str | None,
    state: PackState = PackState.CHECKING,
) -> PackVersion:
    row = PackVersion(pack_id=pack_id, version=version, digest=digest, owner=owner, state=state.value)
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def get_pack_version(
    *, session: Session, pack_id: str | None = None, version: str | None = None, version_id: str | None = None
) -> PackVersion | None:
    """A stored version, by its row id or by ``pack_id`` and ``version``."""
    if version_id is not None:
        return session.get(PackVersion, version_id)
    return session.exec(
        select(PackVersion).where(PackVersion.pack_id == pack_id, PackVersion.version == version)
    ).first()


def pack_states(*, session: Session) -> dict[tuple[str, str], str]:
    """Every uploaded version's state, by ``(pack_id, version)`` (one small query per pack store read)."""
    rows = session.exec(select(PackVersion.pack_id, PackVersion.version, PackVersion.state)).all()
    return {(pack_id, version): state for pack_id, version, state in rows}


def list_pack_versions(*, session: Session, owner: str | None) -> list[PackVersion]:
    """Uploaded versions, newest first; only ``owner``'s unless None (an admin's view)."""
    query = select(PackVersion)
    if owner is not None:
        query = query.where(PackVersion.owner == owner)
    return list(session.exec(query.order_by(col(PackVersion.created_at).desc())).all())


def move_pack_version(
    *,
    session: Session,
    version_id: str,
    from_states: Sequence[PackState],
    to: PackState,
    report: dict[str, Any] | None = None,
) -> bool:
    """Compare-and-set a version's state (and store a check report); False if it was in none of ``from_states``."""
    values: dict[str, Any] = {"state": to.value}
    if report is not None:
        values.update(report=report, checked_at=utcnow())
    statement = (
        update(PackVersion)
        .where(col(PackVersion.id) == version_id)
        .where(col(PackVersion.state).in_([s.value for s in from_states]))
        .values(**values)
    )
    moved = session.exec(statement).rowcount == 1
    session.commit()
    return moved


def checking_versions(*, session: Session) -> list[PackVersion]:
    return list(session.exec(select(PackVersion).where(PackVersion.state == PackState.CHECKING.value)).all())


def pack_results(*, session: Session, pack_id: str) -> Sequence[ResultRow]:
    """Every result of a pack's submissions (for its author's statistics)."""
    return session.exec(select(ResultRow).where(ResultRow.pack_id == pack_id)).all()


# -- submissions and runs ---------------------------------------------------


def create_submission(
    *,
    session: Session,
    candidate: str,
    pack_id: str,
    pack_version: str,
    task_id: str,
    task_digest: str,
    submission_digest: str,
    archive: bytes,
    subject_salt: str | None = None,
    assessment_id: str | None = None,
    late: bool = False,
    attempt_limit: int | None = None,
) -> tuple[Submission, Run]:
    """Store a submission and its first run, queued, in one transaction (an assessment's attempt says which).

    An assessment's attempt is counted first: the assessment's revision is taken (its row held to the
    commit: PostgreSQL's row lock, SQLite's single writer), so concurrent attempts are counted one after
    another and ``attempt_limit`` is checked against every attempt stored before.

    Raises:
        AssessmentRuleBroken: ``attempt_limit`` attempts at the task are already used (nothing is stored).
    """
    if assessment_id is not None:
        _count_attempt(
            session=session,
            assessment_id=assessment_id,
            candidate=candidate,
            pack_id=pack_id,
            task_id=task_id,
            attempt_limit=attempt_limit,
        )
    submission = Submission(
        candidate=candidate,
        pack_id=pack_id,
        pack_version=pack_version,
        task_id=task_id,
        task_digest=task_digest,
        submission_digest=submission_digest,
        archive=archive,
        subject_salt=subject_salt,
        assessment_id=assessment_id,
        late=late,
    )
    run = Run(submission_id=submission.id)
    session.add(submission)
    session.flush()  # no ORM relationships: insert in foreign-key order ourselves
    session.add(run)
    session.flush()
    session.add(RunEvent(run_id=run.id, kind=RunState.QUEUED.value))
    session.commit()
    session.refresh(submission)
    session.refresh(run)
    return submission, run


def _count_attempt(
    *, session: Session, assessment_id: str, candidate: str, pack_id: str, task_id: str, attempt_limit: int | None
) -> None:
    """One more attempt on the member's progress row (an upsert: made by the first), after taking the
    assessment's revision as the transaction's first write (held to the commit); then the limit is checked
    against the attempts stored before (every one committed by whoever held the row earlier).

    Raises:
        AssessmentRuleBroken: the limit is reached (the transaction is rolled back).
    """
    from api import cohort_storage  # its storage module reads these tables too; imported late to keep one direction
    from engine.assessments import AssessmentRuleBroken

    revision = bump_revision(session=session, assessment_id=assessment_id)  # holds the assessment's row
    values = {
        "assessment_id": assessment_id,
        "candidate": candidate,
        "pack_id": pack_id,
        "task_id": task_id,
        "attempts": 1,
        "skills": {},
        "late": False,
        "at": utcnow(),
        "revision": revision,
    }
    keys = ["assessment_id", "candidate", "pack_id", "task_id"]
    counted = {"attempts": AssessmentScore.attempts + 1, "revision": revision}
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_upsert

        session.exec(
            postgresql_upsert(AssessmentScore).values(**values).on_conflict_do_update(index_elements=keys, set_=counted)
        )
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_upsert

        session.exec(
            sqlite_upsert(AssessmentScore).values(**values).on_conflict_do_update(index_elements=keys, set_=counted)
        )
    if attempt_limit is not None:
        used = cohort_storage.attempts_used(
            session=session, assessment_id=assessment_id, candidate=candidate, pack_id=pack_id, task_id=task_id
        )
        if used >= attempt_limit:
            session.rollback()
            raise AssessmentRuleBroken("attempt_limit", f"{used} of {attempt_limit} attempt(s) at this task used")


def bump_revision(*, session: Session, assessment_id: str) -> int:
    """Mark the assessment's progress changed, in the caller's transaction, and return its new revision.

    The caller stamps the rows it writes with it (``AssessmentScore.revision``, ``AssessmentStart.revision``):
    staff views then re-read only rows newer than the revision they were computed at. Call it before
    writing those rows: the assessment's row stays locked to the commit (PostgreSQL; SQLite has one
    writer), so revisions are committed in order and a view that read revision R has seen every row up to R.
    """
    session.exec(update(Assessment).where(col(Assessment.id) == assessment_id).values(revision=Assessment.revision + 1))
    return int(session.exec(select(Assessment.revision).where(Assessment.id == assessment_id)).one())


def recent_submissions(*, session: Session, candidate: str, since: datetime) -> tuple[int, datetime | None]:
    """How many submissions ``candidate`` made since ``since``, and when the oldest of them was made."""
    count, oldest = session.exec(
        select(func.count(), func.min(Submission.created_at)).where(
            Submission.candidate == candidate, col(Submission.created_at) >= since
        )
    ).one()
    return int(count), _aware(oldest) if oldest is not None else None


def recent_public_test_runs(*, session: Session, candidate: str, since: datetime) -> tuple[int, datetime | None]:
    """How many public-test runs ``candidate`` was let in to since ``since``, and when the oldest of them was."""
    count, oldest = session.exec(
        select(func.count(), func.min(PublicTestAdmission.at)).where(
            PublicTestAdmission.candidate == candidate, col(PublicTestAdmission.at) >= since
        )
    ).one()
    return int(count), _aware(oldest) if oldest is not None else None


def record_public_test_run(*, session: Session, candidate: str, at: datetime, forget_before: datetime) -> None:
    """Remember one public-test run let in (and forget every one older than ``forget_before``); commits."""
    session.exec(delete(PublicTestAdmission).where(col(PublicTestAdmission.at) < forget_before))
    session.add(PublicTestAdmission(candidate=candidate, at=at))
    session.commit()


def create_public_test_job(
    *,
    session: Session,
    pack_id: str,
    pack_version: str,
    task_id: str,
    task_digest: str,
    archive: bytes,
    forget_before: datetime,
) -> str:
    """Store public tests for a worker (and drop jobs older than ``forget_before``: their caller gave up); commits."""
    session.exec(delete(PublicTestJob).where(col(PublicTestJob.created_at) < forget_before))
    job = PublicTestJob(
        pack_id=pack_id, pack_version=pack_version, task_id=task_id, task_digest=task_digest, archive=archive
    )
    session.add(job)
    session.commit()
    return job.id


def claim_public_test_job(*, session: Session, job_id: str, token_id: str) -> PublicTestJob | None:
    """Give the job to this worker token (compare-and-set: one worker runs it); None if taken, done or gone."""
    claimed = session.exec(
        update(PublicTestJob)
        .where(col(PublicTestJob.id) == job_id, col(PublicTestJob.worker_token_id).is_(None))
        .values(worker_token_id=token_id)
    )
    session.commit()
    return session.get(PublicTestJob, job_id) if claimed.rowcount == 1 else None


def finish_public_test_job(*, session: Session, job_id: str, token_id: str, outcome: dict[str, Any]) -> bool:
    """Record what the worker holding the job ran; False if it does not hold it or posted already."""
    done = session.exec(
        update(PublicTestJob)
        .where(
            col(PublicTestJob.id) == job_id,
            col(PublicTestJob.worker_token_id) == token_id,
            col(PublicTestJob.outcome).is_(None),
        )
        .values(outcome=outcome)
    )
    session.commit()
    return done.rowcount == 1


def public_test_outcome(*, session: Session, job_id: str) -> dict[str, Any] | None:
    """What the worker posted for the job (None while it runs); never reads the files."""
    outcome = session.exec(select(PublicTestJob.outcome).where(PublicTestJob.id == job_id)).first()
    return cast("dict[str, Any] | None", outcome)  # a JSON column: SQLModel's select() types it as any Mapping


def delete_public_test_job(*, session: Session, job_id: str) -> None:
    session.exec(delete(PublicTestJob).where(col(PublicTestJob.id) == job_id))
    session.commit()


def queued_runs(*, session: Session, up_to: int | None = None) -> int:
    """Runs waiting for a worker, all candidates together; with ``up_to``, counted no further than that
    (a bound is checked reading at most ``up_to`` index entries, however long the queue)."""
    waiting = select(Run.state).where(Run.state == RunState.QUEUED)  # from the state's index alone
    if up_to is not None:
        waiting = waiting.limit(up_to)
    return int(session.exec(select(func.count()).select_from(waiting.subquery())).one())


def get_submission(*, session: Session, submission_id: str, with_archive: bool = True) -> Submission | None:
    """The submission; without ``with_archive`` its files are not read (reads of results never need them)."""
    if with_archive:
        return session.get(Submission, submission_id)
    without_files = defer(Submission.archive)  # type: ignore[arg-type]  # SQLModel types the column as bytes
    return session.exec(select(Submission).where(Submission.id == submission_id).options(without_files)).first()


def list_submissions(
    *,
    session: Session,
    candidate: str | None,
    limit: int,
    offset: int,
    packs: Collection[str] | None = None,
    assessments: Collection[str] | None = None,
) -> tuple[list[Submission], int]:
    """A candidate's submissions, or (``candidate`` None) everyone's within ``work_filter(packs, assessments)``."""
    query = select(Submission)
    counter = select(func.count()).select_from(Submission)
    if candidate is not None:
        query = query.where(Submission.candidate == candidate)
        counter = counter.where(Submission.candidate == candidate)
    else:
        scope = work_filter(Submission, packs=packs, assessments=assessments)
        query, counter = query.where(*scope), counter.where(*scope)
    rows = session.exec(query.order_by(col(Submission.created_at).desc()).offset(offset).limit(limit)).all()
    return list(rows), int(session.exec(counter).one())


def latest_run(*, session: Session, submission_id: str) -> Run | None:
    return session.exec(
        select(Run).where(Run.submission_id == submission_id).order_by(col(Run.created_at).desc())
    ).first()


def get_run(*, session: Session, run_id: str) -> Run | None:
    return session.get(Run, run_id)


def claim_run(
    *, session: Session, run_id: str, worker: str, token_id: str, lease_seconds: float, now: datetime | None = None
) -> bool:
    """Compare-and-set ``queued`` (or a lapsed claim) to ``running``. True if this worker now owns the run.

    The claim belongs to the authenticated token ``token_id``; ``worker`` names the process within it.
    """
    now = now or utcnow()
    statement = (
        update(Run)
        .where(col(Run.id) == run_id)
        .where(
            or_(
                col(Run.state) == RunState.QUEUED,
                (col(Run.state).in_([RunState.RUNNING, RunState.GRADING])) & (col(Run.lease_expires_at) < now),
            )
        )
        .values(
            state=RunState.RUNNING,
            worker=worker,
            worker_token_id=token_id,
            attempts=Run.attempts + 1,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            updated_at=now,
        )
    )
    claimed = session.exec(statement).rowcount == 1
    if claimed:
        session.add(RunEvent(run_id=run_id, kind=RunState.RUNNING.value, detail=worker))
    session.commit()
    return claimed


def _held_by(token_id: str, worker: str | None) -> ColumnElement[bool]:
    """The condition "claimed by this token (and process, when named)": the only caller that may act on the run."""
    condition = (col(Run.state).in_([RunState.RUNNING, RunState.GRADING])) & (col(Run.worker_token_id) == token_id)
    return condition & (col(Run.worker) == worker) if worker is not None else condition


def advance_run(
    *, session: Session, run_id: str, worker: str | None, token_id: str, state: RunState, lease_seconds: float
) -> bool:
    """Move a claimed run forward (e.g. to ``grading``) and extend the claim; False if the worker does not hold it."""
    now = utcnow()
    before = session.get(Run, run_id)
    changed = before is not None and before.state is not state
    statement = (
        update(Run)
        .where(col(Run.id) == run_id, _held_by(token_id, worker))
        .values(state=state, lease_expires_at=now + timedelta(seconds=lease_seconds), updated_at=now)
    )
    moved = session.exec(statement).rowcount == 1
    if moved and changed:
        session.add(RunEvent(run_id=run_id, kind=state.value))
    session.commit()
    return moved


def release_run(
    *,
    session: Session,
    run_id: str,
    holder: tuple[str, str | None] | None = None,
    lapsed_before: datetime | None = None,
) -> bool:
    """Put a claimed run back in the queue (an infrastructure failure, or a worker that vanished).

    Compare-and-set like ``claim_run``: with ``holder`` (token id, worker name), only that
    worker's claim is released (a worker whose lease lapsed must not release the run another
    worker took over); with ``lapsed_before``, only a claim whose lease ended before then (the
    reaper acts on what it read a moment ago, and must not release a claim taken since).
    True if the run was released.
    """
    now = utcnow()
    statement = update(Run).where(col(Run.id) == run_id, col(Run.state).in_([RunState.RUNNING, RunState.GRADING]))
    if holder is not None:
        statement = statement.where(_held_by(*holder))
    if lapsed_before is not None:
        statement = statement.where(col(Run.lease_expires_at) < lapsed_before)
    released = (
        session.exec(
            statement.values(
                state=RunState.QUEUED, lease_expires_at=None, worker=None, worker_token_id=None, updated_at=now
            )
        ).rowcount
        == 1
    )
    if released:
        session.add(RunEvent(run_id=run_id, kind=RunState.QUEUED.value, detail="re-queued"))
    session.commit()
    return released


def queue_position(*, session: Session, run_id: str) -> int | None:
    """1 for the next run a worker takes, counting queued runs older than this one; None once it left the queue."""
    run = session.get(Run, run_id)
    if run is None or run.state is not RunState.QUEUED:
        return None
    ahead = session.exec(
        select(func.count()).select_from(Run).where(Run.state == RunState.QUEUED, col(Run.created_at) < run.created_at)
    ).one()
    return int(ahead) + 1


def run_events_since(*, session: Session, after_id: int, limit: int = 10_000) -> tuple[int, set[str]]:
    """The highest event id, and the runs with events after ``after_id`` (a negative id: just the highest)."""
    if after_id < 0:
        return int(session.exec(select(func.coalesce(func.max(RunEvent.id), 0))).one() or 0), set()
    rows = session.exec(
        select(RunEvent.id, RunEvent.run_id).where(col(RunEvent.id) > after_id).order_by(col(RunEvent.id)).limit(limit)
    ).all()
    last = rows[-1][0] if rows else None  # stored events always have an id
    return (after_id if last is None else last), {run_id for _, run_id in rows}


def events_after(*, session: Session, run_id: str, after_id: int) -> Sequence[RunEvent]:
    return session.exec(
        select(RunEvent).where(RunEvent.run_id == run_id, col(RunEvent.id) > after_id).order_by(col(RunEvent.id))
    ).all()


# -- results ---------------------------------------------------------------


def get_result(*, session: Session, result_id: str) -> ResultRow | None:
    return session.get(ResultRow, result_id)


def latest_result(*, session: Session, submission_id: str) -> ResultRow | None:
    """The submission's current result: the newest not superseded, a graded one before an ``error`` one
    (a regrade the engine could not complete leaves the earlier verdict standing)."""
    return session.exec(
        select(ResultRow)
        .where(ResultRow.submission_id == submission_id, col(ResultRow.superseded_by).is_(None))
        .order_by(case((col(ResultRow.verdict) == "error", 1), else_=0), col(ResultRow.created_at).desc())
    ).first()


def result_for_run(*, session: Session, run_id: str) -> ResultRow | None:
    return session.exec(select(ResultRow).where(ResultRow.run_id == run_id)).first()


def record_result(
    *,
    session: Session,
    run: Run,
    submission: Submission,
    document: dict[str, Any],
    candidate_view: dict[str, Any],
    log_digests: Mapping[str, str] | None = None,
    holder: tuple[str, str | None] | None = None,
    extra_views: Mapping[str, dict[str, Any]] | None = None,
    also: Callable[[Session], None] | None = None,
) -> tuple[ResultRow, bool]:
    """Store the run's result once. A second write for the same run changes nothing.

    ``extra_views`` are further signed views stored by name (an assessment's candidate view after
    its close). ``log_digests`` (view name -> digest) are appended to the transparency log in the
    same transaction, so no stored result is missing from the log. With ``holder`` (token id,
    worker name), the result is stored only while that worker holds the run, checked in the
    same transaction that ends the run.

    ``also`` runs last in the same transaction (an assessment attempt's progress row follows its result).

    Returns ``(result, created)``. Raises ``Conflict`` when ``holder`` does not hold the run.
    """
    existing = result_for_run(session=session, run_id=run.id)
    if existing is not None:
        return existing, False
    result = ResultRow(
        id=document["id"],
        run_id=run.id,
        submission_id=submission.id,
        candidate=submission.candidate,
        pack_id=submission.pack_id,
        task_id=submission.task_id,
        score=float(document["score"]),
        verdict=document["verdict"],
        document={"full": document, "candidate": candidate_view, **(extra_views or {})},
    )
    session.add(result)
    session.flush()
    if result.verdict != "error":  # a newer verdict (a regrade's) supersedes the earlier ones, which stay stored
        earlier = select(ResultRow.id).where(
            ResultRow.submission_id == submission.id, ResultRow.id != result.id, col(ResultRow.superseded_by).is_(None)
        )
        # ... but no longer count: their skill evidence goes (profiles, readiness and credentials read only
        # current results; the superseded documents, signed and logged, still carry their micro-skills).
        if session.exec(delete(SkillEvidence).where(col(SkillEvidence.result_id).in_(earlier))).rowcount:
            rebuild_standings(session=session, candidate=submission.candidate, scope=submission.assessment_id or "")
        session.exec(
            update(ResultRow)
            .where(
                col(ResultRow.submission_id) == submission.id,
                col(ResultRow.id) != result.id,
                col(ResultRow.superseded_by).is_(None),
            )
            .values(superseded_by=result.id)
        )
    for view, digest in (log_digests or {}).items():
        session.add(LogEntry(digest=digest, result_id=result.id, view=view))
    # An ``error`` verdict says nothing about the candidate's skills: it never enters their profile.
    evidence = document.get("micro_skills", {}) if document["verdict"] != "error" else {}
    at = utcnow()
    for skill, value in evidence.items():
        session.add(
            SkillEvidence(
                candidate=submission.candidate,
                skill=skill,
                score=float(value["score"]),
                verdict=value["verdict"],
                result_id=result.id,
                at=at,
            )
        )
        record_standing(
            session=session,
            candidate=submission.candidate,
            skill=skill,
            score=float(value["score"]),
            verdict=value["verdict"],
            at=at,
            result_id=result.id,
            scope=submission.assessment_id or "",
        )
    now = utcnow()
    ending = update(Run).where(col(Run.id) == run.id)
    if holder is not None:
        ending = ending.where(_held_by(*holder))
    ended = session.exec(ending.values(state=RunState.DONE, lease_expires_at=None, updated_at=now)).rowcount == 1
    if not ended:
        session.rollback()
        raise Conflict(f"run {run.id} is not claimed by this worker: claim it before posting its result")
    session.add(RunEvent(run_id=run.id, kind=RunState.DONE.value, detail=document["verdict"]))
    if also is not None:
        session.flush()
        also(session)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = result_for_run(session=session, run_id=run.id)
        if existing is None:
            raise
        return existing, False
    session.refresh(result)
    return result, True


def skill_evidence(*, session: Session, candidate: str) -> Sequence[Any]:
    """A candidate's evidence in time order, as read-only rows (``.skill``, ``.score``, ``.verdict``, ``.at``,
    ``.result_id``): plain columns of the covering index, no ORM objects (a profile reads hundreds)."""
    return session.exec(
        select(
            SkillEvidence.skill,
            SkillEvidence.score,
            SkillEvidence.verdict,
            SkillEvidence.at,  # type: ignore[call-overload]  # SQLModel types select() for at most 4 columns
            SkillEvidence.result_id,
        )
        .where(SkillEvidence.candidate == candidate)
        .order_by(col(SkillEvidence.at))
    ).all()


def skill_standings(*, session: Session, candidate: str) -> Sequence[Any]:
    """A candidate's standings as read-only rows, one per skill and scope (the columns of ``SkillStanding``):
    a profile's latest and best without reading the evidence."""
    table = SkillStanding.__table__  # type: ignore[attr-defined]  # SQLModel sets a table model's Table at runtime only
    return session.execute(sa_select(table).where(table.c.candidate == candidate)).all()


def evidence_results(*, session: Session, candidate: str) -> Sequence[tuple[str, str]]:
    """``(skill, result id)`` of a candidate's evidence in time order: a profile's list of results per skill,
    two columns of the covering index (no scores, no times to decode)."""
    return session.exec(
        select(SkillEvidence.skill, SkillEvidence.result_id)
        .where(SkillEvidence.candidate == candidate)
        .order_by(col(SkillEvidence.at))
    ).all()


# -- the reaper's queries --------------------------------------------------


def stale_runs(*, session: Session, now: datetime, queued_before: datetime, limit: int = 500) -> Sequence[Run]:
    """Runs whose claim lapsed, and queued runs nobody picked up since ``queued_before``, oldest first.

    At most ``limit`` of each: with a backlog of queued runs (all waiting longer than the lease
    margin), one pass must not re-send the whole backlog; the next pass takes the next oldest.
    Two queries, each walking one index (``ix_run_state_updated_at``) rather than an OR.
    """
    lapsed = session.exec(
        select(Run)
        .where(col(Run.state).in_([RunState.RUNNING, RunState.GRADING]), col(Run.lease_expires_at) < now)
        .order_by(col(Run.lease_expires_at))
        .limit(limit)
    ).all()
    waiting = session.exec(
        select(Run)
        .where(Run.state == RunState.QUEUED, col(Run.updated_at) < queued_before)
        .order_by(col(Run.updated_at))
        .limit(limit)
    ).all()
    return [*lapsed, *waiting]


def touch_run(*, session: Session, run_id: str) -> None:
    touch_runs(session=session, run_ids=[run_id])


def touch_runs(*, session: Session, run_ids: Sequence[str]) -> None:
    """Mark queued runs as just sent again, in one statement (a pass over a backlog is one commit)."""
    if not run_ids:
        return
    session.exec(
        update(Run).where(col(Run.id).in_(list(run_ids)), col(Run.state) == RunState.QUEUED).values(updated_at=utcnow())
    )
    session.commit()


# -- the transparency log ----------------------------------------------------


def latest_checkpoint(*, session: Session) -> LogCheckpoint | None:
    return session.exec(select(LogCheckpoint).order_by(col(LogCheckpoint.size).desc())).first()


def get_checkpoint(*, session: Session, size: int) -> LogCheckpoint | None:
    return session.get(LogCheckpoint, size)


def leaf_digests(*, session: Session, size: int) -> list[str]:
    """The digests of leaves ``0 .. size-1``, in log order."""
    return list(
        session.exec(
            select(LogEntry.digest).where(col(LogEntry.log_index) < size).order_by(col(LogEntry.log_index))
        ).all()
    )


def log_entry(*, session: Session, result_id: str, view: str) -> LogEntry | None:
    return session.exec(select(LogEntry).where(LogEntry.result_id == result_id, LogEntry.view == view)).first()


def log_entry_by_digest(*, session: Session, digest: str) -> LogEntry | None:
    """The first sealed entry with ``digest`` (one document is logged once)."""
    return session.exec(
        select(LogEntry)
        .where(LogEntry.digest == digest, col(LogEntry.log_index).is_not(None))
        .order_by(col(LogEntry.log_index))
    ).first()


def pending_log_entries(*, session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(LogEntry).where(col(LogEntry.log_index).is_(None))).one())


def log_nodes(*, session: Session, nodes: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored hashes of the perfect subtrees ``(level, position)`` asked for, in one query."""
    if not nodes:
        return {}
    by_level: dict[int, list[int]] = {}
    for level, position in nodes:
        by_level.setdefault(level, []).append(position)
    # One primary-key range per level (a row-value IN scans the whole table on SQLite).
    rows = session.exec(
        select(LogNode.level, LogNode.position, LogNode.hash).where(
            or_(
                *(
                    (col(LogNode.level) == level) & col(LogNode.position).in_(positions)
                    for level, positions in by_level.items()
                )
            )
        )
    ).all()
    return {(level, position): value for level, position, value in rows}


def seal_log(
    *,
    session: Session,
    limit: int,
    make_checkpoint: Callable[[int, list[str], NodeLookup], tuple[dict[tuple[int, int], bytes], str, str]],
) -> LogCheckpoint | None:
    """Give up to ``limit`` waiting entries the next log positions and store the checkpoint over them.

    ``make_checkpoint(old size, the new leaves' digests, a reader of stored subtrees) ->
    (the subtrees the batch completes, root hex, signed note)``. One transaction: positions,
    subtrees and checkpoint are stored together or not at all. A concurrent sealer (another API
    process) loses on the unique position, subtree or checkpoint size and this returns None; so
    does a pass with nothing waiting, except the first: a log always has a checkpoint, the empty
    tree's at least.
    """
    last = latest_checkpoint(session=session)
    size = last.size if last is not None else 0
    waiting = session.exec(
        select(LogEntry).where(col(LogEntry.log_index).is_(None)).order_by(col(LogEntry.id)).limit(limit)
    ).all()
    if not waiting and last is not None:
        return None
    edge = log_nodes(session=session, nodes=[(0, size - 1), (0, size)] if size else [(0, 0)])
    if (size and (0, size - 1) not in edge) or (0, size) in edge:
        now = latest_checkpoint(session=session)
        if (now.size if now is not None else 0) != size:  # another sealer committed in between: it won this pass
            session.rollback()
            return None
        raise Conflict(f"the log's stored leaves do not end where its last checkpoint (size {size}) does")
    for offset, entry in enumerate(waiting):
        entry.log_index = size + offset
        session.add(entry)

    def lookup(nodes: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return log_nodes(session=session, nodes=nodes)

    nodes, root_hex, note = make_checkpoint(size, [entry.digest for entry in waiting], lookup)
    checkpoint = LogCheckpoint(size=size + len(waiting), root_hash=root_hex, note=note)
    try:
        if nodes:
            session.execute(
                insert(LogNode),
                [{"level": level, "position": position, "hash": value} for (level, position), value in nodes.items()],
            )
        session.add(checkpoint)
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    return checkpoint


# -- web client: sign-in links and sessions -------------------------------


def create_sign_in_link(*, session: Session, role: Role, subject: str, lifetime: timedelta) -> str:
    """A fresh token for ``subject`` and a one-time code that opens a browser session with it; only digests stored."""
    token = ApiToken(
        name=f"web sign-in {subject}", role=role, subject=subject, token_hash=auth.token_hash(auth.new_token())
    )
    code = auth.new_token()
    session.add(token)
    session.flush()
    session.add(SignInLink(code_hash=auth.token_hash(code), token_id=token.id, expires_at=utcnow() + lifetime))
    session.commit()
    return code


def redeem_sign_in_link(*, session: Session, code: str) -> ApiToken | None:
    """The link's token if the link is unused, unexpired and its token live; marks it used (compare-and-set)."""
    now = utcnow()
    link = session.exec(select(SignInLink).where(SignInLink.code_hash == auth.token_hash(code))).first()
    if link is None or link.used_at is not None or _aware(link.expires_at) <= now:
        return None
    used = (
        session.exec(
            update(SignInLink)
            .where(col(SignInLink.id) == link.id, col(SignInLink.used_at).is_(None))
            .values(used_at=now)
        ).rowcount
        == 1
    )
    session.commit()
    token = session.get(ApiToken, link.token_id) if used else None
    return token if token is not None and token_usable(token, now) else None


def create_web_session(*, session: Session, token_id: str, lifetime: timedelta) -> tuple[str, WebSession]:
    """Open a browser session for a token; returns ``(secret, session)``, the secret stored only as a digest."""
    secret = auth.new_token()
    row = WebSession(
        secret_hash=auth.token_hash(secret), token_id=token_id, csrf=auth.new_token(), expires_at=utcnow() + lifetime
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return secret, row


def find_web_session(*, session: Session, secret: str) -> tuple[WebSession, ApiToken] | None:
    """The live session for ``secret`` and its token: None once it expired or ended, or its token was
    revoked or expired."""
    found = session.exec(
        select(WebSession, ApiToken)
        .join(ApiToken, col(ApiToken.id) == WebSession.token_id)
        .where(WebSession.secret_hash == auth.token_hash(secret))
    ).first()
    if found is None:
        return None
    web, token = found
    now = utcnow()
    if web.ended or not token_usable(token, now) or _aware(web.expires_at) <= now:
        return None
    return web, token


def end_web_session(*, session: Session, secret: str) -> None:
    session.exec(update(WebSession).where(col(WebSession.secret_hash) == auth.token_hash(secret)).values(ended=True))
    session.commit()


# -- web client: reading results without their documents ---------------------


def best_results(
    *, session: Session, candidate: str, hidden: Collection[str] = ()
) -> dict[tuple[str, str], tuple[float, bool]]:
    """Per ``(pack, task)``: the candidate's best score and whether any attempt was ready (``hidden`` results left out)."""
    rows = session.exec(
        select(
            ResultRow.pack_id,
            ResultRow.task_id,
            func.max(ResultRow.score),
            func.max(case((col(ResultRow.verdict) == "ready", 1), else_=0)),
        )
        .where(ResultRow.candidate == candidate, *_not_in(hidden))
        .group_by(ResultRow.pack_id, ResultRow.task_id)
    ).all()
    return {(pack, task): (float(best), bool(ready)) for pack, task, best, ready in rows}


def task_results(
    *, session: Session, candidate: str, pack_id: str, task_id: str, limit: int = 200, hidden: Collection[str] = ()
) -> Sequence[Any]:
    """The candidate's attempts at a task, oldest first: id, score, verdict, time (never the documents)."""
    return session.exec(
        select(ResultRow.id, ResultRow.submission_id, ResultRow.score, ResultRow.verdict, ResultRow.created_at)  # type: ignore[call-overload]  # SQLModel types select() for at most 4 columns
        .where(
            ResultRow.candidate == candidate,
            ResultRow.pack_id == pack_id,
            ResultRow.task_id == task_id,
            *_not_in(hidden),
        )
        .order_by(col(ResultRow.created_at).desc())
        .limit(limit)
    ).all()[::-1]


def candidate_results(
    *, session: Session, candidate: str, limit: int = 200, hidden: Collection[str] = ()
) -> Sequence[Any]:
    """The candidate's latest results, newest first: id, pack, task, score, verdict, time."""
    return session.exec(
        select(
            ResultRow.id, ResultRow.pack_id, ResultRow.task_id, ResultRow.score, ResultRow.verdict, ResultRow.created_at
        )  # type: ignore[call-overload]  # SQLModel types select() for at most 4 columns
        .where(ResultRow.candidate == candidate, *_not_in(hidden))
        .order_by(col(ResultRow.created_at).desc())
        .limit(limit)
    ).all()


def _not_in(hidden: Collection[str]) -> list[Any]:
    """The condition leaving out ``hidden`` result ids (results an assessment still withholds from their candidate)."""
    return [col(ResultRow.id).not_in(list(hidden))] if hidden else []


# -- human review --------------------------------------------------------------------


def hold_for_review(
    *,
    session: Session,
    run: Run,
    submission: Submission,
    document: dict[str, Any],
    holder: tuple[str, str | None] | None = None,
) -> tuple[Review, bool]:
    """Keep a run's automated result for its reviewer and end the run; a second hold changes nothing.

    ``holder``: as for ``record_result`` (only while that worker holds the run, else ``Conflict``).
    """
    existing = session.exec(select(Review).where(Review.run_id == run.id)).first()
    if existing is not None:
        return existing, False
    review = Review(
        run_id=run.id,
        submission_id=submission.id,
        assessment_id=submission.assessment_id,
        pack_id=submission.pack_id,
        pack_version=submission.pack_version,
        task_id=submission.task_id,
        automated=document,
    )
    session.add(review)
    ending = update(Run).where(col(Run.id) == run.id)
    if holder is not None:
        ending = ending.where(_held_by(*holder))
    if session.exec(ending.values(state=RunState.DONE, lease_expires_at=None, updated_at=utcnow())).rowcount != 1:
        session.rollback()
        raise Conflict(f"run {run.id} is not claimed by this worker: claim it before posting its result")
    session.add(RunEvent(run_id=run.id, kind=RunState.DONE.value, detail=ReviewState.AWAITING.value))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        found = session.exec(select(Review).where(Review.run_id == run.id)).first()
        if found is None:
            raise
        return found, False
    session.refresh(review)
    return review, True


def get_review(*, session: Session, review_id: str) -> Review | None:
    return session.get(Review, review_id)


def review_of(*, session: Session, submission_id: str) -> Review | None:
    return session.exec(
        select(Review).where(Review.submission_id == submission_id).order_by(col(Review.created_at).desc())
    ).first()


def list_reviews(
    *,
    session: Session,
    state: str | None,
    limit: int,
    offset: int,
    packs: Collection[str] | None = None,
    assessments: Collection[str] | None = None,
    assessment_id: str | None = None,
) -> tuple[list[Review], int]:
    """A page of the review queue within ``work_filter(packs, assessments)``, oldest first (of one
    assessment if given), and how many reviews the whole queue holds."""
    conditions = work_filter(Review, packs=packs, assessments=assessments)
    if assessment_id is not None:
        conditions.append(col(Review.assessment_id) == assessment_id)
    if state is not None:
        conditions.append(col(Review.state) == state)
    # The id breaks ties between equal times, so that no review falls between two pages.
    order = (col(Review.created_at), col(Review.id))
    rows = session.exec(select(Review).where(*conditions).order_by(*order).offset(offset).limit(limit)).all()
    count = session.exec(select(func.count()).select_from(Review).where(*conditions)).one()
    return list(rows), int(count)


def complete_review(
    *, session: Session, review_id: str, reviewer: str, scores: dict[str, float], comments: dict[str, str]
) -> bool:
    """Compare-and-set ``awaiting_review`` to ``completed``: of two reviewers, one wins."""
    statement = (
        update(Review)
        .where(col(Review.id) == review_id, col(Review.state) == ReviewState.AWAITING.value)
        .values(
            state=ReviewState.COMPLETED.value,
            reviewer=reviewer,
            scores=scores,
            comments=comments,
            completed_at=utcnow(),
        )
    )
    done = session.exec(statement).rowcount == 1
    session.commit()
    return done


def reopen_review(*, session: Session, review_id: str) -> None:
    session.exec(
        update(Review)
        .where(col(Review.id) == review_id)
        .values(state=ReviewState.AWAITING.value, reviewer=None, completed_at=None)
    )
    session.commit()


def set_review_result(*, session: Session, review_id: str, result_id: str) -> None:
    session.exec(update(Review).where(col(Review.id) == review_id).values(result_id=result_id))
    session.commit()


def record_standing(
    *,
    session: Session,
    candidate: str,
    skill: str,
    score: float,
    verdict: str,
    at: datetime,
    result_id: str,
    scope: str = "",
) -> None:
    """Fold one piece of evidence into the candidate's standing in ``skill`` (one upsert, no commit).

    The same "latest" and "best" as a profile (``profile_from_evidence``): the evidence becomes the
    latest unless a newer one is already there (equal times: the later-stored wins, as the
    profile takes the last row), and the best is the highest score, the earliest of equal ones (the
    profile keeps the first). One atomic statement, so results stored at once for the same
    candidate never lose each other's evidence.
    """
    table = SkillStanding.__table__  # type: ignore[attr-defined]  # SQLModel sets a table model's Table at runtime only
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table).values(
        candidate=candidate,
        skill=skill,
        scope=scope,
        score=score,
        verdict=verdict,
        at=at,
        result_id=result_id,
        best=score,
        best_verdict=verdict,
        best_at=at,
        best_result_id=result_id,
    )
    new = statement.excluded
    newer = new.at >= table.c.at
    better = or_(new.best > table.c.best, and_(new.best == table.c.best, new.best_at < table.c.best_at))
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.candidate, table.c.skill, table.c.scope],
            set_={
                **{
                    name: case((newer, new[name]), else_=table.c[name])
                    for name in ("score", "verdict", "at", "result_id")
                },
                **{
                    name: case((better, new[name]), else_=table.c[name])
                    for name in ("best", "best_verdict", "best_at", "best_result_id")
                },
            },
        )
    )


class ReadinessTable(NamedTuple):
    """A page of the readiness table: every skill with evidence, how many candidates matched, and
    the cells of this page's candidates (candidate -> skill -> (latest score, latest verdict, best))."""

    skills: list[str]
    matched: int
    candidates: list[str]
    cells: dict[str, dict[str, tuple[float, str, float]]]


def rebuild_standings(*, session: Session, candidate: str, scope: str) -> None:
    """Recompute ``candidate``'s standings in ``scope`` from their evidence (no commit): after evidence
    was removed (a regrade's superseded results), the best may have gone with it."""
    session.exec(
        delete(SkillStanding).where(col(SkillStanding.candidate) == candidate, col(SkillStanding.scope) == scope)
    )
    evidence = select(  # type: ignore[call-overload]  # SQLModel types select() for at most 4 columns
        SkillEvidence.skill, SkillEvidence.score, SkillEvidence.verdict, SkillEvidence.at, SkillEvidence.result_id
    ).where(SkillEvidence.candidate == candidate)
    if scope:
        evidence = (
            evidence.join(ResultRow, col(ResultRow.id) == SkillEvidence.result_id)
            .join(Submission, col(Submission.id) == ResultRow.submission_id)
            .where(Submission.assessment_id == scope)
        )
    else:
        elsewhere = (
            select(ResultRow.id)
            .join(Submission, col(Submission.id) == ResultRow.submission_id)
            .where(col(Submission.assessment_id).is_not(None))
        )
        evidence = evidence.where(col(SkillEvidence.result_id).not_in(elsewhere))
    for skill, score, verdict, at, result_id in session.exec(evidence.order_by(col(SkillEvidence.id))).all():
        record_standing(
            session=session,
            candidate=candidate,
            skill=skill,
            score=score,
            verdict=verdict,
            at=at,
            result_id=result_id,
            scope=scope,
        )


def readiness_table(
    *,
    session: Session,
    ready_in: Sequence[str] = (),
    sort: str = "candidate",
    offset: int = 0,
    limit: int | None = None,
    assessments: Collection[str] | None = None,
) -> ReadinessTable:
    """Candidates × micro-skills from the standings: filtered, sorted and paged in the database.

    ``ready_in``: only candidates whose latest verdict is ready in every one of these skills.
    ``sort``: a skill (highest latest score first; candidates without evidence in it last) or
    ``candidate`` (by name). Reads at most ``limit`` candidates' rows, whatever the table's size.
    ``assessments`` (None: every one): the assessments whose work counts beside practice work.
    """
    if assessments is not None and not assessments:  # practice work only: one row per cell already
        cell = (
            select(
                SkillStanding.candidate,
                SkillStanding.skill,
                SkillStanding.score,
                SkillStanding.verdict,  # type: ignore[call-overload]  # SQLModel types select() for at most 4 columns
                SkillStanding.best,
            )
            .where(SkillStanding.scope == "")
            .subquery()
        )
    else:
        standing = select(SkillStanding)
        if assessments is not None:
            standing = standing.where(col(SkillStanding.scope).in_(["", *assessments]))
        scoped = standing.subquery()
        # Per candidate and skill, over the scopes in view: the latest (by time) and the best.
        newest = (
            select(
                scoped.c.candidate,
                scoped.c.skill,
                func.max(scoped.c.at).label("at"),
                func.max(scoped.c.best).label("best"),
            )
            .group_by(scoped.c.candidate, scoped.c.skill)
            .subquery()
        )
        cell = (
            select(scoped.c.candidate, scoped.c.skill, scoped.c.score, scoped.c.verdict, newest.c.best)  # type: ignore[call-overload]  # SQLModel types select() for at most 4 columns
            .join(
                newest,
                and_(
                    scoped.c.candidate == newest.c.candidate,
                    scoped.c.skill == newest.c.skill,
                    scoped.c.at == newest.c.at,
                ),
            )
            .subquery()
        )
    wanted = sorted({s for s in ready_in if s})
    people = select(cell.c.candidate).distinct()
    if wanted:
        people = (
            select(cell.c.candidate)
            .where(cell.c.skill.in_(wanted), cell.c.verdict == "ready")
            .group_by(cell.c.candidate)
            .having(func.count(func.distinct(cell.c.skill)) == len(wanted))
        )
    chosen = people.subquery()
    matched = session.exec(select(func.count()).select_from(chosen)).one()
    order = select(chosen.c.candidate)
    if sort and sort != "candidate":
        by = (
            select(cell.c.candidate, func.max(cell.c.score).label("score"))
            .where(cell.c.skill == sort)
            .group_by(cell.c.candidate)
        ).subquery()
        order = order.outerjoin(by, by.c.candidate == chosen.c.candidate).order_by(
            func.coalesce(by.c.score, -1).desc(), chosen.c.candidate
        )
    else:
        order = order.order_by(chosen.c.candidate)
    candidates = list(session.exec(order.offset(offset).limit(limit)).all())
    cells: dict[str, dict[str, tuple[float, str, float]]] = {c: {} for c in candidates}
    if candidates:
        rows = session.execute(
            select(cell.c.candidate, cell.c.skill, cell.c.score, cell.c.verdict, cell.c.best).where(  # type: ignore[call-overload]  # SQLModel types select() for at most 4 columns
                cell.c.candidate.in_(candidates)
            )
        )
        for candidate, skill, score, verdict, best in rows:
            cells[candidate][skill] = (score, verdict, best)
    skills = list(session.exec(select(cell.c.skill).distinct().order_by(cell.c.skill)).all())
    return ReadinessTable(skills=skills, matched=matched, candidates=candidates, cells=cells)
