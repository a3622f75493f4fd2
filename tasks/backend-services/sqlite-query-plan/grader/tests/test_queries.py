"""Hidden tests for sqlite-query-plan.

Work is measured in SQLite virtual-machine instructions (a progress handler), never in
seconds, on a seeded database: the same submission gets the same numbers every run.
The budget is relative to the reference solution run on the same database, so a SQLite
version change moves both sides together.
"""

import sqlite3
from pathlib import Path

import pytest

import shop_data

WORKSPACE = Path("/workspace")
STEP = 10
BUDGET_FACTOR = 3
RUNAWAY_INSTRUCTIONS = 5_000_000  # 5x the slowest original query: a runaway query fails fast
MAX_INDEXES = 3

# The queries as the team wrote them: correct, slow. They define the expected results.
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
COLUMNS = {"customer_orders": ["id", "created_at", "total_cents"],
           "top_customers": ["email", "name", "orders", "revenue_cents"]}

# The reference solution: its work on this database sets the budget.
REFERENCE_INDEXES = [
    "CREATE INDEX ref_customer_status_created ON orders (customer_id, status, created_at)",
    "CREATE INDEX ref_status_created ON orders (status, created_at)",
]
RANGE = "created_at >= :month || '-01' AND {p}created_at < date(:month || '-01', '+1 month')"
REFERENCE = {
    "customer_orders": ORIGINAL["customer_orders"].replace("strftime('%Y-%m', created_at) = :month",
                                                           RANGE.format(p="")),
    "top_customers": ORIGINAL["top_customers"].replace("strftime('%Y-%m', o.created_at) = :month",
                                                       "o." + RANGE.format(p="o.")),
}

BUSY = {
    "customer_orders": {"customer_id": shop_data.BIG_ACCOUNT, "month": "2025-03"},
    "top_customers": {"month": "2025-03", "limit": 10},
}
RESULT_CASES = [
    ("customer_orders", "big-account-busy-month", BUSY["customer_orders"]),
    ("customer_orders", "first-and-last-second-of-the-month", {"customer_id": shop_data.BOUNDARY_CUSTOMER, "month": "2025-03"}),
    ("customer_orders", "december-into-january", {"customer_id": shop_data.BOUNDARY_CUSTOMER, "month": "2024-12"}),
    ("customer_orders", "leap-day", {"customer_id": shop_data.BOUNDARY_CUSTOMER, "month": "2024-02"}),
    ("customer_orders", "regular-customer", {"customer_id": 1234, "month": "2024-06"}),
    ("customer_orders", "unknown-customer", {"customer_id": 999_999, "month": "2025-03"}),
    ("customer_orders", "month-without-orders", {"customer_id": shop_data.BIG_ACCOUNT, "month": "2023-05"}),
    ("top_customers", "busy-month", BUSY["top_customers"]),
    ("top_customers", "revenue-ties-by-email", {"month": "2025-06", "limit": 4}),
    ("top_customers", "limit-one", {"month": "2024-11", "limit": 1}),
    ("top_customers", "december", {"month": "2024-12", "limit": 25}),
    ("top_customers", "limit-above-matches", {"month": "2025-01", "limit": 100_000}),
    ("top_customers", "month-without-orders", {"month": "2023-05", "limit": 10}),
]

INDEX_ACTIONS = {sqlite3.SQLITE_CREATE_INDEX, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                 sqlite3.SQLITE_REINDEX, sqlite3.SQLITE_SELECT, sqlite3.SQLITE_TRANSACTION}
QUERY_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}


def allow_index_ddl(action, arg1, arg2, database, source):
    if action in INDEX_ACTIONS or (action in (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE) and arg1 == "sqlite_master"):
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def allow_reads(action, arg1, arg2, database, source):
    return sqlite3.SQLITE_OK if action in QUERY_ACTIONS else sqlite3.SQLITE_DENY


class Database:
    """The grader's data with the submission's indexes; remembers what went wrong on the way."""

    def __init__(self):
        base = shop_data.build()
        self.tables_before = schema_objects(base)
        self.expected = {}
        for query, name, params in RESULT_CASES:
            self.expected[name, query] = base.execute(ORIGINAL[query], params).fetchall()
        self.candidate = clone(base)
        self.reference = clone(base)
        for statement in REFERENCE_INDEXES:
            self.reference.execute(statement)
        self.index_error = None
        try:
            script = (WORKSPACE / "indexes.sql").read_text(encoding="utf-8")
            self.candidate.set_authorizer(allow_index_ddl)
            self.candidate.executescript(script)
        except (OSError, UnicodeDecodeError, sqlite3.Error) as exc:
            self.index_error = f"indexes.sql failed: {exc}"
            self.candidate.close()
            self.candidate = clone(base)  # grade the queries without the indexes
        finally:
            self.candidate.set_authorizer(None)
        self.candidate.set_authorizer(allow_reads)
        base.close()

    def added_indexes(self):
        return [name for kind, name, _ in schema_objects(self.candidate) - self.tables_before
                if kind == "index" and not name.startswith("sqlite_autoindex")]


