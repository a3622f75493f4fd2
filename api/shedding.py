"""Load shedding: one API process handles a bounded number of requests at once.

Beyond ``TASKTRIAL_MAX_REQUESTS_IN_FLIGHT``, a request waits for a slot at most
``TASKTRIAL_REQUEST_QUEUE_SECONDS`` and is then answered 503 with Retry-After (``api.errors.busy``):
a burst (a cohort pressing submit at the same minute) is served in turn, while a sustained
overload is shed in bounded time instead of every request slowing down until clients time out.
Long-lived requests are never counted: event streams (bounded by ``TASKTRIAL_MAX_STREAMS``), public
tests (waiting for a sandbox, bounded by their own rate limit), and ``/healthz`` and ``/metrics``,
which must see an overloaded process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import busy

#: Paths ending so are long-lived (see the module's docstring); with the probes, never counted.
LONG_LIVED = ("/events", "/public-tests")
PROBES = ("/healthz", "/metrics")


def exempt(path: str) -> bool:
    """Requests never counted nor shed: the long-lived ones and the probes."""
    return path.endswith(LONG_LIVED) or path in PROBES


class InFlightLimit:
    """ASGI middleware: at most ``limit`` requests (not ``exempt``) in this process at once; one more waits
    up to ``wait_seconds`` for a slot, then ``on_shed`` counts it and it gets 503. One event loop runs it,
    so the counters need no lock (no ``await`` between a check and its count)."""

    def __init__(self, app: ASGIApp, *, limit: int, wait_seconds: float, on_shed: Callable[[], None]) -> None:
        self.app, self.limit, self.wait_seconds, self.on_shed = app, limit, wait_seconds, on_shed
        self.in_flight = 0
        self.waiting = 0
        self._freed: tuple[asyncio.AbstractEventLoop, asyncio.Condition] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        if not await self._enter():
            self.on_shed()
            await busy(f"{self.limit} requests in progress", "TASKTRIAL_MAX_REQUESTS_IN_FLIGHT")(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            freed = self._condition()
            async with freed:
                freed.notify()

    async def _enter(self) -> bool:
        """Take a slot, waiting at most ``wait_seconds`` for one; whether it was taken."""
        if self.in_flight < self.limit:
            self.in_flight += 1
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        freed = self._condition()
        self.waiting += 1
        try:
            async with freed:
                while self.in_flight >= self.limit:
                    await asyncio.wait_for(freed.wait(), max(0.0, deadline - loop.time()))
                self.in_flight += 1
                return True
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1

    def _condition(self) -> asyncio.Condition:
        """The condition of this event loop (a test's client may serve the app from another loop later)."""
        loop = asyncio.get_running_loop()
        if self._freed is None or self._freed[0] is not loop:
            self._freed = (loop, asyncio.Condition())
        return self._freed[1]
