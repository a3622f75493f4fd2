"""Standard Webhooks (standardwebhooks.com): signing and the retry schedule. Pure functions.

A delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``
(``v1,`` + base64 of HMAC-SHA256 over ``id.timestamp.body`` with the endpoint's secret key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
from datetime import datetime, timedelta

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
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, message_id, timestamp, body), "content-type": "application/json"}


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver checks: a fresh timestamp and one matching ``v1`` signature (constant-time)."""
    try:
        timestamp = int(headers["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, headers.get("webhook-id", ""), timestamp, body).split(",", 1)[1]
    return any(hmac.compare_digest(part.split(",", 1)[-1], expected)
               for part in headers.get("webhook-signature", "").split(" ") if part.startswith("v1,"))


def next_attempt(created_at: datetime, attempts: int, now: datetime, *, rng: random.Random | None = None) -> datetime | None:
    """When to try again after ``attempts`` failures: exponential backoff with full jitter in its upper
    half, capped; None once the delivery is older than ``RETRY_FOR`` (give up)."""
    delay = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    delay *= 0.5 + (rng or random).random() / 2
    moment = now + timedelta(seconds=delay)
    return None if moment - created_at > RETRY_FOR else moment
