"""Composition roots: the service with its embedded worker pool, and a Celery worker process."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

import httpx
from sqlmodel import Session

from api import storage
from api.app import create_app
from api.celery_app import make_celery, register_check_task, register_grade_task, register_public_tests_task
from api.queue import CeleryQueue, InProcessQueue, JobQueue
from api.service import AppService, build_pack_store, build_service
from api.settings import Settings
from api.tables import Role, RunState
from api.worker import WorkerContext

log = logging.getLogger("tasktrial.serve")


def build(settings: Settings, *, client: httpx.Client | None = None):
    """The app and its service. Without a broker, an in-process pool grades through the same HTTP API.

    ``client`` overrides how the embedded workers reach the API (tests pass a TestClient).
    """
    settings.require_database()
    holder: dict[str, WorkerContext] = {}
    queue: JobQueue
    if settings.broker_url:
        queue = CeleryQueue(make_celery(settings.broker_url, visibility_timeout=settings.visibility_timeout_seconds))
    else:
        # looked up when called: the worker is built after the queue (it needs the service)
        def execute(run_id: str) -> None:
            holder["worker"].execute(run_id)

        def check_pack(version_id: str) -> None:
            holder["worker"].check_pack(version_id)

        pool = InProcessQueue(execute, workers=settings.embedded_workers, check_job=check_pack)
        queue = pool
    service = build_service(settings, queue)
    app = create_app(service)
    if not settings.broker_url:
        with service.session() as session:
            token = storage.create_token(
                session=session, name="embedded worker", role=Role.WORKER, subject="embedded-worker"
            )
        runner = _worker_runner(settings, parallel=settings.embedded_workers)
        holder["worker"] = WorkerContext.build(
            runner=runner,
            pack_store=service.pack_store,
            client=client or httpx.Client(base_url=settings.public_url, timeout=60.0),
            token=token,
            cache_dir=settings.cache_dir,
            attempts=settings.max_attempts,
        )
        service.on_shutdown.append(pool.close)  # first: no new grading starts while the rest shuts down
        if hasattr(runner, "close"):
            # Remove the warm sandboxes. Gradings under way are not awaited: their runs stay
            # claimed and `recover` queues them again at the next start.
            service.on_shutdown.append(runner.close)
        if hasattr(runner, "remove_own"):
            service.on_abandon.append(runner.remove_own)
        recover(service)
    return app, service


#: How long ``serve`` lets open requests finish after SIGTERM; the whole stop stays well under 10 s.
SHUTDOWN_GRACE_SECONDS = 3


def run_server(app, service: AppService, settings: Settings) -> None:
    """Serve ``app`` with uvicorn until SIGINT/SIGTERM, then stop within seconds whatever is open.

    At shutdown, open event streams are told to reconnect and end at once (uvicorn would otherwise
    wait for every stream to finish before stopping); other open requests get
    ``SHUTDOWN_GRACE_SECONDS``, then are cut; embedded gradings under way are not awaited.
    """
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets=None) -> None:
            service.streams.close()
            await super().shutdown(sockets)
            # Here, not after run(): uvicorn ends by raising the signal it caught again, which ends the process.
            _abandon_gradings_under_way(service)

    try:
        Server(
            uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                log_level="info",
                timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
            )
        ).run()
    finally:
        if _gradings_under_way():
            # The interpreter would join their threads, for as long as a grading takes.
            sys.stdout.flush(), sys.stderr.flush()
            os._exit(0)


def _gradings_under_way() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("tasktrial-worker") and t.is_alive()]


def _abandon_gradings_under_way(service: AppService) -> None:
    """Remove the sandboxes of embedded gradings still running, which the stopping process will not await.

    Their runs stay claimed in the database and the next start queues them again (``recover``),
    so nothing is lost by not waiting. The API no longer listens, so no grading cut short here
    can post a result.
    """
    busy = _gradings_under_way()
    if not busy:
        return
    log.warning("stopping with %d grading(s) under way; their runs are queued again at the next start", len(busy))
    for abandon in service.on_abandon:
        try:
            abandon()
        except Exception:  # the next start's orphan reaper removes what is left
            log.exception("removing the sandboxes of gradings under way failed")


def _worker_runner(settings: Settings, *, parallel: int):
    """The sandbox runner of a worker process (``parallel`` gradings at a time), after removing sandboxes
    its dead predecessors left here."""
    import socket

    import runners
    from api.worker import worker_name

    runner = runners.from_name(
        settings.runner, owner=worker_name(), warm=settings.warm_for(parallel), runtime=settings.sandbox_runtime
    )
    if hasattr(runner, "reap_orphans"):
        host = socket.gethostname()

        def reap() -> None:
            reaped = runner.reap_orphans(host=host)
            if reaped:
                log.warning("removed %d sandbox container(s) left by a crashed worker", reaped)

        reap()
        # Again now and then: a sandbox the predecessor was creating as it died can appear after the first pass.
        threading.Thread(target=_every, args=(ORPHAN_REAP_SECONDS, reap), name="tasktrial-orphans", daemon=True).start()
    return runner


ORPHAN_REAP_SECONDS = 20.0


def _tidy_at_shutdown(runner) -> None:
    """Once the worker has stopped (its gradings finished or given back), nothing it made is wanted:
    remove the sandboxes started ahead and anything else carrying its owner label, so a stopped worker
    leaves no container behind whatever its pool still held."""
    from celery.signals import worker_shutdown

    def tidy(**_: object) -> None:
        try:
            runner.close()
            if hasattr(runner, "remove_own"):
                runner.remove_own()
        except Exception:  # the next start's orphan reaper removes what is left
            log.exception("removing this worker's sandboxes at shutdown failed")

    worker_shutdown.connect(tidy, weak=False)


def _every(seconds: float, job) -> None:
    """Run ``job`` every ``seconds`` for the life of the process; a failed pass is logged, the next one still runs."""
    while True:
        time.sleep(seconds)
        try:
            job()
        except Exception:  # a janitor must outlive a passing engine fault (logged below)
            log.exception("reaping orphaned sandboxes failed; trying again in %s s", seconds)


def recover(service: AppService) -> int:
    """After an embedded restart, every unfinished run belonged to a pool that no longer exists: queue it again."""
    from sqlmodel import select

    from api.tables import Run

    with Session(service.engine) as session:
        # Ids, not rows: each release commits, which expires the rows (reading one then fails).
        run_ids = list(session.exec(select(Run.id).where(Run.state != RunState.DONE)).all())
        for run_id in run_ids:
            storage.release_run(session=session, run_id=run_id)
    for run_id in run_ids:
        service.queue.enqueue(run_id)
    with Session(service.engine) as session:
        version_ids = [version.id for version in storage.checking_versions(session=session)]
    for version_id in version_ids:  # uploads whose check the previous pool never finished
        service.queue.enqueue_pack_check(version_id)
    return len(run_ids)


def celery_worker(settings: Settings, *, concurrency: int | None = None):
    """The Celery app of a worker process (``concurrency`` gradings at a time, default the setting's),
    its grading task bound to a worker context."""
    if not settings.broker_url or not settings.worker_token:
        from engine.errors import ConfigurationError

        raise ConfigurationError(
            "a worker needs TASKTRIAL_BROKER_URL and TASKTRIAL_WORKER_TOKEN "
            "(create one with `tasktrial admin create-token --role worker`)"
        )
    app = make_celery(settings.broker_url, visibility_timeout=settings.visibility_timeout_seconds)

    runner = _worker_runner(settings, parallel=concurrency or settings.worker_concurrency)
    _tidy_at_shutdown(runner)
    context = WorkerContext.build(
        runner=runner,
        pack_store=build_pack_store(settings),
        client=httpx.Client(base_url=settings.public_url, timeout=60.0),
        token=settings.worker_token,
        cache_dir=settings.cache_dir,
        attempts=settings.max_attempts,
    )
    register_grade_task(app, context)
    register_check_task(app, context)
    register_public_tests_task(app, context)
    return app
