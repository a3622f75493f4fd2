"""Real Redis and PostgreSQL servers for tests, from the distribution's packages.

Each runs as a throw-away instance in a temporary folder on a free loopback
port, so tests never touch a system service and leave nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
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


@contextlib.contextmanager
def redis_server(port: int | None = None) -> Iterator[str]:
    """A redis-server on ``port`` (default: a free one); yields its URL."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (scripts/setup installs it)"
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="tasktrial-redis-") as folder:
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", folder,
                                 "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _postgres_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    assert versions, "PostgreSQL is not installed (scripts/setup installs it)"
    return versions[-1].parent


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL cluster on a free port, run as the ``postgres`` user; yields a database URL."""
    bindir = _postgres_bin()
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="tasktrial-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    try:
        subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-U", "tasktrial", "--auth=trust",
                        "-E", "UTF8"], check=True, capture_output=True)
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "log"),
                        "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                       check=True, capture_output=True)
        yield f"postgresql://tasktrial@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)
