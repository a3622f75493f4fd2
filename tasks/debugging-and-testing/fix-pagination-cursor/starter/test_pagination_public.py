"""Public tests. Run with `python3 -m pytest` in this folder."""

from pagination import list_orders


def export(orders, limit):
    """Walk every page the way the CSV export does; return the ids in the order seen."""
    seen, cursor = [], None
    for _ in range(1000):
        page = list_orders(orders, limit=limit, cursor=cursor)
        seen.extend(order["id"] for order in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("the export never reached the last page")


def test_statement_example():
    orders = [
        {"id": 1, "created_at": "2026-03-01T09:00:00Z"},
        {"id": 2, "created_at": "2026-03-01T10:00:00Z"},
        {"id": 3, "created_at": "2026-03-01T10:00:00Z"},
        {"id": 4, "created_at": "2026-03-01T11:00:00Z"},
    ]
    first = list_orders(orders, limit=2)
    assert [order["id"] for order in first.items] == [4, 3]
    second = list_orders(orders, limit=2, cursor=first.next_cursor)
    assert [order["id"] for order in second.items] == [2, 1]
    assert second.next_cursor is None


def test_export_sees_every_order_once():
    # Orders imported in bulk share a timestamp: the support ticket's export lost some of them.
    orders = [{"id": n, "created_at": f"2026-03-0{1 + n // 4}T12:00:00Z"} for n in range(1, 13)]
    assert sorted(export(orders, limit=5)) == list(range(1, 13))
