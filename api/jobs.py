"""The job a worker runs for one run id: the same code for Celery and the embedded pool.

Claim (compare-and-set) → load the task version the submission names →
grade in the sandbox → post the result. A failing submission is a result;
an infrastructure fault propagates so the caller can retry; a broken grader
ends the run with an ``error`` result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from api.worker_client import WorkerApi
from engine import archives
from engine.errors import GraderError, NotFound, PackError, RunnerError
from engine.grading import engine_error_result, grade_submission
from engine.models import Task
from engine.ports import Runner
from engine.results import now
from graders import GraderSet

log = logging.getLogger("tasktrial.jobs")

TaskLookup = Callable[[str, str, str], Task]


def execute(run_id: str, *, api: WorkerApi, runner: Runner, graders: GraderSet, find_task: TaskLookup) -> None:
    """Grade run ``run_id`` once. Raises ``RunnerError`` for infrastructure faults (retry those)."""
    job = api.claim(run_id)
    if job is None:
        log.info("run %s is done or claimed elsewhere; skipping", run_id)
        return
    try:
        task = find_task(job.pack_id, job.pack_version, job.task_id)
    except (NotFound, PackError) as exc:
        api.fail(run_id, f"the worker cannot load the task: {exc}")
        return
    if task.digest != job.task_digest:
        api.fail(run_id, f"the worker's copy of {job.pack_id}@{job.pack_version}/{job.task_id} differs from the "
                         "task version the submission was made for")
        return
    started = now()
    files = archives.extract(job.archive, strip_top_folder=False)  # stored as-is by the API

    def report(state: str) -> None:
        if state == "grading":  # the claim already recorded "running"
            api.progress(run_id, state)

    try:
        result = grade_submission(task, files, runner=runner, grader=graders.for_task(task), progress=report)
        document = result.to_document()
    except GraderError as exc:
        document = engine_error_result(task, job.submission_digest, f"the task's grader failed: {exc}",
                                       started_at=started).to_document()
    api.post_result(run_id, document)


def after_fault(run_id: str, exc: Exception, *, api: WorkerApi, attempt: int, attempts: int) -> float | None:
    """After an infrastructure fault: release the run to retry it, or fail it once out of attempts.

    Returns the delay before retrying, or None once it is failed. Failing happens while this
    worker still holds the run (only the holder may end it). One policy for both queues:
    Celery retries after the returned delay, the embedded pool sleeps it.
    """
    log.warning("run %s: infrastructure fault on attempt %d/%d: %s", run_id, attempt, attempts, exc)
    try:
        if attempt < attempts:
            api.release(run_id)
            return min(30.0, 2.0 ** attempt)
        api.fail(run_id, f"the engine could not run the submission after {attempts} attempts: {exc}")
    except RunnerError:
        log.error("run %s: the API is unreachable; the reaper will re-queue or end the run", run_id)
    return None


def execute_with_retries(run_id: str, *, once: Callable[[str], None], api: WorkerApi, attempts: int,
                         sleep: Callable[[float], None]) -> None:
    """The embedded pool's loop around ``once``: retry infrastructure faults, then end the run as ``error``."""
    for attempt in range(1, attempts + 1):
        try:
            once(run_id)
            return
        except RunnerError as exc:
            delay = after_fault(run_id, exc, api=api, attempt=attempt, attempts=attempts)
            if delay is None:
                return
            sleep(delay)
