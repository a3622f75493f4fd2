"""Backends and grader kinds are chosen by name; an unknown name lists the known ones."""

from __future__ import annotations

import pytest

import runners
from engine.errors import ConfigurationError
from graders import KINDS, GraderSet
from runners import images
from runners.fake import FakeRunner
from tests import factories


def test_an_unknown_runner_backend_lists_the_known_ones():
    with pytest.raises(ConfigurationError, match="'nope'") as raised:
        runners.from_name("nope")
    assert "docker" in str(raised.value)


def test_the_fake_runner_is_not_selectable_by_name():
    with pytest.raises(ConfigurationError):
        runners.from_name("fake")


@pytest.mark.docker
def test_docker_is_built_from_its_environment(docker_client):
    from runners.docker import DockerRunner

    runner = runners.from_name("docker")
    assert isinstance(runner, DockerRunner) and runner.name == "docker"


def test_an_unknown_grader_kind_lists_the_known_ones():
    graders = GraderSet(FakeRunner(lambda spec: factories.outcome()))
    task = factories.task(grader={"kind": "telepathy"})
    with pytest.raises(ConfigurationError, match="'telepathy'") as raised:
        graders.for_task(task)
    for kind in ("pytest", "io", "script"):
        assert kind in str(raised.value)
    assert graders.problems(task) == []  # the schema reports unknown kinds; the grader set stays silent


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_known_kind_has_a_grader_of_that_kind(kind):
    grader = GraderSet(FakeRunner(lambda spec: factories.outcome())).for_task(factories.task(grader={"kind": kind}))
    assert grader.kind == kind


def test_an_unknown_environment_lists_the_known_ones():
    with pytest.raises(ConfigurationError, match="'cobol'") as raised:
        images.runtime_image("cobol")
    assert "python" in str(raised.value) and "bash" in str(raised.value)


def test_an_image_tag_follows_its_dockerfile():
    python = images.runtime_image("python")
    assert python.tag.startswith("tasktrial/python:")
    edited = images.RuntimeImage("python", python.dockerfile + "\n# edited\n")
    assert edited.tag != python.tag
    assert python.base == "debian:bookworm-slim"
