"""compose.yaml started for real: api, worker, Redis and PostgreSQL under a throw-away project.

Builds what it needs first (the Debian base, Redis and PostgreSQL stand-ins
where no registry has the images, the python runtime image, the wheelhouse),
so it needs no image beforehand. Then the candidate flow through the CLI, a
worker killed mid-run that Docker restarts (``restart: unless-stopped``), and
``down -v`` leaving no container, network, volume or image of the project.

``docker kill`` marks a container as stopped by hand, and Docker never
restarts those; so the test SIGKILLs the worker's processes inside the
container instead, which is how a crash or an OOM kill looks to Docker.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from engine import signing
from tests.conftest import CATALOGUE, REPO

pytestmark = [pytest.mark.compose, pytest.mark.docker]

SOCKET = "/var/run/docker.sock"
QUICK = "python-foundations/word-frequency"  # an io task: graded in about a second
SLOW = "python-foundations/retry-backoff"  # a pytest task, its reference slowed down (see _slow_solution)
#: Shorter clocks than production so a lost run is re-queued within a minute, and health
#: checks every 2 s so `up --wait` is quick; the checks themselves are compose.yaml's.
OVERRIDE = """
services:
  api:
    environment:
      TASKTRIAL_LEASE_MARGIN_SECONDS: "10"
      TASKTRIAL_REAPER_INTERVAL_SECONDS: "2"
    healthcheck: {interval: 2s, start_period: 60s}
  worker:
    healthcheck: {interval: 3s, start_period: 60s}
  redis:
    healthcheck: {interval: 2s}
  postgres:
    healthcheck: {interval: 2s}
"""


@dataclass
class Stack:
    project: str
    files: list[str]
    env: dict[str, str]
    url: str
    home: Path
    #: Host names of the worker containers: their sandboxes carry them (``tasktrial.owner``).
    worker_hosts: set[str] = field(default_factory=set)

    def compose(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        command = ["docker", "compose", "--project-name", self.project, *self.files, *args]
        proc = subprocess.run(
            command, cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc

    def token(self, role: str, subject: str) -> str:
        proc = self.compose(
            "exec", "-T", "api", "tasktrial", "admin", "create-token", "--role", role, "--subject", subject
        )
        return proc.stdout.strip().splitlines()[-1]

    def cli(self, token: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("TASKTRIAL_")}
        env.update(TASKTRIAL_URL=self.url, TASKTRIAL_TOKEN=token, HOME=str(self.home))
        return subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            cwd=self.home,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def container(self, service: str) -> str:
        return self.compose("ps", "--all", "--quiet", service).stdout.strip()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _prepare_images(docker_client) -> dict[str, str]:
    """Everything the stack needs that a registry would otherwise give; returns compose.yaml's image variables."""
    from runners import images

    images.bootstrap_base(docker_client)
    chosen = images.bootstrap_services(docker_client)
    images.build(docker_client, "python")  # the sandboxes' image for the tasks below
    subprocess.run(
        [str(REPO / "scripts" / "wheelhouse")],
        cwd=REPO,
        check=True,
        timeout=600,
        env={**os.environ, "PYTHON": sys.executable},
    )
    return chosen


def _project_leftovers(docker_client, project: str) -> list[str]:
    label = {"label": f"com.docker.compose.project={project}"}
    found = [f"container {c['Names']}" for c in docker_client.api.containers(all=True, filters=label)]
    found += [f"network {n['Name']}" for n in docker_client.api.networks(filters=label)]
    found += [f"volume {v.name}" for v in docker_client.volumes.list(filters=label)]
    found += [f"image {', '.join(i.tags) or i.id}" for i in docker_client.images.list(filters=label)]
    return found


