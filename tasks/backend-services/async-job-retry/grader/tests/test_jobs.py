"""Hidden tests for async-job-retry. A fake clock throughout: nothing here really sleeps,
and every interleaving comes from asyncio's FIFO scheduling, so results never vary."""

import asyncio
import gc
import time

import pytest

from jobs import JobFailed, run_all, run_with_retry


@pytest.fixture(autouse=True)
def no_real_sleeping(monkeypatch):
    """A submission that ignores the injected sleep fails fast instead of stalling the run."""
    real_sleep = asyncio.sleep

    async def guarded(delay, result=None):
        if delay > 0:
            raise AssertionError(f"asyncio.sleep({delay}) was called directly: wait with the injected sleep")
        return await real_sleep(0, result)

    def blocked(seconds):
        raise AssertionError(f"time.sleep({seconds}) was called: wait with the injected sleep")

    monkeypatch.setattr(asyncio, "sleep", guarded)
    monkeypatch.setattr(time, "sleep", blocked)
    yield
    gc.collect()


class FakeClock:
    def __init__(self, start=0.0, ticks=0):
        self.now = start
        self.waits = []
        self.ticks = ticks  # scheduler yields per sleep, so other tasks can run meanwhile

    def __call__(self):
        return self.now

    async def sleep(self, seconds):
        self.waits.append(seconds)
        self.now += seconds
        for _ in range(self.ticks):
            await asyncio.sleep(0)


class Rand:
    """Scripted rand(): fails loudly when called more often than there are waits."""

    def __init__(self, *values):
        self.values = list(values)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if not self.values:
            raise AssertionError(f"rand() was called {self.calls} times: call it exactly once per wait")
        return self.values.pop(0)


def never_rand():
    raise AssertionError("rand() was called although no wait followed")


class Script:
    """A job raising or returning the scripted outcomes; may advance a clock per attempt."""

    def __init__(self, *outcomes, clock=None, takes=0.0):
        self.outcomes = list(outcomes)
        self.calls = 0
        self.clock = clock
        self.takes = takes

    def __call__(self):
        self.calls += 1
        return self._attempt()

    async def _attempt(self):
        if self.clock is not None:
            self.clock.now += self.takes
        if not self.outcomes:
            raise AssertionError(f"job called {self.calls} times: more attempts than allowed")
        value = self.outcomes.pop(0)
        if isinstance(value, BaseException):
            raise value
        return value


MAX_TURNS = 10_000


def run(coro):
    """Run ``coro`` for at most MAX_TURNS event-loop turns: a deadlock fails its test, not the whole run."""

    async def bounded():
        task = asyncio.create_task(coro)
        for _ in range(MAX_TURNS):
            if task.done():
                return task.result()
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise AssertionError(f"did not finish within {MAX_TURNS} event-loop turns (a deadlock, or a real wait?)")

    try:
        return asyncio.run(bounded())
    finally:
        # Finalise this run's leftover tasks now: Python 3.11.2 can crash pytest
        # ("AST constructor recursion depth mismatch") when a task finaliser runs
        # while pytest parses source for a failure report.
        gc.collect()


# -- run_with_retry: backoff, jitter, attempts ---------------------------------


def test_first_success_needs_no_wait_and_no_rand():
    clock = FakeClock()
    job = Script("ok")
    assert run(run_with_retry(job, attempts=3, base_delay=1, max_delay=5, jitter=0.5,
                              sleep=clock.sleep, clock=clock, rand=never_rand)) == "ok"
    assert clock.waits == []
    assert job.calls == 1


def test_delays_double_and_are_capped():
    clock = FakeClock()
    job = Script(*[OSError()] * 6, "ok")
    assert run(run_with_retry(job, attempts=7, base_delay=1, max_delay=5, sleep=clock.sleep, clock=clock)) == "ok"
    assert clock.waits == [1, 2, 4, 5, 5, 5]


def test_fractional_base_delay():
    clock = FakeClock()
    job = Script(OSError(), OSError(), OSError(), "ok")
    assert run(run_with_retry(job, attempts=4, base_delay=0.25, max_delay=100, sleep=clock.sleep, clock=clock)) == "ok"
    assert clock.waits == [0.25, 0.5, 1.0]


def test_jitter_scales_each_wait_with_one_rand_call():
    clock = FakeClock()
    rand = Rand(0.0, 0.5, 0.75)
    job = Script(OSError(), OSError(), OSError(), "ok")
    assert run(run_with_retry(job, attempts=4, base_delay=1, max_delay=60, jitter=1.0,
                              sleep=clock.sleep, clock=clock, rand=rand)) == "ok"
    assert clock.waits == [1.0, 1.0, 1.0]
    assert rand.calls == 3


