"""An engine fault while running or reading a run back is an engine error, never the candidate's outcome.

The fault is injected where the engine would report it (everything else runs for real on the engine):
the Docker API refuses the collection's exec, or the connection to the engine drops mid-run. Before
this was translated, the refusal became an outcome with no files and no counters, which the graders
judged as the candidate's failure; a dropped connection escaped as the SDK's own exception.
"""

from __future__ import annotations

from collections.abc import Iterator

import docker.errors
import pytest
import requests.exceptions

from engine import packs
from engine.errors import RunnerError
from engine.grading import grade_submission
from engine.models import Verdict
from graders import GraderSet
from runners import images
from runners.docker import DockerRunner
from tests.conftest import CATALOGUE
from tests.runners.test_docker_runner import python, run_bounded, spec

pytestmark = pytest.mark.docker

RETRY = packs.load_pack(CATALOGUE / "python-foundations", environments=images.environments()).task("retry-backoff")


@pytest.fixture
def runner() -> Iterator[DockerRunner]:
    """A runner on a client of its own, so the fault injected into its API reaches no other test."""
    client = images.client_from_env()
    try:
        yield DockerRunner(client)
    finally:
        client.close()


def refuse_collection(runner: DockerRunner, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the engine refuse the exec that reads counters and files back; returns the containers it refused."""
    real = runner._api.exec_create
    refused: list[str] = []

    def exec_create(container, cmd, *args, **kwargs):
        if list(cmd)[3:4] == ["collect"]:  # ("sh", "-c", script, "collect", *paths)
            refused.append(container)
            raise docker.errors.APIError("injected: the engine refused the collection's exec")
        return real(container, cmd, *args, **kwargs)

    monkeypatch.setattr(runner._api, "exec_create", exec_create)
    return refused


def test_a_refused_collection_raises_runner_error_instead_of_an_empty_outcome(runner, monkeypatch):
    run_spec = spec(python("open('/workspace/out.txt', 'w').write('done')"), collect=("/workspace/out.txt",))
    unharmed = run_bounded(runner, run_spec)
    assert unharmed.collected == {"/workspace/out.txt": b"done"} and unharmed.cpu_seconds is not None

    refused = refuse_collection(runner, monkeypatch)
    with pytest.raises(RunnerError, match="collecting the output"):
        run_bounded(runner, run_spec)
    assert len(refused) == 1, "the collection was attempted, and only once"


def test_a_refused_collection_is_an_engine_error_not_a_failing_verdict(runner, monkeypatch, tmp_path):
    """The reference solution scores 100; with the engine failing to read its report back, it gets no verdict."""
    graders = GraderSet(runner, cache_dir=tmp_path / "cache")
    reference = packs.reference_submission(RETRY)
    assert grade_submission(RETRY, reference, runner=runner, grader=graders.for_task(RETRY)).verdict is Verdict.READY

    refused = refuse_collection(runner, monkeypatch)
    with pytest.raises(RunnerError, match="collecting the output"):
        grade_submission(RETRY, reference, runner=runner, grader=graders.for_task(RETRY))
    assert refused


def test_a_connection_dropped_mid_run_is_an_engine_error_and_its_sandbox_goes(runner, monkeypatch):
    """A restarted ``dockerd`` drops the SDK's connection: its transport error is a ``RunnerError`` too."""
    real = runner._api.exec_create
    dropped: list[str] = []

    def exec_create(container, cmd, *args, **kwargs):
        if not dropped:
            dropped.append(container)
            raise requests.exceptions.ConnectionError("injected: ('Connection aborted.', RemoteDisconnected())")
        return real(container, cmd, *args, **kwargs)

    monkeypatch.setattr(runner._api, "exec_create", exec_create)
    with pytest.raises(RunnerError, match="Connection aborted"):
        run_bounded(runner, spec(python("print('never runs')")))
    assert len(dropped) == 1
    with pytest.raises(docker.errors.NotFound):
        runner._api.inspect_container(dropped[0])
