"""Cohort webhooks: events stored as deliveries in the database, sent by a dispatcher, retried for a day.

The database is the source of truth: an event is a row before anything is sent, so a receiver
that is down loses nothing (the dispatcher retries with backoff and jitter, and staff can ask for
a redelivery). A delivery is claimed by compare-and-set before sending, so two API processes
never send the same try twice.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update
from sqlmodel import Session, col, select

from api.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, utcnow
from engine import webhooks as standard
from engine.errors import NotFound

log = logging.getLogger("tasktrial.webhooks")
EVENTS = ("result.created", "review.completed", "regrade.changed")
CLAIM_SECONDS = 60
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver; also what turns ``2130706433`` into 127.0.0.1)."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


class Webhooks:
    """Endpoints, events and their deliveries.

    Webhooks go to public addresses only (no server-side request forgery into the loopback, the private
    network or a cloud metadata service): every address of a URL's host is checked at registration and
    again at each delivery, which then connects to the very address it checked (a DNS answer that changed
    in between, "DNS rebinding", cannot redirect it). ``allow_private`` lifts this, for tests and development.
    """

    def __init__(
        self,
        *,
        session: Callable[[], Session],
        interval: float = 2.0,
        http: Callable[[], httpx.Client] | None = None,
        allow_private: bool = False,
        resolver: Callable[[str, int], list[str]] = resolve,
    ):
        self._session = session
        self._interval = interval
        self._http = http or (lambda: httpx.Client(timeout=TIMEOUT, follow_redirects=False))
        self.allow_private = allow_private
        self._resolve = resolver

    def checked_address(self, url: str) -> tuple[httpx.URL, str]:
        """The parsed URL and the address a request to it must connect to.

        Raises:
            WebhookAddressRefused: not http(s), no host, the host does not resolve, or (unless
                ``allow_private``) one of its addresses is not public.
        """
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise standard.WebhookAddressRefused(f"the webhook URL {url!r} is not a URL: {exc}") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise standard.WebhookAddressRefused(f"the webhook URL {url!r} must be http:// or https:// with a host")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            addresses = self._resolve(parsed.host, port)
        except (OSError, UnicodeError) as exc:
            raise standard.WebhookAddressRefused(
                f"the webhook URL's host {parsed.host!r} does not resolve: {exc}"
            ) from exc
        if not addresses:
            raise standard.WebhookAddressRefused(f"the webhook URL's host {parsed.host!r} has no address")
        if not self.allow_private:
            for address in addresses:
                problem = standard.address_problem(address)
                if problem is not None:
                    raise standard.WebhookAddressRefused(
                        f"the webhook URL {url!r} resolves to {address}, a {problem} address: webhooks go to "
                        "public addresses only (TASKTRIAL_WEBHOOK_ALLOW_PRIVATE=true allows others, for tests "
                        "and development)"
                    )
        return parsed, addresses[0]

    # -- endpoints --

    def register(self, *, cohort_id: str, url: str, events: list[str], created_by: str) -> WebhookEndpoint:
        """Store an endpoint for a checked URL.

        Raises:
            WebhookAddressRefused: see ``checked_address``.
        """
        self.checked_address(url)
        endpoint = WebhookEndpoint(
            cohort_id=cohort_id, url=url, events=events, created_by=created_by, secret=standard.new_secret()
        )
        with self._session() as session:
            session.add(endpoint)
            session.commit()
            session.refresh(endpoint)
        return endpoint

    def endpoints(self, *, cohort_id: str) -> list[WebhookEndpoint]:
        with self._session() as session:
            return list(
                session.exec(
                    select(WebhookEndpoint)
                    .where(WebhookEndpoint.cohort_id == cohort_id)
                    .order_by(col(WebhookEndpoint.created_at))
                ).all()
            )

    def endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        with self._session() as session:
            return session.get(WebhookEndpoint, endpoint_id)

    # -- events --

    def emit(self, *, cohort_id: str, event_type: str, data: dict[str, Any]) -> int:
        """Store one delivery per endpoint of the cohort subscribed to ``event_type``; returns how many."""
        with self._session() as session:
            targets = [
                e
                for e in session.exec(select(WebhookEndpoint).where(WebhookEndpoint.cohort_id == cohort_id)).all()
                if event_type in e.events
            ]
            for endpoint in targets:
                payload = {"type": event_type, "timestamp": utcnow().isoformat(), "data": data}
                session.add(WebhookDelivery(endpoint_id=endpoint.id, event_type=event_type, payload=payload))
            session.commit()
        return len(targets)

    def deliveries(self, *, endpoint_id: str, limit: int = 100) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
        """The delivery log of one endpoint, newest first, each with its tries."""
        with self._session() as session:
            rows = session.exec(
                select(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == endpoint_id)
                .order_by(col(WebhookDelivery.created_at).desc())
                .limit(limit)
            ).all()
            tries: dict[str, list[WebhookAttempt]] = {}
            if rows:
                for attempt in session.exec(
                    select(WebhookAttempt)
                    .where(col(WebhookAttempt.delivery_id).in_([r.id for r in rows]))
                    .order_by(col(WebhookAttempt.id))
                ):
                    tries.setdefault(attempt.delivery_id, []).append(attempt)
            return [(r, tries.get(r.id, [])) for r in rows]

    def delivery(self, delivery_id: str) -> WebhookDelivery | None:
        with self._session() as session:
            return session.get(WebhookDelivery, delivery_id)

    def redeliver(self, delivery_id: str) -> WebhookDelivery:
        """Send a delivery again now (same ``webhook-id``), whatever its state; retries start over."""
        with self._session() as session:
            row = session.get(WebhookDelivery, delivery_id)
            if row is None:
                raise NotFound(f"unknown delivery {delivery_id!r}")
            row.state, row.next_attempt_at, row.created_at = "pending", utcnow(), utcnow()
            session.add(row)
            session.commit()
            session.refresh(row)
            return row

    # -- sending --

    def deliver_due(self, now: datetime | None = None, limit: int = 50) -> int:
        """Try every delivery that is due; returns how many were tried."""
        now = now or utcnow()
        with self._session() as session:
            due = session.exec(
                select(WebhookDelivery)
                .where(WebhookDelivery.state == "pending", col(WebhookDelivery.next_attempt_at) <= now)
                .order_by(col(WebhookDelivery.next_attempt_at))
                .limit(limit)
            ).all()
        if not due:
            return 0  # an HTTP client costs an SSL context: none is made on the idle ticks
        tried = 0
        with self._http() as client:
            for row in due:
                if self._claim(row, now):
                    self._send(client, row, now)
                    tried += 1
        return tried

    def _claim(self, row: WebhookDelivery, now: datetime) -> bool:
        with self._session() as session:
            claimed = (
                session.exec(
                    update(WebhookDelivery)
                    .where(
                        col(WebhookDelivery.id) == row.id,
                        col(WebhookDelivery.state) == "pending",
                        col(WebhookDelivery.next_attempt_at) == row.next_attempt_at,
                    )
                    .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
                ).rowcount
                == 1
            )
            session.commit()
        return claimed

    def _send(self, client: httpx.Client, row: WebhookDelivery, now: datetime) -> None:
        endpoint = self.endpoint(row.endpoint_id)
        if endpoint is None:  # as before, an exception; now one that names the endpoint
            raise NotFound(f"webhook endpoint {row.endpoint_id!r} of delivery {row.id} is gone")
        body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
        started = time.monotonic()
        status, error = None, None
        try:
            url, address = self.checked_address(endpoint.url)  # again: the host's addresses may have changed
            # Connect to the checked address itself; the host still names the site (Host header, TLS SNI
            # and certificate check), so no second lookup can send this request elsewhere.
            response = client.post(
                url.copy_with(host=address),
                content=body,
                extensions={"sni_hostname": url.host},
                headers={
                    **standard.headers(endpoint.secret, row.message_id, int(time.time()), body),
                    "host": url.netloc.decode("ascii"),
                },
            )
            status = response.status_code
        except standard.WebhookAddressRefused as exc:
            error = f"refused: {exc}"[:500]
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        took = int((time.monotonic() - started) * 1000)
        ok = status is not None and 200 <= status < 300
        with self._session() as session:
            current = session.get(WebhookDelivery, row.id)
            if current is None:  # deleted with its endpoint meanwhile: nothing to record
                return
            current.attempts += 1
            current.last_status, current.last_error = status, error or (None if ok else f"HTTP {status}")
            if ok:
                current.state, current.delivered_at, current.next_attempt_at = "delivered", utcnow(), None
            else:
                retry = standard.next_attempt(_aware(current.created_at), current.attempts, now)
                current.state = "pending" if retry else "failed"
                current.next_attempt_at = retry
            session.add(current)
            session.add(
                WebhookAttempt(
                    delivery_id=row.id,
                    status_code=status,
                    error=current.last_error if not ok else None,
                    duration_ms=took,
                )
            )
            session.commit()

    def start(self, stop: threading.Event) -> threading.Thread:
        def loop() -> None:
            while not stop.wait(self._interval):
                try:
                    self.deliver_due()
                except Exception:  # the dispatcher must outlive a passing database fault
                    log.exception("webhook dispatch failed")

        thread = threading.Thread(target=loop, name="tasktrial-webhooks", daemon=True)
        thread.start()
        return thread
