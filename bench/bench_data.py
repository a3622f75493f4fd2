"""Large data: the API's latency over 1,000,000 results and 100,000 queued submissions.

For each store (SQLite, PostgreSQL), in this one process:
1. baseline: ``tasktrial serve`` over an empty store (only the bench tokens), the load below;
2. generate: 1,000,000 results (each with its submission, run, four run events and its
   skill evidence) and 100,000 queued submissions (submission, queued run, one event), written
   in bulk (PostgreSQL ``COPY``; SQLite ``executemany`` in one transaction per table) at the
   schema before migration 0008_faults, whose ``EXPLAIN`` of the hot queries is printed;
3. migrate to head (timed) and ``EXPLAIN`` the hot queries again, as ``api.storage`` issues them;
4. ``tasktrial serve`` over the large store, the same load; ratios large / empty are reported.

The load is an open loop from this process over loopback (httpx, asyncio): ``POST /v1/submissions``
at ``--rate`` requests/s, then result reads (by submission, by id) and profile reads at
``--rate`` each. Latency is from the moment a request is sent until its answer is read;
the report also gives how late the loop sent (its own lag). Before each open loop, the same requests
one at a time (``sequential``): the server's latency without queueing, and how many per second that
makes (``sequential_rps``), which tells a slow server from a busy machine. The server runs with a Redis broker
nobody consumes, so the new submissions stay queued and the machine's Docker is not used.
Each open loop reports what was answered per second (``achieved_rps``), what was served as expected
(``ok``, ``ok_rps``, ``ok_p99_ms``) and what was refused: ``rejected_429`` (admission control),
``shed_503`` (the database pool stayed busy: load shed), ``errors_500``. The load's identities are
enough candidates (``bench_candidates``) that none reaches the per-candidate submission rate limit, and
the server's queue bound (``TASKTRIAL_MAX_QUEUED_RUNS``) is raised above the generated backlog, so the
POSTs measure accepting a submission, not refusing it.
Targets (issue 11): POST p99 <= 25 ms at 200/s; reads p99 <= 10 ms; every request served.

Rows are not signed one by one: each result carries a copy of one really signed document
with its own id (the signature then does not verify; latency does not depend on it).
Transparency-log leaves are not generated (no hot query reads them).

Run (long: run it in the background):
``.venv/bin/python bench/bench_data.py [--backend sqlite|postgres|both] [--results 1000000]
[--queued 100000] [--rate 200] [--seconds 20] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from alembic import command

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from api import db, storage
from api.service import build_pack_store
from api.settings import Settings
from api.tables import Role
from engine import signing
from engine.models import Check, CheckStatus, RunStatus
from engine.results import Result, candidate_view
from testkit.services import free_port, postgres_server, redis_server, stop_groups, wait_for_port

BIN = Path(sys.executable).parent
BEFORE = "0007_cohorts"  # the schema this bench's indexes were added to
PLACEHOLDER = "f" * 32
RESULTS_PER_CANDIDATE = 50
SEQUENTIAL = 300  # requests of each phase sent one at a time before its open loop
RATE_LIMIT = 30  # the service's default submissions per candidate per minute (TASKTRIAL_SUBMISSION_RATE_LIMIT)


def bench_candidates(rate: float, seconds: float) -> int:
    """Candidates with tokens, the load's identities: enough that the POSTs of one phase (round robin) stay
    under half of each one's rate limit, so the per-candidate limit is not what the bench measures."""
    return max(100, -(-2 * (int(rate * seconds) + SEQUENTIAL) // RATE_LIMIT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


# -- the rows ------------------------------------------------------------------


@dataclass
class Sample:
    """What the load reads: bench candidates' tokens, and their submissions and results."""

    tokens: dict[str, str] = field(default_factory=dict)  # candidate -> secret
    submissions: list[tuple[str, str]] = field(default_factory=list)  # (candidate, submission id)
    results: list[tuple[str, str]] = field(default_factory=list)  # (candidate, result id)


@dataclass(frozen=True)
class TaskRef:
    pack_id: str
    version: str
    task_id: str
    digest: str
    skills: tuple[str, ...]
    documents: tuple[tuple[str, str, float, str], ...]  # (json with PLACEHOLDER id, verdict, score, ...)


def task_refs() -> list[TaskRef]:
    """Every built-in task, each with two really signed documents (ready and not_ready) to copy."""
    key = signing.SigningKey.generate()
    refs = []
    for pack in build_pack_store(Settings()).packs():
        for task in pack.tasks:
            documents = []
            for passed in (True, False):
                checks = tuple(
                    Check(
                        id=f"test_{n}",
                        name=f"test case {n}",
                        micro_skill=task.micro_skills[n % len(task.micro_skills)],
                        status=CheckStatus.PASS if passed or n % 2 else CheckStatus.FAIL,
                        score=1.0 if passed or n % 2 else 0.0,
                        max_score=1.0,
                        duration_seconds=0.01,
                        visible=n < 3,
                        message="" if passed else "assert 41 == 42",
                    )
                    for n in range(7)
                )
                moment = datetime.now(UTC)
                result = Result(
                    task=task,
                    submission_digest="sha256:" + "0" * 64,
                    status=RunStatus.COMPLETED,
                    checks=checks,
                    started_at=moment,
                    finished_at=moment,
                    id=PLACEHOLDER,
                )
                document = result.to_document()
                full = signing.sign(document, key)
                view = signing.sign(candidate_view(document), key)
                documents.append(
                    (
                        json.dumps({"full": full, "candidate": view}),
                        document["verdict"],
                        float(document["score"]),
                        json.dumps(document["micro_skills"]),
                    )
                )
            refs.append(
                TaskRef(pack.id, pack.version, task.id, task.digest, tuple(task.micro_skills), tuple(documents))
            )
    return refs


class Writer:
    """Bulk rows into one table: PostgreSQL COPY, or SQLite executemany. Values are Python
    objects already in the column's stored form (enum names, UTC datetimes, JSON text)."""

    def __init__(self, url: str):
        self.url = url
        self.sqlite = url.startswith("sqlite")
        self.conn: Any  # sqlite3's or psycopg's connection: the methods used here exist on both
        if self.sqlite:
            # A bulk load into a store nobody else uses yet: no journal (not 9 GB of WAL then copied back).
            path = db.sqlite_path(url)
            if path is None:
                raise SystemExit(f"{url} names no SQLite file")
            self.conn = sqlite3.connect(path)
            self.conn.execute("PRAGMA journal_mode=OFF")
            self.conn.execute("PRAGMA synchronous=OFF")
            self.conn.execute("PRAGMA cache_size=-262144")
        else:
            import psycopg

            self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))

    def write(self, table: str, columns: list[str], rows: Iterable[tuple]) -> int:
        count = 0
        if self.sqlite:
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - the bench's own names

            def counted() -> Iterator[tuple]:
                nonlocal count
                for row in rows:
                    count += 1
                    yield tuple(_sqlite(v) for v in row)

            with self.conn:
                self.conn.executemany(sql, counted())
            return count
        with self.conn.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        self.conn.commit()
        return count

    def analyze(self) -> None:
        if self.sqlite:
            self.conn.execute("ANALYZE")
            self.conn.commit()
        else:
            self.conn.autocommit = True
            self.conn.execute("VACUUM ANALYZE")
            self.conn.autocommit = False

    def close(self) -> None:
        if self.sqlite:
            self.conn.execute("PRAGMA journal_mode=WAL")  # as the service runs it
        self.conn.close()


