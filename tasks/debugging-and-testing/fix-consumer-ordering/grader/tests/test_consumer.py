"""Hidden tests for fix-consumer-ordering.

Deterministic by construction: one thread, no real time. A handler "takes" N ticks by
yielding to the event loop N times, and asyncio runs ready callbacks first in, first out,
so a given submission interleaves the same way on every run. Every scenario is driven for
a bounded number of loop turns, so a deadlocked submission fails instead of hanging.
"""

import asyncio
import gc
import random

import pytest

from consumer import Message, Stats, consume

MAX_TURNS = 20_000


class Recorder:
    """A handler that logs starts and ends and tracks how many calls run at once."""

    def __init__(self, ticks=None, fail=(), default_ticks=1):
        self.ticks = dict(ticks or {})
        self.fail = set(fail)
        self.default_ticks = default_ticks
        self.log = []
        self.active = 0
        self.peak = 0

    async def __call__(self, message):
        ident = (message.key, message.seq)
        self.log.append(("start", *ident))
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            for _ in range(self.ticks.get(ident, self.default_ticks)):
                await asyncio.sleep(0)
            if ident in self.fail:
                raise RuntimeError(f"ledger rejected {ident}")
        finally:
            self.active -= 1
            self.log.append(("end", *ident))

    def ended(self):
        return [(key, seq) for event, key, seq in self.log if event == "end"]

    def events_of(self, key):
        return [(event, seq) for event, k, seq in self.log if k == key]


def messages(*idents):
    return [Message(key, seq, {"n": index}) for index, (key, seq) in enumerate(idents)]


def drive(make_coroutine):
    """Run a scenario for at most MAX_TURNS event-loop turns."""

    async def main():
        task = asyncio.create_task(make_coroutine())
        for _ in range(MAX_TURNS):
            if task.done():
                return task.result()
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise AssertionError(f"consume did not return within {MAX_TURNS} event-loop turns "
                             "(a deadlock, or reading past the end marker?)")

    try:
        return asyncio.run(main())
    finally:
        gc.collect()  # finalise leftover tasks now, not while pytest formats a failure


def run_consumer(msgs, handler, *, concurrency, end=True, extra_after_end=()):
    queue = None

    async def scenario():
        nonlocal queue
        queue = asyncio.Queue()
        for message in msgs:
            queue.put_nowait(message)
        if end:
            queue.put_nowait(None)
        for message in extra_after_end:
            queue.put_nowait(message)
        return await consume(queue, handler, concurrency=concurrency)

    stats = drive(scenario)
    return stats, queue


def assert_key_order(recorder, msgs):
    """Per key: start, end, start, end... in the order the messages were read."""
    for key in dict.fromkeys(m.key for m in msgs):
        read_order = [m.seq for m in msgs if m.key == key]
        expected = [(event, seq) for seq in read_order for event in ("start", "end")]
        assert recorder.events_of(key) == expected, (
            f"key {key!r}: handler calls must not overlap and must follow the read order {read_order}; "
            f"got {recorder.events_of(key)}")


# -- ordering within a key -----------------------------------------------------


def test_same_key_runs_in_read_order_even_when_the_first_is_slow():
    msgs = messages(("a", 1), ("a", 2), ("a", 3))
    recorder = Recorder(ticks={("a", 1): 9, ("a", 2): 4, ("a", 3): 1})
    stats, _ = run_consumer(msgs, recorder, concurrency=4)
    assert_key_order(recorder, msgs)
    assert stats.handled == 3


def test_interleaved_keys_keep_their_own_order():
    msgs = messages(("a", 1), ("b", 1), ("a", 2), ("c", 1), ("b", 2), ("a", 3), ("c", 2), ("b", 3))
    ticks = {("a", 1): 6, ("b", 1): 5, ("a", 2): 1, ("c", 1): 2, ("b", 2): 1, ("a", 3): 3, ("c", 2): 1, ("b", 3): 2}
    recorder = Recorder(ticks=ticks)
    stats, _ = run_consumer(msgs, recorder, concurrency=3)
    assert_key_order(recorder, msgs)
    assert stats.handled == len(msgs)


def test_seeded_workload_keeps_every_key_in_order():
    rng = random.Random(20260301)
    counters = {}
    idents = []
    for _ in range(240):
        key = f"acct-{rng.randrange(12)}"
        counters[key] = counters.get(key, 0) + 1
        idents.append((key, counters[key]))
    msgs = messages(*idents)
    recorder = Recorder(ticks={ident: rng.randrange(1, 8) for ident in idents})
    stats, _ = run_consumer(msgs, recorder, concurrency=5)
    assert_key_order(recorder, msgs)
    assert stats.handled == len(msgs)
    assert recorder.peak <= 5


