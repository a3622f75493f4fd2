"""The service's one settings object, read from ``TASKTRIAL_*`` variables at the edge.

Everything inside receives explicit arguments; only entry points (``serve``,
``worker``, ``admin``) build a ``Settings``.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.errors import ConfigurationError

REPO_CATALOGUE = Path(__file__).resolve().parent.parent / "tasks"


def site_root(public_url: str) -> str:
    """The path the service lives below: ``public_url``'s path without its final slash, ``""`` at the root.

    The one rule for every URL a page, a redirect, a cookie or an API link (``Location``, ``links``) names:
    ``root + path``, ``path`` being the app's own (``/tasks``, ``/v1/submissions/ID``). Taken from
    ``TASKTRIAL_PUBLIC_URL`` (already required for did:web and absolute links) rather than Starlette's
    ``root_path``: one setting for both, and a proxy that strips the prefix needs nothing else.
    """
    return urlsplit(public_url).path.rstrip("/")


def host_parallelism() -> int:
    """How many gradings this host takes at once: the CPUs this process may run on.

    A grading is mostly CPU (the interpreter and the tests in the sandbox, the engine's own
    container work), so more parallel gradings than CPUs only queue on the CPUs.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class Mode(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TASKTRIAL_", extra="ignore")

    mode: Mode = Mode.DEVELOPMENT
    data_dir: Path = Path(".tasktrial")
    #: SQLAlchemy URL; default: a SQLite file in the data directory.
    database_url: str | None = None
    #: How long a request waits for one of the database connections (all in use: the service is
    #: overloaded); beyond, it is answered 503 with Retry-After rather than queued until it times out.
    database_pool_timeout_seconds: float = Field(2.0, gt=0)
    #: Requests one API process handles at once (event streams, public tests, /healthz and /metrics apart);
    #: one more waits for a slot up to ``request_queue_seconds``, then gets 503 with Retry-After rather than
    #: a queue that slows every request down (``api.shedding``).
    max_requests_in_flight: int = Field(32, gt=0)
    request_queue_seconds: float = Field(1.0, ge=0)
    #: Redis URL of the Celery broker; unset means the embedded in-process worker pool.
    broker_url: str | None = None
    #: Built-in catalogue folders (each holds pack folders); uploaded packs live in the data directory.
    catalogue_dirs: list[Path] = Field(default_factory=lambda: [REPO_CATALOGUE])
    #: Where this API is reachable, for workers posting results back; its path (if any) prefixes every web page URL.
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    #: Token a Celery worker uses to talk to the API (role ``worker``). Required for ``tasktrial worker``.
    worker_token: str | None = None
    runner: str = "docker"
    #: Started, empty sandboxes each worker process keeps ready per kind of run (0: make each on demand;
    #: unset: one per parallel grading).
    warm_sandboxes: int | None = Field(default=None, ge=0)
    #: The OCI runtime of sandboxes, e.g. ``runsc`` for gVisor; unset: the engine's default (runc).
    sandbox_runtime: str | None = None
    #: Parallel gradings of ``serve``'s embedded pool; default: what the host takes (``host_parallelism``).
    embedded_workers: int = Field(default_factory=host_parallelism, ge=1)
    #: Parallel gradings of a ``tasktrial worker`` process (its ``--concurrency`` overrides it).
    worker_concurrency: int = Field(default_factory=host_parallelism, ge=1)
    max_upload_bytes: int = Field(8 * 1024 * 1024, gt=0)
    #: A run not finished this long after its lease started is re-queued or failed by the reaper.
    lease_margin_seconds: float = Field(120.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    #: Redis re-delivers an unacknowledged message after this long: keep it above the longest run.
    visibility_timeout_seconds: float = Field(3600.0, gt=0)
    reaper_interval_seconds: float = Field(15.0, gt=0)
    #: A revoked or expired token may keep working this long on a replica that did not revoke it
    #: (each process caches the tokens it saw); 0 looks every token up on every request.
    token_cache_seconds: float = Field(5.0, ge=0)
    #: Open event streams (``GET /v1/submissions/{id}/events``) in this process, and per token; beyond: 429.
    max_streams: int = Field(500, gt=0)
    max_streams_per_token: int = Field(10, gt=0)
    #: How often one query looks for run changes made through other API replicas (wakes their streams).
    stream_poll_seconds: float = Field(1.0, gt=0)
    #: Submissions one candidate may make per window (whatever token they use); beyond: 429 with Retry-After.
    submission_rate_limit: int = Field(30, gt=0)
    submission_rate_window_seconds: float = Field(60.0, gt=0)
    #: Public-test runs (``POST /v1/tasks/{pack}/{task}/public-tests``, the task page's button, ``tasktrial test``)
    #: one candidate may start per window, under the submissions' rule (``AppService.admit``); beyond: 429.
    public_test_rate_limit: int = Field(10, gt=0)
    public_test_rate_window_seconds: float = Field(60.0, gt=0)
    #: With a broker, public tests run on a worker: the API waits this long for its answer, then 503.
    public_test_wait_seconds: float = Field(120.0, gt=0)
    #: Runs waiting for a worker, all candidates together; beyond: new submissions get 429 with Retry-After.
    max_queued_runs: int = Field(1000, gt=0)
    #: When set, ``/metrics`` answers only ``Authorization: Bearer <this value>`` (or an admin token);
    #: unset, it is public (a scraper on the compose network needs no secret).
    metrics_token: SecretStr | None = None
    #: The transparency log's name (first line of its checkpoints); default: public_url's host and "/log".
    log_origin: str | None = None
    #: A new checkpoint seals what was appended at most this often, or sooner once log_batch_leaves wait.
    log_seal_seconds: float = Field(10.0, gt=0)
    log_batch_leaves: int = Field(256, gt=0)
    #: An upload still ``checking`` this long after its check was queued is queued again (a lost message).
    pack_check_requeue_seconds: float = Field(1800.0, gt=0)
    #: Let cohort webhooks go to loopback, private and link-local addresses (tests and development only:
    #: otherwise a webhook could reach the server's own network or a cloud metadata service).
    webhook_allow_private: bool = False

    def warm_for(self, parallel: int) -> int:
        """Sandboxes to keep started ahead for ``parallel`` gradings at a time."""
        return parallel if self.warm_sandboxes is None else self.warm_sandboxes

    #: Below this much free space where the data directory lives, /healthz names the disk and new
    #: submissions are refused (503) rather than accepted and lost to a full disk.
    min_free_disk_mb: int = Field(default=64, ge=0)

    def require_database(self) -> None:
        """The API (not a worker, which never touches the database) needs explicit storage in production."""
        if self.mode is Mode.PRODUCTION and not self.database_url:
            raise ConfigurationError(
                "TASKTRIAL_DATABASE_URL is required in production mode (the embedded SQLite file is for development)"
            )

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'tasktrial.db').resolve()}"

    @property
    def origin(self) -> str:
        return self.log_origin or f"{urlsplit(self.public_url).netloc or 'tasktrial'}/log"

    def link(self, path: str) -> str:
        """``path``, one of the service's own (``/v1/submissions/ID``), as a client outside reaches it (``site_root``)."""
        return site_root(self.public_url) + path

    @property
    def packs_dir(self) -> Path:
        return self.data_dir / "packs"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"
