"""Batch throughput: 40 submissions posted at once to ``tasktrial serve`` against a raw parallel ``docker run`` loop.

One process measures three sides on the same task (7 hidden pytest tests over one module), each
raw peer N at a time, where N is the service's number of embedded workers:
- raw: ``docker run --rm --network none`` of ``python3 -m pytest`` on the same files (bind-mounted
  read-only), in the same runtime image, with the task's limits (memory = swap, CPUs, pids,
  read-only root, tmpfs /tmp, uid 65534, no capabilities): the candidate's code and the tests in
  one process, the way issue 11 first measured;
- raw, same isolation: the grading ours does since issue 12, by hand: one ``docker run -d`` of the
  candidate's container serving its modules (``pytest_bridge.py``), one ``docker run -i`` of the
  harness and the hidden tests on that container's loopback (``--network container:``), then
  ``docker rm -f`` of the first; same limits, files and harness;
- ours: ``tasktrial serve`` (embedded workers, its defaults: as many workers as CPUs), every
  submission POSTed at once by its own client thread, which then follows the submission's event
  stream until ``done``. Latency is from the POST to the ``done`` event; the batch time is from the
  first POST to the last ``done``.

Each ratio is ours/peer in throughput (peer batch seconds / ours; goal at least 1.1). A submission
is warmed through first (image, collected test list). ``--rounds 2`` runs each side twice, the
second round in reverse order.

Run: ``.venv/bin/python bench/bench_batch.py [-n 40] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_service import percentile, server
from engine.models import ResourceLimits
from graders._harness import PYTEST as HARNESS
from graders._harness import harness_files
from graders.pytest_grader import BRIDGE_PORT
from runners import images
from testkit.packs import pytest_task_yaml, write_pack
from testkit.raw_docker import PYTEST, raw_docker_run

SOLUTION = """def classify(n):
    if n < 0:
        return "negative"
    if n == 0:
        return "zero"
    return "even" if n % 2 == 0 else "odd"
"""
TESTS = """from numbers_kind import classify


def test_zero():
    assert classify(0) == "zero"


def test_negative():
    assert classify(-4) == "negative"


def test_even():
    assert classify(10) == "even"


def test_odd():
    assert classify(7) == "odd"


def test_one():
    assert classify(1) == "odd"


def test_large_even():
    assert classify(10**12) == "even"


def test_minus_one():
    assert classify(-1) == "negative"
