"""The cohorts migration, up and down, with data in the tables, on SQLite and a real PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from api import db

NEW_TABLES = {
    "cohort",
    "cohort_staff",
    "cohort_member",
    "invitation",
    "assessment",
    "assessment_start",
    "assessment_score",
    "review",
    "regrade",
    "webhook_endpoint",
    "webhook_delivery",
    "webhook_attempt",
}


def test_up_with_data_then_down_then_up_again(database_url):
    engine = db.make_engine(database_url)
    config = db.alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006_web")
        connection.execute(
            text(
                "INSERT INTO submission (id, pack_id, pack_version, task_id, candidate, task_digest, submission_digest,"
                " archive, created_at) VALUES ('s1', 'p', '1', 't', 'alice', 'sha256:t', 'sha256:s', :a, CURRENT_TIMESTAMP)"
            ),
            {"a": b"tar"},
        )
        connection.execute(
            text(
                "INSERT INTO run (id, submission_id, state, attempts, created_at, updated_at) "
                "VALUES ('r0', 's1', 'DONE', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        command.upgrade(config, "0007_cohorts")  # with a run pointing at the submission: no table copy
        # the old submission is practice (no assessment), not late
        assert connection.execute(text("SELECT assessment_id, late FROM submission")).one() == (None, False)
        connection.execute(
            text("INSERT INTO cohort (id, name, organiser, created_at) VALUES ('c1', 'C', 'olga', CURRENT_TIMESTAMP)")
        )
        connection.execute(
            text(
                "INSERT INTO assessment (id, cohort_id, title, tasks, opens_at, closes_at, scoring, late,"
                " result_visibility, check_visibility, check_overrides, created_by, created_at, revision) VALUES ('a1', 'c1',"
                " 'A', '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'best', 'refuse', 'always', 'always', '{}', 'olga',"
                " CURRENT_TIMESTAMP, 0)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO cohort_member (cohort_id, subject, display_name, email, joined_at) "
                "VALUES ('c1', 'alice', 'Alice', 'a@example.org', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(text("INSERT INTO cohort_staff (cohort_id, subject) VALUES ('c1', 'rita')"))
        connection.execute(
            text(
                "INSERT INTO invitation (id, cohort_id, subject, token_hash, created_at) "
                "VALUES ('i1', 'c1', 'alice', 'h', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO assessment_start (assessment_id, candidate, started_at) "
                "VALUES ('a1', 'alice', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO submission (id, pack_id, pack_version, task_id, candidate, task_digest, submission_digest,"
                " archive, created_at, assessment_id, late) VALUES ('s2', 'p', '1', 't', 'alice', 'sha256:t', 'sha256:s',"
                " :a, CURRENT_TIMESTAMP, 'a1', true)"
            ),
            {"a": b"tar"},
        )
        connection.execute(
            text(
                "INSERT INTO run (id, submission_id, state, attempts, created_at, updated_at) "
                "VALUES ('r1', 's2', 'DONE', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO result (id, run_id, submission_id, candidate, pack_id, task_id, score, verdict, document,"
                " created_at) VALUES ('res1', 'r1', 's2', 'alice', 'p', 't', 90, 'ready', '{}', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO assessment_score (assessment_id, candidate, pack_id, task_id, attempts, result_id, score,"
                " verdict, skills, late, at) VALUES ('a1', 'alice', 'p', 't', 1, 'res1', 90, 'ready', '{}', true,"
                " CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO regrade (id, assessment_id, versions, total, created_by, created_at) "
                "VALUES ('g1', 'a1', '{}', 1, 'olga', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO run (id, submission_id, state, attempts, created_at, updated_at,"
                " pack_version, task_digest, regrade_id) VALUES ('r2', 's2', 'QUEUED', 0,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '2', 'sha256:t2', 'g1')"
            )
        )
        connection.execute(text("UPDATE result SET superseded_by = 'res2' WHERE id = 'res1'"))
        connection.execute(
            text(
                "INSERT INTO webhook_endpoint (id, cohort_id, url, secret, events, created_by,"
                " created_at) VALUES ('w1', 'c1', 'http://x', 'whsec_x', '[]', 'olga', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO webhook_delivery (id, endpoint_id, message_id, event_type, payload, state,"
                " attempts, created_at) VALUES ('d1', 'w1', 'msg_1', 'result.created', '{}', 'pending',"
                " 0, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO webhook_attempt (delivery_id, at, status_code, duration_ms) "
                "VALUES ('d1', CURRENT_TIMESTAMP, 500, 3)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO review (id, run_id, submission_id, assessment_id, pack_id, pack_version, task_id, automated,"
                " state, scores, comments, created_at) VALUES ('rv1', 'r0', 's1', NULL, 'p', '1', 't', '{}',"
                " 'awaiting_review', '{}', '{}', CURRENT_TIMESTAMP)"
            )
        )
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006_web")
    tables = set(inspect(engine).get_table_names())
    assert not tables & NEW_TABLES
    assert "assessment_id" not in {c["name"] for c in inspect(engine).get_columns("submission")}
    with engine.connect() as connection:  # submissions, runs and results survive the way down
        assert connection.execute(text("SELECT count(*) FROM submission")).scalar_one() == 2
        assert connection.execute(text("SELECT count(*) FROM run")).scalar_one() == 3
        assert connection.execute(text("SELECT count(*) FROM result")).scalar_one() == 1
    db.migrate(engine)
    assert set(inspect(engine).get_table_names()) >= NEW_TABLES
    engine.dispose()


def test_second_part_up_drops_superseded_evidence_then_down_and_up_again(database_url):
    engine = db.make_engine(database_url)
    config = db.alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0009_tlog2")
        connection.execute(
            text(
                "INSERT INTO submission (id, pack_id, pack_version, task_id, candidate, task_digest, submission_digest,"
                " archive, created_at, late) VALUES ('s1', 'p', '1', 't', 'alice', 'sha256:t', 'sha256:s', :a,"
                " CURRENT_TIMESTAMP, false)"
            ),
            {"a": b"tar"},
        )
        for run, result, superseded in (("r1", "old", "new"), ("r2", "new", None)):
            connection.execute(
                text(
                    "INSERT INTO run (id, submission_id, state, attempts, created_at, updated_at) "
                    "VALUES (:r, 's1', 'DONE', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"r": run},
            )
            connection.execute(
                text(
                    "INSERT INTO result (id, run_id, submission_id, candidate, pack_id, task_id, score, verdict, document,"
                    " created_at, superseded_by) VALUES (:id, :r, 's1', 'alice', 'p', 't', 90, 'ready', '{}',"
                    " CURRENT_TIMESTAMP, :s)"
                ),
                {"id": result, "r": run, "s": superseded},
            )
            connection.execute(
                text(
                    "INSERT INTO skill_evidence (candidate, skill, score, verdict, result_id, at) "
                    "VALUES ('alice', 'k', 90, 'ready', :id, CURRENT_TIMESTAMP)"
                ),
                {"id": result},
            )
        connection.execute(
            text("INSERT INTO cohort (id, name, organiser, created_at) VALUES ('c1', 'C', 'olga', CURRENT_TIMESTAMP)")
        )
        connection.execute(
            text(
                "INSERT INTO assessment (id, cohort_id, title, tasks, opens_at, closes_at, scoring, late,"
                " result_visibility, check_visibility, check_overrides, created_by, created_at, revision) VALUES ('a1', 'c1',"
                " 'A', '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'best', 'refuse', 'always', 'always', '{}', 'olga',"
                " CURRENT_TIMESTAMP, 4)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO assessment_start (assessment_id, candidate, started_at) "
                "VALUES ('a1', 'alice', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO assessment_score (assessment_id, candidate, pack_id, task_id, attempts, skills, late, at)"
                " VALUES ('a1', 'alice', 'p', 't', 1, '{}', false, CURRENT_TIMESTAMP)"
            )
        )
        command.upgrade(config, "0010_cohorts2")
        assert connection.execute(text("SELECT result_id FROM skill_evidence")).scalars().all() == ["new"]
        assert connection.execute(text("SELECT revision FROM assessment_score")).scalar_one() == 0
        assert connection.execute(text("SELECT revision FROM assessment_start")).scalar_one() == 0
        assert connection.execute(text("SELECT released_at FROM assessment")).scalar_one() is None
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0009_tlog2")
    assert "revision" not in {c["name"] for c in inspect(engine).get_columns("assessment_score")}
    assert "released_at" not in {c["name"] for c in inspect(engine).get_columns("assessment")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM assessment_score")).scalar_one() == 1
    db.migrate(engine)
    assert "revision" in {c["name"] for c in inspect(engine).get_columns("assessment_start")}
    engine.dispose()
