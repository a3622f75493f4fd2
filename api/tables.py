"""Every table, and the public shapes derived from them (SQLModel families).

Routes never return table rows: they return the ``*Public`` models.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

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


# -- packs -----------------------------------------------------------------


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
    created_at: datetime = Field(default_factory=utcnow)


class SubmissionPublic(SubmissionBase):
    id: str
    candidate: str
    task_digest: str
    submission_digest: str
    created_at: datetime
    state: RunState
    run_id: str
    result_id: str | None = None


class Run(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    submission_id: str = Field(foreign_key="submission.id", index=True)
    state: RunState = Field(default=RunState.QUEUED, index=True)
    attempts: int = 0
    #: While RUNNING or GRADING: when the current worker's claim lapses.
    lease_expires_at: datetime | None = None
    worker: str | None = None
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
