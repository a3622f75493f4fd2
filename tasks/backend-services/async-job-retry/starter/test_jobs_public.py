"""Public examples. Run with `python3 -m pytest` in this folder."""

import asyncio

import pytest

from jobs import JobFailed, run_all, run_with_retry


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self):
        self.now = 0.0
        self.waits = []

    def __call__(self):
        return self.now

    async def sleep(self, seconds):
        self.waits.append(seconds)
        self.now += seconds


def scripted(*outcomes):
    """A job that raises or returns the given outcomes, one per attempt."""
    queue = list(outcomes)

    async def job():
        value = queue.pop(0)
        if isinstance(value, BaseException):
            raise value
        return value

    return job


def test_statement_example():
    clock = FakeClock()
    job = scripted(TimeoutError(), TimeoutError(), "paid")
    result = asyncio.run(run_with_retry(job, attempts=5, base_delay=0.5, max_delay=10, jitter=0.5,
                                        sleep=clock.sleep, clock=clock, rand=iter([0.25, 0.5]).__next__))
    assert result == "paid"
    assert clock.waits == [0.4375, 0.75]


def test_gives_up_when_attempts_are_spent():
    clock = FakeClock()
    job = scripted(OSError("a"), OSError("b"), OSError("c"))
    with pytest.raises(JobFailed) as failed:
        asyncio.run(run_with_retry(job, attempts=3, base_delay=1, max_delay=60, sleep=clock.sleep, clock=clock))
    assert failed.value.reason == "attempts"
    assert failed.value.attempts == 3
    assert clock.waits == [1, 2]


def test_run_all_collects_values_and_failures():
    clock = FakeClock()
    jobs = {"ok": scripted("done"), "broken": scripted(KeyError("no such card"))}
    results = asyncio.run(run_all(jobs, concurrency=2, attempts=3, base_delay=1, max_delay=1,
                                  retry_on=(OSError,), sleep=clock.sleep, clock=clock))
    assert list(results) == ["ok", "broken"]
    assert results["ok"] == "done"
    assert isinstance(results["broken"], KeyError)
