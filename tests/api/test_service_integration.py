"""The service for real: an API process, a real Redis, real Celery worker processes, real Docker.

These prove the promises of the queue: an accepted submission always ends in a
signed result, even when its worker is killed mid-run or Redis restarts, and
a result written twice stays one result.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from engine import signing
from tests.factories import VALUE_SOLUTION, VALUE_TEST, value_pack
from tests.services import free_port, redis_server, stop_groups, wait_for_port

pytestmark = [pytest.mark.docker, pytest.mark.redis]

BIN = Path(sys.executable).parent
SLOW_IMPORT = "import time\ntime.sleep(3)\n"
LIMITS = {"time_seconds": 8, "memory_mb": 128, "pids": 32}


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    candidate: dict[str, str]
    worker_token: str
    workers: list[subprocess.Popen]
    logs: Path
    files: list

    def log(self, name: str):
        handle = (self.logs / name).open("wb")
        self.files.append(handle)
        return handle

    def start_worker(self) -> subprocess.Popen:
        log = self.log(f"worker-{len(self.workers)}.log")
        proc = subprocess.Popen(
            [str(BIN / "tasktrial"), "worker", "--concurrency", "1"],
            env={**self.env, "TASKTRIAL_WORKER_TOKEN": self.worker_token},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers.append(proc)
        return proc

    def submit(self, files: dict[str, str]) -> dict:
        response = httpx.post(
            f"{self.url}/v1/submissions",
            headers=self.candidate,
            json={"task": "integration/value", "files": files},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        return response.json()

    def submission(self, submission_id: str) -> dict:
        return httpx.get(f"{self.url}/v1/submissions/{submission_id}", headers=self.candidate, timeout=30).json()

    def wait_for(self, submission_id: str, predicate, timeout: float = 90.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.submission(submission_id)
            if predicate(state):
                return state
            time.sleep(0.2)
        raise AssertionError(
            f"submission {submission_id} stuck at {self.submission(submission_id)}; logs in {self.logs}"
        )

    def result(self, submission_id: str) -> dict:
        response = httpx.get(f"{self.url}/v1/submissions/{submission_id}/result", headers=self.candidate, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()


def _pack(root: Path) -> Path:
    return value_pack(root, "integration", limits=LIMITS)


def _run(args: list[str], env: dict[str, str]) -> str:
    return subprocess.run(
        [str(BIN / "tasktrial"), *args], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@contextlib.contextmanager
def _stack(tmp_path: Path, broker_url: str, *, api_env: dict[str, str] | None = None) -> Iterator[Stack]:
    catalogue = tmp_path / "catalogue"
    _pack(catalogue)
    port = free_port()
    env = {
        **os.environ,
        "TASKTRIAL_DATA_DIR": str(tmp_path / "data"),
        "TASKTRIAL_BROKER_URL": broker_url,
        "TASKTRIAL_CATALOGUE_DIRS": f'["{catalogue}"]',
        "TASKTRIAL_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TASKTRIAL_LEASE_MARGIN_SECONDS": "2",
        "TASKTRIAL_REAPER_INTERVAL_SECONDS": "0.5",
        "TASKTRIAL_VISIBILITY_TIMEOUT_SECONDS": "3600",
    }
    candidate = _run(["admin", "create-token", "--role", "candidate", "--subject", "alice", "--init"], env)
    worker_token = _run(["admin", "create-token", "--role", "worker", "--subject", "worker"], env)
    logs = tmp_path / "logs"
    logs.mkdir()
    stack = Stack(
        url=f"http://127.0.0.1:{port}",
        env=env,
        candidate={"Authorization": f"Bearer {candidate}"},
        worker_token=worker_token,
        workers=[],
        logs=logs,
        files=[],
    )
    api = subprocess.Popen(
        [str(BIN / "tasktrial"), "serve", "--port", str(port)],
        env={**env, **(api_env or {})},
        stdout=stack.log("api.log"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, timeout=60)
        yield stack
    finally:
        stop_groups(*stack.workers, api, timeout=20)
        for handle in stack.files:
            handle.close()


@pytest.fixture
def stack(tmp_path, redis_url) -> Iterator[Stack]:
    with _stack(tmp_path, redis_url) as running:
        yield running


def test_a_submission_ends_in_a_signed_verified_result(stack):
    stack.start_worker()
    accepted = stack.submit({"value.py": VALUE_SOLUTION})
    stack.wait_for(accepted["id"], lambda s: s["result_id"])
    document = stack.result(accepted["id"])
    assert document["verdict"] == "ready" and document["score"] == 100
    jwks = httpx.get(f"{stack.url}/.well-known/jwks.json", timeout=10).json()
    assert signing.verify(document, jwks).ok
    assert not signing.verify({**document, "score": 0}, jwks).ok


def test_a_worker_killed_mid_run_still_ends_in_a_result(stack):
    first = stack.start_worker()
    accepted = stack.submit({"value.py": SLOW_IMPORT + VALUE_SOLUTION})
    stack.wait_for(accepted["id"], lambda s: s["state"] in ("running", "grading"))
    time.sleep(1.0)  # the sandbox is up and the candidate's code is sleeping inside it
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    stack.start_worker()  # reaps the orphaned sandbox, then takes the run once the reaper re-queues it
    finished = stack.wait_for(accepted["id"], lambda s: s["result_id"], timeout=120)
    assert finished["state"] == "done"
    document = stack.result(accepted["id"])
    assert document["verdict"] == "ready", document


def test_a_result_written_twice_is_one_result(stack):
    stack.start_worker()
    accepted = stack.submit({"value.py": "def value():\n    return 41\n"})
    stack.wait_for(accepted["id"], lambda s: s["result_id"])
    before = stack.result(accepted["id"])
    worker = {"Authorization": f"Bearer {stack.worker_token}"}
    forged = {**before, "id": "another", "score": 100.0, "verdict": "ready"}
    forged.pop("signature"), forged.pop("view")
    again = httpx.post(f"{stack.url}/v1/runs/{accepted['run_id']}/result", headers=worker, json=forged, timeout=30)
    assert again.status_code == 200 and again.json()["created"] is False
    assert stack.result(accepted["id"]) == before


def test_a_redis_restart_loses_no_submission(tmp_path):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with redis_server(port=port), _stack(tmp_path, url) as running:
        running.start_worker()
        assert (
            running.result(
                running.wait_for(running.submit({"value.py": VALUE_SOLUTION})["id"], lambda s: s["result_id"])["id"]
            )["verdict"]
            == "ready"
        )
    # Redis is down: the API still accepts and stores; once Redis is back the reaper re-queues.
    with _stack(tmp_path / "second", url) as running:
        accepted = running.submit({"value.py": VALUE_SOLUTION})
        assert accepted["state"] == "queued"
        with redis_server(port=port):
            running.start_worker()
            running.wait_for(accepted["id"], lambda s: s["result_id"], timeout=120)
            assert running.result(accepted["id"])["verdict"] == "ready"


def test_a_celery_worker_checks_an_upload_before_it_goes_live(stack, tmp_path):
    from engine import archives, packs
    from engine.trees import read_tree

    author = {
        "Authorization": "Bearer " + _run(["admin", "create-token", "--role", "author", "--subject", "ada"], stack.env)
    }
    good = _pack(tmp_path / "upload")
    (good / "pack.yaml").write_text((good / "pack.yaml").read_text().replace("id: integration", "id: uploaded"))
    archive = archives.make_tar_gz(read_tree(good, packs.PACK_CAPS, what="pack"))
    response = httpx.post(f"{stack.url}/v1/packs", headers=author, files={"archive": ("p.tar.gz", archive)}, timeout=30)
    assert response.status_code == 201 and response.json()["state"] == "checking", response.text
    stack.start_worker()
    deadline = time.monotonic() + 120
    while (
        state := httpx.get(f"{stack.url}/v1/packs/uploaded/versions/1.0.0", headers=author, timeout=30).json()["state"]
    ) == "checking" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert state == "live", f"logs in {stack.logs}"
    tasks = httpx.get(f"{stack.url}/v1/tasks", headers=stack.candidate, timeout=30).json()["data"]
    assert ("uploaded", "value") in {(t["pack"], t["id"]) for t in tasks}


def test_with_celery_the_public_tests_run_on_a_worker_and_the_api_needs_no_docker(tmp_path, redis_url):
    value_pack(
        tmp_path / "catalogue",
        "public",
        limits=LIMITS,
        files={"starter/test_value_public.py": VALUE_TEST},
    )
    # The API process cannot reach any Docker engine: whatever runs the tests is the worker's.
    with _stack(tmp_path, redis_url, api_env={"DOCKER_HOST": "tcp://127.0.0.1:9"}) as stack:
        stack.start_worker()
        path = f"{stack.url}/v1/tasks/public/value/public-tests"
        passing = httpx.post(path, headers=stack.candidate, json={"files": {"value.py": VALUE_SOLUTION}}, timeout=150)
        assert passing.status_code == 200, f"{passing.text}; logs in {stack.logs}"
        assert passing.json()["passed"] is True and "1 passed" in passing.json()["stdout"]
        failing = httpx.post(
            path, headers=stack.candidate, timeout=150, json={"files": {"value.py": "def value():\n    return 41\n"}}
        )
        assert failing.status_code == 200 and failing.json()["passed"] is False
        assert "assert 41 == 42" in failing.json()["stdout"] and failing.json()["signed"] is False
        # Nothing was stored as a submission (so nothing graded, signed or counted).
        listed = httpx.get(f"{stack.url}/v1/submissions", headers=stack.candidate, timeout=30).json()
        assert listed["count"] == 0
