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
from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Role(enum.StrEnum):
    CANDIDATE = "candidate"
    AUTHOR = "author"
    REVIEWER = "reviewer"
    ADMIN = "admin"
    WORKER = "worker"


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
    id: str = Field(default_factory=new_id, primary_key=True)
    candidate: str = Field(index=True)
    task_digest: str
    submission_digest: str
    #: The submission as a deterministic tar.gz (engine.archives.make_tar_gz).
    archive: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    #: Keys the result's ``subject_digest``; given to the candidate only (None for older submissions).
    subject_salt: str | None = None


class SubmissionPublic(SubmissionBase):
    id: str
    candidate: str
    task_digest: str
    submission_digest: str
    created_at: datetime
    state: RunState
    run_id: str
    result_id: str | None = None
    #: With the candidate's id, proves the signed result is theirs (``tasktrial verify --subject --salt``).
    subject_salt: str | None = None


class Run(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    submission_id: str = Field(foreign_key="submission.id", index=True)
    state: RunState = Field(default=RunState.QUEUED, index=True)
    attempts: int = 0
    #: While RUNNING or GRADING: when the current worker's claim lapses.
    lease_expires_at: datetime | None = None
    #: The holder's process name; a label within the holding token, never the proof of holding.
    worker: str | None = None
    #: The API token that holds the claim: only it may report progress, release, fail or post the result.
    worker_token_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class RunEvent(SQLModel, table=True):
    __tablename__ = "run_event"
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True)
    kind: str
    detail: str = ""
    at: datetime = Field(default_factory=utcnow)


class Result(SQLModel, table=True):
    id: str = Field(primary_key=True)
    run_id: str = Field(foreign_key="run.id", unique=True)
    submission_id: str = Field(foreign_key="submission.id", index=True)
    candidate: str = Field(index=True)
    pack_id: str
    task_id: str
    score: float
    verdict: str
    #: The signed result document.
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class SkillEvidence(SQLModel, table=True):
    """One micro-skill score from one result: what candidate profiles are built from."""

    __tablename__ = "skill_evidence"
    #: The readiness table ranks evidence per candidate and skill by time (api.storage.skill_standings).
    __table_args__ = (Index("ix_skill_evidence_standing", "candidate", "skill", "at", "score"),)
    id: int | None = Field(default=None, primary_key=True)
    candidate: str = Field(index=True)
    skill: str = Field(index=True)
    score: float
    verdict: str
    result_id: str = Field(foreign_key="result.id")
    at: datetime = Field(default_factory=utcnow)


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


class CredentialDefinitionCreate(CredentialDefinitionBase):
    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", value):
            raise ValueError("a credential id is 1-64 lower-case letters, digits and dashes, starting with a letter or digit")
        return value


class CredentialDefinitionPublic(CredentialDefinitionBase):
    owner: str
    created_at: datetime


class CredentialAward(SQLModel, table=True):
    """A definition met by a candidate; revoked, never deleted (its status-list bit says so)."""

    __tablename__ = "credential_award"
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
