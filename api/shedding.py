"""Load shedding: one API process handles a bounded number of requests at once.

Beyond ``TASKTRIAL_MAX_REQUESTS_IN_FLIGHT``, a request is answered 503 with Retry-After at once
(``api.errors.busy``) instead of waiting for a worker thread behind all the others: an overloaded
process then keeps answering what it took in quickly, and a client learns at once to come back,
rather than every request slowing down until clients time out. Never shed: event streams (long-lived,
bounded by ``TASKTRIAL_MAX_STREAMS``), public-test runs (waiting seconds for a sandbox, under their own
rate limit), ``/healthz`` and ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import busy


def exempt(path: str) -> bool:
    """Requests never shed: the long-lived ones with their own caps (event streams, public-test runs), and the
    probes that must see an overloaded process."""
    return path.endswith(("/events", "/public-tests")) or path in ("/healthz", "/metrics")


class InFlightLimit:
    """ASGI middleware: at most ``limit`` requests (not ``exempt``) in this process at once; ``on_shed`` counts
    each one refused. One event loop runs it, so the count needs no lock."""

    def __init__(self, app: ASGIApp, *, limit: int, on_shed: Callable[[], None]) -> None:
        self.app, self.limit, self.on_shed = app, limit, on_shed
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.on_shed()
            await busy(f"{self.limit} requests in progress", "TASKTRIAL_MAX_REQUESTS_IN_FLIGHT")(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
