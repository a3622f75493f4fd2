"""``POST /v1/tasks/{pack}/{task}/public-tests``: refusals before anything runs (the real run is in tests/web)."""

from __future__ import annotations

import threading
import time
from typing import Any

from api.tables import Role


def test_a_task_without_public_tests_answers_404(api):
    headers = api.token(Role.CANDIDATE, "alice")
    response = api.client.post(
        "/v1/tasks/python-foundations/word-frequency/public-tests",
        headers=headers,
        json={"files": {"top_words.py": "print(1)\n"}},
    )
    assert response.status_code == 404 and "no public tests" in response.json()["detail"]


def test_unsafe_paths_and_wrong_bodies_are_refused(api):
    headers = api.token(Role.CANDIDATE, "alice")
    path = "/v1/tasks/python-foundations/retry-backoff/public-tests"
    unsafe = api.client.post(path, headers=headers, json={"files": {"../x.py": "1"}})
    assert unsafe.status_code == 422 and "x.py" in unsafe.text
    wrong = api.client.post(path, headers={**headers, "Content-Type": "text/plain"}, content=b"x")
    assert wrong.status_code == 415
    assert api.client.post(path, json={"files": {}}).status_code == 401


PUBLIC = "/v1/tasks/python-foundations/retry-backoff/public-tests"


def limited(api, limit: int = 2) -> None:
    api.service.settings = api.service.settings.model_copy(
        update={"public_test_rate_limit": limit, "public_test_rate_window_seconds": 60}
    )


def test_public_tests_are_admitted_as_submissions_are_429_with_retry_after(api):
    limited(api)
    alice = api.token(Role.CANDIDATE, "alice")
    # Every run let in counts, whatever becomes of it (here the files are refused after admission).
    for _ in range(2):
        assert api.client.post(PUBLIC, headers=alice, json={"files": {"../x.py": "1"}}).status_code == 422
    # Refused before the body is read (this one would be a 415) and before anything runs.
    refused = api.client.post(PUBLIC, headers={**alice, "Content-Type": "text/plain"}, content=b"x")
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    detail = refused.json()["detail"]
    assert "alice made 2 public-test runs in the last 60 s" in detail and "TASKTRIAL_PUBLIC_TEST_RATE_LIMIT" in detail
    # Another token of hers changes nothing (the rate is the candidate's); another candidate has his own.
    assert api.client.post(PUBLIC, headers=api.token(Role.CANDIDATE, "alice"), json={"files": {}}).status_code == 429
    assert (
        api.client.post(PUBLIC, headers=api.token(Role.CANDIDATE, "bob"), json={"files": {"../x.py": "1"}}).status_code
        == 422
    )
    # Public tests and submissions are limited apart: her submissions are still let in.
    submitted = api.client.post(
        "/v1/submissions",
        headers=alice,
        json={"task": "python-foundations/retry-backoff", "files": {"retry.py": "x = 1\n"}},
    )
    assert submitted.status_code == 202


def test_a_task_without_public_tests_is_refused_before_admission(api):
    limited(api, limit=1)
    alice = api.token(Role.CANDIDATE, "alice")
    for _ in range(3):
        response = api.client.post(
            "/v1/tasks/python-foundations/word-frequency/public-tests",
            headers=alice,
            json={"files": {"top_words.py": "print(1)\n"}},
        )
        assert response.status_code == 404
    assert api.client.post(PUBLIC, headers=alice, json={"files": {"../x.py": "1"}}).status_code == 422


# -- with a broker: the public tests run on a worker, through the queue -----------------


def brokered(api, **settings) -> None:
    """The service as a Celery deployment sees it (the queue stays the test's: it records ids)."""
    api.service.settings = api.service.settings.model_copy(
        update={"broker_url": "redis://127.0.0.1:9/0", "public_test_wait_seconds": 30, **settings}
    )


