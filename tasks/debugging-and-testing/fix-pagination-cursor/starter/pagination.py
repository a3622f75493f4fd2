"""Keyset (cursor) pagination over orders, newest first.

The orders API returns one page at a time; a client asks for the next page by sending
back the page's ``next_cursor``. The CSV export walks every page this way.
"""

import base64
from dataclasses import dataclass

MAX_LIMIT = 100


class InvalidCursor(ValueError):
    """The cursor was not produced by ``list_orders`` (or was damaged on the way)."""


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None


def list_orders(orders, *, limit=20, cursor=None):
    """One page of ``orders``, newest first.

    ``orders`` is an iterable of dicts with at least ``id`` (a unique int) and
    ``created_at`` (an ISO 8601 UTC string such as ``"2026-03-01T10:00:00Z"``).
    Pages are ordered by ``created_at`` descending, then ``id`` descending.
    ``next_cursor`` is None exactly when this page holds the last order.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    ordered = sorted(orders, key=lambda order: order["created_at"], reverse=True)
    if cursor is not None:
        after = decode_cursor(cursor)
        ordered = [order for order in ordered if order["created_at"] < after]
    items = ordered[:limit]
    next_cursor = encode_cursor(items[-1]) if len(items) == limit else None
    return Page(items, next_cursor)


def encode_cursor(order):
    return base64.urlsafe_b64encode(order["created_at"].encode()).decode()


def decode_cursor(cursor):
    return base64.urlsafe_b64decode(cursor.encode()).decode()