def test_concurrency_one_never_overlaps():
    msgs = messages(("a", 1), ("b", 1), ("a", 2), ("c", 1), ("a", 3))
    recorder = Recorder(ticks={("a", 1): 5, ("b", 1): 1, ("a", 2): 1, ("c", 1): 1})
    stats, _ = run_consumer(msgs, recorder, concurrency=1)
    assert recorder.peak == 1
    assert_key_order(recorder, msgs)
    assert stats.handled == 5


# -- concurrency across keys ----------------------------------------------------


def test_distinct_keys_use_every_slot():
    msgs = messages(*[(f"k{n}", 1) for n in range(8)])
    recorder = Recorder(default_ticks=4)
    run_consumer(msgs, recorder, concurrency=3)
    assert recorder.peak == 3, f"with 8 independent keys and concurrency=3, saw at most {recorder.peak} at once"


def test_never_more_than_concurrency_at_once():
    msgs = messages(*[(f"k{n % 6}", n // 6 + 1) for n in range(36)])
    recorder = Recorder(default_ticks=3)
    run_consumer(msgs, recorder, concurrency=2)
    assert recorder.peak == 2, f"expected 2 handler calls at once at most (and at best), saw {recorder.peak}"


def test_a_busy_key_does_not_hold_up_other_keys():
    msgs = messages(("slow", 1), ("slow", 2), ("slow", 3), ("fast", 1), ("fast", 2), ("fast", 3))
    recorder = Recorder(ticks={("slow", 1): 60})
    run_consumer(msgs, recorder, concurrency=2)
    ended = recorder.ended()
    assert ended.index(("fast", 3)) < ended.index(("slow", 1)), (
        f"the fast key waited behind the slow one: end order {ended}")
    assert_key_order(recorder, msgs)


# -- failures and completion ------------------------------------------------------


def test_a_failure_is_recorded_and_the_key_carries_on():
    msgs = messages(("a", 1), ("a", 2), ("a", 3), ("b", 1))
    recorder = Recorder(fail={("a", 2)}, ticks={("a", 1): 3})
    stats, _ = run_consumer(msgs, recorder, concurrency=2)
    assert stats.handled == 3
    assert [(m.key, m.seq) for m in stats.failed] == [("a", 2)]
    assert stats.failed[0] is msgs[1], "stats.failed holds the Message objects that failed"
    assert_key_order(recorder, msgs)


def test_many_failures_are_all_recorded():
    msgs = messages(*[(f"k{n % 3}", n // 3 + 1) for n in range(12)])
    failing = {(m.key, m.seq) for m in msgs[::2]}
    recorder = Recorder(fail=failing)
    stats, _ = run_consumer(msgs, recorder, concurrency=3)
    assert sorted((m.key, m.seq) for m in stats.failed) == sorted(failing)
    assert stats.handled == len(msgs) - len(failing)


def test_returns_only_after_every_handler_finished():
    msgs = messages(("a", 1), ("b", 1), ("c", 1), ("a", 2))
    recorder = Recorder(ticks={("a", 1): 10, ("b", 1): 20, ("c", 1): 5})
    stats, _ = run_consumer(msgs, recorder, concurrency=4)
    assert recorder.active == 0, "consume returned while handlers were still running"
    assert len(recorder.ended()) == 4
    assert stats.handled == 4


def test_only_the_end_marker():
    recorder = Recorder()
    stats, _ = run_consumer([], recorder, concurrency=2)
    assert isinstance(stats, Stats)
    assert (stats.handled, stats.failed) == (0, [])


def test_stops_reading_at_the_end_marker():
    later = Message("z", 1, {})
    recorder = Recorder()
    stats, queue = run_consumer(messages(("a", 1)), recorder, concurrency=2, extra_after_end=[later])
    assert stats.handled == 1
    assert queue.qsize() == 1 and queue.get_nowait() is later, "messages after the end marker belong to the next run"


def test_messages_arriving_while_consuming():
    msgs = messages(("a", 1), ("b", 1), ("a", 2), ("b", 2), ("a", 3))
    recorder = Recorder(ticks={("a", 1): 4, ("b", 1): 1, ("a", 2): 1, ("b", 2): 3, ("a", 3): 1})

    async def scenario():
        queue = asyncio.Queue()
        consumer = asyncio.create_task(consume(queue, recorder, concurrency=2))
        for message in msgs:
            await queue.put(message)
            for _ in range(2):
                await asyncio.sleep(0)
        await queue.put(None)
        return await consumer

    stats = drive(scenario)
    assert stats.handled == len(msgs)
    assert_key_order(recorder, msgs)


@pytest.mark.parametrize("concurrency", [0, -3])
def test_rejects_bad_concurrency(concurrency):
    with pytest.raises(ValueError):
        run_consumer(messages(("a", 1)), Recorder(), concurrency=concurrency)
