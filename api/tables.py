"""Every table, and the public shapes derived from them (SQLModel families).

Routes never return table rows: they return the ``*Public`` models.
"""

from __future__ import annotations

import enum
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import field_validator
from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from api.roles import Role  # defined apart, so the CLI names roles without SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class RunState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    GRADING = "grading"
    DONE = "done"


# -- tokens ----------------------------------------------------------------


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"
    id: str = Field(default_factory=new_id, primary_key=True)
    name: str
    role: Role
    #: Who the token speaks for: the candidate's or author's identity.
    subject: str = Field(index=True)
    token_hash: str = Field(unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    revoked: bool = False
    #: When the token stops working by itself; None: it never expires.
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


# -- packs -----------------------------------------------------------------


class PackState(enum.StrEnum):
    """An uploaded version's life: checked on a worker, then live or rejected; a live one may be retired."""

    CHECKING = "checking"
    LIVE = "live"
    REJECTED = "rejected"
    RETIRED = "retired"


class PackVersion(SQLModel, table=True):
    __tablename__ = "pack_version"
    __table_args__ = (UniqueConstraint("pack_id", "version"),)
    id: str = Field(default_factory=new_id, primary_key=True)
    pack_id: str = Field(index=True)
    version: str
    digest: str
    #: Who uploaded it; None for the built-in catalogue.
    owner: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    #: A ``PackState`` value (stored as text: no database enum type to migrate).
    state: str = Field(default=PackState.CHECKING.value)
    #: The workers' ``pack check`` report, for the author (it may name hidden checks).
    report: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    checked_at: datetime | None = None


# -- submissions, runs, results ---------------------------------------------


class SubmissionBase(SQLModel):
    pack_id: str
    pack_version: str
    task_id: str


class Submission(SubmissionBase, table=True):
    __table_args__ = (
        #: An assessment's attempts by member and task, answered from the index alone (the dashboard's counts).
        Index("ix_submission_attempts", "assessment_id", "candidate", "pack_id", "task_id"),
        #: A candidate's submissions, newest first (migration 0008_faults).
        Index("ix_submission_candidate_created_at", "candidate", "created_at"),
    )
    id: str = Field(default_factory=new_id, primary_key=True)
    candidate: str
    task_digest: str
    submission_digest: str
    #: The submission as a deterministic tar.gz (engine.archives.make_tar_gz).
    archive: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    #: Keys the result's ``subject_digest``; given to the candidate only (None for older submissions).
    subject_salt: str | None = None
    #: The assessment this is an attempt of (None: practice outside any assessment).
    #: (No foreign key: adding one to this busy table would make SQLite copy it, which other tables' keys forbid.)
    assessment_id: str | None = None
    #: Accepted after the assessment's window closed (its late policy said so).
    late: bool = False


class SubmissionPublic(SubmissionBase):
    id: str
    candidate: str
    task_digest: str
    submission_digest: str
    created_at: datetime
    assessment_id: str | None = None
    late: bool = False
    state: RunState
    #: For a task with a rubric: ``awaiting_review`` until a reviewer scored it, then ``completed``.
    review: str | None = None
    run_id: str
    result_id: str | None = None
    #: With the candidate's id, proves the signed result is theirs (``tasktrial verify --subject --salt``).
    subject_salt: str | None = None


class Run(SQLModel, table=True):
    #: A submission's latest run; the reaper's queued runs by age (migration 0008_faults).
    __table_args__ = (
        Index("ix_run_submission_id_created_at", "submission_id", "created_at"),
        Index("ix_run_state_updated_at", "state", "updated_at"),
    )
    id: str = Field(default_factory=new_id, primary_key=True)
    submission_id: str = Field(foreign_key="submission.id")
    state: RunState = Field(default=RunState.QUEUED)
    attempts: int = 0
    #: While RUNNING or GRADING: when the current worker's claim lapses.
    lease_expires_at: datetime | None = None
    #: The holder's process name; a label within the holding token, never the proof of holding.
    worker: str | None = None
    #: The API token that holds the claim: only it may report progress, release, fail or post the result.
    worker_token_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    #: A regrade's run grades the submission against this pack version (None: the submission's own).
    pack_version: str | None = None
    task_digest: str | None = None
    regrade_id: str | None = Field(default=None, index=True)


class RunEvent(SQLModel, table=True):
    __tablename__ = "run_event"
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True)
    kind: str
    detail: str = ""
    at: datetime = Field(default_factory=utcnow)


