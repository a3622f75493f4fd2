"""Stackable micro-credentials: definitions (authors), awards (candidates, staff), Open Badges 3.0 export.

The revocation status list is public, outside ``/v1``, like the log.
"""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response
from fastapi.responses import HTMLResponse
from sqlmodel import col, select

from api.auth import Principal
from api.credentials import STATUS_PATH
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


@router.post(
    "/v1/credentials/definitions",
    status_code=201,
    response_model=CredentialDefinitionPublic,
    responses={409: {"description": "the id is taken"}, 422: {"description": "inconsistent criteria"}},
)
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


@router.get(
    "/v1/credentials/{award_id}/ob3",
    response_class=Response,
    responses={200: {"content": {VC_MEDIA: {}}, "description": "a signed OpenBadgeCredential"}},
)
def export_ob3(award_id: str, session: SessionDep, service: ServiceDep, person: PersonDep) -> Response:
    import json

    credential = service.credentials.open_badge(_visible(session, person, award_id))
    return Response(json.dumps(credential, ensure_ascii=False), media_type=VC_MEDIA)


@router.post("/v1/credentials/{award_id}/revoke", response_model=CredentialAwardPublic)
def revoke(
    award_id: str,
    service: ServiceDep,
    _: Annotated[Principal, Depends(require(Role.ADMIN))],
    reason: Annotated[str, Body(embed=True, min_length=1, max_length=500)],
) -> CredentialAwardPublic:
    return CredentialAwardPublic.model_validate(service.credentials.revoke(award_id, reason), from_attributes=True)


@router.get(
    STATUS_PATH,
    response_class=Response,
    responses={200: {"content": {VC_MEDIA: {}}, "description": "the signed BitstringStatusListCredential"}},
)
def status_list(service: ServiceDep) -> Response:
    import json

    return Response(
        json.dumps(service.credentials.status_list()), media_type=VC_MEDIA, headers={"Cache-Control": "no-cache"}
    )


@router.get(
    "/credentials/{award_id}",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}, "description": "the shareable page of a credential"}},
)
def credential_page(award_id: str, session: SessionDep, service: ServiceDep) -> HTMLResponse:
    """A public page to share: what the credential certifies, its evidence and its live status.

    The award id is the capability (unguessable); the page names no candidate.
    """
    award = session.get(CredentialAward, award_id)
    if award is None:
        raise NotFound(f"unknown credential {award_id!r}")
    definition = session.get(CredentialDefinition, award.definition_id)
    if definition is None:  # the award's foreign key: only a damaged database gets here
        raise NotFound(f"credential {award_id!r} names an unknown definition")
    return HTMLResponse(
        render_page(award, definition, service.settings.public_url.rstrip("/")),
        headers={"Content-Security-Policy": "default-src 'none'; img-src https: data:; style-src 'self'"},
    )


def render_page(award: CredentialAward, definition: CredentialDefinition, base: str) -> str:
    e = html.escape
    status = (
        f"<p class=revoked><strong>Revoked</strong> on {e(str(award.revoked_at)[:10])}: "
        f"{e(award.revoked_reason or '')}</p>"
        if award.revoked_at
        else "<p class=valid><strong>Valid</strong></p>"
    )
    image = (
        f'<img src="{e(definition.image)}" alt="{e(definition.name)} badge" width=120>'
        if definition.image and definition.image.startswith("https://")
        else ""
    )
    skills = "".join(f"<li>{e(s)}</li>" for s in definition.skills)
    stacked = "".join(f"<li>{e(c)}</li>" for c in definition.credentials)
    evidence = "".join(f'<li><a href="{e(base)}/v1/results/{e(r)}">result {e(r)}</a></li>' for r in award.evidence)
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>{e(definition.name)} — tasktrial credential</title></head>
<body><main>
{image}
<h1>{e(definition.name)}</h1>
{status}
<p>{e(definition.description)}</p>
<h2>What it certifies</h2>
<ul>{skills or "<li>no micro-skill of its own</li>"}</ul>
{"<h2>Stacked credentials</h2><ul>" + stacked + "</ul>" if stacked else ""}
<h2>Evidence</h2>
<p>Signed results, each in the public transparency log (<a href="{e(base)}/log/checkpoint">checkpoint</a>):</p>
<ul>{evidence}</ul>
<p>Awarded {e(str(award.awarded_at)[:10])}. Holders verify the exported Open Badges 3.0 credential with
<code>tasktrial verify CREDENTIAL.json</code>.</p>
</main></body></html>
"""
