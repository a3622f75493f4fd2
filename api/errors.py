"""The API's one translation of tasktrial errors into HTTP statuses."""

from __future__ import annotations

import math

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from engine.credentials import CredentialDefinitionError
from engine.errors import (
    ConfigurationError,
    Conflict,
    GraderError,
    NotFound,
    PackError,
    RunnerError,
    SubmissionRejected,
    TaskTrialError,
    capped,
)
from engine.roster import RosterError
from engine.webhooks import WebhookAddressRefused

#: Caps on an error body, whatever the request or pack held: ``detail`` text, and how many
#: items any list in a body keeps (see ``bounded``).
DETAIL_CHARS = 4000
MAX_VALIDATION_ERRORS = 50


class PayloadTooLarge(SubmissionRejected):
    """An upload is larger than the service accepts."""


class TooManyRequests(TaskTrialError):
    """A limit on how much one caller (or everyone) may ask for at once; the answer says when to retry."""

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class StorageLow(TaskTrialError):
    """The data disk is nearly full: new submissions wait (503 with Retry-After) rather than risk being lost."""


#: How long a client is asked to wait after a 503 (a part of the service is down for a moment).
RETRY_AFTER_SECONDS = 5

STATUS: list[tuple[type[TaskTrialError], int]] = [
    (StorageLow, 503),
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (TooManyRequests, 429),
    (PackError, 422),
    (SubmissionRejected, 422),
    (CredentialDefinitionError, 422),
    (RosterError, 422),
    (WebhookAddressRefused, 422),
    (ConfigurationError, 500),
    (RunnerError, 503),
    (GraderError, 500),
]


def install(app: FastAPI) -> None:
    @app.exception_handler(TaskTrialError)
    async def _translate(request: Request, exc: TaskTrialError) -> JSONResponse:
        code = next((c for kind, c in STATUS if isinstance(exc, kind)), 500)
        body: dict = {"detail": capped(str(exc), DETAIL_CHARS)}
        if isinstance(exc, PackError):
            body["problems"] = [{"file": p.file, "location": p.location, "message": p.message} for p in exc.problems]
        if isinstance(exc, SubmissionRejected) and exc.member is not None:
            # backslashreplace: a name that is not UTF-8 (the rule it broke) still fits a JSON body.
            body["member"] = capped(exc.member.encode("utf-8", "backslashreplace").decode("utf-8"), DETAIL_CHARS)
        if isinstance(exc, RosterError):
            body["problems"] = list(exc.problems)
        headers = None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
            body["retry_after_seconds"] = max(1, math.ceil(exc.retry_after))
        elif code == 503:
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return JSONResponse(status_code=code, content=body, headers=headers)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        """The database went away (restarting, unreachable, its disk full): nothing was half-written
        (the transaction rolled back), so the client may simply retry."""
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()
        return JSONResponse(
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            content={
                "detail": capped(
                    "the database is unavailable, try again shortly" + (f" ({reason[0]})" if reason else ""),
                    DETAIL_CHARS,
                )
            },
        )

    @app.exception_handler(PoolTimeout)
    async def _database_busy(request: Request, exc: Exception) -> JSONResponse:
        """Every database connection stayed in use for the pool's wait (TASKTRIAL_DATABASE_POOL_TIMEOUT_SECONDS):
        the service is overloaded. The request did nothing yet; shedding it is what keeps the others fast
        (queued, they would time out one after another)."""
        request.app.state.service.metrics.rejected.labels("database_busy").inc()
        return busy("every database connection is in use", "TASKTRIAL_DATABASE_POOL_TIMEOUT_SECONDS")

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()
        ]  # never the "input": it can be the whole body
        return JSONResponse(status_code=422, content={"detail": bounded(jsonable_encoder(errors))})

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if not is_body_allowed_for_status_code(exc.status_code):
            return Response(status_code=exc.status_code, headers=getattr(exc, "headers", None))
        return JSONResponse(
            status_code=exc.status_code,
            content={"detail": bounded(jsonable_encoder(exc.detail))},
            headers=getattr(exc, "headers", None),
        )


def busy(why: str, variable: str) -> JSONResponse:
    """The one answer of an overloaded service (load shed before any work was done): 503 with Retry-After.

    ``"shed": true`` tells clients the request did nothing, so sending it again is safe (even a submission);
    other 503s make no such promise (a database that dropped mid-commit may have stored it).
    """
    return JSONResponse(
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        content={"detail": f"the service is busy ({why}), try again shortly ({variable})", "shed": True},
    )


def bounded(value: object, *, depth: int = 0) -> object:
    """A JSON value cut to size: strings to 500 characters, lists and objects to 50 items, 6 levels."""
    if isinstance(value, str):
        return capped(value, 500)
    if depth >= 6 and isinstance(value, (list, dict)):
        return "..."
    if isinstance(value, list):
        return [bounded(v, depth=depth + 1) for v in value[:MAX_VALIDATION_ERRORS]]
    if isinstance(value, dict):
        items = list(value.items())[:MAX_VALIDATION_ERRORS]
        return {capped(str(k), 100): bounded(v, depth=depth + 1) for k, v in items}
    return value