class ResultRow(SQLModel, table=True):
    """A stored, signed result (``engine.results.Result`` is the value it was made from)."""

    __tablename__ = "result"  # the class was ``Result``: the table keeps its name
    #: A submission's latest result (migration 0008_faults).
    __table_args__ = (Index("ix_result_submission_id_created_at", "submission_id", "created_at"),)
    id: str = Field(primary_key=True)
    run_id: str = Field(foreign_key="run.id", unique=True)
    submission_id: str = Field(foreign_key="submission.id")
    candidate: str = Field(index=True)
    pack_id: str
    task_id: str
    score: float
    verdict: str
    #: The signed result document.
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    #: The regrade's result that replaced this one (this one stays stored and verifiable).
    superseded_by: str | None = None


class SkillEvidence(SQLModel, table=True):
    """One micro-skill score from one result: what candidate profiles are built from."""

    __tablename__ = "skill_evidence"
    #: A candidate's profile is read in time order from this index alone (migration 0008_faults).
    __table_args__ = (
        Index("ix_skill_evidence_candidate_at", "candidate", "at", "skill", "score", "verdict", "result_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    candidate: str
    skill: str = Field(index=True)
    score: float
    verdict: str
    result_id: str = Field(foreign_key="result.id")
    at: datetime = Field(default_factory=utcnow)


class SkillStanding(SQLModel, table=True):
    """Per candidate and micro-skill: the latest evidence and the best score, kept as evidence is stored.

    The profile's "latest" and "best" (``api.routes.submissions.profile_from_evidence``) kept up to
    date in the transaction that stores the evidence (``api.storage.record_result``), so the
    readiness table reads one row per cell instead of grouping every piece of evidence on each view.
    One row per ``scope`` (the assessment the evidence came from, "" for practice), so a staff member
    reads only the work they may see (``api.cohorts.work_scope``).
    """

    __tablename__ = "skill_standing"
    candidate: str = Field(primary_key=True)
    skill: str = Field(primary_key=True, index=True)
    scope: str = Field(default="", primary_key=True)
    #: The latest evidence's score and verdict, and when it was recorded.
    score: float
    verdict: str
    at: datetime
    best: float
    #: The latest evidence's result, and the best evidence's verdict, time and result (the earliest of
    #: equal best scores, as the profile takes it): a profile reads one row per skill (migration 0012_datascale).
    result_id: str
    best_verdict: str
    best_at: datetime
    best_result_id: str


class PublicTestAdmission(SQLModel, table=True):
    """One public-test run let in: kept only to rate-limit them (``AppService.admit_public_tests``), and
    forgotten once out of the window. Nothing of the run itself is stored."""

    __tablename__ = "public_test_admission"
    id: int | None = Field(default=None, primary_key=True)
    candidate: str = Field(index=True)
    at: datetime = Field(default_factory=utcnow, index=True)


class PublicTestJob(SQLModel, table=True):
    """Public tests handed to a Celery worker (``AppService.public_tests``): the candidate's files until the
    worker posts the tests' output. Never a submission: no run, no result, nothing signed or counted;
    the API deletes it once it answered (or gave up waiting)."""

    __tablename__ = "public_test_job"
    id: str = Field(default_factory=new_id, primary_key=True)
    pack_id: str
    pack_version: str
    task_id: str
    task_digest: str
    #: The candidate's files as a deterministic tar.gz (engine.archives.make_tar_gz).
    archive: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    #: The token that claimed it (one worker runs it), and what that worker posted back.
    worker_token_id: str | None = None
    outcome: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)))
    created_at: datetime = Field(default_factory=utcnow, index=True)


