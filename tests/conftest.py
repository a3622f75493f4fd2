"""Shared fixtures. Real-backend fixtures fail loudly instead of skipping: CI must run them."""

from __future__ import annotations

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
    from runners.docker_runner import DockerRunner

    return DockerRunner(docker_client)


@pytest.fixture(autouse=True)
def no_sandbox_left_behind(request) -> Iterator[None]:
    """Every test that touches Docker must leave no labelled container behind."""
    yield
    if request.node.get_closest_marker("docker") is None:
        return
    client = request.getfixturevalue("docker_client")
    from runners.docker_runner import LABEL

    left = client.containers.list(all=True, filters={"label": LABEL})
    assert not left, f"containers left behind: {[c.short_id for c in left]}"


@pytest.fixture
def graders(docker_runner, tmp_path):
    from graders import GraderSet

    return GraderSet(docker_runner, cache_dir=tmp_path / "cache")
