"""The worker's side of the API: claim a run, report progress, post the result.

Workers need Docker and this API, never the database, so they can run on
other hosts. ``httpx.Client`` (or FastAPI's ``TestClient``) carries the calls.
"""

from __future__ import annotations

import base64
import random
import time
from dataclasses import dataclass

import httpx

from engine.errors import RunnerUnavailable


@dataclass(frozen=True)
class Job:
    run_id: str
    pack_id: str
    pack_version: str
    task_id: str
    task_digest: str
    submission_digest: str
    archive: bytes


class WorkerApi:
    def __init__(self, client: httpx.Client, *, token: str, worker: str, result_retry_seconds: float = 60.0):
        self._client = client
        self._headers = {"Authorization": f"Bearer {token}"}
        self.worker = worker
        self.result_retry_seconds = result_retry_seconds

    def claim(self, run_id: str) -> Job | None:
        """Claim the run (compare-and-set on the server); None if another worker has it or it is done."""
        response = self._post(f"/v1/runs/{run_id}/claim", json={"worker": self.worker})
        if response.status_code == 409:
            return None
        payload = response.json()
        return Job(
            run_id=run_id,
            pack_id=payload["pack_id"],
            pack_version=payload["pack_version"],
            task_id=payload["task_id"],
            task_digest=payload["task_digest"],
            submission_digest=payload["submission_digest"],
            archive=base64.b64decode(payload["archive"]),
        )

    def progress(self, run_id: str, state: str) -> bool:
        response = self._post(
            f"/v1/runs/{run_id}/progress", json={"worker": self.worker, "state": state}, ok=(200, 409)
        )
        return response.status_code == 200

    def post_result(self, run_id: str, document: dict) -> None:
        """Post a finished grading, retrying for up to ``result_retry_seconds`` while the API is restarting
        or its database is away (connection errors, 502-504): giving up loses the grading, and the run is
        graded again only once its lease lapses. The server stores one result per run, so a retry of a
        post that did arrive changes nothing."""
        deadline = time.monotonic() + self.result_retry_seconds
        delay = 0.25
        while True:
            try:
                self._post(f"/v1/runs/{run_id}/result", json=document, params={"worker": self.worker}, ok=(200, 201))
                return
            except RetryableApiError:
                if time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay * random.uniform(0.5, 1.5))  # noqa: S311 - jitter, not a secret
                delay = min(delay * 2, 5.0)

    def release(self, run_id: str) -> None:
        self._post(f"/v1/runs/{run_id}/release", json={"worker": self.worker}, ok=(200, 409))

    def fail(self, run_id: str, reason: str) -> None:
        # 409: this worker no longer holds the run (another took it over); that worker's result will stand.
        self._post(f"/v1/runs/{run_id}/fail", json={"worker": self.worker, "reason": reason}, ok=(200, 201, 409))

    def pack_check(self, version_id: str) -> dict | None:
        """The uploaded version to check (``pack_id``, ``version``, ``digest``); None once it is no longer checking."""
        try:
            response = self._client.get(f"/v1/pack-checks/{version_id}", headers=self._headers)
        except httpx.HTTPError as exc:
            raise RunnerUnavailable(f"cannot reach the API for pack check {version_id}: {exc}") from exc
        if response.status_code != 200:
            raise RunnerUnavailable(
                f"the API answered {response.status_code} to pack check {version_id}: {response.text[:500]}"
            )
        body = response.json()
        return body if body.get("state") == "checking" else None

    def post_pack_check(self, version_id: str, report: dict) -> None:
        # 409: the version was checked already (a re-delivered job); the first report stands.
        self._post(f"/v1/pack-checks/{version_id}", json=report, ok=(200, 409))

    def claim_public_tests(self, job_id: str) -> dict | None:
        """The public tests to run (``pack_id``, ``pack_version``, ``task_id``, ``task_digest``, ``archive`` as
        bytes); None when another worker took them or the API no longer waits for them."""
        response = self._post(f"/v1/public-test-jobs/{job_id}/claim", json={}, ok=(200, 409))
        if response.status_code == 409:
            return None
        payload = response.json()
        return {**payload, "archive": base64.b64decode(payload["archive"])}

    def post_public_tests(self, job_id: str, outcome: dict) -> None:
        # 409: the API gave up waiting (and forgot the job): nobody reads this answer any more.
        self._post(f"/v1/public-test-jobs/{job_id}/outcome", json=outcome, ok=(200, 409))

    def _post(
        self, path: str, *, json: dict, params: dict | None = None, ok: tuple[int, ...] = (200, 409)
    ) -> httpx.Response:
        try:
            response = self._client.post(path, json=json, params=params, headers=self._headers)
        except httpx.HTTPError as exc:
            raise RetryableApiError(f"cannot reach the API at {path}: {exc}") from exc
        if response.status_code not in ok:
            kind = RetryableApiError if response.status_code in (502, 503, 504) else RunnerUnavailable
            raise kind(f"the API answered {response.status_code} to {path}: {response.text[:500]}")
        return response


class RetryableApiError(RunnerUnavailable):
    """The API could not be reached or said it is briefly unavailable: the same call may succeed soon."""