# -- the transparency log ----------------------------------------------------


class LogEntry(SQLModel, table=True):
    """One leaf: the digest of one signed result view. Append-only; never updated but to take its place."""

    __tablename__ = "log_entry"
    #: Arrival order, which becomes log order when a batch is sealed.
    id: int | None = Field(default=None, primary_key=True)
    #: The leaf's position; None until the sealer takes it into a checkpoint (unique: one leaf per slot).
    log_index: int | None = Field(default=None, unique=True, index=True)
    #: ``sha256:<hex>`` of the canonical JSON of the signed document (engine.transparency), never the document.
    digest: str = Field(index=True)
    result_id: str = Field(foreign_key="result.id", index=True)
    #: Which signed view: ``full`` or ``candidate``.
    view: str
    created_at: datetime = Field(default_factory=utcnow)


class LogNode(SQLModel, table=True):
    """The hash of one perfect subtree of the sealed log (level 0: a leaf's hash), stored as its batch is
    sealed, so proofs read O(log n) nodes instead of rebuilding the tree (engine.merkle.completed_nodes)."""

    __tablename__ = "log_node"
    level: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    #: The subtree covers leaves ``position * 2**level`` .. ``(position + 1) * 2**level - 1``.
    position: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogCheckpoint(SQLModel, table=True):
    """A signed checkpoint (C2SP tlog-checkpoint note) the log published; one per sealed batch."""

    __tablename__ = "log_checkpoint"
    size: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    root_hash: str  # hex
    note: str
    created_at: datetime = Field(default_factory=utcnow)


# -- stackable micro-credentials ------------------------------------------------


class CredentialDefinitionBase(SQLModel):
    id: str = Field(primary_key=True)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    image: str | None = Field(default=None, max_length=2000)
    #: Micro-skills whose latest verdict must be ``ready`` ...
    skills: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: ... within this many days of the award (None: however old).
    within_days: int | None = Field(default=None, ge=1)
    #: Other credentials the candidate must hold (stacking).
    credentials: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class CredentialDefinition(CredentialDefinitionBase, table=True):
    __tablename__ = "credential_definition"
    owner: str
    created_at: datetime = Field(default_factory=utcnow)
    #: The pack that declares it (its id is then ``PACK_ID/ID``); None: made through the API.
    pack_id: str | None = Field(default=None, index=True)
    #: The pack version whose declaration it holds.
    pack_version: str | None = None
    #: When its pack stopped declaring it in a live version: no new awards; those made stay valid.
    retired_at: datetime | None = None


class CredentialDefinitionCreate(CredentialDefinitionBase):
    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", value):
            raise ValueError(
                "a credential id is 1-64 lower-case letters, digits and dashes, starting with a letter or digit"
            )
        return value


class CredentialDefinitionPublic(CredentialDefinitionBase):
    owner: str
    created_at: datetime
    pack_id: str | None = None
    pack_version: str | None = None
    retired_at: datetime | None = None


ACTIVE_AWARD_INDEX = "ux_credential_award_active"


