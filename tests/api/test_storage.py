"""Storage and migrations against the embedded SQLite and a real PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import Session, func, select

from api import db, storage
from api.tables import ResultRow, Role, Run, RunState
from testkit.results import stored_result, stored_submission


@pytest.fixture
def engine(database_url):
    engine = db.make_engine(database_url)
    db.migrate(engine)
    yield engine
    engine.dispose()


def _document(result_id: str, score: float) -> dict:
    return {
        "id": result_id,
        "score": score,
        "verdict": "ready" if score >= 80 else "not_ready",
        "micro_skills": {"python.x.y": {"score": score, "verdict": "ready"}},
    }


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
        _, run = stored_submission(session)
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def claim(index: int) -> None:
        with Session(engine) as session:
            barrier.wait()
            wins.append(
                storage.claim_run(session=session, run_id=run.id, worker=f"w{index}", token_id="t", lease_seconds=60)
            )

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
        submission, run = stored_submission(session)
        first, created = storage.record_result(
            session=session,
            run=run,
            submission=submission,
            document=_document("r1", 90),
            candidate_view=_document("r1", 90),
        )
        again, created_again = storage.record_result(
            session=session,
            run=run,
            submission=submission,
            document=_document("r2", 10),
            candidate_view=_document("r2", 10),
        )
        assert created and not created_again
        assert again.id == first.id == "r1" and again.score == 90
        assert session.exec(select(func.count()).select_from(ResultRow)).one() == 1
        assert session.get(Run, run.id).state is RunState.DONE
        assert [e.skill for e in storage.skill_evidence(session=session, candidate="alice")] == ["python.x.y"]


def test_a_lapsed_claim_can_be_taken_over(engine):
    from datetime import timedelta

    from api.tables import utcnow

    with Session(engine) as session:
        _, run = stored_submission(session)
        assert storage.claim_run(session=session, run_id=run.id, worker="dead", token_id="t1", lease_seconds=60)
        assert not storage.claim_run(session=session, run_id=run.id, worker="other", token_id="t2", lease_seconds=60)
        later = utcnow() + timedelta(seconds=61)
        assert storage.claim_run(
            session=session, run_id=run.id, worker="other", token_id="t2", lease_seconds=60, now=later
        )
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
            # No micro-skills: their standings table comes after this revision (0011_web2).
            stored_result(
                session,
                candidate=f"c{number}",
                document={**_document(f"r{number}", 90), "micro_skills": {}},
                log_digests={"full": digests[number]},
            )
        for index, entry in enumerate(session.exec(select(LogEntry).order_by(LogEntry.id)).all()):
            entry.log_index = index  # sealed before the upgrade, with its checkpoint
            session.add(entry)
        session.add(LogCheckpoint(size=5, root_hash=merkle.root(hashes).hex(), note="signed note"))
        session.commit()
    db.migrate(engine)
    log = TransparencyLog(
        session=lambda: Session(engine, expire_on_commit=False), origin="example/log", key=SigningKey.generate
    )
    assert log.inclusion(digest=digests[3], size=5)["inclusion_proof"] == transparency.encode_proof(
        merkle.inclusion_proof(hashes, 3, 5)
    )
    with Session(engine) as session:
        stored_result(session, candidate="c5", document=_document("r5", 90), log_digests={"full": f"sha256:{5:064x}"})
    hashes.append(transparency.leaf_hash(f"sha256:{5:064x}"))
    assert log.seal().root_hash == merkle.root(hashes)  # sealing goes on from the stored subtrees
    assert log.consistency(first=5, second=6)["consistency_proof"] == transparency.encode_proof(
        merkle.consistency_proof(hashes, 5, 6)
    )
    engine.dispose()


def test_standings_keep_the_latest_and_the_best_whatever_the_arrival_order(engine):
    from datetime import timedelta

    from api.tables import SkillStanding, utcnow

    t0 = utcnow()
    with Session(engine) as session:
        # A newer piece of evidence stored first, an older one after (a slow worker): the latest stays the newer.
        for n, (candidate, skill, score, verdict, at) in enumerate(
            (
                ("alice", "s.a", 40.0, "not_ready", t0 + timedelta(seconds=2)),
                ("alice", "s.a", 90.0, "ready", t0 + timedelta(seconds=1)),
                ("alice", "s.b", 80.0, "ready", t0),
                ("bob", "s.a", 95.0, "ready", t0),
                ("bob", "s.b", 85.0, "ready", t0),
                ("carol", "s.b", 20.0, "not_ready", t0),
                ("carol", "s.b", 99.0, "ready", t0),  # the same instant: the later-stored is the latest
                ("dave", "s.a", 70.0, "ready", t0 + timedelta(seconds=1)),
                ("dave", "s.a", 70.0, "ready", t0),  # an equal best, older (stored late): the best is the first
            )
        ):
            storage.record_standing(
                session=session,
                candidate=candidate,
                skill=skill,
                score=score,
                verdict=verdict,
                at=at,
                result_id=f"r{n}",
            )
        session.commit()
        alice = session.get(SkillStanding, ("alice", "s.a", ""))
        assert (alice.score, alice.verdict, alice.best) == (40.0, "not_ready", 90.0)
        assert (alice.result_id, alice.best_result_id, alice.best_verdict) == ("r0", "r1", "ready")
        assert alice.best_at == t0 + timedelta(seconds=1)
        carol = session.get(SkillStanding, ("carol", "s.b", ""))
        assert (carol.score, carol.verdict, carol.best) == (99.0, "ready", 99.0)
        assert (carol.result_id, carol.best_result_id) == ("r6", "r6")
        dave = session.get(SkillStanding, ("dave", "s.a", ""))
        assert (dave.result_id, dave.best_result_id, dave.best_at) == ("r7", "r8", t0)

        every = storage.readiness_table(session=session)
        assert every.skills == ["s.a", "s.b"] and every.matched == 4
        assert every.candidates == ["alice", "bob", "carol", "dave"]
        assert every.cells["alice"] == {"s.a": (40.0, "not_ready", 90.0), "s.b": (80.0, "ready", 80.0)}
        ready = storage.readiness_table(session=session, ready_in=["s.a", "s.b", "s.a", ""])
        assert ready.matched == 1 and ready.candidates == ["bob"]
        assert storage.readiness_table(session=session, ready_in=["s.nobody"]).matched == 0
        ranked = storage.readiness_table(session=session, sort="s.a")
        assert ranked.candidates == ["bob", "dave", "alice", "carol"]  # carol has no s.a evidence: last
        second = storage.readiness_table(session=session, sort="s.b", offset=1, limit=1)
        assert second.matched == 4 and second.candidates == ["bob"] and list(second.cells) == ["bob"]


def test_a_superseded_result_leaves_the_standings_it_made(engine):
    from api.tables import Run, SkillStanding

    with Session(engine) as session:
        submission, run = stored_submission(session)
        storage.record_result(
            session=session, run=run, submission=submission, document=_document("old", 95), candidate_view={}
        )
        regrade = Run(submission_id=submission.id)  # a regrade's run of the same submission
        session.add(regrade)
        session.commit()
        storage.record_result(
            session=session,
            run=regrade,
            submission=submission,
            document={**_document("new", 40), "micro_skills": {"python.x.y": {"score": 40, "verdict": "not_ready"}}},
            candidate_view={},
        )
        standing = session.get(SkillStanding, ("alice", "python.x.y", ""))
        assert (standing.score, standing.verdict, standing.best) == (40.0, "not_ready", 40.0)  # 95 went with it


def test_the_readiness_table_reads_only_the_scopes_in_view(engine):
    from datetime import timedelta

    from api.tables import utcnow

    t0 = utcnow()
    with Session(engine) as session:
        for skill, score, verdict, at, scope in (
            ("s.a", 90.0, "ready", t0, ""),  # practice
            ("s.a", 10.0, "not_ready", t0 + timedelta(seconds=1), "a1"),
            ("s.b", 95.0, "ready", t0, "a2"),
        ):
            storage.record_standing(
                session=session,
                candidate="alice",
                skill=skill,
                score=score,
                verdict=verdict,
                at=at,
                result_id=f"r-{scope}",
                scope=scope,
            )
        session.commit()
        every = storage.readiness_table(session=session)
        assert every.cells["alice"] == {"s.a": (10.0, "not_ready", 90.0), "s.b": (95.0, "ready", 95.0)}
        staff_of_a2 = storage.readiness_table(session=session, assessments={"a2"})
        assert staff_of_a2.cells["alice"] == {"s.a": (90.0, "ready", 90.0), "s.b": (95.0, "ready", 95.0)}
        assert storage.readiness_table(session=session, assessments={"a2"}, ready_in=["s.a", "s.b"]).matched == 1
        assert storage.readiness_table(session=session, ready_in=["s.a"]).matched == 0
        assert storage.readiness_table(session=session, assessments=set()).skills == ["s.a"]


def test_a_stored_result_updates_the_standings(engine):
    from api.tables import SkillStanding

    with Session(engine) as session:
        submission, run = stored_submission(session)
        storage.record_result(
            session=session,
            run=run,
            submission=submission,
            document=_document("r1", 90),
            candidate_view=_document("r1", 90),
        )
        standing = session.get(SkillStanding, ("alice", "python.x.y", ""))
        assert (standing.score, standing.verdict, standing.best) == (90.0, "ready", 90.0)


def test_the_standings_migration_fills_them_from_the_stored_evidence(database_url):
    from datetime import timedelta

    from alembic import command
    from sqlalchemy import text

    from api.tables import utcnow

    engine = db.make_engine(database_url)
    try:
        config = db.alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0010_cohorts2")  # the revision before 0011_web2
        t0 = utcnow()
        with Session(engine) as session:
            submission, run = stored_submission(session)
            session.execute(
                text(
                    "INSERT INTO result (id, run_id, submission_id, candidate, pack_id, task_id, score, "
                    "verdict, document, created_at) VALUES ('r', :run, :sub, 'alice', 'p', 't', 1, "
                    "'ready', '{}', :at)"
                ),
                {"run": run.id, "sub": submission.id, "at": t0},
            )
            for skill, score, verdict, at in (
                ("s.a", 90.0, "ready", t0),
                ("s.a", 30.0, "not_ready", t0 + timedelta(seconds=1)),
                ("s.b", 70.0, "not_ready", t0),
            ):
                session.execute(
                    text(
                        "INSERT INTO skill_evidence (candidate, skill, score, verdict, result_id, at) "
                        "VALUES ('alice', :skill, :score, :verdict, 'r', :at)"
                    ),
                    {"skill": skill, "score": score, "verdict": verdict, "at": at},
                )
            session.commit()
        db.migrate(engine)
        with Session(engine) as session:
            table = storage.readiness_table(session=session)
            standings = {row.skill: row for row in storage.skill_standings(session=session, candidate="alice")}
        assert table.cells == {"alice": {"s.a": (30.0, "not_ready", 90.0), "s.b": (70.0, "not_ready", 70.0)}}
        # 0012_datascale: the results and the best's verdict and time too.
        assert (standings["s.a"].result_id, standings["s.a"].best_result_id) == ("r", "r")
        assert (standings["s.a"].best_verdict, standings["s.a"].best_at) == ("ready", t0)
        assert standings["s.a"].at == t0 + timedelta(seconds=1)
    finally:
        engine.dispose()


def test_public_test_admissions_out_of_the_window_are_forgotten(engine):
    from datetime import timedelta

    from api.tables import PublicTestAdmission, utcnow

    now = utcnow()
    with Session(engine) as session:
        storage.record_public_test_run(
            session=session,
            candidate="alice",
            at=now - timedelta(seconds=120),
            forget_before=now - timedelta(seconds=600),
        )
        storage.record_public_test_run(
            session=session, candidate="bob", at=now - timedelta(seconds=90), forget_before=now - timedelta(seconds=600)
        )
        storage.record_public_test_run(
            session=session, candidate="alice", at=now, forget_before=now - timedelta(seconds=60)
        )
        assert session.exec(select(func.count()).select_from(PublicTestAdmission)).one() == 1  # bob's went too
        count, oldest = storage.recent_public_test_runs(
            session=session, candidate="alice", since=now - timedelta(seconds=600)
        )
        assert count == 1 and oldest == now
