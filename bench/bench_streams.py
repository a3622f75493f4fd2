"""Other routes' latency with many open event streams, against none, on one ``tasktrial serve``.

One server (SQLite, a real Redis as broker, no worker: submissions stay queued
unless this script plays the worker). The same mix of requests is measured
from a few client threads, first with no stream open (the baseline, measured
in this same run), then with ``--streams`` open ``GET /v1/submissions/{id}/events``
(spread over tokens, ``--per-token`` each); the two phases alternate for
``--rounds`` rounds so that drift on a shared machine hits both alike. For each
route: p50, p99, errors, and the ratio of p99 with streams to the baseline p99.

Routes in the mix: ``/healthz``, ``GET /v1/tasks``, ``GET /v1/submissions/{id}``,
``GET /v1/submissions/{id}/result``, ``POST /v1/submissions`` and a worker's
``claim`` + ``progress`` of the run it made (the calls the probe saw fail).

Run: ``.venv/bin/python bench/bench_streams.py [--streams 200] [--seconds 10] [--clients 4]``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from testkit.packs import VALUE_SOLUTION, value_pack
from testkit.results import result_document
from testkit.services import free_port, redis_server, stop_groups, wait_for_port

BIN = Path(sys.executable).parent
TIMEOUT = httpx.Timeout(15.0, connect=10.0)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.contextmanager
def server(root: Path, catalogue: Path, broker: str, streams: int, per_token: int):
    port = free_port()
    env = {
        **os.environ,
        "TASKTRIAL_DATA_DIR": str(root),
        "TASKTRIAL_CATALOGUE_DIRS": json.dumps([str(catalogue)]),
        "TASKTRIAL_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TASKTRIAL_BROKER_URL": broker,
        "TASKTRIAL_MAX_STREAMS": str(max(streams, 1)),
        "TASKTRIAL_MAX_STREAMS_PER_TOKEN": str(per_token),
        # The bench submits far faster than a candidate: admission control must not be what it measures.
        "TASKTRIAL_SUBMISSION_RATE_LIMIT": "1000000",
        "TASKTRIAL_MAX_QUEUED_RUNS": "1000000",
    }

    def token(role: str, subject: str) -> dict[str, str]:
        secret = subprocess.run(
            [str(BIN / "tasktrial"), "admin", "create-token", "--role", role, "--subject", subject],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return {"Authorization": f"Bearer {secret}"}

    proc = subprocess.Popen(
        [str(BIN / "tasktrial"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port, timeout=60)
        yield f"http://127.0.0.1:{port}", token
    finally:
        stop_groups(proc)


def submit(client: httpx.Client, headers: dict) -> dict:
    response = client.post(
        "/v1/submissions", headers=headers, json={"task": "bench/value", "files": {"value.py": VALUE_SOLUTION}}
    )
    response.raise_for_status()
    return response.json()


def summary(values: list[float], errors: int) -> dict:
    return {
        "requests": len(values),
        "p50_ms": round(1000 * percentile(values, 0.5), 2),
        "p99_ms": round(1000 * percentile(values, 0.99), 2),
        "errors": errors,
    }


def measure(
    url: str, seconds: float, clients: int, candidate: dict, worker: dict, done_id: str, raw: bool = False
) -> dict:
    """Each client thread loops over the route mix for ``seconds``; latencies per route."""
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client_loop(index: int) -> None:
        local: dict[str, list[float]] = defaultdict(list)
        failed: dict[str, int] = defaultdict(int)

        def timed(name: str, call, ok=(200,)):
            began = time.perf_counter()
            try:
                response = call()
                good = response.status_code in ok
            except httpx.HTTPError:
                response, good = None, False
            local[name].append(time.perf_counter() - began)
            if not good:
                failed[name] += 1
            return response

        with httpx.Client(base_url=url, timeout=TIMEOUT) as http:
            while time.perf_counter() < stop:
                timed("GET /healthz", lambda: http.get("/healthz"))
                timed("GET /v1/tasks", lambda: http.get("/v1/tasks", headers=candidate))
                timed("GET /v1/submissions/{id}", lambda: http.get(f"/v1/submissions/{done_id}", headers=candidate))
                timed(
                    "GET /v1/submissions/{id}/result",
                    lambda: http.get(f"/v1/submissions/{done_id}/result", headers=candidate),
                )
                accepted = timed(
                    "POST /v1/submissions",
                    lambda: http.post(
                        "/v1/submissions",
                        headers=candidate,
                        json={"task": "bench/value", "files": {"value.py": VALUE_SOLUTION}},
                    ),
                    ok=(202,),
                )
                if accepted is not None and accepted.status_code == 202:
                    run_id = accepted.json()["run_id"]
                    name = f"bench-{index}"
                    claim, progress = f"/v1/runs/{run_id}/claim", f"/v1/runs/{run_id}/progress"
                    timed(
                        "POST /v1/runs/{id}/claim",
                        functools.partial(http.post, claim, headers=worker, json={"worker": name}),
                    )
                    timed(
                        "POST /v1/runs/{id}/progress",
                        functools.partial(
                            http.post, progress, headers=worker, json={"worker": name, "state": "grading"}
                        ),
                    )
        with lock:
            for name, values in local.items():
                latencies[name].extend(values)
            for name, count in failed.items():
                errors[name] += count

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if raw:
        return {name: (values, errors.get(name, 0)) for name, values in latencies.items()}
    return {name: summary(values, errors.get(name, 0)) for name, values in sorted(latencies.items())}


class Streams:
    """Open event streams on queued submissions, as plain sockets: no client thread per stream.

    Each is read until its first event (it is open and being followed), then left open; ``close``
    shuts the sockets down so the server sees the clients leave.
    """

    def __init__(self, url: str, followers: list[tuple[dict, str]]):
        self.address = httpx.URL(url)
        self.followers = followers
        self.sockets: list[socket.socket] = []

    def open(self) -> int:
        opened = 0
        for headers, submission_id in self.followers:
            sock = socket.create_connection((self.address.host, self.address.port), timeout=30)
            request = (
                f"GET /v1/submissions/{submission_id}/events HTTP/1.1\r\nHost: {self.address.host}\r\n"
                f"Authorization: {headers['Authorization']}\r\nAccept: text/event-stream\r\n\r\n"
            )
            sock.sendall(request.encode())
            received = b""
            try:
                while b"event: " not in received and b"\r\n\r\n{" not in received:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    received += chunk
            except TimeoutError:  # a server that cannot serve this many streams: counted as not opened
                pass
            if received.startswith(b"HTTP/1.1 200") and b"event: " in received:
                opened += 1
            self.sockets.append(sock)
        return opened

    def close(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.sockets.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--per-token", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of (no streams, streams)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tasktrial-bench-streams-"))
    catalogue = tmp / "catalogue"
    value_pack(catalogue, "bench")
    report: dict = {
        "streams": args.streams,
        "per_token": args.per_token,
        "clients": args.clients,
        "seconds_per_phase": args.seconds,
        "rounds": args.rounds,
    }
    with (
        redis_server() as broker,
        server(tmp / "data", catalogue, broker, args.streams, args.per_token) as (url, token),
    ):
        candidate, worker = token("candidate", "bench"), token("worker", "bench-worker")
        with httpx.Client(base_url=url, timeout=TIMEOUT) as http:
            done = submit(http, candidate)  # one finished submission, for the result reads
            job = http.post(f"/v1/runs/{done['run_id']}/claim", headers=worker, json={"worker": "setup"}).json()
            http.post(
                f"/v1/runs/{done['run_id']}/result",
                headers=worker,
                json=result_document(job),
                params={"worker": "setup"},
            ).raise_for_status()
            tokens = [token("candidate", f"follower-{i}") for i in range(-(-args.streams // args.per_token))]
            followers = []
            for index in range(args.streams):
                headers = tokens[index // args.per_token]
                if index % args.per_token == 0:
                    pending = submit(http, headers)["id"]
                followers.append((headers, pending))
        measure(url, 2.0, args.clients, candidate, worker, done["id"])  # warm-up
        # Interleaved rounds (none, then with streams), so drift on a shared machine hits both sides alike.
        pooled: dict[str, dict[str, list]] = {"without_streams": defaultdict(list), "with_streams": defaultdict(list)}
        report["round_details"] = []
        for _ in range(args.rounds):
            without = measure(url, args.seconds, args.clients, candidate, worker, done["id"], raw=True)
            streams = Streams(url, followers)
            began = time.perf_counter()
            opened = streams.open()
            opening = round(time.perf_counter() - began, 2)
            with_streams = measure(url, args.seconds, args.clients, candidate, worker, done["id"], raw=True)
            streams.close()
            time.sleep(1.0)
            report["round_details"].append({"streams_open": opened, "seconds_to_open_streams": opening})
            for phase, measured in (("without_streams", without), ("with_streams", with_streams)):
                for name, (values, errors) in measured.items():
                    pooled[phase][name].append((values, errors))
        for phase, routes in pooled.items():
            report[phase] = {
                name: summary([v for values, _ in parts for v in values], sum(e for _, e in parts))
                for name, parts in sorted(routes.items())
            }
    base, loaded = report["without_streams"], report["with_streams"]
    report["p99_ratio_with_to_without"] = {
        name: round(loaded[name]["p99_ms"] / base[name]["p99_ms"], 2) for name in base if name in loaded
    }
    report["p50_ratio_with_to_without"] = {
        name: round(loaded[name]["p50_ms"] / base[name]["p50_ms"], 2) for name in base if name in loaded
    }
    report["target"] = "every route's p99 ratio near 1 (unchanged) with 200 open streams, and no errors"
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
