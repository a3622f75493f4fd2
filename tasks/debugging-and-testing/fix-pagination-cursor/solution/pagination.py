"""Keyset (cursor) pagination over orders, newest first. Reference solution.

Root cause of the lost orders: the cursor held only ``created_at``, and the next page
kept orders strictly older than it, so every order sharing the last timestamp of a page
was skipped. The sort key and the cursor are now the full, unique key
``(created_at, id)``. Two further defects fixed on the way: a page holding exactly the
remaining orders still returned a cursor (the export then fetched an empty page), and a
damaged cursor raised a bare decoding error instead of ``InvalidCursor``.
"""

import base64
import binascii
import json
from dataclasses import dataclass

MAX_LIMIT = 100


class InvalidCursor(ValueError):
    """The cursor was not produced by ``list_orders`` (or was damaged on the way)."""


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None


def _key(order):
    return order["created_at"], order["id"]


def list_orders(orders, *, limit=20, cursor=None):
    """One page of ``orders``, newest first.

    ``orders`` is an iterable of dicts with at least ``id`` (a unique int) and
    ``created_at`` (an ISO 8601 UTC string such as ``"2026-03-01T10:00:00Z"``).
    Pages are ordered by ``created_at`` descending, then ``id`` descending.
    ``next_cursor`` is None exactly when this page holds the last order.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    ordered = sorted(orders, key=_key, reverse=True)
    if cursor is not None:
        after = decode_cursor(cursor)
        ordered = [order for order in ordered if _key(order) < after]
    items = ordered[:limit]
    next_cursor = encode_cursor(items[-1]) if len(ordered) > limit else None
    return Page(items, next_cursor)


def encode_cursor(order):
    payload = json.dumps([order["created_at"], order["id"]], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode()


def decode_cursor(cursor):
    try:
        created_at, order_id = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (AttributeError, binascii.Error, UnicodeError, ValueError, TypeError) as exc:
        raise InvalidCursor(f"not a cursor: {cursor!r}") from exc
    if not isinstance(created_at, str) or type(order_id) is not int:
        raise InvalidCursor(f"not a cursor: {cursor!r}")
    return created_at, order_id
