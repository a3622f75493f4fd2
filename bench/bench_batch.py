"""Batch throughput: 40 submissions posted at once to ``tasktrial serve`` against a raw parallel ``docker run`` loop.

One process measures both sides on the same task (7 hidden pytest tests over one module):
- raw: ``docker run --rm --network none`` of ``python3 -m pytest`` on the same files (bind-mounted
  read-only), in the same runtime image, with the task's limits (memory = swap, CPUs, pids,
  read-only root, tmpfs /tmp, uid 65534, no capabilities), N at a time, where N is the service's
  number of embedded workers;
- ours: ``tasktrial serve`` (embedded workers, its defaults: as many workers as CPUs), every
  submission POSTed at once by its own client thread, which then follows the submission's event
  stream until ``done``. Latency is from the POST to the ``done`` event; the batch time is from the
  first POST to the last ``done``.

The ratio is ours/raw in throughput (raw batch seconds / ours; goal at least 1.1). A submission is
warmed through first (image, collected test list). ``--rounds 2`` runs raw, ours, ours, raw.

Run: ``.venv/bin/python bench/bench_batch.py [-n 40] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_service import percentile, server
from engine.models import ResourceLimits
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


def raw_batch(command: list[str], count: int, concurrency: int) -> dict:
    def one(_: int) -> float:
        began = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, check=False)
        assert proc.returncode == 0, proc.stdout.decode()[-2000:]
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
    work, grader = tmp / "raw" / "workspace", tmp / "raw" / "grader"
    work.mkdir(parents=True)
    grader.mkdir(parents=True)
    (work / "numbers_kind.py").write_text(SOLUTION)
    (grader / "test_numbers_kind.py").write_text(TESTS)
    image = images.runtime_image("python").tag
    workers = int(os.environ.get("TASKTRIAL_EMBEDDED_WORKERS") or os.cpu_count() or 1)
    command = raw_docker_run(
        image,
        [*PYTEST, "/grader"],
        limits=ResourceLimits(),
        mounts={work: "/workspace", grader: "/grader"},
        workdir="/workspace",
        env={"PYTHONPATH": "/workspace", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    sides: dict[str, list[dict]] = {"raw": [], "ours": []}
    # One token posts the whole batch (as 40 candidates would): the per-token admission limits
    # (30 submissions a minute, 10 open streams) are raised for it, the global queue bound is kept.
    os.environ.setdefault("TASKTRIAL_SUBMISSION_RATE_LIMIT", str(10 * args.n))
    os.environ.setdefault("TASKTRIAL_MAX_STREAMS_PER_TOKEN", str(2 * args.n))
    with server(tmp / "data", catalogue, None) as (url, headers):
        raw_batch(command, 2, workers)  # warm: image layers, page cache
        service_batch(url, headers, 2)  # warm: the collected test list, connections
        for round_ in range(args.rounds):
            for side in ("raw", "ours") if round_ % 2 == 0 else ("ours", "raw"):
                run = raw_batch(command, args.n, workers) if side == "raw" else service_batch(url, headers, args.n)
                sides[side].append(run)
                print(f"round {round_ + 1}: {side} {run['batch_s']:.2f} s", file=sys.stderr, flush=True)
    raw_s, ours_s = sum(r["batch_s"] for r in sides["raw"]), sum(r["batch_s"] for r in sides["ours"])
    report = {
        "task": "bench/seven (7 pytest tests)",
        "submissions_per_batch": args.n,
        "concurrency": workers,
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "raw_docker_run": summary(sides["raw"]),
        "ours_serve_embedded": summary(sides["ours"]),
        "throughput_ratio_ours_to_raw": round(raw_s / ours_s, 3),
        "target_ratio_at_least": 1.1,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
