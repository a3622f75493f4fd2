"""The tests' real Redis and PostgreSQL servers: ``testkit.services``, shared with bench/."""

from testkit.services import free_port, postgres_server, redis_server, wait_for_port

__all__ = ["free_port", "postgres_server", "redis_server", "wait_for_port"]
