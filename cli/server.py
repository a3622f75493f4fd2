"""Server-side commands: ``serve``, ``worker`` and ``admin``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from api.tables import Role

def load_settings(**overrides):
    """The service settings from TASKTRIAL_* variables; a bad value is a configuration error naming it."""
    from pydantic import ValidationError

    from api.settings import Settings
    from engine.errors import ConfigurationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join((f"TASKTRIAL_{'_'.join(map(str, e['loc'])).upper()}: " if e["loc"] else "")
                             + e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise ConfigurationError(f"invalid settings: {problems}") from None


out = Console()


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (TASKTRIAL_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (TASKTRIAL_PORT).")] = None,
) -> None:
    """Run the API. Without TASKTRIAL_BROKER_URL, submissions are graded by an in-process worker pool."""
    import uvicorn

    from api.serve import build

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = load_settings(**overrides)
    if "port" in overrides and "TASKTRIAL_PUBLIC_URL" not in __import__("os").environ:
        settings = settings.model_copy(update={"public_url": f"http://127.0.0.1:{settings.port}"})
    app, _ = build(settings)
    # After SIGTERM, open requests (event streams included) get SHUTDOWN_GRACE_SECONDS, then are cut.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info",
                timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS)
    _leave_gradings_under_way()


#: How long ``serve`` lets open requests finish after SIGTERM; the whole stop stays well under 10 s.
SHUTDOWN_GRACE_SECONDS = 3


def _leave_gradings_under_way() -> None:
    """End the process without waiting for embedded gradings still running (the interpreter would join
    their threads, for as long as a grading takes): their runs stay claimed in the database and the
    next start queues them again (``api.serve.recover``), so nothing is lost by not waiting."""
    import logging
    import os
    import sys
    import threading

    busy = [t for t in threading.enumerate() if t.name.startswith("tasktrial-worker") and t.is_alive()]
    if busy:
        logging.getLogger("tasktrial.serve").warning(
            "stopping with %d grading(s) under way; their runs are queued again at the next start", len(busy))
        sys.stdout.flush(), sys.stderr.flush()
        os._exit(0)


def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Parallel gradings in this process.")] = 2,
) -> None:
    """Run a Celery worker: it needs Docker and the API (TASKTRIAL_PUBLIC_URL, TASKTRIAL_WORKER_TOKEN), not the database."""
    from api.serve import celery_worker

    app = celery_worker(load_settings())
    app.worker_main(["worker", "--loglevel=INFO", f"--concurrency={concurrency}", "--pool=threads",
                     "--without-gossip", "--without-mingle"])


def create_token(
    role: Annotated[Role, typer.Option(help="What the token may do.")],
    subject: Annotated[str, typer.Option(help="Who it speaks for (a candidate's or author's id).")],
    name: Annotated[str, typer.Option(help="A label for the token.")] = "",
    init: Annotated[bool, typer.Option("--init", help="Create the store if it does not exist yet.")] = False,
) -> None:
    """Create an API token in the service's store (TASKTRIAL_DATA_DIR or TASKTRIAL_DATABASE_URL) and print it once.

    Refuses a store that does not exist (a token written elsewhere never works) unless --init;
    says on stderr which database it wrote to. Only the token's digest is stored.
    """
    import sys

    from sqlalchemy.engine import make_url
    from sqlmodel import Session

    from api import db, storage
    from engine.errors import ConfigurationError

    settings = load_settings()
    url = settings.database
    path = db.sqlite_path(url)
    shown = str(path.resolve()) if path else make_url(url).render_as_string(hide_password=True)
    if not init and not db.store_exists(url):
        raise ConfigurationError(
            f"no tasktrial store at {shown}: set TASKTRIAL_DATA_DIR (or TASKTRIAL_DATABASE_URL) to the service's, "
            "as `tasktrial serve` has it, or pass --init to create a new store there")
    engine = db.make_engine(url)
    db.migrate(engine)
    with Session(engine) as session:
        secret = storage.create_token(session=session, name=name or f"{role.value} {subject}", role=role,
                                      subject=subject)
    engine.dispose()
    print(f"created a {role.value} token for {subject} in {shown}", file=sys.stderr)
    print(secret)


def rotate_key() -> None:
    """Make a new signing key; the old one stays published as retired, so what it signed still verifies."""
    from engine.keyring import Keyring

    settings = load_settings()
    retired, new = Keyring(settings.keys_dir).rotate()
    out.print(f"new signing key {new.kid}; {retired.kid} retired (still in the JWKS: what it signed verifies)",
              highlight=False)


def revoke_key(kid: Annotated[str, typer.Argument(help="The id of a retired key (see /.well-known/jwks.json).")]) -> None:
    """Revoke a retired key: nothing it signed verifies any more, and verifiers name it as revoked."""
    from engine.keyring import Keyring

    Keyring(load_settings().keys_dir).revoke(kid)
    out.print(f"key {kid} revoked", highlight=False)
