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
    from api.serve import build, run_server

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = load_settings(**overrides)
    if "port" in overrides and "TASKTRIAL_PUBLIC_URL" not in __import__("os").environ:
        settings = settings.model_copy(update={"public_url": f"http://127.0.0.1:{settings.port}"})
    app, service = build(settings)
    run_server(app, service, settings)


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
) -> None:
    """Create an API token and print it once; only its digest is stored."""
    from sqlmodel import Session

    from api import db, storage

    settings = load_settings()
    engine = db.make_engine(settings.database)
    db.migrate(engine)
    with Session(engine) as session:
        secret = storage.create_token(session=session, name=name or f"{role.value} {subject}", role=role,
                                      subject=subject)
    print(secret)
