"""Regrade of an assessment's submissions on the embedded worker pool, against sequential grading.

The product's path without a broker: ``api.serve.build`` (what ``tasktrial serve`` runs) builds the service
with its in-process pool of ``embedded_workers`` threads (default: the CPUs this process may use), each
grading in a warm Docker sandbox and posting the result back through the HTTP API (here the app's
TestClient, in process). An organiser's cohort of N members takes an assessment pinned to
python-foundations 1.0.0 (retry-backoff, a pytest task: each member submits the reference solution; these
N gradings are timed too, as "fresh submissions"); then the organiser regrades the assessment against
1.1.0 (the same pack with a new version: the "grader fix") and the regrade's progress is polled through
``GET /v1/regrades/{id}`` as staff would (a sample every ``--poll`` seconds) until it reports finished.

Baseline, in the same process before the service starts: ``engine.grading.grade_submission`` of the same
submission, sequentially, on one warm Docker runner (``--baseline`` gradings; its rate is gradings/s).
Reported: total regrade time, gradings/s, its ratio to the baseline's rate, and the progress samples.

Run: ``.venv/bin/python bench/bench_regrade.py [-n 500] [--baseline 20] [--poll 1] [--workers K]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import func, select

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from api import storage  # noqa: E402
from api.serve import build  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.tables import ResultRow, Role  # noqa: E402
from engine import packs  # noqa: E402
from engine.grading import grade_submission  # noqa: E402
from graders import GraderSet  # noqa: E402
from runners import images  # noqa: E402
from runners.docker import DockerRunner  # noqa: E402

PACK, TASK = "python-foundations", "retry-backoff"


def explained(service, change: dict) -> dict:
    """A changed verdict with what each side's result says: its status, reason and failed checks."""

    def side(result: dict | None) -> dict | None:
        if result is None:
            return None
        with service.session() as session:
            row = session.get(ResultRow, result["result_id"])
            document = row.document["full"] if row is not None else {}
        failed = [c["name"] for c in document.get("checks", []) if c.get("status") != "pass"]
        return {
            "verdict": result["verdict"],
            "score": result["score"],
            "status": document.get("status"),
            "reason": document.get("reason"),
            "failed_checks": failed,
        }

    return {"candidate": change["candidate"], "old": side(change["old"]), "new": side(change["new"])}


def two_versions(root: Path) -> list[Path]:
    """The built-in pack at 1.0.0 and, in a second catalogue folder, at 1.1.0."""
    first, second = root / "v1", root / "v2"
    for folder in (first, second):
        shutil.copytree(REPO / "tasks" / PACK, folder / PACK)
    meta = second / PACK / "pack.yaml"
    meta.write_text(meta.read_text().replace("version: 1.0.0", "version: 1.1.0"))
    return [first, second]


def baseline(count: int, cache: Path) -> dict:
    pack = packs.load_pack(REPO / "tasks" / PACK, environments=images.environments())
    task = pack.task(TASK)
    submission = packs.reference_submission(task)
    runner = DockerRunner.from_env(warm=1)
    grader = GraderSet(runner, cache_dir=cache).for_task(task)
    try:
        grade_submission(task, submission, runner=runner, grader=grader)  # warm: image, collected tests
        began = time.perf_counter()
        for _ in range(count):
            result = grade_submission(task, submission, runner=runner, grader=grader)
            assert result.score == 100, result.to_document()
        elapsed = time.perf_counter() - began
    finally:
        runner.close()
    return {"gradings": count, "seconds": round(elapsed, 2), "gradings_per_s": round(count / elapsed, 3)}


def wait_for(http, path: str, headers: dict, done, poll: float, timeout: float) -> tuple[dict, list]:
    began, samples = time.perf_counter(), []
    while True:
        body = http.get(path, headers=headers).json()
        samples.append((round(time.perf_counter() - began, 1), body))
        if done(body):
            return body, samples
        if time.perf_counter() - began > timeout:
            raise SystemExit(f"{path} not done after {timeout} s: {json.dumps(body)[:500]}")
        time.sleep(poll)


