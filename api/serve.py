"""Composition roots: the service with its embedded worker pool, and a Celery worker process."""

from __future__ import annotations

import logging
import threading
import time

import httpx
from sqlmodel import Session

from api import storage
from api.app import create_app
from api.celery_app import make_celery, register_check_task, register_grade_task
from api.queue import CeleryQueue, InProcessQueue, JobQueue
from api.service import Service, build_catalogue, build_service
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

        queue = InProcessQueue(execute, workers=settings.embedded_workers, check_job=check_pack)
    service = build_service(settings, queue)
    app = create_app(service)
    if not settings.broker_url:
        with service.session() as session:
            token = storage.create_token(session=session, name="embedded worker", role=Role.WORKER,
                                         subject="embedded-worker")
        runner = _worker_runner(settings)
        holder["worker"] = WorkerContext.build(
            runner=runner, catalogue=service.catalogue,
            client=client or httpx.Client(base_url=settings.public_url, timeout=60.0), token=token,
            cache_dir=settings.cache_dir, attempts=settings.max_attempts)
        if hasattr(runner, "close"):
            # Remove the warm sandboxes. Gradings under way are not awaited: their runs stay
            # claimed and `recover` queues them again at the next start.
            service.on_shutdown.append(runner.close)
        recover(service)
    return app, service


def run_server(app, service: Service, settings: Settings) -> None:
    """Serve ``app`` with uvicorn until SIGINT/SIGTERM.

    At shutdown, open event streams are told to reconnect and end at once (uvicorn would otherwise
    wait for every stream to finish, up to its ``timeout``, before stopping).
    """
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets=None) -> None:
            service.streams.close()
            await super().shutdown(sockets)

    Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info")).run()


def _worker_runner(settings: Settings):
    """The sandbox runner of a worker process, after removing sandboxes its dead predecessors left here."""
    import socket

    import runners
    from api.worker import worker_name

    runner = runners.from_name(settings.runner, owner=worker_name(), warm=settings.warm_sandboxes,
                               runtime=settings.sandbox_runtime)
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


def _every(seconds: float, job) -> None:
    """Run ``job`` every ``seconds`` for the life of the process; a failed pass is logged, the next one still runs."""
    while True:
        time.sleep(seconds)
        try:
            job()
        except Exception:  # a janitor must outlive a passing engine fault (logged below)
            log.exception("reaping orphaned sandboxes failed; trying again in %s s", seconds)


def recover(service: Service) -> int:
    """After an embedded restart, every unfinished run belonged to a pool that no longer exists: queue it again."""
    from sqlmodel import select

    from api.tables import Run

    with Session(service.engine) as session:
        runs = session.exec(select(Run).where(Run.state != RunState.DONE)).all()
        for run in runs:
            storage.release_run(session=session, run_id=run.id)
    for run in runs:
        service.queue.enqueue(run.id)
    with Session(service.engine) as session:
        checks = storage.checking_versions(session=session)
    for version in checks:  # uploads whose check the previous pool never finished
        service.queue.enqueue_pack_check(version.id)
    return len(runs)


def celery_worker(settings: Settings):
    """The Celery app of a worker process, its grading task bound to a worker context."""
    if not settings.broker_url or not settings.worker_token:
        from engine.errors import ConfigurationError

        raise ConfigurationError("a worker needs TASKTRIAL_BROKER_URL and TASKTRIAL_WORKER_TOKEN "
                                 "(create one with `tasktrial admin create-token --role worker`)")
    app = make_celery(settings.broker_url, visibility_timeout=settings.visibility_timeout_seconds)

    context = WorkerContext.build(
        runner=_worker_runner(settings), catalogue=build_catalogue(settings),
        client=httpx.Client(base_url=settings.public_url, timeout=60.0), token=settings.worker_token,
        cache_dir=settings.cache_dir, attempts=settings.max_attempts)
    register_grade_task(app, context)
    register_check_task(app, context)
    return app
