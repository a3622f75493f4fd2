"""What a token may do: the one enum of roles, in a module of its own so the CLI can name roles
(``admin create-token --role``) without importing the storage layer (SQLModel and SQLAlchemy
cost seconds of start-up for every ``tasktrial`` command)."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    CANDIDATE = "candidate"
    AUTHOR = "author"
    REVIEWER = "reviewer"
    ADMIN = "admin"
    WORKER = "worker"
