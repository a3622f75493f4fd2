"""Web pages: server time per page (p50/p95) with 1,000 tasks and 10,000 results in the database.

Everything runs in this process through the ASGI app (Starlette's TestClient, no
network), so the figure is the server's time to answer. The baseline, measured
in the same process and interleaved, is ``GET /healthz`` (one ``SELECT 1``): each
page is reported as a ratio to it, and in milliseconds against the 50 ms budget,
with the process's CPU time per request (load-independent, where wall-clock
percentiles on a busy machine measure its load too). Transferred sizes (gzip)
of each page are printed too. ``--profile PAGE`` adds a cProfile of that page's
server-side work.

Run: ``.venv/bin/python bench/bench_web.py [--rounds 60]``.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlmodel import func, select

from api import storage
from api.app import create_app
from api.queue import FakeQueue
from api.service import build_service
from api.settings import Settings
from api.tables import ResultRow, Role, Run, RunEvent, RunState, SkillEvidence, Submission, utcnow
from engine import archives, packs, signing
from engine.models import Check, CheckStatus, RunOutcome, RunStatus, StepOutcome
from engine.results import Result as ResultDoc
from engine.results import candidate_view, now

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "tasks" / "python-foundations" / "word-frequency"
PACKS, TASKS_PER_PACK, CANDIDATES, RESULTS_PER_CANDIDATE = 10, 100, 100, 100


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def make_catalogue(root: Path) -> Path:
    for p in range(PACKS):
        pack = root / f"bench-pack-{p}"
        pack.mkdir(parents=True)
        (pack / "pack.yaml").write_text(
            yaml.safe_dump(
                {
                    "id": f"bench-pack-{p}",
                    "version": "1.0.0",
                    "title": f"Bench pack {p}",
                    "description": "bench",
                    "authors": ["bench"],
                    "license": "MIT",
                }
            )
        )
        for t in range(TASKS_PER_PACK):
            folder = pack / f"task-{t}"
            shutil.copytree(EXAMPLE, folder)
            spec = yaml.safe_load((folder / "task.yaml").read_text())
            spec["id"] = f"task-{t}"
            spec["micro_skills"] = [f"skill.{t % 20}", f"skill.{(t + 7) % 20}"]
            spec["grader"]["checks"][0]["micro_skill"] = spec["micro_skills"][1]
            spec["grader"]["checks"][1]["micro_skill"] = spec["micro_skills"][0]
            spec.pop("wrong", None)  # its counter-examples name the original micro-skills
            shutil.rmtree(folder / "wrong", ignore_errors=True)
            (folder / "task.yaml").write_text(yaml.safe_dump(spec))
    return root


def fill_results(service) -> tuple[str, str]:
    """10,000 results (100 candidates × 100), each with its skill evidence and standings; returns one of bench-0's result ids."""
    task = service.pack_store.task("bench-pack-0", "task-0")
    checks = (
        Check(
            id="empty-input",
            name="empty-input",
            status=CheckStatus.PASS,
            score=1,
            max_score=1,
            message="ok",
            visible=True,
            micro_skill=task.micro_skills[1],
        ),
        Check(
            id="hidden",
            name="hidden",
            status=CheckStatus.FAIL,
            score=0,
            max_score=1,
            message="expected something else",
            visible=False,
            micro_skill=task.micro_skills[0],
        ),
    )
    outcome = RunOutcome(backend="docker", image="sha256:x", steps=(StepOutcome(0, b"out"),))
    base = ResultDoc(
        task=task,
        submission_digest="d" * 64,
        status=RunStatus.COMPLETED,
        checks=checks,
        started_at=now(),
        finished_at=now(),
        outcome=outcome,
    ).to_document()
    archive = archives.make_tar_gz(packs.starter_files(task))  # shown on the result page, as a candidate's files
    full = signing.sign(base, service.key)
    view = signing.sign(candidate_view(base), service.key)
    first = ""  # the first result id, once made
    with service.session() as session:
        for c in range(CANDIDATES):
            subs, runs, results, events = [], [], [], []
            evidence: list[dict[str, Any]] = []
            for r in range(RESULTS_PER_CANDIDATE):
                pack, task_id = f"bench-pack-{r % PACKS}", f"task-{(r * 7) % TASKS_PER_PACK}"
                sid, rid, res = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
                at = utcnow() - timedelta(minutes=RESULTS_PER_CANDIDATE - r)
                subs.append(
                    {
                        "id": sid,
                        "candidate": f"bench-{c}",
                        "pack_id": pack,
                        "pack_version": "1.0.0",
                        "task_id": task_id,
                        "task_digest": task.digest,
                        "submission_digest": "d" * 64,
                        "archive": archive,
                        "created_at": at,
                    }
                )
                runs.append(
                    {
                        "id": rid,
                        "submission_id": sid,
                        "state": RunState.DONE,
                        "attempts": 1,
                        "created_at": at,
                        "updated_at": at,
                    }
                )
                score = float((c * 13 + r * 29) % 101)
                verdict = "ready" if score >= 75 else "not_ready"
                results.append(
                    {
                        "id": res,
                        "run_id": rid,
                        "submission_id": sid,
                        "candidate": f"bench-{c}",
                        "pack_id": pack,
                        "task_id": task_id,
                        "score": score,
                        "verdict": verdict,
                        "created_at": at,
                        "document": {"full": {**full, "id": res}, "candidate": {**view, "id": res}},
                    }
                )
                events.append({"run_id": rid, "kind": "done", "detail": verdict, "at": at})
                for skill in (f"skill.{r % 20}", f"skill.{(r + 7) % 20}"):
                    evidence.append(
                        {
                            "candidate": f"bench-{c}",
                            "skill": skill,
                            "score": score,
                            "verdict": verdict,
                            "result_id": res,
                            "at": at,
                        }
                    )
                first = first or res
            for table, rows in (
                (Submission, subs),
                (Run, runs),
                (ResultRow, results),
                (RunEvent, events),
                (SkillEvidence, evidence),
            ):
                session.execute(insert(table), rows)
            for row in evidence:  # oldest first, as record_result keeps them
                storage.record_standing(
                    session=session,
                    candidate=row["candidate"],
                    skill=row["skill"],
                    score=row["score"],
                    verdict=row["verdict"],
                    at=row["at"],
                    result_id=row["result_id"],
                )
            session.commit()
    return first, "bench-0"


