"""Staff views of a big cohort: 2,000 members × 10 tasks × 3 attempts, on SQLite and on PostgreSQL.

The store is filled directly (60,000 submissions, runs and results; 20,000 counting attempts), then
the readiness matrix (skills and tasks, JSON), its CSV export and the progress dashboard are
requested through the HTTP API (FastAPI's TestClient, in process) as an organiser would. The
baseline, measured in the same process, is ``GET /v1/cohorts/{id}`` (one small authenticated
read); each view is reported as p50/p95 in ms and as its p95's ratio to the baseline's, twice:
as staff re-reading it, and right after a change each time (before every request, one member's
progress row is rewritten as a new result does: the assessment's revision bumped and the row stamped
with it, in one transaction; the view re-reads the rows stamped since and re-renders those members).

Run: ``.venv/bin/python bench/bench_cohorts.py [--members 2000] [--rounds 30] [--postgres]``
(``--postgres`` starts a throw-away PostgreSQL cluster, as the tests do).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import col

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from api import storage  # noqa: E402
from api.app import create_app  # noqa: E402
from api.queue import FakeQueue  # noqa: E402
from api.service import build_service  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.tables import (  # noqa: E402
    Assessment,
    AssessmentScore,
    AssessmentStart,
    Cohort,
    CohortMember,
    ResultRow,
    Role,
    Run,
    RunState,
    Submission,
)

TASKS, ATTEMPTS = 10, 3


def fill(service, members: int) -> tuple[str, str]:
    """A cohort, an assessment of 10 tasks, and every member's 3 attempts at each; returns (cohort, assessment)."""
    tasks = [t for p in service.pack_store.packs() for t in p.tasks if t.grader_kind != "review"][:TASKS]
    now = datetime.now(UTC)
    cohort_id, assessment_id = uuid.uuid4().hex, uuid.uuid4().hex
    with service.session() as session:
        session.add(Cohort(id=cohort_id, name="bench", organiser="olga"))
        session.flush()
        session.add(
            Assessment(
                id=assessment_id,
                cohort_id=cohort_id,
                title="bench",
                created_by="olga",
                opens_at=now - timedelta(days=1),
                closes_at=now + timedelta(days=1),
                duration_seconds=3600,
                tasks=[
                    {"pack_id": t.pack_id, "pack_version": t.pack_version, "task_id": t.id, "task_digest": t.digest}
                    for t in tasks
                ],
            )
        )
        session.commit()
    subjects = [f"member{i:05d}" for i in range(members)]
    connection_rows: dict[str, list[dict[str, Any]]] = {
        "members": [],
        "starts": [],
        "subs": [],
        "runs": [],
        "results": [],
        "scores": [],
    }
    for index, subject in enumerate(subjects):
        connection_rows["members"].append(
            {
                "cohort_id": cohort_id,
                "subject": subject,
                "display_name": subject.title(),
                "email": f"{subject}@example.org",
                "joined_at": now,
            }
        )
        connection_rows["starts"].append({"assessment_id": assessment_id, "candidate": subject, "started_at": now})
        for t_index, task in enumerate(tasks):
            best = None
            for attempt in range(ATTEMPTS):
                sid, rid, res = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
                score = float((index * 7 + t_index * 13 + attempt * 29) % 101)
                verdict = "ready" if score >= 80 else "not_ready"
                at = now - timedelta(minutes=ATTEMPTS - attempt)
                connection_rows["subs"].append(
                    {
                        "id": sid,
                        "pack_id": task.pack_id,
                        "pack_version": task.pack_version,
                        "task_id": task.id,
                        "candidate": subject,
                        "task_digest": task.digest,
                        "submission_digest": "sha256:x",
                        "archive": b"x",
                        "created_at": at,
                        "assessment_id": assessment_id,
                        "late": False,
                    }
                )
                connection_rows["runs"].append(
                    {
                        "id": rid,
                        "submission_id": sid,
                        "state": RunState.DONE,
                        "attempts": 1,
                        "created_at": at,
                        "updated_at": at,
                    }
                )
                connection_rows["results"].append(
                    {
                        "id": res,
                        "run_id": rid,
                        "submission_id": sid,
                        "candidate": subject,
                        "pack_id": task.pack_id,
                        "task_id": task.id,
                        "score": score,
                        "verdict": verdict,
                        "created_at": at,
                        "document": {"full": {"id": res}, "candidate": {"id": res}},
                    }
                )
                if best is None or score > best[1]:
                    best = (res, score, verdict)
            if best is None:
                raise SystemExit("ATTEMPTS must be at least 1")
            connection_rows["scores"].append(
                {
                    "assessment_id": assessment_id,
                    "candidate": subject,
                    "pack_id": task.pack_id,
                    "task_id": task.id,
                    "attempts": ATTEMPTS,
                    "result_id": best[0],
                    "score": best[1],
                    "verdict": best[2],
                    "late": False,
                    "at": now,
                    "skills": {s: [best[1], best[2]] for s in task.micro_skills},
                }
            )
    with service.engine.begin() as connection:
        for table, key in (
            (CohortMember, "members"),
            (AssessmentStart, "starts"),
            (Submission, "subs"),
            (Run, "runs"),
            (ResultRow, "results"),
            (AssessmentScore, "scores"),
        ):
            rows = connection_rows[key]
            for start in range(0, len(rows), 5000):
                connection.execute(insert(table), rows[start : start + 5000])
    return cohort_id, assessment_id


