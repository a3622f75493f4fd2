"""Helpers shared by tests/ and bench/ (never installed, never imported by the service).

- ``testkit.services``: throw-away Redis and PostgreSQL servers on free loopback ports.
- ``testkit.packs``: task pack folders written from plain dicts.
"""
