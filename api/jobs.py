"""The job a worker runs for one run id: the same code for Celery and the embedded pool.

Claim (compare-and-set) → load the task version the submission names →
grade in the sandbox → post the result. A failing submission is a result;
an infrastructure fault propagates so the caller can retry; a broken grader
ends the run with a ``grader_error`` result (verdict ``error``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from api.packstore import pack_digest
from api.worker_client import RetryableApiError, WorkerApi
from engine import archives, public_tests
from engine.checking import check_task, pack_report
from engine.errors import NotFound, PackError, RunnerError, SubmissionRejected, TaskTrialError
from engine.grading import grade_submission
from engine.models import Pack, Task
from engine.ports import Runner
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
        api.fail(
            run_id,
            f"the worker's copy of {job.pack_id}@{job.pack_version}/{job.task_id} differs from the "
            "task version the submission was made for",
        )
        return
    try:
        files = archives.extract_stored(job.archive)
    except SubmissionRejected as exc:
        # The API admits only what this unpacks, so this is the engine's fault (a row stored before a rule
        # existed, or damaged): end the run as an engine error now; retrying cannot change the bytes.
        api.fail(run_id, f"the worker cannot unpack the stored submission: {exc}")
        return

    def report(state: str) -> None:
        if state == "grading":  # the claim already recorded "running"
            try:
                api.progress(run_id, state)
            except RetryableApiError as exc:  # progress is news, not a duty: the result post retries and decides
                log.warning("run %s: could not report %s (%s); grading on", run_id, state, exc)

    # A broken grader comes back as a ``grader_error`` result (verdict error), never as the candidate's outcome.
    result = grade_submission(task, files, runner=runner, grader=graders.for_task(task), progress=report)
    api.post_result(run_id, result.to_document())


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
            return min(30.0, 2.0**attempt)
        api.fail(run_id, f"the engine could not run the submission after {attempts} attempts: {exc}")
    except RunnerError:
        log.error("run %s: the API is unreachable; the reaper will re-queue or end the run", run_id)
    return None


def execute_with_retries(
    run_id: str, *, once: Callable[[str], None], api: WorkerApi, attempts: int, sleep: Callable[[float], None]
) -> None:
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


# -- pack checks of uploaded versions ------------------------------------------

PackLookup = Callable[[str, str], Pack]


def check_pack(
    version_id: str, *, api: WorkerApi, runner: Runner, graders: GraderSet, find_pack: PackLookup, repeat: int = 1
) -> None:
    """Run ``pack check`` on an uploaded version and post the report; the API makes it live only if it passed.

    Raises ``RunnerError`` for infrastructure faults (retry those); everything else is the report.
    """
    job = api.pack_check(version_id)
    if job is None:
        log.info("pack version %s is no longer being checked; skipping", version_id)
        return
    try:
        pack = find_pack(job["pack_id"], job["version"])
    except (NotFound, PackError) as exc:
        api.post_pack_check(version_id, failed_report(job, f"the worker cannot load the pack: {exc}"))
        return
    if pack_digest(pack.root) != job["digest"]:
        api.post_pack_check(version_id, failed_report(job, "the worker's copy of the pack differs from the upload"))
        return
    reports = [check_task(task, runner=runner, grader=graders.for_task(task), repeat=repeat) for task in pack.tasks]
    api.post_pack_check(version_id, pack_report(pack, reports))


def failed_report(job: dict, problem: str) -> dict:
    return {"pack": job["pack_id"], "version": job["version"], "ok": False, "problems": [problem], "tasks": []}


def after_check_fault(version_id: str, exc: Exception, *, api: WorkerApi, attempt: int, attempts: int) -> float | None:
    """The delay before checking again after an infrastructure fault; None once the version is rejected for it."""
    log.warning("pack check %s: infrastructure fault on attempt %d/%d: %s", version_id, attempt, attempts, exc)
    if attempt < attempts:
        return min(30.0, 2.0**attempt)
    try:
        job = api.pack_check(version_id)
        if job is not None:
            api.post_pack_check(
                version_id,
                failed_report(
                    job, f"the check could not run after {attempts} attempts ({exc}); upload the same archive to retry"
                ),
            )
    except RunnerError:
        log.error("pack check %s: the API is unreachable; the version stays in checking", version_id)
    return None


def check_with_retries(
    version_id: str, *, once: Callable[[str], None], api: WorkerApi, attempts: int, sleep: Callable[[float], None]
) -> None:
    """The embedded pool's loop around a pack check: retry infrastructure faults, then reject the version."""
    for attempt in range(1, attempts + 1):
        try:
            once(version_id)
            return
        except RunnerError as exc:
            delay = after_check_fault(version_id, exc, api=api, attempt=attempt, attempts=attempts)
            if delay is None:
                return
            sleep(delay)


# -- public tests (Celery deployments) ------------------------------------------


def run_public_tests(job_id: str, *, api: WorkerApi, runner: Runner, find_task: TaskLookup) -> None:
    """Run the public tests the API handed over and post their output (nothing signed, stored or counted).

    Tried once: the candidate is waiting on the answer, so a fault is posted as an error for the API
    to tell them (503) rather than retried behind their back.
    """
    job = api.claim_public_tests(job_id)
    if job is None:
        log.info("public tests %s were taken or given up; skipping", job_id)
        return
    try:
        task = find_task(job["pack_id"], job["pack_version"], job["task_id"])
        if task.digest != job["task_digest"]:
            raise NotFound(
                f"the worker's copy of {job['pack_id']}@{job['pack_version']}/{job['task_id']} differs "
                "from the task version the API runs"
            )
        ran = public_tests.run_public_tests(task, archives.extract(job["archive"], strip_top_folder=False), runner)
    except TaskTrialError as exc:  # no sandbox engine, an unknown task version: told to the waiting candidate
        log.warning("public tests %s could not run: %s", job_id, exc)
        api.post_public_tests(job_id, {"error": f"the worker could not run the public tests: {exc}"})
        return
    if ran is None:
        api.post_public_tests(job_id, {"error": "the worker's copy of the task has no public tests"})
        return
    api.post_public_tests(job_id, ran.to_document())