def play_worker(api, handler) -> tuple[threading.Thread, list[BaseException], Any]:
    """A worker that takes the first public tests queued and runs them with a fake sandbox, over the worker API."""
    from api import jobs
    from api.worker_client import WorkerApi
    from runners.fake import FakeRunner

    secret = api.token(Role.WORKER, "w")["Authorization"].removeprefix("Bearer ")
    runner, failures = FakeRunner(handler), []

    def work() -> None:
        try:
            deadline = time.monotonic() + 30
            while not api.queue.public_test_ids and time.monotonic() < deadline:
                time.sleep(0.02)
            jobs.run_public_tests(
                api.queue.public_test_ids[0],
                api=WorkerApi(api.client, token=secret, worker="w"),
                runner=runner,
                find_task=lambda pack, version, task: api.service.pack_store.task(pack, task, version),
            )
        except BaseException as exc:  # noqa: BLE001 - a worker thread's every failure is surfaced by the test
            failures.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    return thread, failures, runner  # the live list: read it after joining the thread


def stored_jobs(api) -> int:
    from sqlmodel import func, select

    from api.tables import PublicTestJob, ResultRow, Submission

    with api.service.session() as session:
        return sum(
            session.exec(select(func.count()).select_from(table)).one()
            for table in (PublicTestJob, Submission, ResultRow)
        )


def test_with_a_broker_a_worker_runs_the_public_tests_and_nothing_stays(api):
    from engine.models import RunOutcome, StepOutcome

    brokered(api)
    alice = api.token(Role.CANDIDATE, "alice")
    thread, failures, runner = play_worker(
        api,
        lambda spec: RunOutcome(
            backend="fake", image="img", steps=(StepOutcome(0, b"2 passed in 0.01s\n"),), wall_seconds=0.4
        ),
    )
    response = api.client.post(PUBLIC, headers=alice, json={"files": {"retry.py": "def retry(): pass\n"}})
    thread.join(timeout=30)
    assert not failures, failures
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["passed"] is True and document["stdout"] == "2 passed in 0.01s\n" and document["signed"] is False
    # The worker's sandbox got the candidate's file and the task's own public tests, nothing of the grader.
    workspace = runner.specs[0].workspace
    assert workspace["retry.py"] == b"def retry(): pass\n" and "test_retry_public.py" in workspace
    assert not any(path.startswith("grader") or "solution" in path for path in workspace)
    assert stored_jobs(api) == 0  # no job left, no submission, no result


def test_with_a_broker_a_worker_without_a_sandbox_is_a_503_naming_it(api):
    from engine.errors import RunnerUnavailable

    brokered(api)

    def broken(spec):
        raise RunnerUnavailable("no Docker engine answers on this worker")

    thread, failures, _ = play_worker(api, broken)
    response = api.client.post(
        PUBLIC, headers=api.token(Role.CANDIDATE, "alice"), json={"files": {"retry.py": "x = 1\n"}}
    )
    thread.join(timeout=30)
    assert not failures, failures
    assert response.status_code == 503 and "no Docker engine answers on this worker" in response.json()["detail"]
    assert stored_jobs(api) == 0


def test_with_a_broker_and_no_worker_the_api_gives_up_with_503_and_forgets_the_files(api):
    brokered(api, public_test_wait_seconds=0.5)
    response = api.client.post(
        PUBLIC, headers=api.token(Role.CANDIDATE, "alice"), json={"files": {"retry.py": "x = 1\n"}}
    )
    assert response.status_code == 503
    assert "no worker ran the public tests" in response.json()["detail"]
    assert "TASKTRIAL_PUBLIC_TEST_WAIT_SECONDS" in response.json()["detail"]
    assert len(api.queue.public_test_ids) == 1 and stored_jobs(api) == 0
    # A worker arriving late finds nothing to run (and says nothing).
    from api.worker_client import WorkerApi

    secret = api.token(Role.WORKER, "w")["Authorization"].removeprefix("Bearer ")
    assert WorkerApi(api.client, token=secret, worker="w").claim_public_tests(api.queue.public_test_ids[0]) is None