def sign_in(client: TestClient, service, role: Role, subject: str) -> None:
    with service.session() as session:
        code = storage.create_sign_in_link(session=session, role=role, subject=subject, lifetime=timedelta(days=1))
    confirm = client.get(f"/signin/{code}")
    pre = re.search(r'name="pre" value="([^"]+)"', confirm.text)
    if pre is None:
        raise RuntimeError(f"the sign-in page has no confirmation form: {confirm.text[:500]}")
    assert client.post(f"/signin/{code}", data={"pre": pre.group(1)}, follow_redirects=False).status_code == 303


def profile_page(pages: dict, wanted: str, rounds: int) -> None:
    """cProfile of the server's work for ``rounds`` requests of the first page whose name starts with ``wanted``.

    A sync page handler runs in a worker thread, so the profiler is switched on
    in that thread around the handler (FastAPI looks ``run_in_threadpool`` up at
    call time); the test client's own work is left out.
    """
    import cProfile
    import pstats

    import fastapi.routing

    name = next(n for n in pages if n.startswith(wanted))
    client, path = pages[name]
    profiler = cProfile.Profile()
    original = fastapi.routing.run_in_threadpool

    async def profiled(func, *args, **kwargs):
        def call(*a, **k):
            profiler.enable()
            try:
                return func(*a, **k)
            finally:
                profiler.disable()

        return await original(call, *args, **kwargs)

    fastapi.routing.run_in_threadpool = profiled
    try:
        for _ in range(rounds):
            client.get(path)
    finally:
        fastapi.routing.run_in_threadpool = original
    print(f"cProfile of {name} ({path}), {rounds} requests, server side:")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument(
        "--profile",
        metavar="PAGE",
        help="also profile this page (a name from the table, e.g. "
        "readiness) with cProfile over the rounds, and print the top functions",
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-web-"))
    try:
        started = time.perf_counter()
        settings = Settings(data_dir=root / "data", catalogue_dirs=[make_catalogue(root / "catalogue")])
        service = build_service(settings, FakeQueue())
        loaded = time.perf_counter() - started
        result_id, candidate = fill_results(service)
        tasks = sum(len(p.tasks) for p in service.pack_store.packs())
        with service.session() as session:
            count = session.exec(select(func.count()).select_from(ResultRow)).one()
        print(f"catalogue: {tasks} tasks (loaded in {loaded:.1f} s); results in the database: {count}")
        app = create_app(service, reaper=False)
        with TestClient(app) as plain, TestClient(app) as alice, TestClient(app) as rita:
            sign_in(alice, service, Role.CANDIDATE, candidate)
            sign_in(rita, service, Role.REVIEWER, "rita")
            pages = {
                "catalogue": (alice, "/tasks"),
                "catalogue, filtered": (alice, "/tasks?skill=skill.3&difficulty=intro&q=words"),
                "task": (alice, "/tasks/bench-pack-0/task-0"),
                "history": (alice, "/tasks/bench-pack-0/task-0/history"),
                "result": (alice, f"/results/{result_id}"),
                "profile": (alice, "/profile"),
                "verify": (plain, "/verify"),
                "packs": (rita, "/author/packs"),
                "readiness (100 candidates)": (rita, "/review/readiness"),
                "readiness, filtered+sorted": (rita, "/review/readiness?ready=skill.3&sort=skill.10"),
                "readiness.csv (every cell)": (rita, "/review/readiness.csv"),
                "candidate": (rita, f"/review/candidates/{candidate}"),
            }
            timings: dict[str, list[float]] = {name: [] for name in ["baseline /healthz", *pages]}
            # CPU time of this process per request (server and test client together): what a page costs
            # whatever else the machine runs, where wall-clock percentiles also measure the machine's load.
            cpu: dict[str, list[float]] = {name: [] for name in timings}
            sizes = {}
            for name, (client, path) in pages.items():  # warm up, and check every page answers
                response = client.get(path)
                assert response.status_code == 200, (name, response.status_code)
                sizes[name] = (len(response.content), len(gzip.compress(response.content)))
            for _ in range(args.rounds):
                for name, (client, path) in [("baseline /healthz", (plain, "/healthz")), *pages.items()]:
                    t0, c0 = time.perf_counter(), time.process_time()
                    client.get(path)
                    timings[name].append(time.perf_counter() - t0)
                    cpu[name].append(time.process_time() - c0)
            if args.profile:
                profile_page(pages, args.profile, args.rounds)
        base = percentile(timings["baseline /healthz"], 0.95)
        print(
            f"{'page':30} {'p50 ms':>8} {'p95 ms':>8} {'p95/baseline':>13} {'CPU p50':>8} {'CPU p95':>8} "
            f"{'HTML KB':>8} {'gzip KB':>8}"
        )
        for name, values in timings.items():
            p95 = percentile(values, 0.95)
            raw, packed = sizes.get(name, (0, 0))
            print(
                f"{name:30} {statistics.median(values) * 1000:8.1f} {p95 * 1000:8.1f} {p95 / base:13.1f} "
                f"{statistics.median(cpu[name]) * 1000:8.1f} {percentile(cpu[name], 0.95) * 1000:8.1f} "
                f"{raw / 1024:8.1f} {packed / 1024:8.1f}"
            )
        print(f"load average while measured: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
        worst = max((percentile(v, 0.95), n) for n, v in timings.items())
        print(f"slowest p95: {worst[1]} {worst[0] * 1000:.1f} ms (budget 50 ms)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
