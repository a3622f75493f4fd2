"""A real ``tasktrial serve`` (embedded workers, real Docker grading) and Debian's chromium driven by Playwright.

Chromium comes from the distribution (``scripts/setup``), never ``playwright install``.
Tests wait on what the user sees (roles, labels, text), never on ``networkidle``:
an open event stream would keep the network busy.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
SCREENSHOTS = os.environ.get("TASKTRIAL_SCREENSHOTS")  # a folder: the tests save README screenshots there


@dataclass
class Server:
    url: str
    env: dict[str, str]
    process: subprocess.Popen

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def sign_in_link(self, role: str, subject: str) -> str:
        return self.cli("admin", "create-link", "--role", role, "--subject", subject).stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path, catalogue: Path) -> Iterator[Server]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TASKTRIAL_DATA_DIR": str(data_dir),
        "TASKTRIAL_CATALOGUE_DIRS": json.dumps([str(catalogue)]),
        "TASKTRIAL_PORT": str(port),
        "TASKTRIAL_PUBLIC_URL": url,
        "TASKTRIAL_URL": url,
        # No warm sandboxes: every container a test causes is gone when its result is stored.
        "TASKTRIAL_WARM_SANDBOXES": "0",
        "TASKTRIAL_EMBEDDED_WORKERS": "2",
    }
    env.pop("TASKTRIAL_BROKER_URL", None)
    log = open(data_dir / "serve.log", "wb")  # noqa: SIM115  (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (data_dir / "serve.log").read_text()
            assert time.monotonic() < deadline, "tasktrial serve did not answer within 60 s"
            time.sleep(0.3)
        yield Server(url=url, env=env, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    left = own_sandboxes(process.pid)
    assert not left, f"the server left sandboxes behind: {left}"


def own_sandboxes(pid: int) -> list[str]:
    """Sandbox containers this server's embedded workers own (other processes' sandboxes do not count)."""
    from runners import images
    from runners.docker import OWNER_LABEL

    owner = f"{socket.gethostname()}:{pid}"
    client = images.client_from_env()
    return [c.short_id for c in client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={owner}"})]


def assert_sandboxes_removed(server: Server) -> None:
    """A result can reach the page a moment before its sandbox is removed: let removal finish, then check it did."""
    deadline = time.monotonic() + 30
    while own_sandboxes(server.process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not own_sandboxes(server.process.pid)


def launch(playwright):
    """A fresh chromium profile each time: no state shared between test sessions."""
    return playwright.chromium.launch_persistent_context(
        tempfile.mkdtemp(prefix="tasktrial-chromium-"),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        accept_downloads=True,
    )


def axe_violations(page) -> list[str]:
    """Serious and critical axe-core violations of the page as it is now (axe is injected by the test, not served)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    return page.evaluate("""async () => {
        const results = await axe.run(document, {resultTypes: ['violations']});
        return results.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
    }""")


def assert_accessible(page) -> None:
    found = axe_violations(page)
    assert not found, f"{page.url}: {found}"


def screenshot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)
