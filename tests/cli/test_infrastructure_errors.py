"""Expected set-up failures end in one line on stderr and exit 3, never a traceback.

``scripts/setup`` and ``scripts/demo`` stop at the first failing command, so
what these commands print is what a newcomer sees.
"""

from __future__ import annotations

import gc
import socket
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import EXIT_INFRASTRUCTURE, app
from runners import images
from tests.conftest import CATALOGUE


def one_error_line(result) -> str:
    """The single line of stderr, after checking the command ended the documented way."""
    assert result.exit_code == EXIT_INFRASTRUCTURE, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an exception typer would render
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def closed_docker_socket(tmp_path: Path, monkeypatch) -> Iterator[None]:
    """DOCKER_HOST names a unix socket nothing listens on (bound, never accepting)."""
    path = tmp_path / "docker.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    yield
    sock.close()
    # docker-py's UnixHTTPConnection.connect leaves the socket of a refused connect open;
    # collect it here, quietly, rather than in whichever test the collector next runs in.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.mark.parametrize(
    "args",
    [
        ["images", "bootstrap"],
        ["images", "build"],
        ["images", "list"],
        ["pack", "check", str(CATALOGUE / "python-foundations"), "--task", "word-frequency"],
    ],
)
def test_no_docker_engine_is_one_line_and_exit_3(closed_docker_socket, args):
    line = one_error_line(CliRunner().invoke(app, args))
    assert "no Docker engine is reachable" in line
    assert "start dockerd or set DOCKER_HOST" in line


@pytest.mark.docker
def test_no_registry_and_no_debootstrap_is_one_line_and_exit_3(monkeypatch, tmp_path: Path):
    """A base image nobody has, a registry nobody reaches, and no debootstrap on PATH."""
    monkeypatch.setattr(images, "BASE_IMAGE", f"tasktrial-test/absent-{uuid.uuid4().hex[:8]}:none")
    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(app, ["images", "bootstrap"])
    assert result.exit_code == EXIT_INFRASTRUCTURE, result.output
    *logged, last = result.stderr.strip().splitlines()
    assert any(line.startswith("cannot pull tasktrial-test/absent-") for line in logged)
    assert last.startswith("error: ") and "debootstrap is not installed" in last
    assert "apt-get install debootstrap" in last
    assert "Traceback" not in result.output


@pytest.mark.docker
def test_a_failing_debootstrap_is_one_line_naming_its_last_words(monkeypatch, tmp_path: Path):
    fake = tmp_path / "debootstrap"
    fake.write_text(
        "#!/bin/sh\necho 'I: Retrieving InRelease'\necho 'E: Failed getting release file' >&2\n"
        "echo 'see the log' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setattr(images, "BASE_IMAGE", f"tasktrial-test/absent-{uuid.uuid4().hex[:8]}:none")
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    result = CliRunner().invoke(app, ["images", "bootstrap"])
    assert result.exit_code == EXIT_INFRASTRUCTURE, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: debootstrap bookworm failed with exit 1 (E: Failed getting release file)")
    assert "run `tasktrial images bootstrap` again" in last
    assert "Traceback" not in result.output