def _sqlite(value):
    """SQLAlchemy's SQLite forms: naive UTC ``YYYY-MM-DD HH:MM:SS.ffffff`` datetimes, 0/1 booleans."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def generate(url: str, *, results: int, queued: int, bench: int, seed: int = 11) -> tuple[Sample, dict]:
    """Fill the store at ``url`` (already migrated) with ``results`` done and ``queued`` queued submissions."""
    rng = random.Random(seed)
    refs = task_refs()
    candidates = max(1, results // RESULTS_PER_CANDIDATE)
    archive = bytes(rng.getrandbits(8) for _ in range(400))  # about a small submission's tar.gz
    now = datetime.now(UTC)
    start = now - timedelta(days=365)
    step = timedelta(days=365) / max(1, results)
    ids = [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(3 * (results + queued))]
    sample = Sample()
    readers = {f"cand-{n:06d}" for n in range(min(bench, candidates))}

    def done(i: int):
        ref = refs[i % len(refs)]
        candidate = f"cand-{i % candidates:06d}"
        sid, rid, result_id = ids[3 * i], ids[3 * i + 1], ids[3 * i + 2]
        document = ref.documents[(i // len(refs)) % 2]
        return i, ref, candidate, sid, rid, result_id, document, start + i * step

    timings: dict[str, float] = {}
    writer = Writer(url)
    began = time.perf_counter()
    try:
        rows = writer.write(
            "submission",
            [
                "id",
                "pack_id",
                "pack_version",
                "task_id",
                "candidate",
                "task_digest",
                "submission_digest",
                "archive",
                "created_at",
            ],
            (
                (sid, ref.pack_id, ref.version, ref.task_id, cand, ref.digest, "sha256:" + sid * 2, archive, at)
                for _, ref, cand, sid, _, _, _, at in map(done, range(results))
            ),
        )
        q0 = 3 * results
        rows += writer.write(
            "submission",
            [
                "id",
                "pack_id",
                "pack_version",
                "task_id",
                "candidate",
                "task_digest",
                "submission_digest",
                "archive",
                "created_at",
            ],
            (
                (
                    ids[q0 + 3 * j],
                    refs[j % len(refs)].pack_id,
                    refs[j % len(refs)].version,
                    refs[j % len(refs)].task_id,
                    f"cand-{j % candidates:06d}",
                    refs[j % len(refs)].digest,
                    "sha256:" + ids[q0 + 3 * j] * 2,
                    archive,
                    now - timedelta(seconds=queued - j),
                )
                for j in range(queued)
            ),
        )
        timings["submission"] = time.perf_counter() - began
        mark = time.perf_counter()
        rows += writer.write(
            "run",
            ["id", "submission_id", "state", "attempts", "worker", "created_at", "updated_at"],
            (
                (rid, sid, "DONE", 1, "bench:1", at, at + timedelta(seconds=3))
                for _, _, _, sid, rid, _, _, at in map(done, range(results))
            ),
        )
        # Queued a moment ago: the reaper (which re-queues runs waiting past the lease margin) leaves them alone.
        rows += writer.write(
            "run",
            ["id", "submission_id", "state", "attempts", "created_at", "updated_at"],
            ((ids[q0 + 3 * j + 1], ids[q0 + 3 * j], "QUEUED", 0, now, now) for j in range(queued)),
        )
        timings["run"] = time.perf_counter() - mark
        mark = time.perf_counter()

        def events() -> Iterator[tuple]:
            for _, _, _, _, rid, _, document, at in map(done, range(results)):
                yield rid, "queued", "", at
                yield rid, "running", "bench:1", at + timedelta(seconds=1)
                yield rid, "grading", "", at + timedelta(seconds=2)
                yield rid, "done", document[1], at + timedelta(seconds=3)
            for j in range(queued):
                yield ids[q0 + 3 * j + 1], "queued", "", now

        rows += writer.write("run_event", ["run_id", "kind", "detail", "at"], events())
        timings["run_event"] = time.perf_counter() - mark
        mark = time.perf_counter()
        rows += writer.write(
            "result",
            [
                "id",
                "run_id",
                "submission_id",
                "candidate",
                "pack_id",
                "task_id",
                "score",
                "verdict",
                "document",
                "created_at",
            ],
            (
                (
                    result_id,
                    rid,
                    sid,
                    cand,
                    ref.pack_id,
                    ref.task_id,
                    document[2],
                    document[1],
                    document[0].replace(PLACEHOLDER, result_id),
                    at + timedelta(seconds=3),
                )
                for _, ref, cand, sid, rid, result_id, document, at in map(done, range(results))
            ),
        )
        timings["result"] = time.perf_counter() - mark
        mark = time.perf_counter()

        def evidence() -> Iterator[tuple]:
            for _, _, cand, _, _, result_id, document, at in map(done, range(results)):
                for skill, value in json.loads(document[3]).items():
                    yield cand, skill, float(value["score"]), value["verdict"], result_id, at + timedelta(seconds=3)

        rows += writer.write(
            "skill_evidence", ["candidate", "skill", "score", "verdict", "result_id", "at"], evidence()
        )
        timings["skill_evidence"] = time.perf_counter() - mark
        mark = time.perf_counter()
        writer.analyze()
        timings["analyze"] = time.perf_counter() - mark
    finally:
        writer.close()
    for i in range(results):
        _, _, cand, sid, _, result_id, _, _ = done(i)
        if cand in readers:
            sample.submissions.append((cand, sid))
            sample.results.append((cand, result_id))
    total = time.perf_counter() - began
    return sample, {
        "rows": rows,
        "seconds": round(total, 1),
        "rows_per_second": round(rows / total),
        "by_table_seconds": {k: round(v, 1) for k, v in timings.items()},
    }


def make_tokens(url: str, sample: Sample, candidates: Iterable[str]) -> None:
    engine = db.make_engine(url)
    try:
        from sqlmodel import Session

        with Session(engine) as session:
            for candidate in candidates:
                sample.tokens[candidate] = storage.create_token(
                    session=session, name="bench", role=Role.CANDIDATE, subject=candidate
                )
    finally:
        engine.dispose()


# -- the hot queries and their plans ---------------------------------------------


def explain(url: str, sample: Sample, *, before: bool = False) -> list[dict]:
    """Run the read paths of the hot endpoints through ``api.storage``, catch each SQL statement
    they issue, and show the database's plan for it (PostgreSQL: EXPLAIN ANALYZE). ``before``: the
    schema before this bench's indexes, whose profile read every piece of evidence (no standings)."""
    from sqlalchemy import event
    from sqlmodel import Session

    from api.routes.submissions import build_profile

    engine = db.make_engine(url)
    caught: list[tuple[str, str, Any]] = []
    label = ["?"]

    def catch(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            caught.append((label[0], statement, parameters))

    event.listen(engine, "before_cursor_execute", catch)
    candidate, submission_id = sample.submissions[len(sample.submissions) // 2]
    _, result_id = sample.results[len(sample.results) // 2]
    now = datetime.now(UTC)
    with Session(engine) as session:
        for name, call in [
            ("token", lambda: storage.find_token(session=session, secret=sample.tokens[candidate])),
            ("pack states (POST)", lambda: storage.pack_states(session=session)),
            (
                "submission",
                lambda: storage.get_submission(session=session, submission_id=submission_id, with_archive=False),
            ),
            ("latest run", lambda: storage.latest_run(session=session, submission_id=submission_id)),
            ("latest result", lambda: storage.latest_result(session=session, submission_id=submission_id)),
            ("result by id", lambda: storage.get_result(session=session, result_id=result_id)),
            (
                "admission (POST): candidate's rate",
                lambda: storage.recent_submissions(
                    session=session, candidate=candidate, since=now - timedelta(minutes=1)
                ),
            ),
            ("admission (POST): queue bound", lambda: storage.queued_runs(session=session, up_to=10**6)),
            (
                "profile",
                (lambda: storage.skill_evidence(session=session, candidate=candidate))
                if before
                else (lambda: build_profile(session, candidate, as_candidate=True)),
            ),
            (
                "list submissions",
                lambda: storage.list_submissions(session=session, candidate=candidate, limit=50, offset=0),
            ),
            ("reaper", lambda: storage.stale_runs(session=session, now=now, queued_before=now - timedelta(minutes=2))),
        ]:
            label[0] = name
            session.expunge_all()
            call()
    event.remove(engine, "before_cursor_execute", catch)
    plans = []
    postgres = not url.startswith("sqlite")
    with engine.connect() as conn:
        for name, statement, parameters in caught:
            prefix = "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " if postgres else "EXPLAIN QUERY PLAN "
            rows = conn.exec_driver_sql(prefix + statement, parameters).fetchall()
            plan = [str(r[0]) if postgres else str(r[-1]) for r in rows]
            plans.append({"query": name, "sql": " ".join(statement.split()), "plan": plan})
    engine.dispose()
    return plans


def migrate_to(url: str, revision: str) -> float:
    engine = db.make_engine(url)
    began = time.perf_counter()
    try:
        with engine.begin() as connection:
            config = db.alembic_config(engine)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
    return time.perf_counter() - began


# -- the server and the load --------------------------------------------------------


@contextlib.contextmanager
def server(env_store: dict[str, str], broker: str, logs: Path, *, queue_bound: int) -> Iterator[str]:
    port = free_port()
    # The generated backlog was queued before the load began (minutes ago for a million rows): with the
    # default lease margin the reaper would re-send 500 of it per pass during the measurement. The
    # margin is raised so the load measures the API; the reaper's batch is a separate query above.
    env = {
        **os.environ,
        **env_store,
        "TASKTRIAL_BROKER_URL": broker,
        "TASKTRIAL_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TASKTRIAL_LEASE_MARGIN_SECONDS": "3600",
        # Above the generated backlog and everything the load posts: POSTs are measured being accepted
        # (at the default bound of 1000, every POST over 100,000 queued runs is a 429).
        "TASKTRIAL_MAX_QUEUED_RUNS": str(queue_bound),
    }
    log = (logs / f"serve-{port}.log").open("wb")
    proc = subprocess.Popen(
        [str(BIN / "tasktrial"), "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, timeout=180)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_groups(proc)
        log.close()


async def closed_loop(client: httpx.AsyncClient, make, *, count: int) -> dict:
    """One request at a time: the server's own latency per request, without any queueing behind others."""
    latencies: list[float] = []
    failures: dict[str, int] = {}
    for i in range(count):
        method, path, headers, body, expected = make(i)
        began = time.perf_counter()
        response = await client.request(method, path, headers=headers, json=body)
        await response.aread()
        latencies.append(time.perf_counter() - began)
        if response.status_code != expected:
            failures[str(response.status_code)] = failures.get(str(response.status_code), 0) + 1
    ms = lambda v: round(1000 * v, 2)  # noqa: E731
    return {
        "requests": count,
        "p50_ms": ms(percentile(latencies, 0.5)),
        "p99_ms": ms(percentile(latencies, 0.99)),
        "sequential_rps": round(count / sum(latencies), 1),
        "failures": failures,
    }


async def open_loop(client: httpx.AsyncClient, make, *, rate: float, seconds: float) -> dict:
    """Send ``make(i) -> (method, path, headers, json, expected status)`` at ``rate``/s, never waiting
    for answers to send the next; latency per request from its send to its answer."""
    latencies: list[float] = []
    served: list[float] = []  # the answers with the expected status only
    lags: list[float] = []
    failures: dict[str, int] = {}

    async def one(i: int) -> None:
        method, path, headers, body, expected = make(i)
        began = time.perf_counter()
        try:
            response = await client.request(method, path, headers=headers, json=body)
            await response.aread()
        except httpx.HTTPError as exc:
            failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
            return
        latencies.append(time.perf_counter() - began)
        if response.status_code != expected:
            failures[str(response.status_code)] = failures.get(str(response.status_code), 0) + 1
        else:
            served.append(latencies[-1])

    total = int(rate * seconds)
    tasks = []
    t0 = time.perf_counter()
    for i in range(total):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(time.perf_counter() - due)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    ms = lambda v: round(1000 * v, 2)  # noqa: E731
    return {
        "requests": total,
        # Answered (whatever the status) and answered as expected, per second over the phase (until its last answer).
        "achieved_rps": round(len(latencies) / elapsed, 1),
        "ok_rps": round(len(served) / elapsed, 1),
        "ok": len(served),
        "rejected_429": failures.get("429", 0),
        "shed_503": failures.get("503", 0),
        "errors_500": sum(v for k, v in failures.items() if k.startswith("5") and k != "503"),
        "ok_p99_ms": ms(percentile(served, 0.99)),
        "p50_ms": ms(percentile(latencies, 0.5)),
        "p95_ms": ms(percentile(latencies, 0.95)),
        "p99_ms": ms(percentile(latencies, 0.99)),
        "max_ms": ms(max(latencies) if latencies else float("nan")),
        "failures": failures,
        "send_lag_p99_ms": ms(percentile(lags, 0.99)),
    }


def load(url: str, sample: Sample, *, rate: float, seconds: float, task: str, sequential: int = SEQUENTIAL) -> dict:
    candidates = sorted(sample.tokens)
    headers = {c: {"Authorization": f"Bearer {sample.tokens[c]}"} for c in candidates}
    files = {"main.py": "def solve(values):\n    return sorted(values)\n" * 5}
    submissions = [s for s in sample.submissions if s[0] in sample.tokens] or [(c, "none") for c in candidates]
    results = [r for r in sample.results if r[0] in sample.tokens]

    async def run() -> dict:
        # Enough connections that the offered load reaches the server (as from many clients) instead of
        # queueing in this one client, so the server's own shedding (503) is what is measured.
        limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
            # Warm: connections, the token cache, the server's first requests.
            for candidate in candidates:
                await client.get("/v1/profile", headers=headers[candidate])
            phases: dict[str, Callable[[int], tuple[str, str, dict[str, str], Any, int]]] = {
                "post_submissions": lambda i: (
                    "POST",
                    "/v1/submissions",
                    headers[candidates[i % len(candidates)]],
                    {"task": task, "files": files},
                    202,
                )
            }
            if results:
                phases["get_submission_result"] = lambda i: (
                    "GET",
                    f"/v1/submissions/{submissions[i * 7919 % len(submissions)][1]}/result",
                    headers[submissions[i * 7919 % len(submissions)][0]],
                    None,
                    200,
                )
                phases["get_result"] = lambda i: (
                    "GET",
                    f"/v1/results/{results[i * 7919 % len(results)][1]}",
                    headers[results[i * 7919 % len(results)][0]],
                    None,
                    200,
                )
            phases["get_profile"] = lambda i: (
                "GET",
                "/v1/profile",
                headers[candidates[i * 13 % len(candidates)]],
                None,
                200,
            )
            report = {}
            for name, make in phases.items():
                report[name] = {
                    "sequential": await closed_loop(client, make, count=sequential),
                    **await open_loop(client, make, rate=rate, seconds=seconds),
                }
            return report

    return asyncio.run(run())


def count_rows(url: str) -> dict[str, int]:
    from sqlalchemy import text

    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            counts = {
                t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608
                for t in ("submission", "run", "run_event", "result", "skill_evidence")
            }
            counts["queued_runs"] = conn.execute(text("SELECT count(*) FROM run WHERE state = 'QUEUED'")).scalar_one()
        return counts
    finally:
        engine.dispose()


def bench_store(name: str, url: str, env_store: dict[str, str], args, logs: Path, broker: str) -> dict:
    report: dict = {"store": name}
    refs = task_refs()
    task = f"{refs[0].pack_id}/{refs[0].task_id}"
    bench = bench_candidates(args.rate, args.seconds)
    candidates = [f"cand-{n:06d}" for n in range(min(bench, max(1, args.results // RESULTS_PER_CANDIDATE)))]
    report["bench_candidates"] = len(candidates)
    # Everything generated and posted (both loads) fits under the queue bound.
    queue_bound = args.queued + 4 * (int(args.rate * args.seconds) + SEQUENTIAL) + 1000
    report["server_settings"] = {"TASKTRIAL_MAX_QUEUED_RUNS": queue_bound, "others": "defaults"}
    # 1. the baseline: an empty store at head, the same load.
    report["schema_before_seconds"] = round(migrate_to(url, BEFORE), 2)
    empty = Sample()
    make_tokens(url, empty, candidates)
    report["migrate_empty_to_head_seconds"] = round(migrate_to(url, "head"), 2)
    with server(env_store, broker, logs, queue_bound=queue_bound) as base:
        report["empty"] = load(base, empty, rate=args.rate, seconds=args.seconds, task=task)
    # 2. the data, at the schema before 0008_faults (the empty run's new submissions are in there too)
    downgrade = db.make_engine(url)
    with downgrade.begin() as connection:
        config = db.alembic_config(downgrade)
        config.attributes["connection"] = connection
        command.downgrade(config, BEFORE)
    downgrade.dispose()
    sample, generated = generate(url, results=args.results, queued=args.queued, bench=bench)
    sample.tokens = empty.tokens
    report["generate"] = generated
    report["rows"] = count_rows(url)
    report["explain_before_0008"] = explain(url, sample, before=True)
    # 3. this branch's indexes, on the full tables
    report["migrate_full_to_head_seconds"] = round(migrate_to(url, "head"), 2)
    report["explain"] = explain(url, sample)
    # 4. the same load over the large store
    with server(env_store, broker, logs, queue_bound=queue_bound) as large:
        report["large"] = load(large, sample, rate=args.rate, seconds=args.seconds, task=task)
    report["ratios_large_to_empty_p99"] = {
        k: {
            "at_rate": round(report["large"][k]["p99_ms"] / report["empty"][k]["p99_ms"], 2),
            "sequential": round(
                report["large"][k]["sequential"]["p99_ms"] / report["empty"][k]["sequential"]["p99_ms"], 2
            ),
        }
        for k in report["large"]
        if k in report["empty"]
    }
    large = report["large"]
    # Met only with every request answered as expected (a fast 429 or 503 is not a served request).
    report["targets_met"] = {
        "post_p99_le_25ms_at_rate": large["post_submissions"]["p99_ms"] <= 25
        and large["post_submissions"]["ok"] == large["post_submissions"]["requests"],
        "reads_p99_le_10ms": all(
            large[k]["p99_ms"] <= 10 and large[k]["ok"] == large[k]["requests"] for k in large if k.startswith("get_")
        ),
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--queued", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--keep", type=Path, help="keep the SQLite store and logs in this folder")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="tasktrial-bench-data-"))
    root.mkdir(parents=True, exist_ok=True)
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    report: dict = {
        "results": args.results,
        "queued": args.queued,
        "rate_rps": args.rate,
        "seconds_per_phase": args.seconds,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "stores": [],
    }
    try:
        with redis_server() as broker:
            if args.backend in ("sqlite", "both"):
                data = root / "sqlite"
                url = f"sqlite:///{(data / 'tasktrial.db').resolve()}"
                report["stores"].append(
                    bench_store("sqlite", url, {"TASKTRIAL_DATA_DIR": str(data)}, args, logs, broker)
                )
                _flush(report, args.out)
            if args.backend in ("postgres", "both"):
                with postgres_server() as pg:
                    report["stores"].append(
                        bench_store(
                            "postgres (fsync=off, tests/services.py)",
                            pg,
                            {"TASKTRIAL_DATABASE_URL": pg, "TASKTRIAL_DATA_DIR": str(root / "pg-data")},
                            args,
                            logs,
                            broker,
                        )
                    )
                    _flush(report, args.out)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(report, indent=2))


def _flush(report: dict, out: Path | None) -> None:
    if out:
        out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
