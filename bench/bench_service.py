"""Service latency: submission to signed result, embedded and with Celery + Redis, against raw ``docker run``.

For a trivial task (one hidden pytest test), each side is measured in this one
process, interleaved:
- raw: ``docker run --rm`` of the same image and test command, files bind-mounted;
- embedded: ``tasktrial serve`` with its in-process pool (one uvicorn worker);
- celery: ``tasktrial serve`` with a Redis broker and one ``tasktrial worker`` process.
Latency is from the POST until the SSE ``done`` event. Then result reads:
requests/second and p99 of ``GET /v1/submissions/{id}/result`` on the embedded server.

Run: ``.venv/bin/python bench/bench_service.py [-k 15] [--read-seconds 10]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from runners import images
from testkit.packs import VALUE_SOLUTION, VALUE_TEST, value_pack
from testkit.services import free_port, redis_server, stop_groups, wait_for_port

BIN = Path(sys.executable).parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.contextmanager
def server(root: Path, catalogue: Path, broker: str | None):
    port = free_port()
    env = {
        **os.environ,
        "TASKTRIAL_DATA_DIR": str(root),
        "TASKTRIAL_CATALOGUE_DIRS": json.dumps([str(catalogue)]),
        "TASKTRIAL_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    if broker:
        env["TASKTRIAL_BROKER_URL"] = broker

    def run(*a: str) -> str:
        return subprocess.run(
            [str(BIN / "tasktrial"), *a], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

    candidate = run("admin", "create-token", "--role", "candidate", "--subject", "bench", "--init")
    procs = [
        subprocess.Popen(
            [str(BIN / "tasktrial"), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    if broker:
        token = run("admin", "create-token", "--role", "worker", "--subject", "bench-worker")
        procs.append(
            subprocess.Popen(
                [str(BIN / "tasktrial"), "worker", "--concurrency", "1"],
                env={**env, "TASKTRIAL_WORKER_TOKEN": token},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    try:
        wait_for_port(port, timeout=60)
        yield f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {candidate}"}
    finally:
        stop_groups(*procs)


def submit_and_wait(client: httpx.Client, headers: dict) -> tuple[float, str]:
    began = time.perf_counter()
    accepted = client.post(
        "/v1/submissions", headers=headers, json={"task": "bench/value", "files": {"value.py": VALUE_SOLUTION}}
    ).json()
    with client.stream("GET", f"/v1/submissions/{accepted['id']}/events", headers=headers) as events:
        for line in events.iter_lines():
            if line.startswith("event: done"):
                break
    elapsed = time.perf_counter() - began
    return elapsed, accepted["id"]


def read_load(url: str, headers: dict, submission_id: str, seconds: float, connections: int) -> dict:
    """Load from a second process (wrk, when installed) so the client does not share our interpreter."""
    if shutil.which("wrk"):
        return wrk_load(url, headers, submission_id, seconds, connections)
    return python_load(url, headers, submission_id, seconds, connections)


def wrk_load(url: str, headers: dict, submission_id: str, seconds: float, connections: int) -> dict:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "--latency",
            "-H",
            f"Authorization: {headers['Authorization']}",
            f"{url}/v1/submissions/{submission_id}/result",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    def found(pattern: str) -> re.Match[str]:
        match = re.search(pattern, out)
        if match is None:
            raise RuntimeError(f"wrk's report has no {pattern!r}:\n{out}")
        return match

    rps = float(found(r"Requests/sec:\s+([\d.]+)").group(1))

    def ms(label: str) -> float:
        value, unit = found(rf"\s{label}%\s+([\d.]+)(us|ms|s)").groups()
        return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "tool": "wrk",
        "connections": connections,
        "rps": rps,
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def python_load(url: str, headers: dict, submission_id: str, seconds: float, threads: int) -> dict:
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def reader() -> None:
        with httpx.Client(base_url=url) as client:
            local = []
            while time.perf_counter() < stop:
                began = time.perf_counter()
                response = client.get(f"/v1/submissions/{submission_id}/result", headers=headers)
                local.append(time.perf_counter() - began)
                assert response.status_code == 200
            with lock:
                latencies.extend(local)

    workers = [threading.Thread(target=reader) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {
        "tool": "httpx threads",
        "requests": len(latencies),
        "rps": round(len(latencies) / seconds, 1),
        "p50_ms": round(1000 * percentile(latencies, 0.5), 2),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 2),
        "client_threads": threads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", type=int, default=15)
    parser.add_argument("--read-seconds", type=float, default=10.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tasktrial-bench-"))
    catalogue = tmp / "catalogue"
    value_pack(catalogue, "bench")
    work, grader = tmp / "raw" / "workspace", tmp / "raw" / "grader"
    work.mkdir(parents=True)
    grader.mkdir(parents=True)
    (work / "value.py").write_text(VALUE_SOLUTION)
    (grader / "test_value.py").write_text(VALUE_TEST)
    raw_cmd = [
        "docker",
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        f"{work}:/workspace:ro",
        "-v",
        f"{grader}:/grader:ro",
        "-w",
        "/workspace",
        "-e",
        "PYTHONPATH=/workspace",
        images.runtime_image("python").tag,
        "python3",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "/grader",
    ]

    def raw() -> float:
        began = time.perf_counter()
        subprocess.run(raw_cmd, check=True, capture_output=True)
        return time.perf_counter() - began

    report: dict = {"task": "bench/value (one pytest test)", "submissions_per_side": args.k}
    with (
        redis_server() as broker,
        server(tmp / "embedded", catalogue, None) as (embedded_url, embedded_headers),
        server(tmp / "celery", catalogue, broker) as (celery_url, celery_headers),
    ):
        sides = {
            "embedded": (httpx.Client(base_url=embedded_url, timeout=120), embedded_headers),
            "celery": (httpx.Client(base_url=celery_url, timeout=120), celery_headers),
        }
        times: dict[str, list[float]] = {"raw": [], "embedded": [], "celery": []}
        raw()
        last_id = ""
        for client, headers in sides.values():
            _, last_id = submit_and_wait(client, headers)  # warm: collects the expected tests once
        for _ in range(args.k):
            times["raw"].append(raw())
            for name, (client, headers) in sides.items():
                elapsed, submission = submit_and_wait(client, headers)
                times[name].append(elapsed)
                if name == "embedded":
                    last_id = submission
        raw_p50 = statistics.median(times["raw"])
        report["raw_docker_run"] = {"p50_s": round(raw_p50, 4), "p95_s": round(percentile(times["raw"], 0.95), 4)}
        for name in ("embedded", "celery"):
            p50 = statistics.median(times[name])
            report[name] = {
                "p50_s": round(p50, 4),
                "p95_s": round(percentile(times[name], 0.95), 4),
                "p50_ratio_to_raw": round(p50 / raw_p50, 3),
                "p50_minus_raw_ms": round(1000 * (p50 - raw_p50), 1),
            }
        report["result_reads_embedded"] = {
            f"{n}_connections": read_load(embedded_url, embedded_headers, last_id, args.read_seconds, n) for n in (1, 4)
        }
        for client, _ in sides.values():
            client.close()
    report["targets"] = {"p50_minus_raw_ms_at_most": 100, "result_read_p99_ms_under": 20}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
