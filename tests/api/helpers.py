"""Playing the worker's part through the HTTP API, without Docker."""

from __future__ import annotations

from api.tables import Role
from engine.models import Check, CheckStatus, RunOutcome, RunStatus, StepOutcome
from engine.results import Result, now
from tests.api.conftest import Api

RETRY = "python-foundations/retry-backoff"
SECRET_MESSAGE = "hidden expectation: 42 retries"
SECRET_OUTPUT = "candidate stdout the candidate must not get back"


def submit(api: Api, headers: dict[str, str], files: dict[str, str] | None = None, task: str = RETRY) -> dict:
    response = api.client.post("/v1/submissions", headers=headers,
                               json={"task": task, "files": files or {"retry.py": "print('hi')\n"}})
    assert response.status_code == 202, response.text
    return response.json()


def result_document(api: Api, job: dict, *, passed: bool = True) -> dict:
    task = api.service.catalogue.task(job["pack_id"], job["task_id"], job["pack_version"])
    status = CheckStatus.PASS if passed else CheckStatus.FAIL
    checks = (
        Check(id="visible-check", name="visible", status=status, score=1.0 if passed else 0.0, max_score=1.0,
              message="you can read this", visible=True),
        Check(id="hidden-check", name="hidden", status=status, score=1.0 if passed else 0.0, max_score=1.0,
              message=SECRET_MESSAGE, visible=False),
    )
    outcome = RunOutcome(backend="fake", image="sha256:fake", steps=(StepOutcome(0, SECRET_OUTPUT.encode()),))
    return Result(task=task, submission_digest=job["submission_digest"], status=RunStatus.COMPLETED, checks=checks,
                  started_at=now(), finished_at=now(), outcome=outcome).to_document()


def work(api: Api, run_id: str, *, passed: bool = True, worker: str = "w1") -> dict:
    """Claim the run and post a result for it, as a worker would; returns the posted document."""
    headers = api.token(Role.WORKER, "w")
    claimed = api.client.post(f"/v1/runs/{run_id}/claim", headers=headers, json={"worker": worker})
    assert claimed.status_code == 200, claimed.text
    document = result_document(api, claimed.json(), passed=passed)
    posted = api.client.post(f"/v1/runs/{run_id}/result", headers=headers, json=document)
    assert posted.status_code == 201, posted.text
    return document
