"""The cohort pages of a big cohort: 2,000 members × 10 tasks × 3 attempts (the store of ``bench_cohorts``).

Each page is requested through the web client (FastAPI's TestClient, in process, signed in through a
one-time link) as an organiser or a member would; the baseline, measured in the same process, is the
public verification page (one template, no query). Reported per page: p50/p95 server time in ms, the
p95's ratio to the baseline's, and the HTML's gzipped size (the issue-8 budget is 150 KB a page).

Run: ``.venv/bin/python bench/bench_cohort_pages.py [--members 2000] [--rounds 30] [--postgres | --only-postgres]``
(``--postgres`` also runs it on a throw-away PostgreSQL cluster, bench/postgres.py).
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from api.app import create_app  # noqa: E402
from api.queue import FakeQueue  # noqa: E402
from api.service import build_service  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.tables import Role  # noqa: E402
from bench.bench_cohorts import fill, p95  # noqa: E402
from bench.bench_web import sign_in  # noqa: E402


def timed(client, path: str, rounds: int) -> tuple[list[float], int]:
    first = client.get(path)  # warm caches (statements, the views kept per assessment revision)
    assert first.status_code == 200, (path, first.text[:300])
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text[:300]
    return times, len(gzip.compress(first.content))


def run(database_url: str, members: int, rounds: int, label: str) -> None:
    from fastapi.testclient import TestClient

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=database_url, catalogue_dirs=[REPO / "tasks"])
        service = build_service(settings, FakeQueue())
        cohort_id, assessment_id = fill(service, members)
        app = create_app(service, reaper=False)
        with TestClient(app) as organiser, TestClient(app) as member:
            sign_in(organiser, service, Role.AUTHOR, "olga")
            sign_in(member, service, Role.CANDIDATE, "member00007")
            views = [
                ("baseline GET /verify", organiser, "/verify"),
                ("cohort page", organiser, f"/cohorts/{cohort_id}"),
                ("progress dashboard", organiser, f"/assessments/{assessment_id}"),
                ("matrix × skills", organiser, f"/assessments/{assessment_id}/matrix?by=skills"),
                ("matrix × tasks", organiser, f"/assessments/{assessment_id}/matrix?by=tasks"),
                ("matrix CSV export", organiser, f"/assessments/{assessment_id}/matrix.csv?by=tasks"),
                (
                    "hiring filter",
                    organiser,
                    f"/assessments/{assessment_id}/hiring?skill=python.resilience.retry-backoff",
                ),
                ("member's assessment page", member, f"/assessments/{assessment_id}"),
                ("my assessments", member, "/assessments"),
            ]
            results = {name: timed(client, path, rounds) for name, client, path in views}
        service.engine.dispose()
    base = p95(results["baseline GET /verify"][0])
    print(f"\n{label}: {members} members; {rounds} requests each")
    print(f"{'page':30} {'p50 ms':>8} {'p95 ms':>8} {'p95/base':>9} {'gzip KB':>8}")
    for name, (values, size) in results.items():
        print(
            f"{name:30} {statistics.median(values):8.1f} {p95(values):8.1f} {p95(values) / base:9.1f} "
            f"{size / 1024:8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--postgres", action="store_true", help="also run on a throw-away PostgreSQL")
    parser.add_argument("--only-postgres", action="store_true", help="run on PostgreSQL only")
    args = parser.parse_args()
    if not args.only_postgres:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/bench.db", args.members, args.rounds, "SQLite")
    if args.postgres or args.only_postgres:
        from testkit.services import postgres_server

        with postgres_server() as url:
            run(url, args.members, args.rounds, "PostgreSQL")


if __name__ == "__main__":
    main()