def main() -> None:
    from fastapi.testclient import TestClient

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="members = stored submissions regraded")
    parser.add_argument("--baseline", type=int, default=20, help="sequential gradings for the baseline")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between progress reads")
    parser.add_argument("--workers", type=int, default=None, help="embedded workers (default: the product's)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tasktrial-bench-regrade-"))
    report: dict = {
        "task": f"{PACK}/{TASK} (reference solution)",
        "n": args.n,
        "host_cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
    }
    try:
        report["baseline_sequential_warm"] = baseline(args.baseline, tmp / "cache")
        overrides = {"embedded_workers": args.workers} if args.workers else {}
        settings = Settings(
            data_dir=tmp / "data", catalogue_dirs=two_versions(tmp), submission_rate_limit=10**6, **overrides
        )
        report["embedded_workers"] = settings.embedded_workers
        holder: dict = {}

        class Lazy:  # the embedded workers reach the app through the TestClient, once it exists
            def __getattr__(self, name):
                return getattr(holder["http"], name)

        app, service = build(settings, client=Lazy())  # type: ignore[arg-type]  # a stand-in until the client exists
        with TestClient(app) as http:
            holder["http"] = http
            with service.session() as session:
                organiser = {
                    "Authorization": "Bearer "
                    + storage.create_token(session=session, name="bench", role=Role.AUTHOR, subject="olga")
                }
            cohort = http.post("/v1/cohorts", headers=organiser, json={"name": "bench"}).json()
            roster = "subject,display_name,email\n" + "".join(
                f"m{i:04d},Member {i},m{i:04d}@example.org\n" for i in range(args.n)
            )
            imported = http.post(
                f"/v1/cohorts/{cohort['id']}/members",
                content=roster.encode(),
                headers={**organiser, "content-type": "text/csv"},
            )
            assert imported.status_code == 201, imported.text
            now = datetime.now(UTC)
            made = http.post(
                f"/v1/cohorts/{cohort['id']}/assessments",
                headers=organiser,
                json={
                    "title": "bench",
                    "tasks": [{"task": f"{PACK}/{TASK}", "version": "1.0.0"}],
                    "opens_at": (now - timedelta(hours=1)).isoformat(),
                    "closes_at": (now + timedelta(days=1)).isoformat(),
                },
            )
            assert made.status_code == 201, made.text
            assessment = made.json()
            solution = (REPO / "tasks" / PACK / TASK / "solution" / "retry.py").read_text()
            began = time.perf_counter()
            for invitation in imported.json()["invitations"]:
                redeemed = http.post("/invitations/redeem", json={"invitation": invitation["invitation"]})
                assert redeemed.status_code == 200, redeemed.text
                sent = http.post(
                    "/v1/submissions",
                    headers={"Authorization": f"Bearer {redeemed.json()['token']}"},
                    json={"task": f"{PACK}/{TASK}", "assessment": assessment["id"], "files": {"retry.py": solution}},
                )
                assert sent.status_code in (201, 202), sent.text
            dashboard = f"/v1/assessments/{assessment['id']}/dashboard"

            # fresh submissions: done when every run has a result (read from the store, not timed per request)
            def all_graded(_body) -> bool:
                with service.session() as session:
                    return session.exec(select(func.count()).select_from(ResultRow)).one() >= args.n

            _, _ = wait_for(http, dashboard, organiser, all_graded, args.poll, 3600)
            fresh = time.perf_counter() - began
            report["fresh_submissions"] = {"seconds": round(fresh, 2), "gradings_per_s": round(args.n / fresh, 3)}

            began = time.perf_counter()
            started = http.post(f"/v1/assessments/{assessment['id']}/regrade", headers=organiser, json={})
            assert started.status_code == 202, started.text
            regrade = started.json()
            final, samples = wait_for(
                http, f"/v1/regrades/{regrade['id']}", organiser, lambda b: b["finished"], args.poll, 3600
            )
            elapsed = time.perf_counter() - began
            base = report["baseline_sequential_warm"]["gradings_per_s"]
            report["regrade"] = {
                "total": final["total"],
                "done": final["done"],
                "changed_verdicts": [explained(service, c) for c in final["changed"]],
                "versions": final["versions"],
                "seconds": round(elapsed, 2),
                "gradings_per_s": round(final["total"] / elapsed, 3),
                "ratio_to_sequential_rate": round(final["total"] / elapsed / base, 2),
                "progress_samples": " ".join(f"{t}s:{b['done']}" for t, b in samples),
            }
        service.engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