def timed(client, path: str, headers: dict[str, str], rounds: int, before=None) -> list[float]:
    client.get(path, headers=headers)  # warm caches (token, statements)
    times = []
    for _ in range(rounds):
        if before is not None:
            before()
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text[:300]
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def run(database_url: str | None, members: int, rounds: int, label: str) -> None:
    from fastapi.testclient import TestClient

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=database_url, catalogue_dirs=[REPO / "tasks"])
        service = build_service(settings, FakeQueue())
        started = time.perf_counter()
        cohort_id, assessment_id = fill(service, members)
        with service.session() as session:
            assessment = session.get(Assessment, assessment_id)
            if assessment is None:
                raise SystemExit(f"the bench's assessment {assessment_id} was not stored")
            task_ids = [t["task_id"] for t in assessment.tasks]
        filled = time.perf_counter() - started
        with service.session() as session:
            secret = storage.create_token(session=session, name="bench", role=Role.AUTHOR, subject="olga")
        headers = {"Authorization": f"Bearer {secret}"}
        with TestClient(create_app(service, reaper=False)) as client:
            views = {
                "baseline GET /v1/cohorts/{id}": f"/v1/cohorts/{cohort_id}",
                "matrix (skills, JSON)": f"/v1/assessments/{assessment_id}/matrix?by=skills",
                "matrix (tasks, JSON)": f"/v1/assessments/{assessment_id}/matrix?by=tasks",
                "matrix CSV export": f"/v1/assessments/{assessment_id}/matrix?by=tasks&format=csv",
                "dashboard": f"/v1/assessments/{assessment_id}/dashboard",
            }
            changes = iter(range(10**9))

            def change() -> None:
                """What a new result does: one member's progress row rewritten, stamped with the assessment's
                next revision, in one transaction (the next view must show it)."""
                n = next(changes)
                with service.session() as session:
                    revision = storage.bump_revision(session=session, assessment_id=assessment_id)
                    session.exec(
                        update(AssessmentScore)
                        .where(
                            col(AssessmentScore.assessment_id) == assessment_id,
                            col(AssessmentScore.candidate) == f"member{n * 37 % members:05d}",
                            col(AssessmentScore.task_id) == task_ids[n % len(task_ids)],
                        )
                        .values(score=float(n % 101), revision=revision)
                    )
                    session.commit()

            results = {}
            for name, path in views.items():
                results[name] = timed(client, path, headers, rounds)
                if not name.startswith("baseline"):
                    results[f"{name}, after a change"] = timed(client, path, headers, rounds, before=change)
        service.engine.dispose()
    base = p95(results["baseline GET /v1/cohorts/{id}"])
    print(
        f"\n{label}: {members} members × {TASKS} tasks × {ATTEMPTS} attempts "
        f"({members * TASKS * ATTEMPTS} submissions; filled in {filled:.1f} s); {rounds} requests each"
    )
    print(f"{'view':50} {'p50 ms':>8} {'p95 ms':>8} {'p95 / baseline':>15}")
    for name, values in results.items():
        print(f"{name:50} {statistics.median(values):8.1f} {p95(values):8.1f} {p95(values) / base:15.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--postgres", action="store_true", help="also run on a throw-away PostgreSQL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", args.members, args.rounds, "SQLite")
    if args.postgres:
        from testkit.services import postgres_server

        with postgres_server() as url:
            run(url, args.members, args.rounds, "PostgreSQL")


if __name__ == "__main__":
    main()
