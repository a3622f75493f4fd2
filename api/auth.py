"""Bearer API tokens: random secrets shown once, stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from api.tables import Role

TOKEN_PREFIX = "tt_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's subject and role."""

    subject: str
    role: Role
    token_id: str

    def is_staff(self) -> bool:
        return self.role in (Role.REVIEWER, Role.ADMIN)