def clone(conn):
    copy = sqlite3.connect(":memory:")
    conn.backup(copy)
    return copy


def schema_objects(conn):
    return {tuple(row) for row in conn.execute("SELECT type, name, tbl_name FROM sqlite_master")}


def candidate_sql(query):
    path = WORKSPACE / f"{query}.sql"
    if not path.is_file():
        pytest.fail(f"{path.name} is missing")
    return path.read_text(encoding="utf-8")


def execute(conn, sql, params):
    """(columns, rows, instructions); aborts a runaway query instead of hanging the run."""
    ticks = 0

    def tick():
        nonlocal ticks
        ticks += 1
        return 1 if ticks * STEP > RUNAWAY_INSTRUCTIONS else 0

    conn.set_progress_handler(tick, STEP)
    try:
        cursor = conn.execute(sql, params)
        rows = cursor.fetchall()
    except sqlite3.Error as exc:
        if ticks * STEP > RUNAWAY_INSTRUCTIONS:
            pytest.fail(f"the query was stopped after {RUNAWAY_INSTRUCTIONS:,} VM instructions")
        pytest.fail(f"the query failed with {params}: {exc}")
    finally:
        conn.set_progress_handler(None, 0)
    return [column[0] for column in cursor.description or ()], rows, ticks * STEP


def query_plan(conn, sql, params):
    try:
        return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
    except sqlite3.Error as exc:
        pytest.fail(f"EXPLAIN QUERY PLAN failed: {exc}")


def describe_difference(got, expected):
    if len(got) != len(expected):
        return f"expected {len(expected)} rows, got {len(got)}"
    for index, (row, want) in enumerate(zip(got, expected)):
        if tuple(row) != tuple(want):
            return f"row {index + 1}: expected {tuple(want)}, got {tuple(row)}"
    return "rows differ"


@pytest.fixture(scope="module")
def db():
    return Database()


# -- results: identical to the original queries ------------------------------


@pytest.mark.parametrize("query,case,params", RESULT_CASES, ids=[f"{q}-{c}" for q, c, _ in RESULT_CASES])
def test_results(db, query, case, params):
    columns, rows, _ = execute(db.candidate, candidate_sql(query), params)
    assert columns == COLUMNS[query], f"{query}.sql must return the columns {COLUMNS[query]}, got {columns}"
    expected = db.expected[case, query]
    assert rows == expected, f"{query} {params}: {describe_difference(rows, expected)}"


# -- plans: the big table is searched through an index, never scanned ---------


@pytest.mark.parametrize("query", ["customer_orders", "top_customers"])
def test_plan_never_scans_orders(db, query):
    sql = candidate_sql(query)
    plan = query_plan(db.candidate, sql, BUSY[query])
    scans = [line for line in plan if line.startswith("SCAN") and is_orders_step(line, sql)]
    assert not scans, f"{query}: the plan scans the orders table: {plan}"


def is_orders_step(line, sql):
    """Does this plan line read the orders table (by name or by an alias the query gives it)?"""
    target = line.split()[1]
    if target == "orders":
        return True
    lowered = " ".join(sql.lower().replace(",", " ").split())
    return f"orders as {target.lower()}" in lowered or f"orders {target.lower()}" in lowered


# -- work: at most BUDGET_FACTOR times the reference's instructions ----------------


@pytest.mark.parametrize("query", ["customer_orders", "top_customers"])
def test_work_within_budget(db, query):
    params = BUSY[query]
    _, reference_rows, reference_work = execute(db.reference, REFERENCE[query], params)
    sql = candidate_sql(query)
    _, rows, work = execute(db.candidate, sql, params)
    assert rows == reference_rows, f"{query} returns wrong results for {params}; speed only counts for correct results"
    budget = BUDGET_FACTOR * reference_work
    assert work <= budget, (
        f"{query} {params} took {work:,} VM instructions; the budget is {budget:,} "
        f"({BUDGET_FACTOR} x the reference's {reference_work:,}). Plan: {query_plan(db.candidate, sql, params)}"
    )


# -- indexes.sql ----------------------------------------------------------------


def test_indexes_sql_only_creates_indexes(db):
    hint = " (only CREATE INDEX statements are allowed)" if db.index_error and "not authorized" in db.index_error else ""
    assert db.index_error is None, db.index_error + hint
    changed = {(kind, name) for kind, name, _ in schema_objects(db.candidate) - db.tables_before if kind != "index"}
    assert not changed, f"indexes.sql may only create indexes, it also created {sorted(changed)}"


def test_at_most_three_indexes(db):
    added = db.added_indexes()
    assert len(added) <= MAX_INDEXES, f"indexes.sql creates {len(added)} indexes ({', '.join(added)}); at most {MAX_INDEXES}"
