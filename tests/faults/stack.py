"""A real service for the fault tests: ``tasktrial serve`` (restartable on its port), real Celery
worker processes, a real Redis, SQLite or a real PostgreSQL, and the real Docker engine.

``Batch`` is what every fault test checks in the end: every accepted submission has exactly one
result (one result row for its one run, one set of skill evidence, two log leaves) with the verdict
its files deserve, and no ``error`` verdict.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.factories import value_pack
from tests.services import free_port, wait_for_port

BIN = Path(sys.executable).parent
#: The candidate's code sleeps at import, so a batch stays in flight long enough to be hit.
SLOW = "import time\ntime.sleep(2)\n"
RIGHT = SLOW + "def value():\n    return 42\n"
WRONG = SLOW + "def value():\n    return 41\n"


def write_catalogue(root: Path) -> Path:
    value_pack(root, "faults", limits={"time_seconds": 10, "memory_mb": 128, "pids": 32})
    return root


@dataclass
class Stack:
    root: Path
    broker_url: str
    database_url: str | None = None
    #: Where the API keeps its store (its own disk in the disk test); workers never use it.
    data_dir: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    api: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)
    _logs: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.data_dir or self.root / "api-data"
        catalogue = write_catalogue(self.root / "catalogue")
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "TASKTRIAL_DATA_DIR": str(self.data_dir),
            "TASKTRIAL_BROKER_URL": self.broker_url,
            "TASKTRIAL_CATALOGUE_DIRS": f'["{catalogue}"]',
            "TASKTRIAL_PUBLIC_URL": self.url,
            "TASKTRIAL_LEASE_MARGIN_SECONDS": "2",
            "TASKTRIAL_REAPER_INTERVAL_SECONDS": "0.5",
            "TASKTRIAL_VISIBILITY_TIMEOUT_SECONDS": "3600",
            "TASKTRIAL_MAX_ATTEMPTS": "5",
            **self.extra_env,
        }
        if self.database_url:
            self.env["TASKTRIAL_DATABASE_URL"] = self.database_url
        self.candidate = {
            "Authorization": "Bearer "
            + self.admin("create-token", "--role", "candidate", "--subject", "alice", "--init")
        }
        self.worker_token = self.admin("create-token", "--role", "worker", "--subject", "worker")

    def admin(self, *args: str) -> str:
        return subprocess.run(
            [str(BIN / "tasktrial"), "admin", *args], env=self.env, check=True, capture_output=True, text=True
        ).stdout.strip()

    def _log(self, name: str):
        handle = (self.logs / name).open("ab")
        self._logs.append(handle)
        return handle

    # -- processes --------------------------------------------------------------

    def start_api(self) -> None:
        self.api = subprocess.Popen(
            [str(BIN / "tasktrial"), "serve", "--port", str(self.port)],
            env=self.env,
            stdout=self._log("api.log"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.port, timeout=60)

    def kill_api(self) -> None:
        assert self.api is not None, "the API was started"
        os.killpg(self.api.pid, signal.SIGKILL)
        self.api.wait()

    def start_worker(self) -> subprocess.Popen:
        # Workers keep their caches apart from the API's data disk (as on another host).
        env = {
            **self.env,
            "TASKTRIAL_WORKER_TOKEN": self.worker_token,
            "TASKTRIAL_DATA_DIR": str(self.root / f"worker-{len(self.workers)}"),
        }
        proc = subprocess.Popen(
            [str(BIN / "tasktrial"), "worker", "--concurrency", "1"],
            env=env,
            stdout=self._log(f"worker-{len(self.workers)}.log"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def close(self) -> None:
        procs = [p for p in [*self.workers, self.api] if p is not None and p.poll() is None]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for handle in self._logs:
            handle.close()

    def own_sandboxes(self) -> list[str]:
        """Sandboxes still there whose owner is one of this stack's worker processes (a leak of ours)."""
        import socket

        import docker

        client = docker.from_env()
        owners = {f"{socket.gethostname()}:{p.pid}" for p in self.workers}
        try:
            return [
                f"{c.short_id} ({c.labels.get('tasktrial.owner')})"
                for c in client.containers.list(all=True, filters={"label": "tasktrial.owner"}, ignore_removed=True)
                if c.labels.get("tasktrial.owner") in owners
            ]
        finally:
            client.close()

    # -- the API -----------------------------------------------------------------

    def health(self) -> tuple[int, dict] | None:
        """``/healthz``'s status and body, or None when nothing answers."""
        try:
            response = httpx.get(f"{self.url}/healthz", timeout=5)
        except httpx.HTTPError:
            return None
        return response.status_code, response.json()

    def submit(self, files: dict[str, str]) -> httpx.Response:
        return httpx.post(
            f"{self.url}/v1/submissions",
            headers=self.candidate,
            json={"task": "faults/value", "files": files},
            timeout=30,
        )

    def states(self, ids: list[str]) -> dict[str, str]:
        """Each submission's run state, or ``unreachable``."""
        found = {}
        for submission_id in ids:
            try:
                body = httpx.get(f"{self.url}/v1/submissions/{submission_id}", headers=self.candidate, timeout=5).json()
                found[submission_id] = body["state"] if body.get("result_id") is None else "done"
            except (httpx.HTTPError, ValueError, KeyError):
                found[submission_id] = "unreachable"
        return found


