"""``scripts/setup``: an expected failure of the set-up is one line saying what to do, and a non-zero exit.

A broken apt mirror, a dockerd that will not start or a missing sudo cannot be
produced on a shared machine, so these run a copy of the script in a scratch
folder whose PATH holds only the basic utilities and small stand-ins for the
system programs it calls (apt-get, docker, dockerd, python3). The real engine
paths are covered by tests/cli/test_infrastructure_errors.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

UTILITIES = (
    "bash",
    "cat",
    "cut",
    "dirname",
    "env",
    "grep",
    "mkdir",
    "nohup",
    "rm",
    "seq",
    "sha256sum",
    "sleep",
    "tail",
    "touch",
    "tr",
)


def program(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/bash\n" + body + "\n")
    path.chmod(0o755)


@pytest.fixture
def machine(tmp_path: Path):
    """A scratch checkout (scripts/setup, pyproject.toml) and a bin folder that is the whole PATH."""
    checkout, bin_dir = tmp_path / "checkout", tmp_path / "bin"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy2(REPO / "scripts" / "setup", checkout / "scripts" / "setup")
    shutil.copy2(REPO / "pyproject.toml", checkout / "pyproject.toml")
    bin_dir.mkdir()
    for name in UTILITIES:
        found = shutil.which(name)
        assert found is not None, f"{name} is not installed on this machine"
        (bin_dir / name).symlink_to(found)
    program(bin_dir, "id", 'if [ "$1" = -un ]; then echo root; else echo 0; fi')
    # A machine with everything installed and an engine answering: each test breaks one thing.
    # (Whether PostgreSQL is really installed does not matter: apt-get is a stand-in too.)
    (checkout / "tests" / "js" / "node_modules" / "@digitalbazaar" / "vc").mkdir(parents=True)
    for name in ("dockerd", "debootstrap", "curl", "redis-server", "apt-get", "node", "npm", "chromium"):
        program(bin_dir, name, "exit 0")
    program(bin_dir, "docker", "exit 0")
    program(bin_dir, "python3", "exit 0")

    def run(**env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(bin_dir / "bash"), str(checkout / "scripts" / "setup")],
            env={"PATH": str(bin_dir), "HOME": str(tmp_path), **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return checkout, bin_dir, run


def failure_line(proc: subprocess.CompletedProcess) -> str:
    """The one line of a failed setup besides its progress lines (``==> ...``)."""
    assert proc.returncode != 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "==>" not in line]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    return lines[0]


def test_an_apt_failure_is_one_line_naming_the_packages_and_apts_error(machine):
    checkout, bin_dir, run = machine
    (bin_dir / "dockerd").unlink()
    program(
        bin_dir, "apt-get", 'if [ "$1" = install ]; then echo "E: Unable to locate package docker.io" >&2; exit 100; fi'
    )
    line = failure_line(run())
    assert line.startswith("setup: apt-get could not install docker.io")
    assert "(E: Unable to locate package docker.io)" in line
    assert "full log: .tasktrial/apt.log" in line
    assert "Unable to locate" in (checkout / ".tasktrial" / "apt.log").read_text()


def test_installing_without_root_or_sudo_says_so(machine):
    _, bin_dir, run = machine
    (bin_dir / "debootstrap").unlink()
    program(bin_dir, "id", 'if [ "$1" = -un ]; then echo alice; else echo 1000; fi')
    line = failure_line(run())
    assert line.startswith("setup: installing debootstrap needs root")
    assert "apt-get install debootstrap" in line


def test_a_dockerd_that_will_not_start_is_one_line_from_its_log(machine):
    checkout, bin_dir, run = machine
    program(bin_dir, "docker", 'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock" >&2; exit 1')
    program(
        bin_dir,
        "dockerd",
        'echo "level=info msg=\\"starting up\\""; '
        'echo "failed to start daemon: Error initializing network controller" >&2; exit 1',
    )
    line = failure_line(run())
    assert line == (
        "setup: dockerd did not start (failed to start daemon: Error initializing network controller); "
        "see .tasktrial/dockerd.log"
    )
    assert "starting up" in (checkout / ".tasktrial" / "dockerd.log").read_text()


def test_an_engine_named_by_docker_host_is_not_replaced_by_a_local_dockerd(machine):
    checkout, bin_dir, run = machine
    program(bin_dir, "docker", 'echo "Cannot connect to the Docker daemon at tcp://build:2375" >&2; exit 1')
    program(bin_dir, "dockerd", f"touch {checkout}/dockerd-ran")
    line = failure_line(run(DOCKER_HOST="tcp://build:2375"))
    assert line.startswith("setup: no Docker engine answers at DOCKER_HOST=tcp://build:2375")
    assert not (checkout / "dockerd-ran").exists()


def test_a_docker_socket_the_user_may_not_use_says_how_to_get_access(machine):
    _, bin_dir, run = machine
    program(
        bin_dir, "docker", 'echo "permission denied while trying to connect to the Docker daemon socket" >&2; exit 1'
    )
    program(bin_dir, "id", 'if [ "$1" = -un ]; then echo alice; else echo 1000; fi')
    line = failure_line(run())
    assert line.startswith("setup: the Docker engine runs but alice may not use it")
    assert "usermod -aG docker alice" in line


def test_a_python_without_venv_is_one_line_and_leaves_no_half_made_venv(machine):
    checkout, bin_dir, run = machine
    program(
        bin_dir,
        "python3",
        'if [ "$1" = -m ]; then mkdir -p .venv/bin; touch .venv/bin/python; '
        "echo \"Error: Command ['.venv/bin/python', '-m', 'ensurepip'] returned non-zero exit status 1.\" >&2; "
        "exit 1; fi; exit 0",
    )
    line = failure_line(run())
    assert line.startswith("setup: python3 -m venv failed (Error: Command")
    assert "apt-get install python3-venv" in line
    assert not (checkout / ".venv").exists()


def test_an_image_failure_keeps_the_commands_one_line_and_exit_code(machine):
    checkout, _, run = machine
    venv = checkout / ".venv" / "bin"
    venv.mkdir(parents=True)
    program(venv, "python", "exit 0")
    program(venv, "pip", "exit 0")
    program(venv, "tasktrial", 'echo "error: debootstrap is not installed; install it" >&2; exit 3')
    proc = run()
    assert proc.returncode == 3
    assert failure_line(proc) == "error: debootstrap is not installed; install it"
