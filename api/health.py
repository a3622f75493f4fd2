"""What ``/healthz`` reports: each part the service depends on, and which one is degraded.

Every probe is bounded (a second or two at most) and none raises: a part that
cannot be reached is reported with the reason. Only a database that cannot be
reached makes the API unhealthy (503): without it the API can do nothing; with
the broker, the workers or disk space degraded it still accepts and stores
submissions, which are graded once the part is back.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from celery import Celery
    from sqlalchemy.engine import Engine

    from api.settings import Settings

OK = "ok"
#: Below this much free space in the data directory, the disk is reported low (and submissions refused).
WORKERS_CACHE_SECONDS = 5.0


@dataclass
class Health:
    parts: dict[str, str]

    @property
    def degraded(self) -> dict[str, str]:
        return {name: state for name, state in self.parts.items() if state != OK}

    @property
    def serving(self) -> bool:
        return self.parts.get("database") == OK

    def document(self) -> dict:
        return {"status": OK if not self.degraded else "degraded", "parts": self.parts, "degraded": self.degraded}


@dataclass
class Prober:
    """The probes, with the Celery ping cached (it costs up to a second when no worker answers)."""

    settings: Settings
    engine: Engine
    celery: Celery | None = None
    _workers: tuple[float, str] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check(self) -> Health:
        parts = {"database": self.database(), "disk": self.disk()}
        if self.settings.broker_url:
            parts["broker"] = self.broker()
            parts["workers"] = self.workers() if parts["broker"] == OK else "unknown: the broker is down"
        return Health(parts)

    def database(self) -> str:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return OK
        except Exception as exc:  # noqa: BLE001 - any driver error: reported, never raised
            return f"down: {_first_line(exc)}"

    def disk(self) -> str:
        free = free_bytes(self.settings.data_dir)
        if free is None:
            return OK
        reserve = self.settings.min_free_disk_mb * 1024 * 1024
        if free < reserve:
            return (
                f"low: {free // (1024 * 1024)} MiB free in {self.settings.data_dir} "
                f"(TASKTRIAL_MIN_FREE_DISK_MB={self.settings.min_free_disk_mb}); new submissions are refused"
            )
        return OK

    def broker(self) -> str:
        import redis

        try:
            client = redis.Redis.from_url(
                self.settings.broker_url or "", socket_timeout=1.0, socket_connect_timeout=1.0
            )
            try:
                client.ping()
            finally:
                client.close()
            return OK
        except Exception as exc:  # noqa: BLE001 - redis' errors: reported, never raised
            return f"down: {_first_line(exc)}"

    def workers(self) -> str:
        with self._lock:
            if self._workers is not None and self._workers[0] > time.monotonic():
                return self._workers[1]
        state = self._ping_workers()
        with self._lock:
            self._workers = (time.monotonic() + WORKERS_CACHE_SECONDS, state)
        return state

    def _ping_workers(self) -> str:
        if self.celery is None:
            return OK
        try:
            replies = self.celery.control.ping(timeout=1.0)
        except Exception as exc:  # noqa: BLE001 - kombu's errors: reported, never raised
            return f"unknown: {_first_line(exc)}"
        return OK if replies else "none: no worker answered a ping within 1 s (queued runs wait for one)"


def free_bytes(folder) -> int | None:
    """Free bytes on the file system holding ``folder`` (or its nearest existing parent)."""
    from pathlib import Path

    path = Path(folder).resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def _first_line(exc: Exception) -> str:
    message = str(exc).strip().splitlines()
    return (f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__)[:300]
