"""The FastAPI application: routes only decode, call the service or storage, and encode."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.routes import authoring, catalogue, cohorts, credentials, log, meta, reviews, runs, submissions
from api.service import Service


def create_app(service: Service, *, reaper: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = threading.Event()
        if reaper:
            service.start_reaper(stop)
            service.log.start(stop)
            service.webhooks.start(stop)
        try:
            yield
        finally:
            stop.set()
            for close in service.on_shutdown:
                close()

    app = FastAPI(title="tasktrial", version="1", lifespan=lifespan,
                  description="Sandboxed task assessment: catalogue, submissions, signed readiness results.")
    app.state.service = service
    errors.install(app)
    for router in (meta.router, catalogue.router, submissions.router, runs.router, log.router, credentials.router, authoring.router,
                   cohorts.router, cohorts.public_router, reviews.router):
        app.include_router(router)
    return app
