"""The web client: server-rendered pages over the same service functions the JSON API calls.

``mount(app)`` adds the pages (``/``), their static files and their error pages
to an app built by ``api.app.create_app``.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.settings import site_root
from api.web.assets import Assets
from api.web.render import make_environment


def mount(app: FastAPI) -> None:
    from api.web.cohort_pages import router as cohort_router
    from api.web.routes import router

    assets = Assets()
    app.state.web_assets = assets
    app.state.web_root = site_root(app.state.service.settings.public_url)
    app.state.web_templates = make_environment(assets, app.state.web_root)
    app.include_router(router)
    app.include_router(cohort_router)


__all__ = ["mount"]
