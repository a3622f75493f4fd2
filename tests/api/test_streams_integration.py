"""Issue 14, item 1, against a real ``tasktrial serve``: open event streams do not take the service down.

Before the fix each open ``GET /v1/submissions/{id}/events`` held a pooled
database connection (and a worker thread) for its whole life: with a few
dozen open, ``/healthz`` and the workers' own calls timed out. Here 60 streams
stay open (more than the pool's 15 connections and the 40 worker threads)
while every other route answers; the stream caps answer 429; a change wakes the
streams that follow it; and at SIGTERM every stream is told to reconnect and
the server exits without waiting for them.

A real Redis is the broker and no worker runs, so submissions stay queued
until this test plays the worker through the HTTP API.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from testkit.results import result_document
from tests.factories import VALUE_SOLUTION, value_pack
from tests.services import free_port, wait_for_port

pytestmark = [pytest.mark.redis]

BIN = Path(sys.executable).parent
CANDIDATES = 6
PER_TOKEN = 10
TOTAL = CANDIDATES * PER_TOKEN
#: Generous: only a hung server (the bug) comes near it; this is not a latency assertion.
PATIENCE = httpx.Timeout(20.0, connect=10.0)


@dataclass
class Stream:
    """One open event stream, read on its own thread."""

    url: str
    headers: dict[str, str]
    lines: list[str] = field(default_factory=list)
    status: int | None = None
    opened: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Stream:
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers=self.headers, timeout=httpx.Timeout(60.0, connect=10.0)) as r:
                self.status = r.status_code
                for line in r.iter_lines():
                    self.lines.append(line)
                    if line.startswith("event: "):
                        self.opened.set()
        except httpx.HTTPError as exc:
            self.lines.append(f"error: {exc!r}")
        finally:
            self.opened.set()
            self.ended.set()

    @property
    def events(self) -> list[str]:
        return [line.removeprefix("event: ") for line in self.lines if line.startswith("event: ")]


@dataclass
class Server:
    url: str
    env: dict[str, str]
    proc: subprocess.Popen
    log: Path

    def token(self, role: str, subject: str) -> dict[str, str]:
        secret = subprocess.run(
            [str(BIN / "tasktrial"), "admin", "create-token", "--role", role, "--subject", subject, "--init"],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return {"Authorization": f"Bearer {secret}"}


@contextlib.contextmanager
def serve(tmp_path: Path, broker_url: str, **settings: str) -> Iterator[Server]:
    catalogue = tmp_path / "catalogue"
    value_pack(catalogue, "streams")
    port = free_port()
    env = {
        **os.environ,
        "TASKTRIAL_DATA_DIR": str(tmp_path / "data"),
        "TASKTRIAL_BROKER_URL": broker_url,
        "TASKTRIAL_CATALOGUE_DIRS": f'["{catalogue}"]',
        "TASKTRIAL_PUBLIC_URL": f"http://127.0.0.1:{port}",
        **{f"TASKTRIAL_{name.upper()}": value for name, value in settings.items()},
    }
    log = tmp_path / "api.log"
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            [str(BIN / "tasktrial"), "serve", "--port", str(port)],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, timeout=60)
        yield Server(url=f"http://127.0.0.1:{port}", env=env, proc=proc, log=log)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def submit(server: Server, headers: dict[str, str]) -> dict:
    response = httpx.post(
        f"{server.url}/v1/submissions",
        headers=headers,
        timeout=PATIENCE,
        json={"task": "streams/value", "files": {"value.py": VALUE_SOLUTION}},
    )
    assert response.status_code == 202, response.text
    return response.json()


def test_open_event_streams_leave_the_service_and_its_workers_working(tmp_path, redis_url):
    with serve(tmp_path, redis_url, max_streams=str(TOTAL), max_streams_per_token=str(PER_TOKEN)) as server:
        candidates = [server.token("candidate", f"c{index}") for index in range(CANDIDATES)]
        worker = server.token("worker", "w")
        accepted = [submit(server, headers) for headers in candidates]
        streams = [
            Stream(f"{server.url}/v1/submissions/{a['id']}/events", headers).start()
            for a, headers in zip(accepted, candidates, strict=True)
            for _ in range(PER_TOKEN)
        ]
        for stream in streams:
            assert stream.opened.wait(30), f"a stream never opened; see {server.log}"
        assert all(stream.status == 200 and stream.events == ["queued"] for stream in streams)

        # The caps: an 11th stream for one token, a 61st in all, are 429 with Retry-After.
        over_token = httpx.get(
            f"{server.url}/v1/submissions/{accepted[0]['id']}/events", headers=candidates[0], timeout=PATIENCE
        )
        assert over_token.status_code == 429 and over_token.headers["Retry-After"]
        late = server.token("candidate", "late")
        over_total = httpx.get(
            f"{server.url}/v1/submissions/{submit(server, late)['id']}/events", headers=late, timeout=PATIENCE
        )
        assert over_total.status_code == 429 and "TASKTRIAL_MAX_STREAMS" in over_total.json()["detail"]

        # Every other route answers while the 60 streams wait, the workers' calls too.
        with httpx.Client(base_url=server.url, timeout=PATIENCE) as client:
            for _ in range(3):
                assert client.get("/healthz").status_code == 200
                assert client.get("/v1/tasks", headers=candidates[1]).status_code == 200
                assert client.get("/v1/submissions", headers=candidates[2]).status_code == 200
            run_id = accepted[0]["run_id"]
            job = client.post(f"/v1/runs/{run_id}/claim", headers=worker, json={"worker": "w1"})
            assert job.status_code == 200, job.text
            assert (
                client.post(
                    f"/v1/runs/{run_id}/progress", headers=worker, json={"worker": "w1", "state": "grading"}
                ).status_code
                == 200
            )
            posted = client.post(
                f"/v1/runs/{run_id}/result", headers=worker, json=result_document(job.json()), params={"worker": "w1"}
            )
            assert posted.status_code == 201, posted.text

        # The change woke the ten streams following that submission: each saw it through to done.
        for stream in streams[:PER_TOKEN]:
            assert stream.ended.wait(30), stream.lines
            assert stream.events == ["queued", "running", "grading", "done"], stream.lines

        # SIGTERM: every remaining stream is told to reconnect, and the server exits without waiting for them.
        server.proc.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal it handled once it has shut down cleanly: -SIGTERM is a clean exit.
        assert server.proc.wait(timeout=30) in (0, -signal.SIGTERM), server.log.read_text()[-2000:]
        assert "Application shutdown complete" in server.log.read_text()
        for stream in streams[PER_TOKEN:]:
            assert stream.ended.wait(10)
            assert stream.events == ["queued", "reconnect"], stream.lines