class CredentialAward(SQLModel, table=True):
    """A definition met by a candidate; revoked, never deleted (its status-list bit says so)."""

    __tablename__ = "credential_award"
    #: At most one active (unrevoked) award per candidate and definition, whatever process awards it:
    #: a partial unique index, which SQLite and PostgreSQL both enforce (api.credentials inserts on conflict).
    __table_args__ = (
        Index(
            ACTIVE_AWARD_INDEX,
            "candidate",
            "definition_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )
    id: str = Field(default_factory=new_id, primary_key=True)
    definition_id: str = Field(foreign_key="credential_definition.id", index=True)
    candidate: str = Field(index=True)
    #: This award's bit in the revocation status list.
    status_index: int = Field(unique=True)
    #: The result ids that met the criteria.
    evidence: list[str] = Field(sa_column=Column(JSON, nullable=False))
    awarded_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    revoked_reason: str | None = None


class CredentialAwardPublic(SQLModel):
    id: str
    definition_id: str
    candidate: str
    evidence: list[str]
    awarded_at: datetime
    revoked_at: datetime | None
    revoked_reason: str | None


# -- web client sign-in -------------------------------------------------------


class SignInLink(SQLModel, table=True):
    """A one-time sign-in link for the web client: it opens a session for its token, once."""

    __tablename__ = "sign_in_link"
    id: str = Field(default_factory=new_id, primary_key=True)
    code_hash: str = Field(unique=True, index=True)
    token_id: str = Field(foreign_key="api_token.id", index=True)
    expires_at: datetime
    used_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class WebSession(SQLModel, table=True):
    """A browser session, bound to the API token it was opened with: revoking the token ends it."""

    __tablename__ = "web_session"
    id: str = Field(default_factory=new_id, primary_key=True)
    secret_hash: str = Field(unique=True, index=True)
    token_id: str = Field(foreign_key="api_token.id", index=True)
    #: The form token every state-changing request of this session must carry.
    csrf: str
    expires_at: datetime
    ended: bool = False
    created_at: datetime = Field(default_factory=utcnow)


# -- cohorts and assessments ---------------------------------------------------


class Cohort(SQLModel, table=True):
    """A named group an organiser (author or admin) runs assessments for."""

    id: str = Field(default_factory=new_id, primary_key=True)
    name: str
    organiser: str = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow)


class CohortStaff(SQLModel, table=True):
    """A reviewer assigned to one cohort: they see its members' assessment work, nobody else's."""

    __tablename__ = "cohort_staff"
    __table_args__ = (UniqueConstraint("cohort_id", "subject"),)
    id: int | None = Field(default=None, primary_key=True)
    cohort_id: str = Field(foreign_key="cohort.id", index=True)
    subject: str = Field(index=True)


class CohortMember(SQLModel, table=True):
    __tablename__ = "cohort_member"
    __table_args__ = (UniqueConstraint("cohort_id", "subject"),)
    id: int | None = Field(default=None, primary_key=True)
    cohort_id: str = Field(foreign_key="cohort.id", index=True)
    subject: str = Field(index=True)
    display_name: str
    email: str
    joined_at: datetime = Field(default_factory=utcnow)


class Invitation(SQLModel, table=True):
    """A one-time secret that becomes the member's candidate token when redeemed (stored as a digest)."""

    id: str = Field(default_factory=new_id, primary_key=True)
    cohort_id: str = Field(foreign_key="cohort.id", index=True)
    subject: str
    token_hash: str = Field(unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    used_at: datetime | None = None


class Assessment(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    cohort_id: str = Field(foreign_key="cohort.id", index=True)
    title: str
    #: ``[{pack_id, pack_version, task_id, task_digest}]``: the tasks, pinned when the assessment was made.
    tasks: list[dict[str, str]] = Field(sa_column=Column(JSON, nullable=False))
    opens_at: datetime
    closes_at: datetime
    #: A timed assessment's per-attempt duration; None: untimed.
    duration_seconds: int | None = None
    #: Submissions per task a member may make (None: no limit).
    attempt_limit: int | None = None
    #: engine.assessments values, stored as text.
    scoring: str = "best"
    late: str = "refuse"
    result_visibility: str = "always"
    check_visibility: str = "always"
    #: Per check-id glob: a visibility overriding ``check_visibility`` (first match wins).
    check_overrides: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)
    #: Bumped in the transaction of every change to its members' progress: staff views computed at one
    #: revision are reused until the next (api.staff_views).
    revision: int = 0
    #: When results withheld until the close were released to credentials (None: not yet, or not withheld).
    released_at: datetime | None = None


class AssessmentStart(SQLModel, table=True):
    """When a member started a timed assessment: the clock the server enforces."""

    __tablename__ = "assessment_start"
    __table_args__ = (
        UniqueConstraint("assessment_id", "candidate"),
        Index("ix_assessment_start_revision", "assessment_id", "revision"),
    )
    id: int | None = Field(default=None, primary_key=True)
    assessment_id: str = Field(foreign_key="assessment.id", index=True)
    candidate: str
    started_at: datetime = Field(default_factory=utcnow)
    #: The assessment's revision this row was written at: staff views re-read only rows newer than theirs.
    revision: int = 0


class AssessmentScore(SQLModel, table=True):
    """One member's progress at one task: attempts made, and the attempt that counts by the scoring policy.

    Made with the first attempt and kept in step as attempts and results are stored, so staff views
    read one narrow row per member and task instead of every attempt and every skill of every result.
    """

    __tablename__ = "assessment_score"
    __table_args__ = (
        UniqueConstraint("assessment_id", "candidate", "pack_id", "task_id"),
        Index("ix_assessment_score_revision", "assessment_id", "revision"),
    )
    id: int | None = Field(default=None, primary_key=True)
    assessment_id: str = Field(foreign_key="assessment.id", index=True)
    candidate: str
    pack_id: str
    task_id: str
    #: Submissions made (whatever became of them).
    attempts: int = 0
    #: The counting result; None until one is graded.
    result_id: str | None = Field(default=None, foreign_key="result.id")
    score: float | None = None
    verdict: str | None = None
    #: micro-skill -> [score, verdict] of the counting result.
    skills: dict[str, list] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    late: bool = False
    at: datetime = Field(default_factory=utcnow)
    #: The assessment's revision this row was last written at: staff views re-read only rows newer than theirs.
    revision: int = 0


class ReviewState(enum.StrEnum):
    AWAITING = "awaiting_review"
    COMPLETED = "completed"


class Review(SQLModel, table=True):
    """A run of a task with a rubric: its automated result waits here, unsigned, until a reviewer scores it."""

    id: str = Field(default_factory=new_id, primary_key=True)
    run_id: str = Field(foreign_key="run.id", unique=True)
    submission_id: str = Field(foreign_key="submission.id", index=True)
    assessment_id: str | None = Field(default=None, index=True)
    pack_id: str = Field(index=True)
    pack_version: str
    task_id: str
    #: The worker's automated result document (never shown to the candidate before it is combined and signed).
    automated: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(default=ReviewState.AWAITING.value, index=True)
    reviewer: str | None = None
    scores: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    comments: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None


class Regrade(SQLModel, table=True):
    """Submissions of an assessment graded again against a newer pack version; old results stay, superseded."""

    id: str = Field(default_factory=new_id, primary_key=True)
    assessment_id: str = Field(foreign_key="assessment.id", index=True)
    #: ``PACK/TASK`` when only one task's submissions are regraded.
    task: str | None = None
    #: ``{PACK/TASK: version}`` graded against.
    versions: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    total: int = 0
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)


class WebhookEndpoint(SQLModel, table=True):
    """A URL a cohort's organiser registered for events (Standard Webhooks, signed with its own secret)."""

    __tablename__ = "webhook_endpoint"
    id: str = Field(default_factory=new_id, primary_key=True)
    cohort_id: str = Field(foreign_key="cohort.id", index=True)
    url: str
    #: ``whsec_`` + base64 of the HMAC key; shown once to the organiser, needed to sign every delivery.
    secret: str
    events: list[str] = Field(sa_column=Column(JSON, nullable=False))
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint: retried with backoff until delivered or a day has passed."""

    __tablename__ = "webhook_delivery"
    id: str = Field(default_factory=new_id, primary_key=True)
    endpoint_id: str = Field(foreign_key="webhook_endpoint.id", index=True)
    #: The ``webhook-id`` header: the same on every retry and redelivery, so receivers can deduplicate.
    message_id: str = Field(default_factory=lambda: "msg_" + new_id())
    event_type: str
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(default="pending", index=True)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default_factory=utcnow, index=True)
    last_status: int | None = None
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None


class WebhookAttempt(SQLModel, table=True):
    """The delivery log: every try, with what the receiver answered."""

    __tablename__ = "webhook_attempt"
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(foreign_key="webhook_delivery.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0
