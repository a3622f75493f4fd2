"""Build a sample shop database like the grader's (its data differ; its shape does not).

    python3 sample_data.py sample.db     # writes a file you can open with sqlite3
"""

import random
import sqlite3
import sys
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRST = ["ana", "ben", "chloe", "dmitri", "eva", "farid", "greta", "hugo", "ines", "jonas", "kaito", "lena",
         "mateo", "nora", "omar", "priya", "quentin", "rosa", "sven", "tara", "umar", "vera", "wei", "yusuf", "zoe"]
LAST = ["adams", "bauer", "costa", "dubois", "eriksen", "fischer", "garcia", "horvat", "ivanova", "jensen",
        "kowalski", "lopez", "muller", "novak", "okafor", "petrov", "rossi", "schmidt", "tanaka", "weber"]
COUNTRIES = ["DE", "FR", "GB", "US", "ES", "IT", "NL", "PL"]
STATUSES = ["paid", "refunded", "cancelled", "pending"]
STATUS_WEIGHTS = [70, 10, 10, 10]
BIG_ACCOUNT = 42  # a reseller placing about 8% of all orders
START = datetime(2024, 1, 1)
SPAN_SECONDS = 731 * 86400  # 2024-01-01 00:00:00 up to 2025-12-31 23:59:59


def build(conn, *, customers=3000, orders=100_000, seed=2024):
    """Create the schema in ``conn`` and fill it with reproducible data."""
    conn.executescript((HERE / "schema.sql").read_text(encoding="utf-8"))
    rng = random.Random(seed)
    people = []
    for cid in range(1, customers + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        signed_up = (START - timedelta(days=rng.randrange(900))).strftime("%Y-%m-%d")
        people.append((cid, f"{first}.{last}.{cid}@example.com", f"{first.title()} {last.title()}",
                       rng.choice(COUNTRIES), signed_up))
    conn.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?)", people)
    weights = [rng.lognormvariate(0, 1) for _ in range(customers)]
    weights[BIG_ACCOUNT - 1] = 0.09 * sum(weights)
    buyers = rng.choices(range(1, customers + 1), weights=weights, k=orders)
    statuses = rng.choices(STATUSES, weights=STATUS_WEIGHTS, k=orders)
    rows = []
    for oid, (buyer, status) in enumerate(zip(buyers, statuses), start=1):
        created = START + timedelta(seconds=rng.randrange(SPAN_SECONDS))
        rows.append((oid, buyer, status, created.strftime("%Y-%m-%d %H:%M:%S"), rng.randrange(500, 50_000)))
    conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", rows)
    conn.commit()
    return conn


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "sample.db")
    if target.exists():
        sys.exit(f"{target} exists; remove it first")
    build(sqlite3.connect(target)).close()
    print(f"wrote {target}")
