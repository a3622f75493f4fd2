"""Who is looking at a page: a browser session opened from a one-time link or a pasted token.

The session cookie is HttpOnly, SameSite=Lax and Secure behind https; every
state-changing form carries the session's CSRF token. A session ends when it
expires, when its holder signs out, or when its API token is revoked.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from api import storage
from api.auth import Principal
from api.deps import ServiceDep
from api.tables import Role
from engine.errors import TaskTrialError

COOKIE = "tt_session"
PRE_COOKIE = "tt_presign"  # double-submit token of the sign-in forms, before any session exists
SESSION_LIFETIME = timedelta(hours=12)


class SignInRequired(TaskTrialError):
    """The page needs a session; the web routes answer with the sign-in page."""


class BadForm(TaskTrialError):
    """A state-changing form without this session's CSRF token."""


@dataclass(frozen=True)
class WebUser:
    principal: Principal
    csrf: str

    @property
    def subject(self) -> str:
        return self.principal.subject

    def is_staff(self) -> bool:
        return self.principal.is_staff()

    def is_author(self) -> bool:
        return self.principal.role in (Role.AUTHOR, Role.ADMIN)


async def optional_user(request: Request, service: ServiceDep) -> WebUser | None:
    secret = request.cookies.get(COOKIE)
    if not secret:
        return None
    with service.session() as session:
        found = storage.find_web_session(session=session, secret=secret)
    if found is None:
        return None
    web, token = found
    return WebUser(principal=Principal(subject=token.subject, role=token.role, token_id=token.id), csrf=web.csrf)


async def required_user(user: Annotated[WebUser | None, Depends(optional_user)]) -> WebUser:
    if user is None or user.principal.role is Role.WORKER:
        raise SignInRequired("sign in to see this page")
    return user


async def staff_user(user: Annotated[WebUser, Depends(required_user)]) -> WebUser:
    if not user.is_staff():
        from engine.errors import NotFound

        raise NotFound("this page is for reviewers")
    return user


async def author_user(user: Annotated[WebUser, Depends(required_user)]) -> WebUser:
    if not (user.is_author() or user.is_staff()):
        from engine.errors import NotFound

        raise NotFound("this page is for authors")
    return user


MaybeUser = Annotated[WebUser | None, Depends(optional_user)]
UserDep = Annotated[WebUser, Depends(required_user)]
StaffUser = Annotated[WebUser, Depends(staff_user)]
AuthorUser = Annotated[WebUser, Depends(author_user)]


def check_csrf(expected: str, given: object) -> None:
    """Refuse a form whose CSRF token is missing or wrong (constant-time comparison)."""
    if not isinstance(given, str) or not expected or not hmac.compare_digest(expected, given):
        raise BadForm("this form expired or did not come from this site: reload the page and try again")


def secure_cookies(request: Request, public_url: str) -> bool:
    return request.url.scheme == "https" or public_url.startswith("https://")
