"""The run state machine through the worker endpoints, and the reaper (``AppService.reap_once``).

Time is a fake clock patched into storage and the service, so leases lapse
without sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from api import service as service_module
from api import storage
from api.tables import Role
from tests.api.conftest import Api, make_api
from tests.api.helpers import result_document, submit

MARGIN = 1.0
MAX_ATTEMPTS = 3


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(storage, "utcnow", clock)
    monkeypatch.setattr(service_module, "utcnow", clock)
    return clock


@pytest.fixture
def api(tmp_path, small_catalogue, clock) -> Iterator[Api]:
    """The API with a short lease margin (this module's own, replacing the shared fixture)."""
    built = make_api(tmp_path / "data", catalogue_dirs=[small_catalogue])
    api = next(built)
    api.service.settings = api.service.settings.model_copy(
        update={"lease_margin_seconds": MARGIN, "max_attempts": MAX_ATTEMPTS}
    )
    yield api
    next(built, None)


@pytest.fixture
def worker(api) -> dict[str, str]:
    return api.token(Role.WORKER, "workers")


def lease(api: Api) -> float:
    return api.service.lease_seconds("python-foundations", "1.0.0", "retry-backoff")


def post(api: Api, headers: dict[str, str], run_id: str, action: str, **body):
    return api.client.post(f"/v1/runs/{run_id}/{action}", headers=headers, json=body)


def state_of(api: Api, submission_id: str) -> dict:
    return api.client.get(f"/v1/submissions/{submission_id}", headers=api.token(Role.REVIEWER, "rita")).json()


def event_kinds(api: Api, submission_id: str) -> list[str]:
    text = api.client.get(
        f"/v1/submissions/{submission_id}/events", headers=api.token(Role.REVIEWER, "rita"), params={"timeout": 0.2}
    ).text
    return [line.removeprefix("event: ") for line in text.splitlines() if line.startswith("event: ")]


# -- claims ------------------------------------------------------------------


def test_of_two_workers_claiming_one_run_exactly_one_wins(api, worker):
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    first = post(api, worker, accepted["run_id"], "claim", worker="w1")
    second = post(api, worker, accepted["run_id"], "claim", worker="w2")
    assert (first.status_code, second.status_code) == (200, 409)
    assert "claimed" in second.json()["detail"]
    assert state_of(api, accepted["id"])["state"] == "running"


def test_of_many_workers_claiming_at_once_exactly_one_wins(api, worker):
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    barrier = threading.Barrier(6)
    codes: list[int] = []

    def claim(index: int) -> None:
        barrier.wait()
        codes.append(post(api, worker, accepted["run_id"], "claim", worker=f"w{index}").status_code)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200] + [409] * 5
    assert event_kinds(api, accepted["id"]).count("running") == 1


def test_a_done_run_cannot_be_claimed(api, worker):
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    job = post(api, worker, accepted["run_id"], "claim", worker="w1").json()
    assert post(api, worker, accepted["run_id"], "result", **result_document(api, job)).status_code == 201
    assert post(api, worker, accepted["run_id"], "claim", worker="w2").status_code == 409


def test_progress_from_a_worker_that_does_not_hold_the_run_is_409(api, worker):
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    run_id = accepted["run_id"]
    assert post(api, worker, run_id, "progress", worker="w1", state="grading").status_code == 409  # not claimed yet
    post(api, worker, run_id, "claim", worker="w1")
    intruder = post(api, worker, run_id, "progress", worker="w2", state="grading")
    assert intruder.status_code == 409
    assert "w2" in intruder.json()["detail"]
    assert state_of(api, accepted["id"])["state"] == "running"
    assert post(api, worker, run_id, "progress", worker="w1", state="grading").status_code == 200
    assert state_of(api, accepted["id"])["state"] == "grading"
    assert post(api, worker, run_id, "progress", worker="w1", state="done").status_code == 409  # only via a result


def test_fail_ends_the_run_with_an_error_result_never_a_score_of_zero(api, worker):
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    post(api, worker, accepted["run_id"], "claim", worker="w1")
    response = post(api, worker, accepted["run_id"], "fail", worker="w1", reason="the sandbox image is missing")
    assert response.status_code == 201, response.text
    assert state_of(api, accepted["id"])["state"] == "done"
    result = api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=api.token(Role.REVIEWER, "rita"))
    document = result.json()
    assert (document["verdict"], document["status"]) == ("error", "engine_error")
    assert "the sandbox image is missing" in document["reason"]
    assert document["verdict"] != "not_ready"
    mine = api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=alice).json()
    assert mine["verdict"] == "error" and mine["view"] == "candidate"
    assert event_kinds(api, accepted["id"])[-1] == "done"


def test_a_worker_whose_claim_was_taken_over_can_neither_release_nor_fail_the_run(api, worker, clock):
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    run_id = accepted["run_id"]
    post(api, worker, run_id, "claim", worker="w1")
    clock.advance(lease(api) + 1)
    assert post(api, worker, run_id, "claim", worker="w2").status_code == 200  # w1's lease lapsed
    assert post(api, worker, run_id, "release", worker="w1").status_code == 409
    assert post(api, worker, run_id, "fail", worker="w1", reason="late").status_code == 409
    assert state_of(api, accepted["id"])["state"] == "running"
    assert post(api, worker, run_id, "progress", worker="w2", state="grading").status_code == 200


def test_a_worker_releases_its_own_run_back_to_the_queue(api, worker):
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    run_id = accepted["run_id"]
    post(api, worker, run_id, "claim", worker="w1")
    assert post(api, worker, run_id, "release", worker="w1").status_code == 200
    assert state_of(api, accepted["id"])["state"] == "queued"
    assert post(api, worker, run_id, "claim", worker="w2").status_code == 200
    assert event_kinds(api, accepted["id"])[:4] == ["queued", "running", "queued", "running"]


