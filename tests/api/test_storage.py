"""Storage and migrations against the embedded SQLite and a real PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import Session, func, select

from api import db, storage
from api.tables import Result, Role, Run, RunState, Submission


@pytest.fixture
def engine(database_url):
    engine = db.make_engine(database_url)
    db.migrate(engine)
    yield engine
    engine.dispose()


def _submission(session: Session) -> tuple[Submission, Run]:
    return storage.create_submission(session=session, candidate="alice", pack_id="p", pack_version="1.0.0",
                                     task_id="t", task_digest="sha256:" + "1" * 64,
                                     submission_digest="sha256:" + "2" * 64, archive=b"\x1f\x8b archive")


def _document(result_id: str, score: float) -> dict:
    return {"id": result_id, "score": score, "verdict": "ready" if score >= 80 else "not_ready",
            "micro_skills": {"python.x.y": {"score": score, "verdict": "ready"}}}


def test_migrations_reach_head_and_are_idempotent(engine):
    db.migrate(engine)  # a second start changes nothing
    head = ScriptDirectory.from_config(db.alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head
    tables = set(inspect(engine).get_table_names())
    assert {"api_token", "pack_version", "submission", "run", "run_event", "result", "skill_evidence"} <= tables


def test_tokens_are_stored_hashed(engine):
    with Session(engine) as session:
        secret = storage.create_token(session=session, name="n", role=Role.CANDIDATE, subject="alice")
        found = storage.find_token(session=session, secret=secret)
        assert found is not None and found.subject == "alice"
        assert found.token_hash != secret and secret not in found.token_hash
        assert storage.find_token(session=session, secret=secret + "x") is None


def test_only_one_of_many_concurrent_claims_wins(engine):
    with Session(engine) as session:
        _, run = _submission(session)
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def claim(index: int) -> None:
        with Session(engine) as session:
            barrier.wait()
            wins.append(storage.claim_run(session=session, run_id=run.id, worker=f"w{index}", token_id="t",
                                          lease_seconds=60))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]
    with Session(engine) as session:
        stored = session.get(Run, run.id)
        assert stored.state is RunState.RUNNING and stored.attempts == 1


def test_a_result_is_written_once(engine):
    with Session(engine) as session:
        submission, run = _submission(session)
        first, created = storage.record_result(session=session, run=run, submission=submission,
                                               document=_document("r1", 90), candidate_view=_document("r1", 90))
        again, created_again = storage.record_result(session=session, run=run, submission=submission,
                                                     document=_document("r2", 10), candidate_view=_document("r2", 10))
        assert created and not created_again
        assert again.id == first.id == "r1" and again.score == 90
        assert session.exec(select(func.count()).select_from(Result)).one() == 1
        assert session.get(Run, run.id).state is RunState.DONE
        assert [e.skill for e in storage.skill_evidence(session=session, candidate="alice")] == ["python.x.y"]


def test_a_lapsed_claim_can_be_taken_over(engine):
    from datetime import timedelta

    from api.tables import utcnow

    with Session(engine) as session:
        _, run = _submission(session)
        assert storage.claim_run(session=session, run_id=run.id, worker="dead", token_id="t1", lease_seconds=60)
        assert not storage.claim_run(session=session, run_id=run.id, worker="other", token_id="t2", lease_seconds=60)
        later = utcnow() + timedelta(seconds=61)
        assert storage.claim_run(session=session, run_id=run.id, worker="other", token_id="t2", lease_seconds=60,
                                 now=later)
        assert session.get(Run, run.id).attempts == 2


def test_upgrading_a_sealed_log_stores_its_subtrees_so_proofs_and_sealing_go_on(database_url):
    from alembic import command

    from api.tables import LogCheckpoint, LogEntry
    from api.transparency import TransparencyLog
    from engine import merkle, transparency
    from engine.signing import SigningKey

    engine = db.make_engine(database_url)
    with engine.begin() as connection:
        config = db.alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, "0008_faults")  # the revision before 0009_tlog2
    digests = [f"sha256:{number:064x}" for number in range(5)]
    hashes = [transparency.leaf_hash(d) for d in digests]
    with Session(engine) as session:
        for number in range(5):
            submission, run = storage.create_submission(
                session=session, candidate=f"c{number}", pack_id="p", pack_version="1", task_id="t",
                task_digest="sha256:" + "1" * 64, submission_digest="sha256:" + "2" * 64, archive=b"a")
            storage.record_result(session=session, run=run, submission=submission,
                                  document=_document(f"r{number}", 90), candidate_view={},
                                  log_digests={"full": digests[number]})
        for index, entry in enumerate(session.exec(select(LogEntry).order_by(LogEntry.id)).all()):
            entry.log_index = index  # sealed before the upgrade, with its checkpoint
            session.add(entry)
        session.add(LogCheckpoint(size=5, root_hash=merkle.root(hashes).hex(), note="signed note"))
        session.commit()
    db.migrate(engine)
    log = TransparencyLog(session=lambda: Session(engine, expire_on_commit=False), origin="example/log",
                          key=SigningKey.generate)
    assert log.inclusion(digest=digests[3], size=5)["inclusion_proof"] == \
        transparency.encode_proof(merkle.inclusion_proof(hashes, 3, 5))
    with Session(engine) as session:
        submission, run = storage.create_submission(
            session=session, candidate="c5", pack_id="p", pack_version="1", task_id="t",
            task_digest="sha256:" + "1" * 64, submission_digest="sha256:" + "2" * 64, archive=b"a")
        storage.record_result(session=session, run=run, submission=submission, document=_document("r5", 90),
                              candidate_view={}, log_digests={"full": f"sha256:{5:064x}"})
    hashes.append(transparency.leaf_hash(f"sha256:{5:064x}"))
    assert log.seal().root_hash == merkle.root(hashes)  # sealing goes on from the stored subtrees
    assert log.consistency(first=5, second=6)["consistency_proof"] == \
        transparency.encode_proof(merkle.consistency_proof(hashes, 5, 6))
    engine.dispose()
