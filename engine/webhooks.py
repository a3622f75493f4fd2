"""Standard Webhooks (standardwebhooks.com): signing and the retry schedule. Pure functions.

A delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``
(``v1,`` + base64 of HMAC-SHA256 over ``id.timestamp.body`` with the endpoint's secret key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import random
import secrets
from datetime import datetime, timedelta

from engine.errors import TaskTrialError

SECRET_PREFIX = "whsec_"
#: Retries stop once a delivery is this old; it is then marked failed (redelivery can still be asked for).
RETRY_FOR = timedelta(days=1)
FIRST_RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 3 * 3600.0


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one delivery."""
    content = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), content, hashlib.sha256).digest()).decode("ascii")


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
        "content-type": "application/json",
    }


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver checks: a fresh timestamp and one matching ``v1`` signature (constant-time)."""
    try:
        timestamp = int(headers["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, headers.get("webhook-id", ""), timestamp, body).split(",", 1)[1]
    return any(
        hmac.compare_digest(part.split(",", 1)[-1], expected)
        for part in headers.get("webhook-signature", "").split(" ")
        if part.startswith("v1,")
    )


def next_attempt(
    created_at: datetime, attempts: int, now: datetime, *, rng: random.Random | None = None
) -> datetime | None:
    """When to try again after ``attempts`` failures: exponential backoff with full jitter in its upper
    half, capped; None once the delivery is older than ``RETRY_FOR`` (give up)."""
    delay = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    delay *= 0.5 + (rng or random).random() / 2
    moment = now + timedelta(seconds=delay)
    return None if moment - created_at > RETRY_FOR else moment


class WebhookAddressRefused(TaskTrialError):
    """A webhook URL is not http(s), does not resolve, or resolves to an address the server must never
    send to (422 at registration; a failed try, logged and retried, at delivery)."""


def address_problem(address: str) -> str | None:
    """Why the server must not connect to ``address``, or None for a public one.

    Loopback, private, link-local (where cloud metadata services answer: 169.254.169.254, fd00:ec2::254),
    shared (100.64/10), reserved, multicast and unspecified addresses are refused, with IPv4 addresses
    hidden in IPv6 (mapped, 6to4, Teredo) judged as the IPv4 address they carry.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None) or ip
    for kind, test in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local (cloud metadata services answer there)", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if test:
            return kind
    return None if ip.is_global else "non-public"
