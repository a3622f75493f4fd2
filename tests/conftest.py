"""Shared fixtures. Real-backend fixtures fail loudly instead of skipping: CI must run them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import strategies  # noqa: F401  (registers the hypothesis profile)

REPO = Path(__file__).resolve().parent.parent
CATALOGUE = REPO / "tasks"


@pytest.fixture(scope="session")
def docker_client():
    from runners import images

    return images.client_from_env()


@pytest.fixture(scope="session")
def docker_runner(docker_client):
    from runners.docker import DockerRunner

    return DockerRunner(docker_client)


@pytest.fixture(autouse=True)
def no_sandbox_left_behind(request) -> Iterator[None]:
    """Every test that touches Docker must leave no labelled container or network behind.

    Compares before and after, so sandboxes of other processes on the machine do not count.
    """
    if request.node.get_closest_marker("docker") is None:
        yield
        return
    from runners.docker import LABEL

    client = request.getfixturevalue("docker_client")
    labelled = {"filters": {"label": LABEL}}

    def present() -> set[str]:
        containers = {
            c["Id"] for c in client.api.containers(all=True, **labelled)
        }  # no inspect: others remove theirs meanwhile
        return containers | {n["Id"] for n in client.api.networks(**labelled)}

    before = present()
    yield
    left = present() - before
    for _ in range(20):  # one another process started meanwhile goes away on its own; a leak stays
        if not left:
            break
        time.sleep(0.5)
        left &= present()
    assert not left, f"sandboxes left behind: {sorted(i[:12] for i in left)}"


@pytest.fixture
def graders(docker_runner, tmp_path):
    from graders import GraderSet

    return GraderSet(docker_runner, cache_dir=tmp_path / "cache")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    from tests.services import redis_server

    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    from tests.services import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """Each storage test runs on the embedded SQLite and on a real PostgreSQL (a fresh database each)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    import uuid

    import psycopg

    server = request.getfixturevalue("postgres_url")
    name = "t" + uuid.uuid4().hex[:12]
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + "/" + name
