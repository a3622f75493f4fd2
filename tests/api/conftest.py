"""An API over real storage with a fake queue; tests play the worker through the HTTP API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import storage
from api.app import create_app
from api.queue import FakeQueue
from api.service import AppService, build_service
from api.settings import Settings
from api.tables import Role
from tests.conftest import CATALOGUE
from tests.engine.test_openbadges import js_verifier  # noqa: F401 - the fixture, for test_credentials


@dataclass
class Api:
    client: TestClient
    app: FastAPI
    service: AppService
    queue: FakeQueue

    def token(self, role: Role, subject: str) -> dict[str, str]:
        with self.service.session() as session:
            secret = storage.create_token(session=session, name=f"{role} {subject}", role=role, subject=subject)
        return {"Authorization": f"Bearer {secret}"}


def make_api(
    data_dir: Path, *, database_url: str | None = None, catalogue_dirs: list[Path] | None = None, **overrides
) -> Iterator[Api]:
    # Test webhook receivers listen on 127.0.0.1: allowed here, refused by default (tests/api/test_webhook_ssrf.py).
    overrides.setdefault("webhook_allow_private", True)
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        catalogue_dirs=catalogue_dirs or [CATALOGUE],
        max_upload_bytes=256 * 1024,
        **overrides,
    )
    queue = FakeQueue()
    service = build_service(settings, queue)
    app = create_app(service, reaper=False)
    with TestClient(app) as client:
        yield Api(client=client, app=app, service=service, queue=queue)
    service.engine.dispose()


@pytest.fixture(scope="session")
def small_catalogue(tmp_path_factory) -> Path:
    """A catalogue of one built-in pack, so API tests do not depend on the rest of tasks/."""
    import shutil

    root = tmp_path_factory.mktemp("catalogue")
    shutil.copytree(CATALOGUE / "python-foundations", root / "python-foundations")
    return root


@pytest.fixture
def api(tmp_path, small_catalogue) -> Iterator[Api]:
    yield from make_api(tmp_path / "data", catalogue_dirs=[small_catalogue])
