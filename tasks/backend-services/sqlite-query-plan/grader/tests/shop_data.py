"""The grader's shop database: the public generator's shape, another seed, more rows,
and hand-placed rows on month boundaries and revenue ties. Everything is seeded."""

import random
import sqlite3
from datetime import datetime, timedelta

SCHEMA = """
CREATE TABLE customers (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    country    TEXT NOT NULL,
    signed_up  TEXT NOT NULL
);
CREATE TABLE orders (
    id           INTEGER PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers (id),
    status       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    total_cents  INTEGER NOT NULL
);
"""
FIRST = ["ana", "ben", "chloe", "dmitri", "eva", "farid", "greta", "hugo", "ines", "jonas", "kaito", "lena",
         "mateo", "nora", "omar", "priya", "quentin", "rosa", "sven", "tara", "umar", "vera", "wei", "yusuf", "zoe"]
LAST = ["adams", "bauer", "costa", "dubois", "eriksen", "fischer", "garcia", "horvat", "ivanova", "jensen",
        "kowalski", "lopez", "muller", "novak", "okafor", "petrov", "rossi", "schmidt", "tanaka", "weber"]
COUNTRIES = ["DE", "FR", "GB", "US", "ES", "IT", "NL", "PL"]
STATUSES = ["paid", "refunded", "cancelled", "pending"]
STATUS_WEIGHTS = [70, 10, 10, 10]
BIG_ACCOUNT = 42
BOUNDARY_CUSTOMER = 7
TIED = (11, 12, 13)  # equal revenue in 2025-06: the email decides their order
CUSTOMERS = 3000
ORDERS = 150_000
SEED = 90210
START = datetime(2024, 1, 1)
SPAN_SECONDS = 731 * 86400

# (customer, status, created_at, total_cents): the edges a range rewrite must get right.
EXTRA_ORDERS = [
    (BOUNDARY_CUSTOMER, "paid", "2025-02-28 23:59:59", 1111),
    (BOUNDARY_CUSTOMER, "paid", "2025-03-01 00:00:00", 2222),
    (BOUNDARY_CUSTOMER, "paid", "2025-03-15 12:00:00", 3333),
    (BOUNDARY_CUSTOMER, "refunded", "2025-03-20 08:00:00", 4444),
    (BOUNDARY_CUSTOMER, "paid", "2025-03-31 23:59:59", 5555),
    (BOUNDARY_CUSTOMER, "paid", "2025-03-31 23:59:59", 5556),
    (BOUNDARY_CUSTOMER, "paid", "2025-04-01 00:00:00", 6666),
    (BOUNDARY_CUSTOMER, "paid", "2024-11-30 23:59:59", 7777),
    (BOUNDARY_CUSTOMER, "paid", "2024-12-01 00:00:00", 8888),
    (BOUNDARY_CUSTOMER, "paid", "2024-12-31 23:59:59", 9999),
    (BOUNDARY_CUSTOMER, "paid", "2025-01-01 00:00:00", 1010),
    (BOUNDARY_CUSTOMER, "paid", "2024-02-29 23:59:59", 2020),
    (BOUNDARY_CUSTOMER, "paid", "2024-03-01 00:00:00", 3030),
    (BIG_ACCOUNT, "paid", "2025-03-31 23:59:59", 4040),
    (BIG_ACCOUNT, "paid", "2025-04-01 00:00:00", 5050),
    (TIED[0], "paid", "2025-06-10 10:00:00", 2_000_000),
    (TIED[1], "paid", "2025-06-11 10:00:00", 1_500_000),
    (TIED[1], "paid", "2025-06-30 23:59:59", 500_000),
    (TIED[1], "pending", "2025-06-12 10:00:00", 900_000),
    (TIED[2], "paid", "2025-06-01 00:00:00", 2_000_000),
    (TIED[2], "refunded", "2025-06-02 00:00:00", 700_000),
]
# Emails sorted opposite to ids, so ordering by id instead of email shows.
TIED_EMAILS = {TIED[0]: "zora.weber.11@example.com", TIED[1]: "mila.novak.12@example.com",
               TIED[2]: "abel.adams.13@example.com"}


def build():
    """A new in-memory database holding the grader's data, without any extra index."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    rng = random.Random(SEED)
    people = []
    for cid in range(1, CUSTOMERS + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        signed_up = (START - timedelta(days=rng.randrange(900))).strftime("%Y-%m-%d")
        email = TIED_EMAILS.get(cid, f"{first}.{last}.{cid}@example.com")
        people.append((cid, email, f"{first.title()} {last.title()}", rng.choice(COUNTRIES), signed_up))
    conn.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?)", people)
    weights = [rng.lognormvariate(0, 1) for _ in range(CUSTOMERS)]
    weights[BIG_ACCOUNT - 1] = 0.09 * sum(weights)
    for cid in (BOUNDARY_CUSTOMER, *TIED):
        weights[cid - 1] = 0.0  # only the hand-placed orders, so the edge cases stay exact
    buyers = rng.choices(range(1, CUSTOMERS + 1), weights=weights, k=ORDERS)
    statuses = rng.choices(STATUSES, weights=STATUS_WEIGHTS, k=ORDERS)
    rows = []
    for oid, (buyer, status) in enumerate(zip(buyers, statuses), start=1):
        created = START + timedelta(seconds=rng.randrange(SPAN_SECONDS))
        rows.append((oid, buyer, status, created.strftime("%Y-%m-%d %H:%M:%S"), rng.randrange(500, 50_000)))
    rows.extend((ORDERS + n, *extra) for n, extra in enumerate(EXTRA_ORDERS, start=1))
    conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", rows)
    conn.commit()
    return conn