@dataclass
class Batch:
    """Submissions accepted by the API, each with the verdict its files deserve."""

    stack: Stack
    expected: dict[str, str] = field(default_factory=dict)

    @classmethod
    def submit(cls, stack: Stack, size: int = 4) -> Batch:
        batch = cls(stack)
        for n in range(size):
            response = stack.submit({"value.py": RIGHT if n % 2 == 0 else WRONG})
            assert response.status_code == 202, response.text
            batch.expected[response.json()["id"]] = "ready" if n % 2 == 0 else "not_ready"
        return batch

    def wait_in_flight(self, timeout: float = 90) -> None:
        """Until a run of the batch is being graded (the fault then hits work under way)."""
        wait_until(
            lambda: any(s in ("running", "grading") for s in self.stack.states(list(self.expected)).values()),
            timeout,
            f"no run of the batch started; logs in {self.stack.logs}",
        )

    def wait_done(self, timeout: float = 180) -> float:
        """Until every submission has its result; returns when that happened (monotonic)."""
        wait_until(
            lambda: all(s == "done" for s in self.stack.states(list(self.expected)).values()),
            timeout,
            lambda: f"not all done: {self.stack.states(list(self.expected))}; logs in {self.stack.logs}",
        )
        return time.monotonic()

    def assert_exactly_one_right_result_each(self) -> None:
        """One result per submission, with the deserved verdict, in the API and in the database itself."""
        for submission_id, verdict in self.expected.items():
            response = httpx.get(
                f"{self.stack.url}/v1/submissions/{submission_id}/result", headers=self.stack.candidate, timeout=30
            )
            assert response.status_code == 200, response.text
            assert response.json()["verdict"] == verdict, (submission_id, response.json())
        assert self.stack.data_dir is not None, "set when the stack is made"
        url = self.stack.database_url or f"sqlite:///{self.stack.data_dir / 'tasktrial.db'}"
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as connection:
                for submission_id, verdict in self.expected.items():
                    runs = connection.execute(
                        text("SELECT count(*) FROM run WHERE submission_id = :s"), {"s": submission_id}
                    ).scalar_one()
                    rows = connection.execute(
                        text("SELECT id, verdict FROM result WHERE submission_id = :s"), {"s": submission_id}
                    ).all()
                    assert runs == 1 and len(rows) == 1 and rows[0][1] == verdict, (submission_id, runs, rows)
                    leaves = connection.execute(
                        text("SELECT count(*) FROM log_entry WHERE result_id = :r"), {"r": rows[0][0]}
                    ).scalar_one()
                    evidence = connection.execute(
                        text("SELECT count(*) FROM skill_evidence WHERE result_id = :r"), {"r": rows[0][0]}
                    ).scalar_one()
                    assert leaves == 2 and evidence == 1, (submission_id, leaves, evidence)
        finally:
            engine.dispose()


def wait_until(predicate: Callable[[], bool], timeout: float, message) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(message() if callable(message) else message)


def health_while(stack: Stack, part: str, timeout: float = 20) -> dict:
    """Poll ``/healthz`` until it names ``part`` as degraded; returns that body."""
    seen: list = []

    def degraded() -> bool:
        answer = stack.health()
        seen.append(answer)
        return answer is not None and part in answer[1].get("degraded", {})

    wait_until(degraded, timeout, lambda: f"/healthz never named {part!r}: last answers {seen[-3:]}")
    return seen[-1][1]


@contextlib.contextmanager
def running(stack: Stack, workers: int = 2) -> Iterator[Stack]:
    try:
        stack.start_api()
        for _ in range(workers):
            stack.start_worker()
        yield stack
    finally:
        stack.close()
    left = stack.own_sandboxes()
    assert not left, f"this stack's workers left sandboxes behind: {left}; logs in {stack.logs}"