def test_partial_jitter_applies_after_the_cap():
    clock = FakeClock()
    job = Script(OSError(), OSError(), OSError(), "ok")
    run(run_with_retry(job, attempts=4, base_delay=2, max_delay=4, jitter=0.5,
                       sleep=clock.sleep, clock=clock, rand=Rand(0.5, 0.5, 0.5)))
    assert clock.waits == [1.5, 3.0, 3.0]


def test_zero_jitter_gives_the_base_wait():
    clock = FakeClock()
    job = Script(OSError(), OSError(), "ok")
    run(run_with_retry(job, attempts=3, base_delay=1, max_delay=60, jitter=0,
                       sleep=clock.sleep, clock=clock, rand=lambda: 0.9))
    assert clock.waits == [1, 2]


def test_no_rand_call_after_the_last_attempt():
    clock = FakeClock()
    job = Script(OSError(), OSError())
    with pytest.raises(JobFailed):
        run(run_with_retry(job, attempts=2, base_delay=1, max_delay=60, jitter=0.5,
                           sleep=clock.sleep, clock=clock, rand=Rand(0.5)))
    assert clock.waits == [0.75]


def test_gives_up_after_attempts_with_the_last_error_chained():
    clock = FakeClock()
    last = TimeoutError("third")
    job = Script(OSError("first"), OSError("second"), last)
    with pytest.raises(JobFailed) as failed:
        run(run_with_retry(job, attempts=3, base_delay=1, max_delay=10, sleep=clock.sleep, clock=clock))
    assert failed.value.reason == "attempts"
    assert failed.value.attempts == 3
    assert failed.value.last_error is last
    assert failed.value.__cause__ is last
    assert job.calls == 3
    assert clock.waits == [1, 2]


def test_a_single_attempt_never_waits():
    clock = FakeClock()
    job = Script(OSError("only"))
    with pytest.raises(JobFailed) as failed:
        run(run_with_retry(job, attempts=1, base_delay=1, max_delay=1, sleep=clock.sleep, clock=clock,
                           rand=never_rand))
    assert (failed.value.reason, failed.value.attempts) == ("attempts", 1)
    assert clock.waits == []


def test_non_retryable_error_propagates_unchanged():
    clock = FakeClock()
    boom = KeyError("card")
    job = Script(boom, "never")
    with pytest.raises(KeyError) as raised:
        run(run_with_retry(job, attempts=5, base_delay=1, max_delay=1, retry_on=(OSError,),
                           sleep=clock.sleep, clock=clock, rand=never_rand))
    assert raised.value is boom
    assert job.calls == 1
    assert clock.waits == []


def test_retry_on_matches_subclasses():
    clock = FakeClock()
    job = Script(ConnectionResetError(), TimeoutError(), "ok")
    assert run(run_with_retry(job, attempts=3, base_delay=1, max_delay=1, retry_on=(OSError,),
                              sleep=clock.sleep, clock=clock)) == "ok"


def test_non_retryable_error_after_retries_propagates():
    clock = FakeClock()
    job = Script(OSError(), ValueError("bad request"), "never")
    with pytest.raises(ValueError, match="bad request"):
        run(run_with_retry(job, attempts=5, base_delay=1, max_delay=1, retry_on=(OSError,),
                           sleep=clock.sleep, clock=clock))
    assert job.calls == 2


# -- run_with_retry: deadline ---------------------------------------------------


def test_deadline_stops_before_a_wait_that_would_cross_it():
    clock = FakeClock()
    job = Script(OSError(), OSError(), OSError(), "late")
    with pytest.raises(JobFailed) as failed:
        run(run_with_retry(job, attempts=10, base_delay=1, max_delay=100, deadline=3.5,
                           sleep=clock.sleep, clock=clock))
    assert failed.value.reason == "deadline"
    assert failed.value.attempts == 3
    assert clock.waits == [1, 2]


def test_deadline_allows_a_wait_ending_exactly_at_it():
    clock = FakeClock()
    job = Script(OSError(), OSError(), "ok")
    assert run(run_with_retry(job, attempts=3, base_delay=1, max_delay=10, deadline=3,
                              sleep=clock.sleep, clock=clock)) == "ok"
    assert clock.waits == [1, 2]


