"""Cohort webhooks against a real HTTP receiver on 127.0.0.1: Standard Webhooks signatures, retries with
backoff while it is down, the delivery log, redelivery, and each event type."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from api.tables import Role, utcnow
from engine import webhooks as standard
from tests.api.cohort_helpers import attempt, setup
from tests.api.helpers import work
from tests.services import free_port


class Receiver:
    """A real HTTP server that records what it got and answers with the statuses it is told (then 200)."""

    def __init__(self, port: int):
        self.port = port
        self.received: list[Any] = []
        self.statuses: list[Any] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(free_port())
    yield server
    server.close()


def _register(api, organiser, cohort_id: str, url: str, events=("result.created",)) -> dict:
    made = api.client.post(
        f"/v1/cohorts/{cohort_id}/webhooks", headers=organiser, json={"url": url, "events": list(events)}
    )
    assert made.status_code == 201, made.text
    return made.json()


def _log(api, organiser, endpoint_id: str) -> list[dict]:
    return api.client.get(f"/v1/webhooks/{endpoint_id}/deliveries", headers=organiser).json()["data"]


def test_a_result_is_delivered_signed_per_standard_webhooks(api, receiver):
    made, test, organiser, alice = setup(api)
    endpoint = _register(api, organiser, made["id"], receiver.url)
    assert endpoint["secret"].startswith("whsec_")
    accepted = attempt(api, alice, test["id"]).json()
    work(api, accepted["run_id"])
    assert api.service.webhooks.deliver_due() == 1
    headers, body = receiver.received[0]
    assert standard.verify(endpoint["secret"], headers, body, now=int(time.time()))
    assert not standard.verify(endpoint["secret"], headers, body.replace(b"ready", b"READY"), now=int(time.time()))
    assert not standard.verify(endpoint["secret"], headers, body, now=int(time.time()) + 3600)  # a replay, later
    event = json.loads(body)
    assert event["type"] == "result.created" and event["data"]["submission_id"] == accepted["id"]
    log = _log(api, organiser, endpoint["id"])
    assert log[0]["state"] == "delivered" and [t["status_code"] for t in log[0]["tries"]] == [200]
    assert headers["webhook-id"] == log[0]["message_id"]
    listed = api.client.get(f"/v1/cohorts/{made['id']}/webhooks", headers=organiser).json()["data"][0]
    assert listed["secret"] is None  # shown once, at registration


def test_a_receiver_that_is_down_loses_nothing(api):
    made, test, organiser, alice = setup(api)
    port = free_port()
    endpoint = _register(api, organiser, made["id"], f"http://127.0.0.1:{port}/hook")
    work(api, attempt(api, alice, test["id"]).json()["run_id"])
    now = utcnow()
    assert api.service.webhooks.deliver_due(now) == 1  # nobody listens: connection refused
    log = _log(api, organiser, endpoint["id"])
    assert log[0]["state"] == "pending" and "ConnectError" in log[0]["tries"][0]["error"]
    assert api.service.webhooks.deliver_due(now) == 0  # not due again before its backoff
    up = Receiver(port)
    try:
        up.statuses = [503]  # still failing once it is back
        later = now + timedelta(minutes=5)
        assert api.service.webhooks.deliver_due(later) == 1
        assert api.service.webhooks.deliver_due(later + timedelta(hours=1)) == 1
        log = _log(api, organiser, endpoint["id"])
        assert log[0]["state"] == "delivered"
        assert [t["status_code"] for t in log[0]["tries"]] == [None, 503, 200]
        assert len({h["webhook-id"] for h, _ in up.received}) == 1  # one message, tried twice
    finally:
        up.close()


def test_redelivery_on_request_sends_the_same_message_again(api, receiver):
    made, test, organiser, alice = setup(api)
    endpoint = _register(api, organiser, made["id"], receiver.url)
    work(api, attempt(api, alice, test["id"]).json()["run_id"])
    api.service.webhooks.deliver_due()
    delivery = _log(api, organiser, endpoint["id"])[0]
    again = api.client.post(f"/v1/webhooks/deliveries/{delivery['id']}/redeliver", headers=organiser)
    assert again.status_code == 202 and again.json()["state"] == "pending"
    api.service.webhooks.deliver_due()
    assert [h["webhook-id"] for h, _ in receiver.received] == [delivery["message_id"]] * 2
    other = api.token(Role.AUTHOR, "oscar")
    assert api.client.post(f"/v1/webhooks/deliveries/{delivery['id']}/redeliver", headers=other).status_code == 404
    assert api.client.get(f"/v1/webhooks/{endpoint['id']}/deliveries", headers=other).status_code == 404


def test_retries_back_off_with_jitter_and_stop_after_a_day():
    created = utcnow()
    rng = random.Random(7)
    delays = [(standard.next_attempt(created, n, created, rng=rng) - created).total_seconds() for n in (1, 2, 3, 8)]
    assert 2.5 <= delays[0] <= 5 and 5 <= delays[1] <= 10 and 10 <= delays[2] <= 20 and delays[3] <= 640
    assert standard.next_attempt(created, 30, created + timedelta(hours=23, minutes=59)) is None
    assert standard.next_attempt(created, 1, created + timedelta(hours=1)) is not None


def test_regrade_changed_and_review_completed_are_sent(api, receiver):
    made, test, organiser, alice = setup(api)
    _register(api, organiser, made["id"], receiver.url, events=("regrade.changed",))
    work(api, attempt(api, alice, test["id"]).json()["run_id"], passed=True)
    api.client.post(f"/v1/assessments/{test['id']}/regrade", headers=organiser, json={})
    work(api, api.queue.run_ids[-1], passed=False)
    api.service.webhooks.deliver_due()
    events = [json.loads(body) for _, body in receiver.received]
    assert [e["type"] for e in events] == ["regrade.changed"]
    assert (events[0]["data"]["previous"]["verdict"], events[0]["data"]["verdict"]) == ("ready", "not_ready")


def test_bad_registrations_are_422(api):
    made, test, organiser, alice = setup(api)
    for body in (
        {"url": "ftp://x", "events": ["result.created"]},
        {"url": "http://x", "events": ["nope"]},
        {"url": "http://x", "events": []},
    ):
        assert api.client.post(f"/v1/cohorts/{made['id']}/webhooks", headers=organiser, json=body).status_code == 422


def test_an_idle_dispatch_tick_makes_no_http_client(api):
    """The dispatcher ticks every two seconds in every API process: with nothing due it costs one query."""
    made: list[int] = []
    real = api.service.webhooks._http

    def counting():
        made.append(1)
        return real()

    api.service.webhooks._http = counting
    assert api.service.webhooks.deliver_due() == 0
    assert made == []
