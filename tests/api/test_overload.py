"""An overloaded database pool sheds requests (503 with Retry-After), never a 500 or a queue that times out."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api import db
from api.service import QueueLength
from api.shedding import InFlightLimit, exempt
from api.tables import Role
from tests.api.conftest import make_api


@pytest.fixture
def busy_api(tmp_path, small_catalogue, database_url):
    yield from make_api(
        tmp_path / "data",
        database_url=database_url,
        catalogue_dirs=[small_catalogue],
        database_pool_timeout_seconds=0.2,
    )


def test_requests_get_503_with_retry_after_while_every_connection_is_in_use(busy_api):
    api = busy_api
    alice = api.token(Role.CANDIDATE, "alice")
    assert api.client.get("/v1/profile", headers=alice).status_code == 200  # alice's token is now cached
    bob = api.token(Role.CANDIDATE, "bob")  # never used: looked up in the database
    held = []
    try:
        while True:  # take the pool's every connection (its size and overflow), until it refuses
            try:
                held.append(api.service.engine.connect())
            except PoolTimeout:
                break
        assert len(held) >= 2

        def ask(i: int):
            if i % 3 == 2:
                return api.client.post(
                    "/v1/submissions", headers=alice, json={"task": "python-foundations/retry-backoff", "files": {}}
                )
            return api.client.get("/v1/profile", headers=alice if i % 3 == 0 else bob)

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, range(24)))
        assert [a.status_code for a in answers] == [503] * 24, [a.text for a in answers if a.status_code != 503]
        for answer in answers:
            assert int(answer.headers["Retry-After"]) >= 1
            assert "busy" in answer.json()["detail"]
    finally:
        for connection in held:
            connection.close()
    assert api.client.get("/v1/profile", headers=bob).status_code == 200  # and served again once connections free
    metrics = api.client.get("/metrics").text
    assert 'tasktrial_rejected_total{reason="database_busy"} 24.0' in metrics


@pytest.fixture
def narrow_api(tmp_path, small_catalogue):
    yield from make_api(tmp_path / "data", catalogue_dirs=[small_catalogue], max_requests_in_flight=2)


def test_requests_beyond_the_in_flight_limit_get_503_at_once_and_the_others_complete(narrow_api):
    api = narrow_api
    alice = api.token(Role.CANDIDATE, "alice")
    assert api.client.get("/v1/profile", headers=alice).status_code == 200
    limit = api.app.middleware_stack
    while not isinstance(limit, InFlightLimit):
        limit = limit.app
    path = db.sqlite_path(api.service.settings.database)
    assert path is not None
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another writer holds the database: submissions wait (busy timeout)
    body = {"task": "python-foundations/retry-backoff", "files": {"retry.py": "x = 1\n"}}
    with ThreadPoolExecutor(2) as pool:
        try:
            waiting = [pool.submit(api.client.post, "/v1/submissions", headers=alice, json=body) for _ in range(2)]
            deadline = time.monotonic() + 10
            while limit.in_flight < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert limit.in_flight == 2
            shed = api.client.get("/v1/profile", headers=alice)
            assert shed.status_code == 503 and int(shed.headers["Retry-After"]) >= 1
            assert "TASKTRIAL_MAX_REQUESTS_IN_FLIGHT" in shed.json()["detail"]
            metrics = api.client.get("/metrics")  # never shed: it shows the overload
            assert metrics.status_code == 200 and 'tasktrial_rejected_total{reason="busy"} 1.0' in metrics.text
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        assert [w.result(timeout=30).status_code for w in waiting] == [202, 202]
    assert limit.in_flight == 0
    assert api.client.get("/v1/profile", headers=alice).status_code == 200


def test_the_queue_length_is_counted_once_then_estimated_up_to_the_bound():
    counts = []

    def count(length: int):
        def counted() -> int:
            counts.append(length)
            return length

        return counted

    queue = QueueLength(seconds=3600)
    assert queue.admit(bound=5, count=count(2)) == 2  # counted: 2 waiting, a third let in
    assert [queue.admit(bound=5, count=count(99)) for _ in range(2)] == [3, 4]  # estimated, no count
    assert queue.admit(bound=5, count=count(3)) == 3  # the estimate reached the bound: counted again
    assert queue.admit(bound=5, count=count(5)) == 4
    assert queue.admit(bound=5, count=count(5)) == 5  # at the bound: counted, refused (nothing added)
    assert queue.admit(bound=5, count=count(5)) == 5
    assert counts == [2, 3, 5, 5]
    stale = QueueLength(seconds=0)  # an estimate never outlives its window
    assert [stale.admit(bound=5, count=count(1)) for _ in range(3)] == [1, 1, 1]
    assert counts[4:] == [1, 1, 1]


def test_long_lived_requests_and_probes_are_never_shed():
    assert exempt("/v1/submissions/abc/events") and exempt("/submissions/abc/events")
    assert exempt("/v1/tasks/p/t/public-tests") and exempt("/tasks/p/t/public-tests")
    assert exempt("/healthz") and exempt("/metrics")
    assert not exempt("/v1/profile") and not exempt("/v1/submissions") and not exempt("/v1/events-log")