def test_deadline_counts_time_spent_in_attempts():
    clock = FakeClock()
    job = Script(OSError(), OSError(), "ok", clock=clock, takes=2.0)
    with pytest.raises(JobFailed) as failed:
        run(run_with_retry(job, attempts=5, base_delay=1, max_delay=10, deadline=6,
                           sleep=clock.sleep, clock=clock))
    assert failed.value.reason == "deadline"
    assert failed.value.attempts == 2
    assert clock.waits == [1]


def test_deadline_is_measured_from_the_call():
    clock = FakeClock(start=1000.0)
    job = Script(OSError(), OSError(), "ok")
    assert run(run_with_retry(job, attempts=3, base_delay=1, max_delay=10, deadline=5,
                              sleep=clock.sleep, clock=clock)) == "ok"
    assert clock.waits == [1, 2]


def test_deadline_is_checked_against_the_jittered_wait():
    clock = FakeClock()
    job = Script(OSError(), "ok")
    assert run(run_with_retry(job, attempts=2, base_delay=4, max_delay=10, jitter=0.5, deadline=3,
                              sleep=clock.sleep, clock=clock, rand=Rand(0.5))) == "ok"
    assert clock.waits == [3.0]


def test_deadline_can_stop_before_the_first_wait():
    clock = FakeClock()
    last = OSError("down")
    job = Script(last, "never")
    with pytest.raises(JobFailed) as failed:
        run(run_with_retry(job, attempts=5, base_delay=1, max_delay=1, deadline=0.5,
                           sleep=clock.sleep, clock=clock))
    assert (failed.value.reason, failed.value.attempts) == ("deadline", 1)
    assert failed.value.__cause__ is last
    assert clock.waits == []


def test_spent_attempts_win_over_a_distant_deadline():
    clock = FakeClock()
    job = Script(OSError(), OSError())
    with pytest.raises(JobFailed) as failed:
        run(run_with_retry(job, attempts=2, base_delay=1, max_delay=1, deadline=100,
                           sleep=clock.sleep, clock=clock))
    assert failed.value.reason == "attempts"


@pytest.mark.parametrize("bad", [
    dict(attempts=0),
    dict(base_delay=-1),
    dict(max_delay=-0.5),
    dict(jitter=1.5),
    dict(jitter=-0.1),
    dict(deadline=0),
], ids=["attempts", "base-delay", "max-delay", "jitter-high", "jitter-low", "deadline"])
def test_rejects_bad_arguments_before_any_attempt(bad):
    job = Script("never")
    options = dict(attempts=3, base_delay=1, max_delay=1, sleep=FakeClock().sleep) | bad
    with pytest.raises(ValueError):
        run(run_with_retry(job, **options))
    assert job.calls == 0


# -- run_with_retry: cancellation ---------------------------------------------


def cancel_scenario(job, sleep, retry_on):
    """Start run_with_retry, let it block, cancel it; report how the task ended."""

    async def scenario():
        task = asyncio.create_task(run_with_retry(job, attempts=3, base_delay=1, max_delay=1,
                                                  retry_on=retry_on, sleep=sleep))
        for _ in range(20):
            await asyncio.sleep(0)
        if task.done():
            return f"finished before it was cancelled: {task.exception() or task.result()!r}"
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        except BaseException as exc:
            return f"raised {exc!r}"
        return "returned"

    return run(scenario())


def test_cancelling_during_a_wait_cancels_the_job():
    calls = []

    async def job():
        calls.append(1)
        raise OSError("down") if len(calls) == 1 else KeyError("attempted again after the cancel")

    async def sleep(seconds):
        if len(calls) == 1:
            await asyncio.Event().wait()  # blocks until cancelled

    assert cancel_scenario(job, sleep, (OSError,)) == "cancelled"
    assert len(calls) == 1


@pytest.mark.parametrize("retry_on", [(Exception,), (BaseException,)], ids=["exception", "base-exception"])
def test_cancelling_during_an_attempt_is_never_retried(retry_on):
    calls = []

    async def job():
        calls.append(1)
        if len(calls) == 1:
            await asyncio.Event().wait()  # blocks until cancelled
        raise KeyError("attempted again after the cancel")

    async def sleep(seconds):
        pass

    assert cancel_scenario(job, sleep, retry_on) == "cancelled"
    assert len(calls) == 1


# -- run_all --------------------------------------------------------------------


class Tracker:
    """Jobs that record when they start and finish, and how many run at once."""

    def __init__(self):
        self.events = []
        self.active = 0
        self.peak = 0

    def job(self, name, ticks=3, outcomes=("ok",)):
        outcomes = list(outcomes)
        attempt = 0

        async def run_once():
            nonlocal attempt
            attempt += 1
            self.events.append(f"{name}{attempt}")
            self.active += 1
            self.peak = max(self.peak, self.active)
            try:
                for _ in range(ticks):
                    await asyncio.sleep(0)
            finally:
                self.active -= 1
            value = outcomes.pop(0)
            if isinstance(value, BaseException):
                raise value
            return value

        return run_once


