"""Hidden tests for fix-pagination-cursor. Fixed data only: every run sees the same orders."""

import base64
import random

import pytest

from pagination import InvalidCursor, list_orders


def stamp(day, hour=12, minute=0):
    return f"2026-03-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def newest_first(orders):
    return [o["id"] for o in sorted(orders, key=lambda o: (o["created_at"], o["id"]), reverse=True)]


def export(orders, limit, *, between_pages=None):
    """Walk every page like the CSV export; returns the pages' id lists."""
    pages, cursor = [], None
    for _ in range(2000):
        page = list_orders(orders, limit=limit, cursor=cursor)
        pages.append([order["id"] for order in page.items])
        cursor = page.next_cursor
        if cursor is None:
            return pages
        assert isinstance(cursor, str), f"next_cursor must be a string, got {cursor!r}"
        if between_pages:
            between_pages(orders, len(pages))
    raise AssertionError("the export never reached the last page")


def shuffled(orders, seed):
    orders = list(orders)
    random.Random(seed).shuffle(orders)
    return orders


DATASETS = {
    # Distinct timestamps: the old code coped with these.
    "distinct": shuffled([{"id": n, "created_at": stamp(1 + n % 28, n % 24, n % 60)} for n in range(1, 31)], 1),
    # A bulk import: groups of seven orders share a second.
    "bulk-import": shuffled([{"id": n, "created_at": stamp(1 + n // 7)} for n in range(1, 36)], 2),
    # Every order in the same second.
    "one-second": shuffled([{"id": n, "created_at": stamp(5)} for n in range(100, 125)], 3),
    # Ids that do not follow time: a newer order may have a lower id.
    "ids-against-time": shuffled([{"id": 50 - n, "created_at": stamp(1 + n // 3), "total": n} for n in range(40)], 4),
}
EXPORT_CASES = [("distinct", 7), ("bulk-import", 5), ("bulk-import", 7), ("bulk-import", 1),
                ("one-second", 4), ("one-second", 25), ("ids-against-time", 3), ("ids-against-time", 100)]


@pytest.mark.parametrize("dataset,limit", EXPORT_CASES, ids=[f"{d}-limit-{n}" for d, n in EXPORT_CASES])
def test_export_sees_every_order_exactly_once_in_order(dataset, limit):
    orders = DATASETS[dataset]
    pages = export(orders, limit)
    seen = [order_id for page in pages for order_id in page]
    missing = sorted(set(newest_first(orders)) - set(seen))
    assert not missing, f"orders never returned: {missing}"
    assert len(seen) == len(set(seen)), f"orders returned twice: {sorted({i for i in seen if seen.count(i) > 1})}"
    assert seen == newest_first(orders), "orders must come newest first, equal timestamps by id descending"


def test_page_items_are_newest_first_then_highest_id():
    orders = DATASETS["bulk-import"]
    page = list_orders(orders, limit=10)
    assert [order["id"] for order in page.items] == newest_first(orders)[:10]


def test_items_are_the_original_dicts():
    orders = DATASETS["ids-against-time"]
    page = list_orders(orders, limit=3)
    by_id = {order["id"]: order for order in orders}
    assert all(item is by_id[item["id"]] for item in page.items)


@pytest.mark.parametrize("count,limit", [(10, 5), (6, 3), (5, 5), (100, 20)])
def test_no_empty_page_when_the_count_divides_evenly(count, limit):
    orders = [{"id": n, "created_at": stamp(1 + n % 28, n % 24, n % 60)} for n in range(count)]
    pages = export(orders, limit)
    assert len(pages) == count // limit, f"expected {count // limit} pages, got {[len(p) for p in pages]}"
    assert all(pages), "a page came back empty: next_cursor must be None on the page holding the last order"


def test_no_orders_gives_one_empty_last_page():
    page = list_orders([], limit=10)
    assert page.items == [] and page.next_cursor is None


def test_cursor_survives_newer_orders_arriving():
    orders = [{"id": n, "created_at": stamp(1 + n // 3)} for n in range(1, 22)]
    expected = newest_first(orders)

    def new_order_arrives(orders, pages_so_far):
        orders.append({"id": 1000 + pages_so_far, "created_at": stamp(28, 23)})

    pages = export(orders, 4, between_pages=new_order_arrives)
    seen = [order_id for page in pages for order_id in page]
    assert seen == expected, "orders created during the export must not shift, repeat or hide older ones"


def test_cursor_survives_the_last_seen_order_being_deleted():
    orders = [{"id": n, "created_at": stamp(1 + n // 4)} for n in range(1, 30)]
    first = list_orders(orders, limit=6)
    last_seen = first.items[-1]
    remaining = [order for order in orders if order is not last_seen]
    second = list_orders(remaining, limit=6, cursor=first.next_cursor)
    assert [order["id"] for order in second.items] == newest_first(orders)[6:12]


def test_input_is_not_modified():
    orders = DATASETS["bulk-import"]
    before = [dict(order) for order in orders]
    export(orders, 4)
    assert orders == before


def test_accepts_any_iterable():
    orders = DATASETS["bulk-import"]
    page = list_orders((order for order in orders), limit=3)
    assert [order["id"] for order in page.items] == newest_first(orders)[:3]


def b64(text):
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize("cursor", ["", "!!!", "abc", b64("hello"), b64("[1, 2, 3]"), b64('{"a": 1}'),
                                    base64.urlsafe_b64encode(b"\xff\xfe").decode(), "%%%%"],
                         ids=["empty", "punctuation", "bad-padding", "plain-text", "wrong-shape", "object",
                              "not-utf8-text", "percent"])
def test_invalid_cursor_raises_invalid_cursor(cursor):
    with pytest.raises(InvalidCursor):
        list_orders(DATASETS["distinct"], limit=5, cursor=cursor)


def test_invalid_cursor_is_a_value_error():
    assert issubclass(InvalidCursor, ValueError)


@pytest.mark.parametrize("limit", [0, -1, 101])
def test_limit_out_of_range(limit):
    with pytest.raises(ValueError):
        list_orders(DATASETS["distinct"], limit=limit)


def test_limit_bounds_are_inclusive():
    orders = [{"id": n, "created_at": stamp(1 + n % 28, n % 24, n % 60)} for n in range(150)]
    assert len(list_orders(orders, limit=1).items) == 1
    assert len(list_orders(orders, limit=100).items) == 100
