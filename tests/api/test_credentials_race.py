"""Awarding is idempotent in the database: API processes refreshing one candidate at once award once.

On the embedded SQLite and a real PostgreSQL, with threads racing on separate connections
(what two API processes do: each refresh reads the active awards, then inserts).
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from api import credentials as credential_awards
from api import db
from api.credentials import Credentials
from api.tables import CredentialAward, CredentialDefinition, utcnow
from engine.signing import SigningKey
from testkit.results import stored_result

SKILL = "python.x.y"
RACERS = 4


@pytest.fixture
def engine(database_url):
    engine = db.make_engine(database_url)
    db.migrate(engine)
    yield engine
    engine.dispose()


def ready_candidate(engine, candidate: str) -> None:
    document = {
        "id": f"r-{candidate}",
        "score": 90.0,
        "verdict": "ready",
        "micro_skills": {SKILL: {"score": 90.0, "verdict": "ready"}},
    }
    with Session(engine) as session:
        stored_result(session, candidate=candidate, document=document, candidate_view=document)


def test_racing_refreshes_award_each_credential_once(engine):
    with Session(engine) as session:
        session.add(CredentialDefinition(id="retries", name="Retries", skills=[SKILL], owner="carol"))
        session.add(CredentialDefinition(id="resilience", name="Resilience", credentials=["retries"], owner="carol"))
        session.commit()
    candidates = [f"c{i}" for i in range(10)]
    for candidate in candidates:
        ready_candidate(engine, candidate)
    credentials = Credentials(
        session=lambda: Session(engine, expire_on_commit=False), public_url="http://t", key=SigningKey.generate
    )
    failures: list[BaseException] = []

    def race(candidate: str, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            credentials.refresh(candidate, attempts=RACERS + 1)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    for candidate in candidates:
        barrier = threading.Barrier(RACERS)
        threads = [threading.Thread(target=race, args=(candidate, barrier)) for _ in range(RACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    with Session(engine) as session:
        counts = session.exec(
            select(CredentialAward.candidate, CredentialAward.definition_id, func.count())
            .where(col(CredentialAward.revoked_at).is_(None))
            .group_by(CredentialAward.candidate, CredentialAward.definition_id)
        ).all()
    assert sorted(counts) == sorted((c, d, 1) for c in candidates for d in ("resilience", "retries"))


def test_the_database_refuses_a_second_active_award_but_keeps_revoked_ones(engine):
    with Session(engine) as session:
        session.add(CredentialDefinition(id="retries", name="Retries", skills=[SKILL], owner="carol"))
        session.commit()
        session.add(
            CredentialAward(
                definition_id="retries",
                candidate="alice",
                status_index=0,
                evidence=[],
                revoked_at=utcnow(),
                revoked_reason="regraded",
            )
        )
        session.add(CredentialAward(definition_id="retries", candidate="alice", status_index=1, evidence=[]))
        session.commit()
        session.add(CredentialAward(definition_id="retries", candidate="alice", status_index=2, evidence=[]))
        with pytest.raises(IntegrityError):
            session.commit()


def test_a_status_index_another_process_took_is_retried_not_raised(engine, monkeypatch):
    """The insert meets the taken index (PostgreSQL and SQLite check it there, not at the commit)."""
    with Session(engine) as session:
        session.add(CredentialDefinition(id="retries", name="Retries", skills=[SKILL], owner="carol"))
        session.commit()
    for candidate in ("c0", "c1"):
        ready_candidate(engine, candidate)
    credentials = Credentials(
        session=lambda: Session(engine, expire_on_commit=False), public_url="http://t", key=SigningKey.generate
    )
    credentials.refresh("c0")
    looks: list[int] = []

    def stale_then_fresh(session: Session) -> int:
        looks.append(0 if not looks else fresh(session))  # the first look predates c0's award
        return looks[-1]

    fresh = credential_awards._next_index
    monkeypatch.setattr(credential_awards, "_next_index", stale_then_fresh)
    credentials.refresh("c1")
    with Session(engine) as session:
        indexes = dict(session.exec(select(CredentialAward.candidate, CredentialAward.status_index)).all())
    assert indexes == {"c0": 0, "c1": 1} and looks == [0, 1]
