"""``tasktrial admin``: create tokens that expire, list them, revoke them (issue 14, item 6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from api import db, storage
from api.settings import Settings
from cli import main
from cli.server import parse_expiry
from engine.errors import ConfigurationError

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TASKTRIAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TASKTRIAL_DATABASE_URL", raising=False)
    return tmp_path / "data"


@pytest.fixture
def store(data_dir):
    """The service's store, as `tasktrial serve` leaves it."""
    engine = db.make_engine(Settings().database)
    db.migrate(engine)
    engine.dispose()
    return data_dir


def admin(*args: str):
    return runner.invoke(main.app, ["admin", *args])


def principal_of(secret: str):
    settings = Settings()
    with Session(db.make_engine(settings.database)) as session:
        return storage.find_token(session=session, secret=secret)


def listed() -> list[dict]:
    result = admin("list-tokens", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_shows_every_token_without_its_secret_and_revoke_ends_it(data_dir):
    alice = admin("create-token", "--role", "candidate", "--subject", "alice", "--init").stdout.strip()
    worker = admin("create-token", "--role", "worker", "--subject", "w", "--expires", "30d").stdout.strip()
    tokens = listed()
    assert [(t["role"], t["subject"], t["state"]) for t in tokens] == [
        ("candidate", "alice", "active"),
        ("worker", "w", "active"),
    ]
    assert tokens[0]["expires_at"] is None and tokens[1]["expires_at"] is not None
    assert alice not in json.dumps(tokens) and worker not in json.dumps(tokens)

    revoked = admin("revoke-token", tokens[0]["id"])
    assert revoked.exit_code == 0, revoked.output
    assert "TASKTRIAL_TOKEN_CACHE_SECONDS" in revoked.stdout
    assert principal_of(alice) is None and principal_of(worker) is not None
    assert [t["state"] for t in listed()] == ["revoked", "active"]
    table = runner.invoke(main.app, ["admin", "list-tokens"], env={"COLUMNS": "200"}).stdout
    assert tokens[0]["id"] in table and "revoked" in table


def test_revoking_an_unknown_token_is_bad_input(store):
    result = admin("revoke-token", "no-such-id")
    assert result.exit_code == 2
    assert "unknown token 'no-such-id'" in result.stderr


@pytest.mark.parametrize("text", ["soon", "10 parsecs", "2020-01-01", "-5d"])
def test_an_unusable_or_past_expiry_is_bad_input(store, text):
    result = admin("create-token", "--role", "candidate", "--subject", "a", "--expires", text)
    assert result.exit_code == 2
    assert "--expires" in result.stderr
    assert listed() == []  # nothing half-written


def test_listing_or_revoking_in_a_store_that_does_not_exist_is_refused(data_dir):
    for args in (["list-tokens"], ["revoke-token", "some-id"]):
        result = admin(*args)
        assert result.exit_code == 2, result.output
        assert "no tasktrial store at" in result.stderr
    assert not data_dir.exists()  # nothing created by a mistyped TASKTRIAL_DATA_DIR


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_durations_count_from_now(text, expected):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_expiry(text, now) == now + expected


def test_dates_and_times_are_utc_unless_they_say_otherwise():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_expiry("2027-01-31", now) == datetime(2027, 1, 31, tzinfo=UTC)
    assert parse_expiry("2027-01-31T12:00:00Z", now) == datetime(2027, 1, 31, 12, tzinfo=UTC)
    assert parse_expiry("2027-01-31T12:00:00+02:00", now) == datetime(2027, 1, 31, 10, tzinfo=UTC)
    with pytest.raises(ConfigurationError, match="already past"):
        parse_expiry("2025-12-31", now)
