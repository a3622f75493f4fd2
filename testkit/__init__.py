"""Helpers shared by tests/ and bench/ (never installed, never imported by the service).

- ``testkit.services``: throw-away Redis and PostgreSQL servers on free loopback ports; stopping the
  process groups a test or benchmark started (``stop_groups``).
- ``testkit.packs``: task pack folders (and any folder: ``write_files``) written from plain dicts.
- ``testkit.results``: submissions and results stored through ``api.storage``; a result document
  for a test or benchmark that plays the worker.
- ``testkit.raw_docker``: the raw ``docker run`` (with a task's limits) the benchmarks compare against.
"""
