"""Tampering with a running service's log: the monitor and the verifier both catch it.

The service runs for real (``tasktrial serve``, embedded workers grading in Docker,
SQLite on disk); the candidate, the monitor and the verifier are the real CLI in
their own processes. Then one stored leaf is rewritten in the database, as an
insider with database access could.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from api.db import make_engine
from tests.api.helpers import rewrite_log_leaf
from tests.factories import VALUE_SOLUTION, value_pack
from tests.services import free_port, stop_groups, wait_for_port

pytestmark = pytest.mark.docker

BIN = Path(sys.executable).parent


@dataclass
class RunningServer:
    url: str
    env: dict[str, str]
    database: Path
    headers: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "tasktrial"), *args], env=self.env, capture_output=True, text=True, timeout=120, check=False
        )

    def graded(self) -> str:
        """Submit the reference solution and wait for its result id."""
        accepted = httpx.post(
            f"{self.url}/v1/submissions",
            headers=self.headers,
            timeout=30,
            json={"task": "tamper/value", "files": {"value.py": VALUE_SOLUTION}},
        )
        assert accepted.status_code == 202, accepted.text
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = httpx.get(
                f"{self.url}/v1/submissions/{accepted.json()['id']}", headers=self.headers, timeout=30
            ).json()
            if state["result_id"]:
                return state["result_id"]
            time.sleep(0.2)
        raise AssertionError(f"no result for {accepted.json()['id']}")

    def checkpoint_of_size(self, size: int) -> str:
        """Wait for the sealer (a batch every second here) to publish a checkpoint of ``size``."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            response = httpx.get(f"{self.url}/log/checkpoint", timeout=10)
            if response.status_code == 200 and response.text.split("\n")[1] == str(size):
                return response.text
            time.sleep(0.2)
        raise AssertionError(f"no checkpoint of size {size}; the latest: {response.text!r}")


@pytest.fixture
def service(tmp_path) -> Iterator[RunningServer]:
    catalogue = tmp_path / "catalogue"
    value_pack(catalogue, "tamper", limits={"time_seconds": 8, "memory_mb": 128, "pids": 32})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TASKTRIAL_DATA_DIR": str(tmp_path / "data"),
        "TASKTRIAL_CATALOGUE_DIRS": f'["{catalogue}"]',
        "TASKTRIAL_PUBLIC_URL": url,
        "TASKTRIAL_LOG_SEAL_SECONDS": "1",
        "TASKTRIAL_EMBEDDED_WORKERS": "1",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    env.pop("TASKTRIAL_BROKER_URL", None)
    token = subprocess.run(
        [str(BIN / "tasktrial"), "admin", "create-token", "--init", "--role", "candidate", "--subject", "alice"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    env.update(TASKTRIAL_URL=url, TASKTRIAL_TOKEN=token)
    log = (tmp_path / "api.log").open("wb")
    api = subprocess.Popen(
        [str(BIN / "tasktrial"), "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, timeout=60)
        yield RunningServer(
            url=url, env=env, database=tmp_path / "data" / "tasktrial.db", headers={"Authorization": f"Bearer {token}"}
        )
    finally:
        stop_groups(api)
        log.close()


def test_a_rewritten_leaf_is_caught_by_the_monitor_and_by_verify(service, tmp_path):
    state = tmp_path / "monitor.checkpoint"
    first = service.graded()
    service.checkpoint_of_size(2)  # one result: its full and its candidate view
    assert service.cli("proof", first, "--output", str(tmp_path / "first.json")).returncode == 0
    checked = service.cli("verify", str(tmp_path / "first.json"), "--log", f"{service.url}/log/checkpoint")
    assert checked.returncode == 0, checked.stderr
    assert "in log 127.0.0.1" in checked.stdout and "of the checkpoint of size 2" in checked.stdout
    watched = service.cli("log", "watch", service.url, "--once", "--state", str(state))
    assert watched.returncode == 0 and "first checkpoint" in watched.stdout, watched.stderr

    service.graded()
    service.checkpoint_of_size(4)
    watched = service.cli("log", "watch", service.url, "--once", "--state", str(state))
    assert watched.returncode == 0 and "size 4 is consistent with the size 2" in watched.stdout, watched.stderr

    # An insider rewrites the leaf of the candidate's view of the first result (the view alice holds),
    # and the stored subtrees over it (the tree the service proves from).
    with contextlib.closing(sqlite3.connect(service.database)) as db, db:
        (index,) = db.execute(
            "SELECT log_index FROM log_entry WHERE result_id = ? AND view = 'candidate'", (first,)
        ).fetchone()
    engine = make_engine(f"sqlite:///{service.database}")
    with Session(engine) as session:
        rewrite_log_leaf(session, log_index=index, digest="sha256:" + "ab" * 32)
    engine.dispose()
    service.graded()
    service.checkpoint_of_size(6)  # sealed over the rewritten leaf

    watched = service.cli("log", "watch", service.url, "--once", "--state", str(state))
    assert watched.returncode == 1, watched.stdout
    assert "LOG INCONSISTENT" in watched.stderr and "rewritten" in watched.stderr and "Traceback" not in watched.stderr

    assert service.cli("proof", first, "--output", str(tmp_path / "again.json")).returncode == 0
    again = service.cli("verify", str(tmp_path / "again.json"), "--log", f"{service.url}/log/checkpoint")
    assert again.returncode == 1 and "not proven in the log" in again.stderr, again.stdout
    # Even with the honest digest put back into the served bundle, the new root does not contain it.
    bundle = json.loads((tmp_path / "again.json").read_text())
    bundle["log"]["leaf_digest"] = json.loads((tmp_path / "first.json").read_text())["log"]["leaf_digest"]
    (tmp_path / "honest.json").write_text(json.dumps(bundle))
    honest = service.cli("verify", str(tmp_path / "honest.json"), "--log", f"{service.url}/log/checkpoint")
    assert honest.returncode == 1 and "does not lead to the root" in honest.stderr, honest.stdout
