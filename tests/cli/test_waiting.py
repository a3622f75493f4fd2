"""Following a submission through outages (cli/waiting.py), with a scripted server and a fake clock.

The real server restarted mid-wait is in tests/cli/test_reconnect.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from cli.client import Event, ServerError, ServerUnreachable
from cli.waiting import GaveUp, Patience, follow, retry
from engine.errors import NotFound, ServerBusy

RETRY = (ServerUnreachable, ServerError)


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


class ScriptedApi:
    """Each ``events`` call plays the next script: a list of events, optionally ending in an error."""

    def __init__(self, scripts, states=None):
        self.scripts = list(scripts)
        self.states = list(states or [])
        self.opened = 0
        self.resumed_after = []

    def events(self, submission_id, *, last_event_id=None):
        self.opened += 1
        self.resumed_after.append(last_event_id)
        script = self.scripts.pop(0) if self.scripts else [ServerUnreachable("connection refused")]
        for item in script:
            if isinstance(item, Exception):
                raise item
            yield item

    def submission(self, submission_id):
        item = self.states.pop(0) if self.states else ServerUnreachable("connection refused")
        if isinstance(item, Exception):
            raise item
        return item


def event(kind: str, **data) -> Event:
    return Event(kind, data)


def test_a_dropped_stream_and_a_reconnect_request_are_followed_to_done():
    clock = Clock()
    seen = []
    api = ScriptedApi(
        [
            [event("queued"), event("running"), ServerError("peer closed connection")],
            [event("running"), event("reconnect")],
            [event("grading"), event("done", verdict="ready", score=100)],
        ],
        states=[{"state": "running"}, {"state": "grading"}],
    )
    data = follow(
        api,
        "s1",
        on_event=lambda e: seen.append(e.kind),
        patience=Patience(seconds=60),
        retry_on=RETRY,
        sleep=clock.sleep,
        clock=clock,
        rng=lambda: 1.0,
    )
    assert data == {"verdict": "ready", "score": 100}
    assert seen == ["queued", "running", "grading"]  # each state once, though replayed after the reconnect
    assert api.opened == 3


def test_a_result_stored_while_the_stream_was_down_is_found_by_polling():
    clock = Clock()
    api = ScriptedApi(
        [[ServerUnreachable("refused")], [ServerUnreachable("refused")]],
        states=[ServerUnreachable("refused"), {"state": "done", "result_id": "r1"}],
    )
    data = follow(
        api,
        "s1",
        on_event=lambda e: None,
        patience=Patience(seconds=60),
        retry_on=RETRY,
        sleep=clock.sleep,
        clock=clock,
        rng=lambda: 1.0,
    )
    assert data["result_id"] == "r1"


def test_a_server_that_stays_away_ends_in_a_message_naming_the_submission():
    clock = Clock()
    with pytest.raises(GaveUp) as caught:
        follow(
            ScriptedApi([]),
            "sub-123",
            on_event=lambda e: None,
            patience=Patience(seconds=30),
            retry_on=RETRY,
            sleep=clock.sleep,
            clock=clock,
            rng=lambda: 1.0,
        )
    assert "sub-123" in str(caught.value) and "tasktrial watch sub-123" in str(caught.value)
    assert 20 <= clock.now <= 30  # it kept trying for about its patience, never past it


def test_backoff_grows_to_its_cap_with_full_jitter():
    patience = Patience(seconds=60, first_delay=0.5, max_delay=10)
    assert [patience.delay(n, rng=lambda: 1.0) for n in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]
    assert patience.delay(3, rng=lambda: 0.0) == 0.0


def test_an_answer_is_not_an_outage():
    api = ScriptedApi([[NotFound("unknown submission 'x'")]])
    with pytest.raises(NotFound):
        follow(api, "x", on_event=lambda e: None, patience=Patience(seconds=60), retry_on=RETRY, sleep=lambda s: None)


def test_only_a_refused_connection_is_retried_at_submit_time():
    clock = Clock()
    calls = []

    def refused_twice():
        calls.append(1)
        if len(calls) < 3:
            raise ServerUnreachable("connection refused")
        return {"id": "s1"}

    assert retry(
        refused_twice,
        patience=Patience(seconds=10),
        retry_on=(ServerUnreachable,),
        sleep=clock.sleep,
        clock=clock,
        rng=lambda: 1.0,
    ) == {"id": "s1"}
    assert len(calls) == 3

    def broke_after_sending():
        calls.append(1)
        raise ServerError("peer closed connection")  # the server may have accepted it: never sent twice

    calls.clear()
    with pytest.raises(ServerError):
        retry(
            broke_after_sending,
            patience=Patience(seconds=10),
            retry_on=(ServerUnreachable,),
            sleep=clock.sleep,
            clock=clock,
        )
    assert len(calls) == 1


def test_a_shed_request_is_sent_again_after_the_servers_retry_after_and_each_wait_is_told():
    clock = Clock()
    calls, told = [], []

    def shed_twice():
        calls.append(clock.now)
        if len(calls) < 3:
            raise ServerBusy("busy", retry_after=5)
        return {"id": "s1"}

    accepted = retry(
        shed_twice,
        patience=Patience(seconds=20),
        retry_on=(ServerUnreachable, ServerBusy),
        sleep=clock.sleep,
        clock=clock,
        rng=lambda: 1.0,
        on_retry=lambda exc, delay: told.append((str(exc), delay)),
    )
    assert accepted == {"id": "s1"}
    assert calls == [0.0, 5.5, 11.5]  # Retry-After, plus the backoff's jitter (0.5 s, then 1 s)
    assert told == [("busy", 5.5), ("busy", 6.0)]


def test_a_server_still_busy_past_the_patience_raises_its_answer():
    clock = Clock()

    def always_shed():
        raise ServerBusy("busy", retry_after=5)

    with pytest.raises(ServerBusy):
        retry(always_shed, patience=Patience(seconds=12), retry_on=(ServerBusy,), sleep=clock.sleep, clock=clock)
    assert clock.now <= 12


def test_a_reopened_stream_resumes_after_the_last_event_it_saw():
    clock = Clock()
    api = ScriptedApi(
        [
            [Event("queued", {}, "3"), Event("running", {}, "4"), ServerError("peer closed connection")],
            [Event("done", {"score": 100}, "6")],
        ],
        states=[{"state": "running"}],
    )
    follow(
        api,
        "s1",
        on_event=lambda e: None,
        patience=Patience(seconds=60),
        retry_on=RETRY,
        sleep=clock.sleep,
        clock=clock,
        rng=lambda: 1.0,
    )
    assert api.resumed_after == [None, "4"]
