"""The Celery adapter: one task, ``tasktrial.grade_run(run_id)``, acknowledged late.

A message is acknowledged only after the job finished, and re-delivered if
the worker dies (``task_reject_on_worker_lost``); the Redis visibility
timeout is longer than any run, and the API's compare-and-set claim makes a
re-delivered message harmless.
"""

from __future__ import annotations

from celery import Celery

from engine.errors import RunnerError

GRADE_TASK = "tasktrial.grade_run"
CHECK_TASK = "tasktrial.check_pack"
PUBLIC_TESTS_TASK = "tasktrial.run_public_tests"
VISIBILITY_TIMEOUT_SECONDS = 3600


def make_celery(broker_url: str, *, visibility_timeout: float = VISIBILITY_TIMEOUT_SECONDS) -> Celery:
    app = Celery("tasktrial", broker=broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": visibility_timeout},
        worker_hijack_root_logger=False,
    )
    return app


def register_grade_task(app: Celery, context) -> None:
    """Bind the grading task to this worker process's context (runner, graders, packs, API client).

    The body stays thin: the job and the retry policy live in ``api.jobs``.
    """

    @app.task(name=GRADE_TASK, bind=True, max_retries=None)
    def grade_run(self, run_id: str) -> None:
        from api import jobs

        try:
            context.execute_once(run_id)
        except RunnerError as exc:
            delay = jobs.after_fault(
                run_id, exc, api=context.api, attempt=self.request.retries + 1, attempts=context.attempts
            )
            if delay is not None:
                raise self.retry(exc=exc, countdown=delay) from exc


def register_check_task(app: Celery, context) -> None:
    """Bind the pack check task (``pack check`` of an uploaded version) to this worker's context."""

    @app.task(name=CHECK_TASK, bind=True, max_retries=None)
    def check_pack(self, version_id: str) -> None:
        from api import jobs

        try:
            context.check_pack_once(version_id)
        except RunnerError as exc:
            delay = jobs.after_check_fault(
                version_id, exc, api=context.api, attempt=self.request.retries + 1, attempts=context.attempts
            )
            if delay is not None:
                raise self.retry(exc=exc, countdown=delay) from exc


def register_public_tests_task(app: Celery, context) -> None:
    """Bind the public-test run (the API waits on its answer; tried once) to this worker's context."""

    @app.task(name=PUBLIC_TESTS_TASK)
    def run_public_tests(job_id: str) -> None:
        context.run_public_tests(job_id)