"""


def write_catalogue(root: Path) -> None:
    write_pack(
        root / "bench",
        {
            "seven": {
                "task": pytest_task_yaml("seven"),
                "files": {
                    "statement.md": "Classify a number.\n",
                    "starter/numbers_kind.py": "def classify(n):\n    return None\n",
                    "solution/numbers_kind.py": SOLUTION,
                    "grader/test_numbers_kind.py": TESTS,
                },
            }
        },
        pack={
            "id": "bench",
            "version": "1.0.0",
            "title": "Bench",
            "description": "bench",
            "authors": ["b"],
            "license": "MIT",
        },
    )


@dataclasses.dataclass(frozen=True)
class RawFolders:
    """What the raw peers mount (read-only): the submission, the hidden tests, our harness."""

    workspace: Path
    grader: Path
    harness: Path

    @classmethod
    def write(cls, root: Path) -> RawFolders:
        folders = cls(root / "workspace", root / "grader", root / "harness")
        for folder in (folders.workspace, folders.grader, folders.harness):
            folder.mkdir(parents=True)
        (folders.workspace / "numbers_kind.py").write_text(SOLUTION)
        (folders.grader / "test_numbers_kind.py").write_text(TESTS)
        for name, data in harness_files(HARNESS).items():
            (folders.harness / Path(name).name).write_bytes(data)
        return folders


def in_process_job(folders: RawFolders, image: str, limits: ResourceLimits) -> Callable[[], None]:
    """The tests in the candidate's own process, in one ``docker run``."""
    command = raw_docker_run(
        image,
        [*PYTEST, "/grader"],
        limits=limits,
        mounts={folders.workspace: "/workspace", folders.grader: "/grader"},
        workdir="/workspace",
        env={"PYTHONPATH": "/workspace", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return lambda: _check(subprocess.run(command, capture_output=True, check=False))


def isolated_job(folders: RawFolders, image: str, limits: ResourceLimits) -> Callable[[], None]:
    """Our separate-sandbox grading by hand: the candidate's container serves its modules, the tests run in another."""

    def job() -> None:
        name = f"tasktrial-bench-{uuid.uuid4().hex[:12]}"
        serve = raw_docker_run(
            image,
            ["python3", "-I", "-u", "/harness/pytest_bridge.py", "serve", str(BRIDGE_PORT), "/workspace"],
            limits=limits,
            mounts={folders.workspace: "/workspace", folders.harness: "/harness"},
            workdir="/workspace",
            options=("-d", "--name", name),
        )
        tests = raw_docker_run(
            image,
            [
                "python3",
                "-I",
                "/harness/pytest_harness.py",
                "run",
                "/tmp/report.json",
                "/grader",
                f"127.0.0.1:{BRIDGE_PORT}",
            ],
            limits=limits,
            mounts={folders.workspace: "/workspace", folders.grader: "/grader", folders.harness: "/harness"},
            workdir="/workspace",
            network=f"container:{name}",
            options=("-i",),
        )
        _check(subprocess.run(serve, capture_output=True, check=False))
        try:  # the harness reads its report key from stdin, as in ours
            _check(
                subprocess.run(tests, input=secrets.token_hex(32).encode() + b"\n", capture_output=True, check=False)
            )
        finally:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)

    return job


def _check(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, (done.stdout + done.stderr).decode()[-2000:]


def raw_batch(job: Callable[[], None], count: int, concurrency: int) -> dict:
    def one(_: int) -> float:
        began = time.perf_counter()
        job()
        return time.perf_counter() - began

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        latencies = list(pool.map(one, range(count)))
    return {"batch_s": time.perf_counter() - began, "latencies": latencies}


def submit_and_follow(url: str, headers: dict, start: threading.Event) -> tuple[float, str]:
    with httpx.Client(base_url=url, timeout=300) as client:
        start.wait()
        began = time.perf_counter()
        response = client.post(
            "/v1/submissions", headers=headers, json={"task": "bench/seven", "files": {"numbers_kind.py": SOLUTION}}
        )
        response.raise_for_status()
        submission = response.json()["id"]
        verdict = ""
        with client.stream("GET", f"/v1/submissions/{submission}/events", headers=headers) as events:
            for line in events.iter_lines():
                if line.startswith("data:") and '"result_id"' in line:
                    verdict = json.loads(line[5:])["verdict"]
                    break
        return time.perf_counter() - began, verdict


def service_batch(url: str, headers: dict, count: int) -> dict:
    start = threading.Event()
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(submit_and_follow, url, headers, start) for _ in range(count)]
        time.sleep(0.5)  # every client connected and waiting
        began = time.perf_counter()
        start.set()
        outcomes = [f.result() for f in futures]
    elapsed = time.perf_counter() - began
    verdicts = {v for _, v in outcomes}
    assert verdicts == {"ready"}, verdicts
    return {"batch_s": elapsed, "latencies": [t for t, _ in outcomes]}


def summary(side: list[dict]) -> dict:
    latencies = [t for run in side for t in run["latencies"]]
    return {
        "batch_s": [round(run["batch_s"], 2) for run in side],
        "latency_p50_s": round(statistics.median(latencies), 3),
        "latency_p95_s": round(percentile(latencies, 0.95), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="submissions per batch")
    parser.add_argument("--rounds", type=int, default=1, help="1: raw then ours; 2: raw, ours, ours, raw")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tasktrial-bench-batch-"))
    catalogue = tmp / "catalogue"
    write_catalogue(catalogue)
    folders = RawFolders.write(tmp / "raw")
    image = images.runtime_image("python").tag
    workers = int(os.environ.get("TASKTRIAL_EMBEDDED_WORKERS") or os.cpu_count() or 1)
    peers = {
        "raw": in_process_job(folders, image, ResourceLimits()),
        "raw_same_isolation": isolated_job(folders, image, ResourceLimits()),
    }
    sides: dict[str, list[dict]] = {"raw": [], "raw_same_isolation": [], "ours": []}
    # One token posts the whole batch (as 40 candidates would): the per-token admission limits
    # (30 submissions a minute, 10 open streams) are raised for it, the global queue bound is kept.
    os.environ.setdefault("TASKTRIAL_SUBMISSION_RATE_LIMIT", str(10 * args.n))
    os.environ.setdefault("TASKTRIAL_MAX_STREAMS_PER_TOKEN", str(2 * args.n))
    with server(tmp / "data", catalogue, None) as (url, headers):
        for job in peers.values():
            raw_batch(job, 2, workers)  # warm: image layers, page cache
        service_batch(url, headers, 2)  # warm: the collected test list, connections
        for round_ in range(args.rounds):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            for side in order:
                run = raw_batch(peers[side], args.n, workers) if side in peers else service_batch(url, headers, args.n)
                sides[side].append(run)
                print(f"round {round_ + 1}: {side} {run['batch_s']:.2f} s", file=sys.stderr, flush=True)
    seconds = {side: sum(run["batch_s"] for run in runs) for side, runs in sides.items()}
    report = {
        "task": "bench/seven (7 pytest tests)",
        "submissions_per_batch": args.n,
        "concurrency": workers,
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "raw_docker_run": summary(sides["raw"]),
        "raw_docker_run_same_isolation": summary(sides["raw_same_isolation"]),
        "ours_serve_embedded": summary(sides["ours"]),
        "throughput_ratio_ours_to_raw": round(seconds["raw"] / seconds["ours"], 3),
        "throughput_ratio_ours_to_raw_same_isolation": round(seconds["raw_same_isolation"] / seconds["ours"], 3),
        "target_ratio_at_least": 1.1,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
