"""Server-side commands: ``serve``, ``worker`` and ``admin``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from api.tables import Role

admin_app = typer.Typer(no_args_is_help=True, help="Administer the service (run on the server).")
out = Console()


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (TASKTRIAL_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (TASKTRIAL_PORT).")] = None,
) -> None:
    """Run the API. Without TASKTRIAL_BROKER_URL, submissions are graded by an in-process worker pool."""
    import uvicorn

    from api.serve import build
    from api.settings import Settings

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)
    if "port" in overrides and "TASKTRIAL_PUBLIC_URL" not in __import__("os").environ:
        settings = settings.model_copy(update={"public_url": f"http://127.0.0.1:{settings.port}"})
    app, _ = build(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")


def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Parallel gradings in this process.")] = 2,
) -> None:
    """Run a Celery worker: it needs Docker and the API (TASKTRIAL_PUBLIC_URL, TASKTRIAL_WORKER_TOKEN), not the database."""
    from api.serve import celery_worker
    from api.settings import Settings

    app = celery_worker(Settings())
    app.worker_main(["worker", "--loglevel=INFO", f"--concurrency={concurrency}", "--pool=threads",
                     "--without-gossip", "--without-mingle"])


@admin_app.command("create-token")
def create_token(
    role: Annotated[Role, typer.Option(help="What the token may do.")],
    subject: Annotated[str, typer.Option(help="Who it speaks for (a candidate's or author's id).")],
    name: Annotated[str, typer.Option(help="A label for the token.")] = "",
) -> None:
    """Create an API token and print it once; only its digest is stored."""
    from sqlmodel import Session

    from api import db, storage
    from api.settings import Settings

    settings = Settings()
    engine = db.make_engine(settings.database)
    db.migrate(engine)
    with Session(engine) as session:
        secret = storage.create_token(session=session, name=name or f"{role.value} {subject}", role=role,
                                      subject=subject)
    print(secret)
