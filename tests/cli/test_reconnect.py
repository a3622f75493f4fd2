"""The candidate CLI against a real ``tasktrial serve`` that stops and starts again mid-wait.

``serve`` stops promptly on SIGTERM although a candidate follows a submission's event stream;
``submit --wait`` and ``watch`` reconnect, resume and print the signed result once the server is
back; a server that stays away ends in a clear message naming the submission; a refused
connection at submit time is tried again for a moment.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.stack import write_catalogue
from tests.services import free_port, stop_groups, wait_for_port

pytestmark = [pytest.mark.docker]

BIN = Path(sys.executable).parent
SLOW_RIGHT = "import time\ntime.sleep(4)\n\ndef value():\n    return 42\n"


class Server:
    def __init__(self, root: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "TASKTRIAL_DATA_DIR": str(root / "data"),
            "TASKTRIAL_CATALOGUE_DIRS": json.dumps([str(write_catalogue(root / "catalogue"))]),
            "TASKTRIAL_PUBLIC_URL": self.url,
            "TASKTRIAL_EMBEDDED_WORKERS": "1",
        }
        self.logs = root / "serve.log"
        self.token = subprocess.run(
            [str(BIN / "tasktrial"), "admin", "create-token", "--role", "candidate", "--subject", "alice", "--init"],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        self.proc: subprocess.Popen | None = None
        self.stop_seconds: list[float] = []

    def start(self, wait: bool = True) -> None:
        with self.logs.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "tasktrial"), "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            wait_for_port(self.port, timeout=60)

    def terminate(self) -> None:
        """SIGTERM, as a deployment stops it; the time it took to exit is kept for the report."""
        began = time.monotonic()
        assert self.proc is not None, "the server was started"
        if stop_groups(self.proc, timeout=60):
            raise AssertionError(f"serve did not stop within 60 s of SIGTERM; log in {self.logs}")
        self.stop_seconds.append(time.monotonic() - began)

    def close(self) -> None:
        """Stop as a deployment does (SIGTERM: the warm sandboxes are removed), SIGKILL only if it hangs."""
        if self.proc is not None and self.proc.poll() is None:
            stop_groups(self.proc)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def submissions(self) -> list[dict]:
        return httpx.get(f"{self.url}/v1/submissions", headers=self.headers(), timeout=10).json()["data"]


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    running = Server(tmp_path)
    try:
        yield running
    finally:
        running.close()


def cli(server: Server, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "TASKTRIAL_URL": server.url,
        "TASKTRIAL_TOKEN": server.token,
        "XDG_CONFIG_HOME": str(Path(server.logs).parent / "config"),
    }
    return subprocess.Popen(
        [str(BIN / "tasktrial"), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def solution(tmp_path: Path) -> Path:
    folder = tmp_path / "solution"
    folder.mkdir()
    (folder / "value.py").write_text(SLOW_RIGHT)
    return folder


def wait_until(predicate, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
            if predicate():
                return
        time.sleep(0.2)
    raise AssertionError(message)


def test_submit_wait_rides_out_a_server_restart_and_watch_picks_the_result_up(server, tmp_path, capsys):
    server.start()
    waiting = cli(server, "submit", "faults/value", str(solution(tmp_path)), "--wait", "--json")
    wait_until(
        lambda: any(s["state"] in ("running", "grading") for s in server.submissions()),
        60,
        "the submission never started grading",
    )
    server.terminate()  # the candidate's event stream is open: serve must stop anyway
    time.sleep(2)
    server.start()
    out, err = waiting.communicate(timeout=180)
    assert waiting.returncode == 0, err
    document = json.loads(out)
    assert document["verdict"] == "ready" and document["score"] == 100
    submission_id = server.submissions()[0]["id"]
    watched = cli(server, "watch", submission_id, "--json")
    out, err = watched.communicate(timeout=60)
    assert watched.returncode == 0, err
    assert json.loads(out)["id"] == document["id"]
    with capsys.disabled():
        print(f"\nserve stopped {server.stop_seconds[0]:.1f} s after SIGTERM with a candidate's stream open")


def test_watch_gives_up_on_a_server_that_stays_away_naming_the_submission(server, tmp_path):
    server.start()
    accepted = httpx.post(
        f"{server.url}/v1/submissions",
        headers=server.headers(),
        timeout=30,
        json={"task": "faults/value", "files": {"value.py": SLOW_RIGHT}},
    ).json()
    server.terminate()
    watching = cli(server, "watch", accepted["id"], "--patience", "3")
    out, err = watching.communicate(timeout=60)
    assert watching.returncode == 3, (out, err)
    assert accepted["id"] in err and f"tasktrial watch {accepted['id']}" in " ".join(err.split())


def test_a_refused_connection_at_submit_time_is_tried_again(server, tmp_path):
    waiting = cli(server, "submit", "faults/value", str(solution(tmp_path)), "--wait", "--json")
    time.sleep(1.0)  # the CLI meets a refused connection first
    server.start()
    out, err = waiting.communicate(timeout=180)
    assert waiting.returncode == 0, err
    assert json.loads(out)["verdict"] == "ready"
