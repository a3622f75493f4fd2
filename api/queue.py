"""The queue seam: ``JobQueue.enqueue(run_id)`` and ``enqueue_pack_check(version_id)``.
Only ids travel; the database holds the rest.

Backends: ``CeleryQueue`` (Redis broker, ``tasktrial worker`` processes) and
``InProcessQueue`` (the embedded default: a thread pool in ``tasktrial serve``
running the very same job code). ``FakeQueue`` records ids for tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

log = logging.getLogger("tasktrial.queue")


class JobQueue(Protocol):
    def enqueue(self, run_id: str) -> None:
        """Ask a worker to grade run ``run_id``. Must not block on the grading."""
        ...

    def enqueue_pack_check(self, version_id: str) -> None:
        """Ask a worker to run ``pack check`` on an uploaded pack version. Must not block on it."""
        ...

    def enqueue_public_tests(self, job_id: str) -> None:
        """Ask a worker to run a public test job's tests (only with a broker). Must not block on them."""
        ...


class FakeQueue:
    def __init__(self) -> None:
        self.run_ids: list[str] = []
        self.pack_check_ids: list[str] = []
        self.public_test_ids: list[str] = []

    def enqueue(self, run_id: str) -> None:
        self.run_ids.append(run_id)

    def enqueue_pack_check(self, version_id: str) -> None:
        self.pack_check_ids.append(version_id)

    def enqueue_public_tests(self, job_id: str) -> None:
        self.public_test_ids.append(job_id)


class InProcessQueue:
    """Runs jobs on a thread pool inside the API process. Not durable: the reaper re-queues after a restart."""

    def __init__(self, job: Callable[[str], None], *, workers: int, check_job: Callable[[str], None] | None = None):
        self._job = job
        self._check_job = check_job
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tasktrial-worker")

    def enqueue(self, run_id: str) -> None:
        self._pool.submit(self._safely, self._job, run_id)

    def enqueue_pack_check(self, version_id: str) -> None:
        if self._check_job is None:
            raise RuntimeError("this in-process queue was built without a pack check job")
        self._pool.submit(self._safely, self._check_job, version_id)

    def enqueue_public_tests(self, job_id: str) -> None:
        raise RuntimeError("without a broker the API runs public tests in its own process, never through this queue")

    def close(self) -> None:
        """Drop the jobs not started (their runs stay queued in the database: the next start queues them
        again) and do not wait for those under way (their claims lapse; the next start re-queues them).
        Without this, the interpreter's exit would run every queued grading before the process ends."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _safely(self, job: Callable[[str], None], job_id: str) -> None:
        try:
            job(job_id)
        except Exception:  # the reaper (or a re-upload, for pack checks) retries; a pool thread must survive
            log.exception("job %s failed", job_id)


class CeleryQueue:
    def __init__(self, celery_app) -> None:
        self._app = celery_app

    @property
    def app(self):
        """The Celery app (``/healthz`` pings the workers through it)."""
        return self._app

    def enqueue(self, run_id: str) -> None:
        from api.celery_app import GRADE_TASK

        self._app.send_task(GRADE_TASK, args=[run_id])

    def enqueue_pack_check(self, version_id: str) -> None:
        from api.celery_app import CHECK_TASK

        self._app.send_task(CHECK_TASK, args=[version_id])

    def enqueue_public_tests(self, job_id: str) -> None:
        """Ask a worker to run stored public tests (``api.jobs.run_public_tests``); the API waits for the answer."""
        from api.celery_app import PUBLIC_TESTS_TASK

        self._app.send_task(PUBLIC_TESTS_TASK, args=[job_id])