@pytest.fixture
def stack(docker_client, tmp_path) -> Iterator[Stack]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode != 0:
        pytest.fail("the Docker Compose v2 plugin is missing: run scripts/setup (docs/deploy.md)")
    chosen = _prepare_images(docker_client)
    override = tmp_path / "compose.test.yaml"
    override.write_text(OVERRIDE, "utf-8")
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TASKTRIAL_", "COMPOSE_", "POSTGRES_", "REDIS_", "API_"))
    }
    env.update(
        chosen,
        POSTGRES_PASSWORD=secrets.token_hex(16),
        DOCKER_GID=str(os.stat(SOCKET).st_gid),
        API_BIND="127.0.0.1",
        API_PORT=str(port),
        TASKTRIAL_WORKER_TOKEN="none-yet",
    )
    home = tmp_path / "home"
    home.mkdir()
    project = f"tasktrial-test-{secrets.token_hex(4)}"
    no_env_file = tmp_path / "empty.env"  # an operator's .env in the checkout must not reach the test
    no_env_file.write_text("", "utf-8")
    files = ["-f", str(REPO / "compose.yaml"), "-f", str(override), "--env-file", str(no_env_file)]
    running = Stack(project, files, env, f"http://127.0.0.1:{port}", home)
    try:
        yield running
    finally:
        down = running.compose(
            "down", "--volumes", "--rmi", "local", "--remove-orphans", "--timeout", "20", check=False
        )
        left = _project_leftovers(docker_client, project)
        sandboxes = [
            c["Id"]
            for c in docker_client.api.containers(all=True, filters={"label": "tasktrial.owner"})
            if c["Labels"]["tasktrial.owner"].rpartition(":")[0] in running.worker_hosts
        ]
        for container in sandboxes:  # removed either way, so a failure leaves the machine clean
            docker_client.api.remove_container(container, force=True)
        assert down.returncode == 0, down.stderr[-3000:]
        assert not left, f"`down -v` left {left}"
        assert not sandboxes, f"the stack's workers left {len(sandboxes)} sandbox(es) after `down`"


