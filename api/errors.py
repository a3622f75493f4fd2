"""The API's one translation of tasktrial errors into HTTP statuses."""

from __future__ import annotations

import math

from fastapi import FastAPI, Request
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
)


class PayloadTooLarge(SubmissionRejected):
    """An upload is larger than the service accepts."""


class TooManyRequests(TaskTrialError):
    """A limit on how much one caller (or everyone) may ask for at once; the answer says when to retry."""

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


STATUS: list[tuple[type[TaskTrialError], int]] = [
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (TooManyRequests, 429),
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
        body: dict = {"detail": str(exc)}
        if isinstance(exc, PackError):
            body["problems"] = [{"file": p.file, "location": p.location, "message": p.message} for p in exc.problems]
        headers = None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
            body["retry_after_seconds"] = max(1, math.ceil(exc.retry_after))
        return JSONResponse(status_code=code, content=body, headers=headers)
