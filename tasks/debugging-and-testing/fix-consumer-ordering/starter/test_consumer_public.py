"""Public tests. Run with `python3 -m pytest` in this folder.

No real time anywhere: a handler "takes time" by yielding to the event loop a number of
times, so every interleaving is the same on every run.
"""

import asyncio

from consumer import Message, consume


def queue_of(*messages):
    queue = asyncio.Queue()
    for message in (*messages, None):
        queue.put_nowait(message)
    return queue


async def ticks(count):
    for _ in range(count):
        await asyncio.sleep(0)


def test_statement_example():
    balances = {"acct-1": 0, "acct-2": 0}
    history = []

    async def apply(message):
        await ticks(message.body["ticks"])  # e.g. a slow call to the ledger service
        if balances[message.key] + message.body["amount"] < 0:
            raise ValueError(f"{message.key} would go negative")
        balances[message.key] += message.body["amount"]
        history.append((message.key, message.seq))

    async def main():
        queue = queue_of(
            Message("acct-1", 1, {"amount": 100, "ticks": 5}),
            Message("acct-1", 2, {"amount": -30, "ticks": 1}),
            Message("acct-2", 1, {"amount": 50, "ticks": 1}),
        )
        return await consume(queue, apply, concurrency=2)

    stats = asyncio.run(main())
    assert stats.failed == []
    assert stats.handled == 3
    assert balances == {"acct-1": 70, "acct-2": 50}
    assert history == [("acct-2", 1), ("acct-1", 1), ("acct-1", 2)]


def test_different_keys_run_side_by_side():
    running, peak = 0, 0

    async def handler(message):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await ticks(3)
        running -= 1

    async def main():
        queue = queue_of(*(Message(f"acct-{n}", 1, {}) for n in range(6)))
        return await consume(queue, handler, concurrency=3)

    asyncio.run(main())
    assert peak == 3, "independent accounts must still be handled concurrently"
