"""Event streams without held resources: wake-ups by run id, caps on open streams, and shutdown.

An open ``GET /v1/submissions/{id}/events`` holds no database connection and no
thread while it waits: it sleeps on an ``asyncio.Event`` that is set when its
run changes. Changes made in this process wake it at once (``notify``, callable
from any thread); changes made through another API replica are found by one
poll per process (``poll_changes``: new ``run_event`` rows since the last look),
whatever the number of streams. Each wake-up then costs the stream one short
session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable

from api.errors import TooManyRequests

log = logging.getLogger("tasktrial.streams")


class TooManyStreams(TooManyRequests):
    """A caller (or the whole server) already has as many open event streams as allowed."""


class StreamHub:
    """Who waits for which run, how many streams are open, and whether the server is closing.

    Lives on the event loop of the app (``start``); ``notify`` and ``close`` may be called
    from any thread.
    """

    def __init__(self, *, max_streams: int, max_streams_per_token: int, retry_after: float = 5.0):
        self.max_streams = max_streams
        self.max_streams_per_token = max_streams_per_token
        self.retry_after = retry_after
        self.closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._open: Counter[str] = Counter()

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Bind to the running loop (the app's lifespan calls this)."""
        self._loop = asyncio.get_running_loop()
        self.closing = False

    def close(self) -> None:
        """Ask every open stream to tell its client to reconnect, and end. Safe from any thread, and twice."""
        self.closing = True
        self._call(self._wake_all)

    # -- caps --------------------------------------------------------------

    @property
    def open_streams(self) -> int:
        return sum(self._open.values())

    def acquire(self, token_id: str) -> Callable[[], None]:
        """Count one more stream for ``token_id``; the function that releases it (call it once).

        Raises:
            TooManyStreams: the token or the server is at its cap (the API answers 429).
        """
        if self._open[token_id] >= self.max_streams_per_token:
            raise TooManyStreams(
                f"this token already has {self._open[token_id]} open event streams "
                f"(the limit, TASKTRIAL_MAX_STREAMS_PER_TOKEN, is {self.max_streams_per_token}); "
                "close one first",
                retry_after=self.retry_after,
            )
        if self.open_streams >= self.max_streams:
            raise TooManyStreams(
                f"the server has {self.open_streams} open event streams, its limit "
                f"(TASKTRIAL_MAX_STREAMS); try again shortly",
                retry_after=self.retry_after,
            )
        self._open[token_id] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._open[token_id] -= 1
                if self._open[token_id] <= 0:
                    del self._open[token_id]

        return release

    # -- waiting and waking ------------------------------------------------

    @property
    def watched(self) -> set[str]:
        return set(self._waiters)

    def subscribe(self, run_id: str) -> asyncio.Event:
        """An event set whenever run ``run_id`` may have changed (and at shutdown); ``unsubscribe`` it after.

        Clear it *before* each look at the database: a change during the look then sets it
        again, so no wake-up is lost between a look and the next wait.
        """
        event = asyncio.Event()
        if self.closing:
            event.set()
        self._waiters.setdefault(run_id, set()).add(event)
        return event

    def unsubscribe(self, run_id: str, event: asyncio.Event) -> None:
        waiters = self._waiters.get(run_id)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiters[run_id]

    def notify(self, run_id: str) -> None:
        """Run ``run_id`` changed: wake its streams. Safe from any thread."""
        self._call(self._wake, [run_id])

    def wake(self, run_ids: Iterable[str]) -> None:
        """Wake the streams of ``run_ids`` (on the loop's thread)."""
        self._wake(list(run_ids))

    def _wake(self, run_ids: list[str]) -> None:
        for run_id in run_ids:
            for event in self._waiters.get(run_id, ()):
                event.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    def _call(self, function: Callable, *args) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # no stream can be waiting: the app is not serving
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            function(*args)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(function, *args)


async def poll_changes(
    hub: StreamHub, new_events: Callable[[int], tuple[int, set[str]]], *, interval: float, stop: asyncio.Event
) -> None:
    """Wake streams for changes made by other processes: one query per ``interval`` for all of them.

    ``new_events(after_id)`` runs on a worker thread and returns the highest event id seen and
    the runs with events after ``after_id``. Only polls while someone watches.
    """
    from anyio import to_thread

    last = -1  # unknown yet: the first look, at once, only learns the highest event id
    while not stop.is_set():
        if last >= 0:
            try:
                await asyncio.wait_for(stop.wait(), interval)
                return
            except TimeoutError:
                pass
            if not hub.watched:
                continue
        try:
            highest, runs = await to_thread.run_sync(new_events, last)
        except Exception:  # a passing database fault must not end the poller; streams re-check on their own
            log.exception("polling for run events failed")
            continue
        if last >= 0:
            hub.wake(runs)
        last = highest
