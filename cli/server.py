"""Server-side commands: ``serve``, ``worker`` and ``admin``."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from api.roles import Role
from cli._output import out


def load_settings(**overrides):
    """The service settings from TASKTRIAL_* variables; a bad value is a configuration error naming it."""
    from pydantic import ValidationError

    from api.settings import Settings
    from engine.errors import ConfigurationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            (f"TASKTRIAL_{'_'.join(map(str, e['loc'])).upper()}: " if e["loc"] else "")
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise ConfigurationError(f"invalid settings: {problems}") from None


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
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1, help="Parallel gradings in this process (default: TASKTRIAL_WORKER_CONCURRENCY, else the CPUs)."
        ),
    ] = None,
) -> None:
    """Run a Celery worker: it needs Docker and the API (TASKTRIAL_PUBLIC_URL, TASKTRIAL_WORKER_TOKEN), not the database."""
    from api.serve import celery_worker

    settings = load_settings()
    concurrency = concurrency or settings.worker_concurrency
    app = celery_worker(settings, concurrency=concurrency)
    app.worker_main(
        [
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            "--pool=threads",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def create_token(
    role: Annotated[Role, typer.Option(help="What the token may do.")],
    subject: Annotated[str, typer.Option(help="Who it speaks for (a candidate's or author's id).")],
    name: Annotated[str, typer.Option(help="A label for the token.")] = "",
    expires: Annotated[
        str | None,
        typer.Option(
            help="When it stops working: a duration (90m, 12h, 30d, 2w) or a UTC date or time "
            "(2027-01-31, 2027-01-31T12:00:00Z). Default: never."
        ),
    ] = None,
    init: Annotated[bool, typer.Option("--init", help="Create the store if it does not exist yet.")] = False,
) -> None:
    """Create an API token in the service's store (TASKTRIAL_DATA_DIR or TASKTRIAL_DATABASE_URL) and print it once.

    Refuses a store that does not exist (a token written elsewhere never works) unless --init;
    says on stderr which database it wrote to. Only the token's digest is stored.
    """
    import sys

    from api import storage

    expires_at = parse_expiry(expires) if expires is not None else None
    settings = load_settings()
    with _session(settings, init=init) as session:
        secret = storage.create_token(
            session=session, name=name or f"{role.value} {subject}", role=role, subject=subject, expires_at=expires_at
        )
    print(f"created a {role.value} token for {subject} in {_shown(settings.database)}", file=sys.stderr)
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
        table.add_row(
            token.id,
            token.name,
            token.role.value,
            token.subject,
            _when(token.created_at),
            _when(token.expires_at) if token.expires_at else "never",
            token.state,
        )
    out.print(table)


def revoke_token(
    token_id: Annotated[str, typer.Argument(metavar="TOKEN_ID", help="The id `admin list-tokens` shows.")],
) -> None:
    """Revoke a token. Servers refuse it within TASKTRIAL_TOKEN_CACHE_SECONDS (DELETE /v1/admin/tokens/ID: at once)."""
    from api import storage

    settings = load_settings()
    with _session(settings) as session:
        row = storage.revoke_token(session=session, token_id=token_id)
    out.print(
        f"revoked {row.id} ({row.role.value} {row.subject}); running servers refuse it within "
        f"{settings.token_cache_seconds:g} s (TASKTRIAL_TOKEN_CACHE_SECONDS)",
        highlight=False,
    )


def _session(settings=None, *, init: bool = False):
    """A session on the service's store; a store that does not exist is refused unless ``init``.

    Raises:
        ConfigurationError: no store at the configured place (a token written elsewhere never works).
    """
    from sqlmodel import Session

    from api import db
    from engine.errors import ConfigurationError

    settings = settings or load_settings()
    url = settings.database
    if not init and not db.store_exists(url):
        raise ConfigurationError(
            f"no tasktrial store at {_shown(url)}: set TASKTRIAL_DATA_DIR (or TASKTRIAL_DATABASE_URL) to the "
            "service's, as `tasktrial serve` has it, or pass --init to create a new store there"
        )
    engine = db.make_engine(url)
    db.migrate(engine)
    return Session(engine)


def _shown(url: str) -> str:
    """The database as a message names it: a SQLite file's full path, else the URL without its password."""
    from sqlalchemy.engine import make_url

    from api import db

    path = db.sqlite_path(url)
    return str(path.resolve()) if path else make_url(url).render_as_string(hide_password=True)


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
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ConfigurationError(
                f"--expires {text!r} is neither a duration (90m, 12h, 30d, 2w) "
                "nor an ISO 8601 date or time (2027-01-31, 2027-01-31T12:00:00Z)"
            ) from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment <= now:
        raise ConfigurationError(f"--expires {text!r} is already past ({moment.isoformat()})")
    return moment


def create_link(
    role: Annotated[Role, typer.Option(help="What the signed-in person may do.")],
    subject: Annotated[str, typer.Option(help="Who signs in (a candidate's, author's or reviewer's id).")],
    expires: Annotated[
        str, typer.Option(help="Until when the link is usable: 90m, 12h, 7d, 2w, or an ISO 8601 date or time.")
    ] = "7d",
    init: Annotated[bool, typer.Option("--init", help="Create the store if it does not exist yet.")] = False,
) -> None:
    """Print a one-time sign-in link to the web client (TASKTRIAL_PUBLIC_URL); it opens a browser session once.

    The same store rule and --expires forms as create-token.
    """
    from api import storage

    lifetime = parse_expiry(expires) - datetime.now(UTC)
    settings = load_settings()
    with _session(settings, init=init) as session:
        code = storage.create_sign_in_link(session=session, role=role, subject=subject, lifetime=lifetime)
    print(f"{settings.public_url.rstrip('/')}/signin/{code}")


def rotate_key() -> None:
    """Make a new signing key; the old one stays published as retired, so what it signed still verifies."""
    from engine.keyring import Keyring

    settings = load_settings()
    retired, new = Keyring(settings.keys_dir).rotate()
    out.print(
        f"new signing key {new.kid}; {retired.kid} retired (still in the JWKS: what it signed verifies)",
        highlight=False,
    )


def revoke_key(
    kid: Annotated[str, typer.Argument(help="The id of a retired key (see /.well-known/jwks.json).")],
) -> None:
    """Revoke a retired key: nothing it signed verifies any more, and verifiers name it as revoked."""
    from engine.keyring import Keyring

    Keyring(load_settings().keys_dir).revoke(kid)
    out.print(f"key {kid} revoked", highlight=False)
