"""The queue seam: ``JobQueue.enqueue(run_id)``. Only ids travel; the database holds the rest.

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


class FakeQueue:
    def __init__(self) -> None:
        self.run_ids: list[str] = []

    def enqueue(self, run_id: str) -> None:
        self.run_ids.append(run_id)


class InProcessQueue:
    """Runs jobs on a thread pool inside the API process. Not durable: the reaper re-queues after a restart."""

    def __init__(self, job: Callable[[str], None], *, workers: int):
        self._job = job
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tasktrial-worker")

    def enqueue(self, run_id: str) -> None:
        self._pool.submit(self._safely, run_id)

    def _safely(self, run_id: str) -> None:
        try:
            self._job(run_id)
        except Exception:  # the reaper will retry the run; a pool thread must survive
            log.exception("job for run %s failed", run_id)


class CeleryQueue:
    def __init__(self, celery_app) -> None:
        self._app = celery_app

    def enqueue(self, run_id: str) -> None:
        from api.celery_app import GRADE_TASK

        self._app.send_task(GRADE_TASK, args=[run_id])
