"""Injected dependencies, as ``Annotated`` aliases routes declare."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from api.auth import Principal
from api.service import AppService
from api.tables import Role

bearer = HTTPBearer(auto_error=False, description="An API token from `tasktrial admin create-token`.")


# The dependencies below are ``async`` although they do no awaiting: FastAPI runs a plain
# ``def`` dependency on a worker thread, and these are too cheap to be worth a thread hop each.


async def get_service(request: Request) -> AppService:
    return request.app.state.service


ServiceDep = Annotated[AppService, Depends(get_service)]


async def get_session(service: ServiceDep) -> AsyncIterator[Session]:
    with service.session() as session:  # opening touches no database until the first query
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_principal(
    service: ServiceDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    # A token this process saw lately costs nothing; another is looked up on a worker thread, so a wait for a
    # database connection (an overloaded service) never stalls the event loop and every request on it.
    principal = service.cached_principal(credentials.credentials) or await run_in_threadpool(
        service.principal, credentials.credentials
    )
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"}
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting only ``roles`` (admin is always admitted)."""

    async def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles and principal.role is not Role.ADMIN:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the role {' or '.join(r.value for r in roles)}; your token has {principal.role.value}",
            )
        return principal

    return check


PEOPLE = (Role.CANDIDATE, Role.AUTHOR, Role.REVIEWER)
PersonDep = Annotated[Principal, Depends(require(*PEOPLE))]
AuthorDep = Annotated[Principal, Depends(require(Role.AUTHOR))]
StaffDep = Annotated[Principal, Depends(require(Role.REVIEWER))]
WorkerDep = Annotated[Principal, Depends(require(Role.WORKER))]
AdminDep = Annotated[Principal, Depends(require(Role.ADMIN))]
