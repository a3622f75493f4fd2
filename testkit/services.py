"""Real Redis and PostgreSQL servers for tests, from the distribution's packages.

Each runs as a throw-away instance in a temporary folder on a free loopback
port, so tests never touch a system service and leave nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def stop_groups(*procs: subprocess.Popen, timeout: float = 30) -> list[subprocess.Popen]:
    """Stop processes started with ``start_new_session=True`` as a deployment does, and wait for them.

    SIGTERM goes to every process group first (so they shut down side by side); a process
    still running ``timeout`` seconds into its wait gets its group SIGKILLed. A group already
    gone is not an error. Returns the processes that had to be killed (none: a clean stop).
    """
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    killed = []
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            killed.append(proc)
    return killed


@contextlib.contextmanager
def redis_server(port: int | None = None) -> Iterator[str]:
    """A redis-server on ``port`` (default: a free one); yields its URL."""
    with restartable_redis(port=port) as server:
        yield server.url


class RedisServer:
    """A redis-server that can be stopped and started again on its port, with its data
    (append-only file) or empty, for the fault tests."""

    def __init__(self, port: int, folder: Path, persist: bool):
        self.port, self.folder, self.persist = port, folder, persist
        self.url = f"redis://127.0.0.1:{port}/0"
        self._proc: subprocess.Popen | None = None

    def start(self, *, empty: bool = False) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (scripts/setup installs it)"
        if empty:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else ["--appendonly", "no"]
        self._proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--save",
                "",
                *persistence,
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None


@contextlib.contextmanager
def restartable_redis(port: int | None = None, *, persist: bool = False) -> Iterator[RedisServer]:
    with tempfile.TemporaryDirectory(prefix="tasktrial-redis-") as folder:
        server = RedisServer(port or free_port(), Path(folder) / "data", persist)
        server.start()
        try:
            yield server
        finally:
            server.stop()


def _postgres_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    assert versions, "PostgreSQL is not installed (scripts/setup installs it)"
    return versions[-1].parent


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL cluster on a free port, run as the ``postgres`` user; yields a database URL."""
    with postgres_cluster() as cluster:
        yield cluster.url


class PostgresCluster:
    """A throw-away cluster that can be stopped (as by a crash: immediate mode) and started again."""

    def __init__(self, folder: Path, port: int):
        self.bindir, self.folder, self.port = _postgres_bin(), folder, port
        self.data = folder / "data"
        self.url = f"postgresql://tasktrial@127.0.0.1:{port}/postgres"
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root
            user = pwd.getpwnam("postgres")
            os.chown(folder, user.pw_uid, user.pw_gid)
            self.as_postgres = ["runuser", "-u", "postgres", "--"]

    def init(self) -> None:
        subprocess.run(
            [
                *self.as_postgres,
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "tasktrial",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        subprocess.run(
            [
                *self.as_postgres,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-w",
                "-l",
                str(self.folder / "log"),
                "-o",
                f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        subprocess.run(
            [*self.as_postgres, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )  # stopped already: nothing to stop


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster(Path(tempfile.mkdtemp(prefix="tasktrial-pg-")), free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.folder, ignore_errors=True)
