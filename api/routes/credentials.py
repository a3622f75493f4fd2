"""Stackable micro-credentials: definitions (authors), awards (candidates, staff), Open Badges 3.0 export.

The revocation status list is public, outside ``/v1``, like the log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response
from sqlmodel import col, select

from api.credentials import STATUS_PATH
from api.auth import Principal
from api.deps import AuthorDep, PersonDep, ServiceDep, SessionDep, require
from api.tables import (
    CredentialAward,
    CredentialAwardPublic,
    CredentialDefinition,
    CredentialDefinitionCreate,
    CredentialDefinitionPublic,
    Role,
)
from engine.errors import NotFound

router = APIRouter(tags=["credentials"])
VC_MEDIA = "application/vc+ld+json"


@router.post("/v1/credentials/definitions", status_code=201, response_model=CredentialDefinitionPublic,
             responses={409: {"description": "the id is taken"}, 422: {"description": "inconsistent criteria"}})
def define(body: CredentialDefinitionCreate, service: ServiceDep, author: AuthorDep) -> CredentialDefinitionPublic:
    row = service.credentials.define(CredentialDefinition(**body.model_dump(), owner=author.subject))
    return CredentialDefinitionPublic.model_validate(row, from_attributes=True)


@router.get("/v1/credentials/definitions")
def definitions(session: SessionDep, _: PersonDep) -> dict[str, Any]:
    rows = session.exec(select(CredentialDefinition).order_by(col(CredentialDefinition.id))).all()
    data = [CredentialDefinitionPublic.model_validate(r, from_attributes=True) for r in rows]
    return {"data": data, "count": len(data)}


@router.get("/v1/credentials")
def awards(session: SessionDep, person: PersonDep) -> dict[str, Any]:
    """The caller's credentials (staff: everyone's), revoked ones included."""
    query = select(CredentialAward).order_by(col(CredentialAward.awarded_at))
    if not person.is_staff():
        query = query.where(CredentialAward.candidate == person.subject)
    data = [CredentialAwardPublic.model_validate(r, from_attributes=True) for r in session.exec(query).all()]
    return {"data": data, "count": len(data)}


def _visible(session, person, award_id: str) -> CredentialAward:
    award = session.get(CredentialAward, award_id)
    if award is None or not (person.is_staff() or award.candidate == person.subject):
        raise NotFound(f"unknown credential {award_id!r}")
    return award


@router.get("/v1/credentials/{award_id}", response_model=CredentialAwardPublic)
def award(award_id: str, session: SessionDep, person: PersonDep) -> CredentialAwardPublic:
    return CredentialAwardPublic.model_validate(_visible(session, person, award_id), from_attributes=True)


@router.get("/v1/credentials/{award_id}/ob3", response_class=Response,
            responses={200: {"content": {VC_MEDIA: {}}, "description": "a signed OpenBadgeCredential"}})
def export_ob3(award_id: str, session: SessionDep, service: ServiceDep, person: PersonDep) -> Response:
    import json

    credential = service.credentials.open_badge(_visible(session, person, award_id))
    return Response(json.dumps(credential, ensure_ascii=False), media_type=VC_MEDIA)


@router.post("/v1/credentials/{award_id}/revoke", response_model=CredentialAwardPublic)
def revoke(award_id: str, service: ServiceDep, _: Annotated[Principal, Depends(require(Role.ADMIN))],
           reason: Annotated[str, Body(embed=True, min_length=1, max_length=500)]) -> CredentialAwardPublic:
    return CredentialAwardPublic.model_validate(service.credentials.revoke(award_id, reason), from_attributes=True)


@router.get(STATUS_PATH, response_class=Response,
            responses={200: {"content": {VC_MEDIA: {}}, "description": "the signed BitstringStatusListCredential"}})
def status_list(service: ServiceDep) -> Response:
    import json

    return Response(json.dumps(service.credentials.status_list()), media_type=VC_MEDIA,
                    headers={"Cache-Control": "no-cache"})
