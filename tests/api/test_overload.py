"""An overloaded database pool sheds requests (503 with Retry-After), never a 500 or a queue that times out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

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
