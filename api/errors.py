"""The API's one translation of tasktrial errors into HTTP statuses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

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

#: Caps on an error body, whatever the request or pack held: ``detail`` text, and how many
#: request-validation errors are listed (their ``input`` echo is dropped: it can be the whole body).
DETAIL_CHARS = 4000
MAX_VALIDATION_ERRORS = 50


class PayloadTooLarge(SubmissionRejected):
    """An upload is larger than the service accepts."""


STATUS: list[tuple[type[TaskTrialError], int]] = [
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (PackError, 422),
    (SubmissionRejected, 422),
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
        return JSONResponse(status_code=code, content=body)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"type": e.get("type"), "loc": [_part(p) for p in list(e.get("loc", ()))[:10]],
                   "msg": capped(str(e.get("msg", "")), 500)} for e in exc.errors()[:MAX_VALIDATION_ERRORS]]
        return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})


def _part(part: object) -> object:
    return part if isinstance(part, int) else capped(str(part), 100)
