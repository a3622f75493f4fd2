"""An overloaded database pool sheds requests (503 with Retry-After), never a 500 or a queue that times out."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
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
            assert "busy" in answer.json()["detail"] and answer.json()["shed"] is True
    finally:
        for connection in held:
            connection.close()
    assert api.client.get("/v1/profile", headers=bob).status_code == 200  # and served again once connections free
    metrics = api.client.get("/metrics").text
    assert 'tasktrial_rejected_total{reason="database_busy"} 24.0' in metrics


@pytest.fixture
def narrow_api(tmp_path, small_catalogue):
    yield from make_api(
        tmp_path / "data", catalogue_dirs=[small_catalogue], max_requests_in_flight=2, request_queue_seconds=0
    )


@pytest.fixture
def queueing_api(tmp_path, small_catalogue):
    yield from make_api(
        tmp_path / "data", catalogue_dirs=[small_catalogue], max_requests_in_flight=2, request_queue_seconds=30
    )


def in_flight_limit(api) -> InFlightLimit:
    limit = api.app.middleware_stack
    while not isinstance(limit, InFlightLimit):
        limit = limit.app
    return limit


@contextlib.contextmanager
def submissions_held(api, headers: dict, count: int, *, until: Callable[[InFlightLimit], bool]):
    """Post ``count`` submissions while another writer holds the database (each waits on its busy
    timeout), wait until the in-flight counters satisfy ``until``, then yield the middleware; the
    database is let go on leaving, and the answers are checked: every submission accepted."""
    limit = in_flight_limit(api)
    path = db.sqlite_path(api.service.settings.database)
    assert path is not None
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    body = {"task": "python-foundations/retry-backoff", "files": {"retry.py": "x = 1\n"}}
    with ThreadPoolExecutor(count) as pool:
        try:
            posted = [pool.submit(api.client.post, "/v1/submissions", headers=headers, json=body) for _ in range(count)]
            deadline = time.monotonic() + 10
            while not until(limit) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert until(limit), (limit.in_flight, limit.waiting)
            yield limit
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        assert [answer.result(timeout=60).status_code for answer in posted] == [202] * count
    assert (limit.in_flight, limit.waiting) == (0, 0)


def test_requests_beyond_the_in_flight_limit_get_503_at_once_and_the_others_complete(narrow_api):
    api = narrow_api
    alice = api.token(Role.CANDIDATE, "alice")
    assert api.client.get("/v1/profile", headers=alice).status_code == 200
    with submissions_held(api, alice, 2, until=lambda limit: limit.in_flight == 2):
        shed = api.client.get("/v1/profile", headers=alice)
        assert shed.status_code == 503 and int(shed.headers["Retry-After"]) >= 1
        assert "TASKTRIAL_MAX_REQUESTS_IN_FLIGHT" in shed.json()["detail"] and shed.json()["shed"] is True
        metrics = api.client.get("/metrics")  # never shed: it shows the overload
        assert metrics.status_code == 200 and 'tasktrial_rejected_total{reason="busy"} 1.0' in metrics.text
    assert api.client.get("/v1/profile", headers=alice).status_code == 200


def test_a_burst_beyond_the_in_flight_limit_waits_its_turn_and_every_request_is_served(queueing_api):
    """A cohort pressing submit in the same second: two in flight, four waiting for a slot, none shed."""
    api = queueing_api
    alice = api.token(Role.CANDIDATE, "alice")
    assert api.client.get("/v1/profile", headers=alice).status_code == 200
    with submissions_held(api, alice, 6, until=lambda limit: (limit.in_flight, limit.waiting) == (2, 4)):
        pass
    assert 'tasktrial_rejected_total{reason="busy"} 0.0' in api.client.get("/metrics").text


def test_long_lived_requests_and_probes_are_never_counted():
    assert all(exempt(path) for path in ("/v1/submissions/s-1/events", "/v1/tasks/p/t/public-tests", "/healthz"))
    assert all(exempt(path) for path in ("/submissions/s-1/events", "/tasks/p/t/public-tests", "/metrics"))
    assert not any(exempt(path) for path in ("/v1/submissions", "/v1/profile", "/v1/events-log", "/healthz/x"))


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
