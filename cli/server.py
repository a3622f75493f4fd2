"""Server-side commands: ``serve``, ``worker`` and ``admin``."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
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
    expires: Annotated[str | None, typer.Option(
        help="When it stops working: a duration (90m, 12h, 30d, 2w) or a UTC date or time "
             "(2027-01-31, 2027-01-31T12:00:00Z). Default: never.")] = None,
) -> None:
    """Create an API token and print it once; only its digest is stored."""
    from api import storage

    expires_at = parse_expiry(expires) if expires is not None else None
    with _session() as session:
        secret = storage.create_token(session=session, name=name or f"{role.value} {subject}", role=role,
                                      subject=subject, expires_at=expires_at)
    print(secret)


def list_tokens(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (one object per token).")] = False,
) -> None:
    """List every token (never its secret): id, role, subject, and whether it is active, expired or revoked."""
    from rich.table import Table

    from api import storage
    from api.routes.admin import token_public

    with _session() as session:
        tokens = [token_public(row) for row in storage.list_tokens(session=session)]
    if as_json:
        print(json.dumps([t.model_dump(mode="json") for t in tokens], indent=2))
        return
    table = Table()
    table.add_column("id", no_wrap=True, min_width=32)  # what revoke-token takes: never cut
    for column in ("name", "role", "subject", "created", "expires"):
        table.add_column(column)
    table.add_column("state", no_wrap=True)
    for token in tokens:
        table.add_row(token.id, token.name, token.role.value, token.subject, _when(token.created_at),
                      _when(token.expires_at) if token.expires_at else "never", token.state)
    out.print(table)


def revoke_token(
    token_id: Annotated[str, typer.Argument(metavar="TOKEN_ID", help="The id `admin list-tokens` shows.")],
) -> None:
    """Revoke a token. Servers refuse it within TASKTRIAL_TOKEN_CACHE_SECONDS (DELETE /v1/admin/tokens/ID: at once)."""
    from api import storage

    settings = load_settings()
    with _session(settings) as session:
        row = storage.revoke_token(session=session, token_id=token_id)
    out.print(f"revoked {row.id} ({row.role.value} {row.subject}); running servers refuse it within "
              f"{settings.token_cache_seconds:g} s (TASKTRIAL_TOKEN_CACHE_SECONDS)", highlight=False)


def _session(settings=None):
    from sqlmodel import Session

    from api import db

    settings = settings or load_settings()
    engine = db.make_engine(settings.database)
    db.migrate(engine)
    return Session(engine)


def _when(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """``--expires``: a duration from now (``90m``, ``12h``, ``30d``, ``2w``) or an ISO 8601 date or time (UTC if naive).

    Raises:
        ConfigurationError: the text is neither, or names a moment already past.
    """
    from engine.errors import ConfigurationError

    now = now or datetime.now(UTC)
    value = text.strip()
    match = _DURATION.match(value.lower())
    if match:
        moment = now + timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigurationError(f"--expires {text!r} is neither a duration (90m, 12h, 30d, 2w) "
                                     "nor an ISO 8601 date or time (2027-01-31, 2027-01-31T12:00:00Z)") from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment <= now:
        raise ConfigurationError(f"--expires {text!r} is already past ({moment.isoformat()})")
    return moment
