"""Public tests. Run with `python3 -m pytest` in this folder."""

import sqlite3

import pytest

from explain import QUERIES, load_sql, plan, sample_database, work

# The queries as first written: correct and slow. Your versions must return the same.
ORIGINAL = {
    "customer_orders": """
        SELECT id, created_at, total_cents FROM orders
        WHERE customer_id = :customer_id AND status = 'paid' AND strftime('%Y-%m', created_at) = :month
        ORDER BY created_at DESC, id DESC""",
    "top_customers": """
        SELECT c.email, c.name, COUNT(*) AS orders, SUM(o.total_cents) AS revenue_cents
        FROM orders AS o JOIN customers AS c ON c.id = o.customer_id
        WHERE o.status = 'paid' AND strftime('%Y-%m', o.created_at) = :month
        GROUP BY c.id ORDER BY revenue_cents DESC, c.email LIMIT :limit""",
}
# 3 x the reference solution's instructions on the sample database (see the statement).
SAMPLE_BUDGET = {"customer_orders": 5_200, "top_customers": 270_000}


@pytest.fixture(scope="module")
def sample():
    return sample_database(orders=100_000)


def test_statement_example():
    conn = sqlite3.connect(":memory:")
    conn.executescript(open("schema.sql", encoding="utf-8").read())
    conn.executemany("INSERT INTO customers VALUES (?, ?, ?, 'DE', '2024-01-01')",
                     [(7, "ana@example.com", "Ana"), (42, "bo@example.com", "Bo")])
    conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", [
        (1, 42, "paid", "2025-02-28 23:59:59", 1000),
        (2, 42, "paid", "2025-03-01 00:00:00", 2500),
        (3, 42, "refunded", "2025-03-05 10:00:00", 700),
        (4, 42, "paid", "2025-03-31 23:59:59", 1200),
        (5, 42, "paid", "2025-04-01 00:00:00", 900),
        (6, 7, "paid", "2025-03-10 09:30:00", 5000),
    ])
    conn.executescript(load_sql("indexes"))
    assert conn.execute(load_sql("customer_orders"), {"customer_id": 42, "month": "2025-03"}).fetchall() == [
        (4, "2025-03-31 23:59:59", 1200), (2, "2025-03-01 00:00:00", 2500)]
    assert conn.execute(load_sql("top_customers"), {"month": "2025-03", "limit": 10}).fetchall() == [
        ("ana@example.com", "Ana", 1, 5000), ("bo@example.com", "Bo", 2, 3700)]


@pytest.mark.parametrize("query,params", [
    ("customer_orders", {"customer_id": 42, "month": "2025-03"}),
    ("customer_orders", {"customer_id": 42, "month": "2024-12"}),
    ("top_customers", {"month": "2025-03", "limit": 10}),
    ("top_customers", {"month": "2024-02", "limit": 5}),
])
def test_same_results_as_the_original(sample, query, params):
    assert sample.execute(load_sql(query), params).fetchall() == sample.execute(ORIGINAL[query], params).fetchall()


@pytest.mark.parametrize("query", list(QUERIES))
def test_plan_searches_orders_through_an_index(sample, query):
    lines = plan(sample, load_sql(query), QUERIES[query])
    assert not [line for line in lines if line.startswith(("SCAN orders", "SCAN o"))], lines


@pytest.mark.parametrize("query", list(QUERIES))
def test_work_on_the_sample_database(sample, query):
    _, instructions = work(sample, load_sql(query), QUERIES[query])
    assert instructions <= SAMPLE_BUDGET[query], f"{instructions:,} VM instructions"
