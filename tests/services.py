"""The tests' real Redis and PostgreSQL servers: ``testkit.services``, shared with bench/."""

from testkit.services import (
    PostgresCluster,
    RedisServer,
    free_port,
    postgres_cluster,
    postgres_server,
    redis_server,
    restartable_redis,
    stop_groups,
    wait_for_port,
)

__all__ = [
    "PostgresCluster",
    "RedisServer",
    "free_port",
    "postgres_cluster",
    "postgres_server",
    "redis_server",
    "restartable_redis",
    "stop_groups",
    "wait_for_port",
]
