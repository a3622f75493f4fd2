"""The FastAPI application: routes only decode, call the service or storage, and encode."""

from __future__ import annotations

import asyncio
import threading
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI

from api import errors, shedding, storage, streams
from api.routes import admin, authoring, catalogue, cohorts, credentials, log, meta, reviews, runs, submissions
from api.service import AppService
from api.web import mount as mount_web


def create_app(service: AppService, *, reaper: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = threading.Event()
        if reaper:
            service.start_reaper(stop)
            service.log.start(stop)
            service.webhooks.start(stop)
        service.streams.start()
        polling = asyncio.Event()
        poller = asyncio.create_task(
            streams.poll_changes(
                service.streams,
                lambda after: _new_events(service, after),
                interval=service.settings.stream_poll_seconds,
                stop=polling,
            )
        )
        try:
            yield
        finally:
            service.streams.close()
            polling.set()
            with suppress(asyncio.CancelledError):
                await poller
            stop.set()
            for close in service.on_shutdown:
                close()

    app = FastAPI(
        title="tasktrial",
        version="1",
        lifespan=lifespan,
        description="Sandboxed task assessment: catalogue, submissions, signed readiness results.",
    )
    app.state.service = service
    errors.install(app)
    app.add_middleware(
        shedding.InFlightLimit,
        limit=service.settings.max_requests_in_flight,
        wait_seconds=service.settings.request_queue_seconds,
        on_shed=service.metrics.rejected.labels("busy").inc,
    )
    for router in (
        meta.router,
        catalogue.router,
        submissions.router,
        runs.router,
        runs.public_tests_router,
        log.router,
        credentials.router,
        authoring.router,
        admin.router,
        cohorts.router,
        cohorts.public_router,
        reviews.router,
    ):
        app.include_router(router)
    mount_web(app)  # the web client's pages at /
    return app


def _new_events(service: AppService, after_id: int) -> tuple[int, set[str]]:
    with service.session() as session:
        return storage.run_events_since(session=session, after_id=after_id)