def test_run_all_returns_every_result_in_order():
    clock = FakeClock(ticks=1)
    boom = KeyError("missing")
    jobs = {
        "slow": Script("s"),
        "retried": Script(OSError(), "r"),
        "spent": Script(OSError(), OSError()),
        "fatal": Script(boom),
    }
    results = run(run_all(jobs, concurrency=2, attempts=2, base_delay=1, max_delay=1, retry_on=(OSError,),
                          sleep=clock.sleep, clock=clock))
    assert list(results) == ["slow", "retried", "spent", "fatal"]
    assert results["slow"] == "s"
    assert results["retried"] == "r"
    assert isinstance(results["spent"], JobFailed) and results["spent"].reason == "attempts"
    assert results["fatal"] is boom


def test_run_all_uses_all_its_slots():
    tracker = Tracker()
    jobs = {name: tracker.job(name, ticks=4) for name in "abcdef"}
    results = run(run_all(jobs, concurrency=3, attempts=1, base_delay=0, max_delay=0))
    assert results == {name: "ok" for name in "abcdef"}
    assert tracker.peak == 3, f"expected 3 jobs at once with concurrency=3, saw at most {tracker.peak}"


def test_run_all_never_exceeds_concurrency():
    tracker = Tracker()
    jobs = {name: tracker.job(name, ticks=name_index % 3 + 1) for name_index, name in enumerate("abcdefgh")}
    run(run_all(jobs, concurrency=2, attempts=1, base_delay=0, max_delay=0))
    assert tracker.peak == 2, f"expected at most (and at best) 2 jobs at once, saw {tracker.peak}"


def test_run_all_starts_jobs_in_order():
    tracker = Tracker()
    jobs = {name: tracker.job(name, ticks=ticks) for name, ticks in zip("pqrst", [5, 1, 3, 1, 2])}
    run(run_all(jobs, concurrency=2, attempts=1, base_delay=0, max_delay=0))
    assert tracker.events == ["p1", "q1", "r1", "s1", "t1"]


def test_run_all_counts_waits_as_in_progress():
    tracker = Tracker()
    clock = FakeClock(ticks=5)
    jobs = {"a": tracker.job("a", ticks=1, outcomes=[OSError(), "ok"]), "b": tracker.job("b", ticks=1)}
    results = run(run_all(jobs, concurrency=1, attempts=2, base_delay=1, max_delay=1,
                          sleep=clock.sleep, clock=clock))
    assert results == {"a": "ok", "b": "ok"}
    assert tracker.events == ["a1", "a2", "b1"], "a job waiting to retry still holds its slot"


def test_run_all_one_failure_never_cancels_the_others():
    tracker = Tracker()
    jobs = {
        "slow": tracker.job("slow", ticks=10),
        "broken": tracker.job("broken", ticks=1, outcomes=[RuntimeError("boom")]),
        "later": tracker.job("later", ticks=2),
    }
    results = run(run_all(jobs, concurrency=3, attempts=1, base_delay=0, max_delay=0, retry_on=(OSError,)))
    assert results["slow"] == "ok" and results["later"] == "ok"
    assert isinstance(results["broken"], RuntimeError)


def test_run_all_forwards_options_to_each_job():
    clock = FakeClock(ticks=1)
    jobs = {"x": Script(OSError(), OSError(), OSError()), "y": Script(OSError(), OSError(), OSError())}
    results = run(run_all(jobs, concurrency=1, attempts=3, base_delay=2, max_delay=3, jitter=0.5,
                          sleep=clock.sleep, clock=clock, rand=Rand(0.5, 0.5, 0.5, 0.5)))
    assert all(isinstance(r, JobFailed) and r.attempts == 3 for r in results.values())
    assert clock.waits == [1.5, 2.25, 1.5, 2.25]


def test_run_all_with_no_jobs():
    assert run(run_all({}, concurrency=4, attempts=1, base_delay=0, max_delay=0)) == {}


@pytest.mark.parametrize("concurrency", [0, -1])
def test_run_all_rejects_bad_concurrency(concurrency):
    job = Script("never")
    with pytest.raises(ValueError):
        run(run_all({"a": job}, concurrency=concurrency, attempts=1, base_delay=0, max_delay=0))
    assert job.calls == 0
