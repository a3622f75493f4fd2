"""Playing the worker's part through the HTTP API, without Docker."""

from __future__ import annotations

from api.tables import Role
from engine.models import Check, CheckStatus, RunOutcome, RunStatus, StepOutcome
from engine.ports import GraderRun
from engine.results import Result, now
from tests.api.conftest import Api

RETRY = "python-foundations/retry-backoff"
SECRET_MESSAGE = "hidden expectation: 42 retries"
SECRET_OUTPUT = "candidate stdout the candidate must not get back"


def submit(api: Api, headers: dict[str, str], files: dict[str, str] | None = None, task: str = RETRY) -> dict:
    response = api.client.post(
        "/v1/submissions", headers=headers, json={"task": task, "files": files or {"retry.py": "print('hi')\n"}}
    )
    assert response.status_code == 202, response.text
    return response.json()


def result_document(api: Api, job: dict, *, passed: bool = True, grader_runs: tuple[GraderRun, ...] = ()) -> dict:
    task = api.service.pack_store.task(job["pack_id"], job["task_id"], job["pack_version"])
    status = CheckStatus.PASS if passed else CheckStatus.FAIL
    checks = (
        Check(
            id="visible-check",
            name="visible",
            status=status,
            score=1.0 if passed else 0.0,
            max_score=1.0,
            message="you can read this",
            visible=True,
        ),
        Check(
            id="hidden-check",
            name="hidden",
            status=status,
            score=1.0 if passed else 0.0,
            max_score=1.0,
            message=SECRET_MESSAGE,
            visible=False,
        ),
    )
    outcome = RunOutcome(backend="fake", image="sha256:fake", steps=(StepOutcome(0, SECRET_OUTPUT.encode()),))
    return Result(
        task=task,
        submission_digest=job["submission_digest"],
        status=RunStatus.COMPLETED,
        checks=checks,
        started_at=now(),
        finished_at=now(),
        outcome=outcome,
        grader_runs=grader_runs,
    ).to_document()


def work(
    api: Api, run_id: str, *, passed: bool = True, worker: str = "w1", grader_runs: tuple[GraderRun, ...] = ()
) -> dict:
    """Claim the run and post a result for it, as a worker would; returns the posted document."""
    headers = api.token(Role.WORKER, "w")
    claimed = api.client.post(f"/v1/runs/{run_id}/claim", headers=headers, json={"worker": worker})
    assert claimed.status_code == 200, claimed.text
    document = result_document(api, claimed.json(), passed=passed, grader_runs=grader_runs)
    posted = api.client.post(f"/v1/runs/{run_id}/result", headers=headers, json=document)
    assert posted.status_code == 201, posted.text
    return document


def rewrite_log_leaf(session, *, log_index: int, digest: str) -> None:
    """Rewrite a sealed leaf as an insider with database access who knows the scheme would: its digest
    and every stored subtree over it (the tree the service proves from), so the service's own reads agree."""
    from sqlmodel import col, delete, select

    from api.tables import LogEntry, LogNode
    from engine import merkle, transparency

    entry = session.exec(select(LogEntry).where(LogEntry.log_index == log_index)).one()
    entry.digest = digest
    session.add(entry)
    session.flush()
    digests = session.exec(
        select(LogEntry.digest)
        .where(LogEntry.log_index != None)  # noqa: E711
        .order_by(col(LogEntry.log_index))
    ).all()
    session.exec(delete(LogNode))
    nodes = merkle.completed_nodes(0, [transparency.leaf_hash(d) for d in digests], lambda wanted: {})
    session.add_all(LogNode(level=level, position=position, hash=value) for (level, position), value in nodes.items())
    session.commit()
