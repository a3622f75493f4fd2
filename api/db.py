"""Database engine and migrations. SQLite (WAL, busy timeout) by default; PostgreSQL in production."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlmodel import create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, *, pool_timeout: float = 30.0) -> Engine:
    """An engine for ``url``; SQLite files get WAL mode and a busy timeout for concurrent writers.

    ``pool_timeout``: how long a checkout waits for a free connection before SQLAlchemy's
    ``TimeoutError`` (the API answers it 503, ``api.errors``).
    """
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        in_file = bool(path) and path != ":memory:"
        if in_file:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            # An in-memory database has one connection per thread (no pool to wait for).
            **({"pool_timeout": pool_timeout} if in_file else {}),
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL sync never corrupts; a power cut may lose the last commits (the embedded default's trade).
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_timeout=pool_timeout)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    if not url.startswith("sqlite"):
        return None
    path = url.removeprefix("sqlite:///")
    return Path(path) if path and path != ":memory:" else None


def store_exists(url: str) -> bool:
    """Whether ``url`` names a store tasktrial already set up: a SQLite file that exists, or a
    database whose migrations ran. Asks without creating anything (a SQLite file is never made here)."""
    path = sqlite_path(url)
    if path is not None:
        return path.is_file()
    if url.startswith("sqlite"):
        return False
    engine = make_engine(url)
    try:
        return inspect(engine).has_table("alembic_version")
    finally:
        engine.dispose()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    """Apply every migration (idempotent); called on start."""
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
