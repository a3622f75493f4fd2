"""An asyncio consumer for account events read from a queue. Reference solution.

Root cause of the drifting balances: every message became its own task, so two events of
one account ran concurrently and a fast withdrawal could finish before the slower deposit
read earlier. Each key now has a FIFO lock, taken *before* a concurrency slot, so messages
of one key run one at a time in read order and a message waiting for its key never sits
on a slot another key could use. Second defect: ``consume`` returned at the end marker
while handlers were still running (work lost at shutdown, stats short); it now waits.
"""

import asyncio
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Message:
    key: str    # the account the event belongs to
    seq: int    # the producer's sequence number for this account
    body: dict


@dataclass
class Stats:
    handled: int = 0                            # handler calls that returned
    failed: list = field(default_factory=list)  # messages whose handler raised


async def consume(queue, handler, *, concurrency=4):
    """Read messages until the end marker and run ``await handler(message)`` for each.

    - Messages with the same key are handled one at a time, in the order they were read.
    - Messages with different keys may be handled at the same time, with at most
      ``concurrency`` handler calls running at once; a message whose key is busy never
      holds up a message of another key while a slot is free.
    - A handler exception (an ``Exception``) is recorded in ``stats.failed`` and the
      consumer carries on, with the next message of that key too.
    - Returns only after every handler call has finished.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    stats = Stats()
    slots = asyncio.Semaphore(concurrency)
    key_locks = {}
    running = set()

    async def process(message, key_lock):
        async with key_lock:  # asyncio.Lock wakes waiters first in, first out
            async with slots:
                try:
                    await handler(message)
                    stats.handled += 1
                except Exception:
                    stats.failed.append(message)

    while True:
        message = await queue.get()
        if message is None:
            break
        key_lock = key_locks.setdefault(message.key, asyncio.Lock())
        task = asyncio.create_task(process(message, key_lock))
        running.add(task)
        task.add_done_callback(running.discard)
    if running:
        await asyncio.gather(*running)
    return stats
