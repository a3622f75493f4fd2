"""What a token or a signed-in person may do; apart from the tables, so the CLI names roles without loading SQLModel."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    CANDIDATE = "candidate"
    AUTHOR = "author"
    REVIEWER = "reviewer"
    ADMIN = "admin"
    WORKER = "worker"
