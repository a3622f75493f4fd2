"""Authors' side of uploaded packs: versions and their check reports, retiring, results statistics;
and the workers' side of checking an upload before it goes live.

An author sees and acts on their own packs only (others get 404, as if absent); an admin on all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, status
from pydantic import BaseModel

from api import storage
from api.auth import Principal
from api.deps import AuthorDep, ServiceDep, SessionDep, WorkerDep, require
from api.routes.submissions import sees_everything
from api.tables import PackState, PackVersion, Role
from engine.errors import Conflict, NotFound
from engine.statistics import task_statistics

router = APIRouter(prefix="/v1", tags=["authoring"])
StatsDep = Annotated[Principal, Depends(require(Role.AUTHOR, Role.REVIEWER))]
VersionId = Annotated[str, Path(max_length=128)]


class VersionPublic(BaseModel):
    id: str
    pack_id: str
    version: str
    digest: str
    owner: str | None
    state: str
    created_at: datetime
    checked_at: datetime | None


class VersionDetail(VersionPublic):
    #: The workers' pack check report (reference, starter, counter-examples, per skill); None while checking.
    report: dict[str, Any] | None


class ListVersions(BaseModel):
    data: list[VersionPublic]
    count: int


class PackCheckJob(BaseModel):
    id: str
    pack_id: str
    version: str
    digest: str
    state: str


class PackStatistics(BaseModel):
    pack: str
    tasks: dict[str, dict[str, Any]]


def _public(row: PackVersion) -> VersionPublic:
    return VersionPublic(**row.model_dump(exclude={"report"}))


def manages(principal: Principal, row: PackVersion) -> bool:
    """Who sees an uploaded version's state and check report, and may retire it: its uploader or an admin."""
    return principal.role is Role.ADMIN or row.owner == principal.subject


def owned_version(session, principal: Principal, pack_id: str, version: str) -> PackVersion:
    """An uploaded version ``principal`` manages (the API's version pages and the web's).

    Raises:
        NotFound: no such uploaded version, or another author's.
    """
    row = storage.get_pack_version(session=session, pack_id=pack_id, version=version)
    if row is None or not manages(principal, row):
        raise NotFound(f"you have no uploaded pack version {pack_id}@{version}")
    return row


@router.get("/authoring/packs", response_model=ListVersions)
def my_pack_versions(session: SessionDep, author: AuthorDep) -> ListVersions:
    """Every version this author uploaded (an admin: every uploaded version), newest first, with its state."""
    rows = storage.list_pack_versions(session=session, owner=None if author.role is Role.ADMIN else author.subject)
    return ListVersions(data=[_public(r) for r in rows], count=len(rows))


@router.get("/packs/{pack_id}/versions", response_model=ListVersions)
def pack_versions(pack_id: str, session: SessionDep, author: AuthorDep) -> ListVersions:
    rows = [
        r
        for r in storage.list_pack_versions(
            session=session, owner=None if author.role is Role.ADMIN else author.subject
        )
        if r.pack_id == pack_id
    ]
    if not rows:
        raise NotFound(f"you have no uploaded pack {pack_id!r}")
    return ListVersions(data=[_public(r) for r in rows], count=len(rows))


@router.get("/packs/{pack_id}/versions/{version}", response_model=VersionDetail)
def pack_version(pack_id: str, version: str, session: SessionDep, author: AuthorDep) -> VersionDetail:
    """One uploaded version with the workers' check report (visible to its author and admins only)."""
    row = owned_version(session, author, pack_id, version)
    return VersionDetail(**_public(row).model_dump(), report=row.report)


@router.post(
    "/packs/{pack_id}/versions/{version}/retire",
    response_model=VersionPublic,
    responses={409: {"description": "only a live version can be retired"}},
)
def retire(
    pack_id: str,
    version: str,
    session: SessionDep,
    author: AuthorDep,
    service: ServiceDep,
) -> VersionPublic:
    """Stop new submissions to a live version; its results stay valid and verifiable (and its credentials'
    awards: a credential no live version declares any more only stops being awarded)."""
    row = owned_version(session, author, pack_id, version)
    if not storage.move_pack_version(
        session=session, version_id=row.id, from_states=[PackState.LIVE], to=PackState.RETIRED
    ):
        raise Conflict(f"pack {pack_id}@{version} is {row.state}: only a live version can be retired")
    service.sync_pack_credentials()  # a credential no live version declares retires now, whoever retired it
    session.refresh(row)
    return _public(row)


@router.get("/packs/{pack_id}/stats", response_model=PackStatistics)
def pack_statistics(pack_id: str, session: SessionDep, person: StatsDep) -> PackStatistics:
    """Per task: attempts, verdicts, score distribution, the checks failed most. The pack's authors and staff."""
    if not sees_everything(session, person, pack_id):
        raise NotFound(f"you have no pack {pack_id!r}")
    documents = [row.document["full"] for row in storage.pack_results(session=session, pack_id=pack_id)]
    return PackStatistics(pack=pack_id, tasks=task_statistics(documents))


# -- workers: the check of an upload ------------------------------------------


@router.get("/pack-checks/{version_id}", response_model=PackCheckJob)
def pack_check_job(version_id: VersionId, session: SessionDep, _: WorkerDep) -> PackCheckJob:
    row = storage.get_pack_version(session=session, version_id=version_id)
    if row is None:
        raise NotFound(f"unknown pack version {version_id!r}")
    return PackCheckJob(id=row.id, pack_id=row.pack_id, version=row.version, digest=row.digest, state=row.state)


@router.post(
    "/pack-checks/{version_id}",
    status_code=status.HTTP_200_OK,
    responses={409: {"description": "the version is no longer being checked"}},
)
def pack_check_report(
    version_id: VersionId, report: dict[str, Any], service: ServiceDep, _: WorkerDep
) -> dict[str, str]:
    """The workers' report: the version goes live if it passed, else it is rejected with the report for its author."""
    return {"state": service.record_pack_check(version_id=version_id, report=report)}
