"""Token administration for admins: list tokens, revoke one (effective at once on this replica).

Secrets are never shown again: only ``tasktrial admin create-token`` prints one, once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from api import storage
from api.deps import AdminDep, ServiceDep, SessionDep
from api.tables import ApiToken, Role, utcnow

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class TokenPublic(BaseModel):
    id: str
    name: str
    role: Role
    subject: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    #: ``active``, ``expired`` or ``revoked``.
    state: str


class ListTokens(BaseModel):
    data: list[TokenPublic]
    count: int


def token_public(row: ApiToken, now: datetime | None = None) -> TokenPublic:
    return TokenPublic(
        id=row.id,
        name=row.name,
        role=row.role,
        subject=row.subject,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        state=token_state(row, now),
    )


def token_state(row: ApiToken, now: datetime | None = None) -> str:
    if row.revoked:
        return "revoked"
    if row.expires_at is not None and storage._aware(row.expires_at) <= (now or utcnow()):
        return "expired"
    return "active"


@router.get("/tokens", response_model=ListTokens)
def list_tokens(session: SessionDep, _: AdminDep) -> ListTokens:
    data = [token_public(row) for row in storage.list_tokens(session=session)]
    return ListTokens(data=data, count=len(data))


@router.delete("/tokens/{token_id}", response_model=TokenPublic, responses={404: {"description": "unknown token"}})
def revoke_token(token_id: Annotated[str, Path(max_length=64)], service: ServiceDep, _: AdminDep) -> TokenPublic:
    """Revoke a token: refused at once by this replica, by others within ``TASKTRIAL_TOKEN_CACHE_SECONDS``."""
    return token_public(service.revoke_token(token_id))