def test_after_a_release_the_releasing_worker_no_longer_holds_the_run(api, worker):
    """A released run is nobody's: neither its last holder nor anyone else may fail or finish it (issue 14, item 2)."""
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    run_id = accepted["run_id"]
    post(api, worker, run_id, "claim", worker="w1")
    post(api, worker, run_id, "release", worker="w1")
    refused = post(api, worker, run_id, "fail", worker="w1", reason="gave up")
    assert refused.status_code == 409 and "not claimed" in refused.json()["detail"]
    assert state_of(api, accepted["id"])["state"] == "queued"


@pytest.mark.parametrize(
    ("attempt", "state", "delay"),
    [(1, "queued", 2.0), (MAX_ATTEMPTS, "done", None)],
    ids=["retry: released", "last attempt: failed while held"],
)
def test_after_a_fault_the_worker_releases_or_fails_the_run_it_holds(api, attempt, state, delay):
    """``jobs.after_fault``: a retry releases the run; the last attempt ends it as ``error`` while still holding it."""
    from api import jobs
    from api.worker_client import WorkerApi
    from engine.errors import RunnerUnavailable

    secret = api.token(Role.WORKER, "workers")["Authorization"].removeprefix("Bearer ")
    worker_api = WorkerApi(api.client, token=secret, worker="host:1")
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    assert worker_api.claim(accepted["run_id"]) is not None
    fault = RunnerUnavailable("the docker engine went away")
    assert jobs.after_fault(accepted["run_id"], fault, api=worker_api, attempt=attempt, attempts=MAX_ATTEMPTS) == delay
    assert state_of(api, accepted["id"])["state"] == state


# -- the reaper --------------------------------------------------------------


def test_a_claim_never_finished_is_requeued_then_ends_in_an_error_after_max_attempts(api, worker, clock):
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    run_id = accepted["run_id"]
    assert api.queue.run_ids == [run_id]
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert post(api, worker, run_id, "claim", worker=f"w{attempt}").status_code == 200
        clock.advance(lease(api) - 1)
        assert api.service.reap_once() == 0  # the lease still holds
        assert state_of(api, accepted["id"])["state"] == "running"
        clock.advance(2)
        assert api.service.reap_once() == 1
        if attempt < MAX_ATTEMPTS:
            assert state_of(api, accepted["id"])["state"] == "queued"
            assert api.queue.run_ids == [run_id] * (attempt + 1)
    assert state_of(api, accepted["id"])["state"] == "done"
    assert api.queue.run_ids == [run_id] * MAX_ATTEMPTS  # the last lapse is not re-queued
    document = api.client.get(
        f"/v1/submissions/{accepted['id']}/result", headers=api.token(Role.REVIEWER, "rita")
    ).json()
    assert (document["verdict"], document["status"]) == ("error", "engine_error")
    assert f"{MAX_ATTEMPTS} attempts" in document["reason"]
    clock.advance(lease(api) * 2)
    assert api.service.reap_once() == 0
    assert event_kinds(api, accepted["id"]) == ["queued"] + ["running", "queued"] * (MAX_ATTEMPTS - 1) + [
        "running",
        "done",
    ]


def test_a_queued_run_nobody_picked_up_is_enqueued_again(api, clock):
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    clock.now = datetime.now(UTC)  # the run's updated_at is stamped by the real clock, however long set-up took
    run_id = accepted["run_id"]
    assert api.service.reap_once() == 0
    clock.advance(MARGIN + 1)
    assert api.service.reap_once() == 1
    assert api.queue.run_ids == [run_id, run_id]
    assert state_of(api, accepted["id"])["state"] == "queued"
    assert api.service.reap_once() == 0  # just re-enqueued: not stale again until another margin passes
    clock.advance(MARGIN + 1)
    assert api.service.reap_once() == 1
    assert api.queue.run_ids == [run_id] * 3


def test_a_run_kept_alive_by_progress_is_left_alone(api, worker, clock):
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    run_id = accepted["run_id"]
    post(api, worker, run_id, "claim", worker="w1")
    clock.advance(lease(api) - 1)
    assert post(api, worker, run_id, "progress", worker="w1", state="grading").status_code == 200
    clock.advance(lease(api) - 1)  # past the first lease, within the extended one
    assert api.service.reap_once() == 0
    assert state_of(api, accepted["id"])["state"] == "grading"
    assert api.queue.run_ids == [run_id]


def test_finished_runs_are_never_reaped(api, worker, clock):
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    job = post(api, worker, accepted["run_id"], "claim", worker="w1").json()
    post(api, worker, accepted["run_id"], "result", **result_document(api, job))
    clock.advance(lease(api) * 10)
    assert api.service.reap_once() == 0
    assert api.queue.run_ids == [accepted["run_id"]]


def test_the_reaper_leaves_alone_a_claim_taken_after_it_looked(api, worker, clock, monkeypatch):
    """The reaper reads the stale runs, then acts: a worker that claims in between keeps its claim."""
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    run_id = accepted["run_id"]
    post(api, worker, run_id, "claim", worker="w1")
    clock.advance(lease(api) + 1)
    read = storage.stale_runs

    def stale_then_claimed(**kwargs):
        found = read(**kwargs)
        assert post(api, worker, run_id, "claim", worker="w2").status_code == 200
        return found

    monkeypatch.setattr(storage, "stale_runs", stale_then_claimed)
    api.service.reap_once()
    assert state_of(api, accepted["id"])["state"] == "running"
    assert api.queue.run_ids == [run_id]
    assert post(api, worker, run_id, "progress", worker="w2", state="grading").status_code == 200
