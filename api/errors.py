"""The API's one translation of tasktrial errors into HTTP statuses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

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
)


class PayloadTooLarge(SubmissionRejected):
    """An upload is larger than the service accepts."""


STATUS: list[tuple[type[TaskTrialError], int]] = [
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (PackError, 422),
    (SubmissionRejected, 422),
    (CredentialDefinitionError, 422),
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
        return JSONResponse(status_code=code, content=body)
