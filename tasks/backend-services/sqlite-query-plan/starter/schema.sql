-- The shop's schema. Do not edit: the grader builds its database from its own copy.
CREATE TABLE customers (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    country    TEXT NOT NULL,            -- ISO 3166 alpha-2, e.g. 'DE'
    signed_up  TEXT NOT NULL             -- 'YYYY-MM-DD'
);

CREATE TABLE orders (
    id           INTEGER PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers (id),
    status       TEXT NOT NULL,          -- 'paid', 'refunded', 'cancelled' or 'pending'
    created_at   TEXT NOT NULL,          -- UTC, 'YYYY-MM-DD HH:MM:SS'
    total_cents  INTEGER NOT NULL
);