def _submission(stack: Stack, token: str, submission_id: str) -> dict:
    response = httpx.get(
        f"{stack.url}/v1/submissions/{submission_id}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    response.raise_for_status()
    return response.json()


def _result(stack: Stack, token: str, submission_id: str) -> dict | None:
    response = httpx.get(
        f"{stack.url}/v1/submissions/{submission_id}/result", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()


def _submit(stack: Stack, token: str, task: str, folder: Path | None = None) -> str:
    proc = stack.cli(token, "submit", task, str(folder or CATALOGUE / task / "solution"), "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["id"]


def _slow_solution(folder: Path) -> Path:
    """The reference of SLOW, taking 8 s to import (its limit is 20 s): on an idle machine the
    bare reference grades in half a second, faster than the crash can land."""
    folder.mkdir()
    reference = (CATALOGUE / SLOW / "solution" / "retry.py").read_text("utf-8")
    (folder / "retry.py").write_text("import time\n\ntime.sleep(8)\n" + reference, "utf-8")
    return folder


def _crash_worker(stack: Stack, container: str) -> None:
    """SIGKILL every process of the worker but its init (kill(-1) spares PID 1 and the caller); init then exits."""
    subprocess.run(
        ["docker", "exec", container, "python3", "-c", "import os, signal; os.kill(-1, signal.SIGKILL)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_stack_grades_through_the_cli_and_rides_out_a_worker_crash(stack, docker_client, tmp_path):
    started = time.monotonic()
    # 1. The API (with Redis and PostgreSQL), then the worker with a token only the running API can make.
    stack.compose("up", "--detach", "--wait", "--build", "api")
    worker_token = stack.token("worker", "worker-1")
    stack.env["TASKTRIAL_WORKER_TOKEN"] = worker_token
    stack.compose("up", "--detach", "--wait", "--build")
    stack.worker_hosts.add(docker_client.containers.get(stack.container("worker")).attrs["Config"]["Hostname"])
    states = {
        line["Service"]: line["Health"]
        for line in map(json.loads, stack.compose("ps", "--format", "json").stdout.splitlines())
    }
    assert states == dict.fromkeys(("api", "worker", "redis", "postgres"), "healthy")
    up = time.monotonic() - started

    # 2. The candidate flow: a reference solution through `submit --wait`, verified by the CLI.
    candidate = stack.token("candidate", "cand-0001")
    proc = stack.cli(candidate, "submit", QUICK, str(CATALOGUE / QUICK / "solution"), "--wait", "--json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert (document["verdict"], document["score"]) == ("ready", 100.0), document
    saved = tmp_path / "result.json"
    saved.write_text(proc.stdout, "utf-8")
    verified = stack.cli(candidate, "verify", str(saved), "--jwks", f"{stack.url}/.well-known/jwks.json")
    assert verified.returncode == 0, verified.stderr

    # 3. Three gradings in flight (the worker runs two at a time), then the worker crashes.
    slow = _slow_solution(tmp_path / "slow")
    ids = [_submit(stack, candidate, SLOW, slow) for _ in range(3)]
    deadline = time.monotonic() + 120
    while not any(_submission(stack, candidate, i)["state"] in ("running", "grading") for i in ids):
        assert time.monotonic() < deadline, "no submission started running within 120 s"
        time.sleep(0.2)
    worker = stack.container("worker")
    (hostname,) = stack.worker_hosts
    restarts = docker_client.containers.get(worker).attrs["RestartCount"]
    sandboxes = {
        c["Id"]
        for c in docker_client.api.containers(all=True, filters={"label": "tasktrial.owner"})
        if c["Labels"]["tasktrial.owner"].startswith(f"{hostname}:")
    }
    _crash_worker(stack, worker)
    unfinished = [i for i in ids if _result(stack, candidate, i) is None]
    assert unfinished, "every grading finished before the crash: nothing was killed mid-run"
    crashed = time.monotonic()

    # 4. Docker restarts it; every submission gets exactly one right, signed result.
    deadline = time.monotonic() + 60
    while docker_client.containers.get(worker).attrs["RestartCount"] == restarts:
        assert time.monotonic() < deadline, "Docker did not restart the crashed worker within 60 s"
        time.sleep(0.5)
    jwks = httpx.get(f"{stack.url}/.well-known/jwks.json", timeout=10).json()
    results: dict[str, dict] = {}
    deadline = time.monotonic() + 240
    while len(results) < len(ids):
        assert time.monotonic() < deadline, f"no result for {sorted(set(ids) - set(results))} 240 s after the crash"
        for i in set(ids) - set(results):
            if (found := _result(stack, candidate, i)) is not None:
                results[i] = found
        time.sleep(1)
    recovered = time.monotonic() - crashed
    for i, found in results.items():
        assert (found["verdict"], found["score"]) == ("ready", 100.0), (i, found)
        assert signing.verify(found, jwks).ok, i
    counts = stack.compose(
        "exec",
        "-T",
        "postgres",
        "psql",
        "--username",
        "tasktrial",
        "--dbname",
        "tasktrial",
        "--tuples-only",
        "--no-align",
        "--command",
        "SELECT submission_id, count(*) FROM result GROUP BY submission_id",
    ).stdout
    per_submission = dict(line.split("|") for line in counts.split())
    assert {i: per_submission.get(i) for i in ids} == dict.fromkeys(ids, "1")

    # 5. The restarted worker removed the crashed one's sandboxes.
    deadline = time.monotonic() + 60
    while orphans := sandboxes & {c["Id"] for c in docker_client.api.containers(all=True)}:
        assert time.monotonic() < deadline, f"sandboxes of the crashed worker left: {sorted(orphans)}"
        time.sleep(1)
    print(
        f"\ncompose stack: healthy after {up:.0f} s; results {recovered:.0f} s after the worker crash; "
        f"test body {time.monotonic() - started:.0f} s",
        file=sys.stderr,
    )
