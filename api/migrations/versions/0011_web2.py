"""web client: per candidate and micro-skill standings kept as evidence arrives (the readiness table reads them);
public-test runs let in, for their rate limit; public tests handed to Celery workers

Revision ID: 0011_web2
Revises: 0010_cohorts2

The table is filled from the evidence already stored: per (candidate, skill), the newest
evidence's score and verdict (the highest id among evidence of the same instant, as the
profile takes the last one) and the best score. The grouped index the readiness table
used before is no longer read, so it goes.
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # the submodule the generated columns name (mypy does not see it through `import sqlmodel`)
from alembic import op

revision = "0011_web2"
down_revision = "0010_cohorts2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "skill_standing",
        sa.Column("candidate", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("skill", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("verdict", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("best", sa.Float(), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("candidate", "skill", "scope"),
    )
    with op.batch_alter_table("skill_standing", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_skill_standing_skill"), ["skill"], unique=False)
    # Per (candidate, skill, scope): scope is the assessment the evidence came from ("" for practice).
    # One pass with window functions (correlated subqueries over the CTE are quadratic on PostgreSQL,
    # which materialises it: hours for a million results).
    op.execute(
        "WITH e AS (SELECT ev.id, ev.candidate, ev.skill, ev.score, ev.verdict, ev.at, "
        "COALESCE(s.assessment_id, '') AS scope FROM skill_evidence ev "
        "JOIN result r ON r.id = ev.result_id JOIN submission s ON s.id = r.submission_id), "
        "picked AS (SELECT candidate, skill, scope, score, verdict, at, "
        "row_number() OVER (PARTITION BY candidate, skill, scope ORDER BY at DESC, id DESC) AS newest, "
        "max(score) OVER (PARTITION BY candidate, skill, scope) AS best FROM e) "
        "INSERT INTO skill_standing (candidate, skill, scope, score, verdict, at, best) "
        "SELECT candidate, skill, scope, score, verdict, at, best FROM picked WHERE newest = 1"
    )
    with op.batch_alter_table("skill_evidence", schema=None) as batch_op:
        batch_op.drop_index("ix_skill_evidence_standing")
    op.create_table(
        "public_test_admission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("public_test_admission", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_public_test_admission_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_public_test_admission_candidate"), ["candidate"], unique=False)
    op.create_table(
        "public_test_job",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("pack_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("pack_version", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("task_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("task_digest", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("archive", sa.LargeBinary(), nullable=False),
        sa.Column("worker_token_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("public_test_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_public_test_job_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("public_test_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_public_test_job_created_at"))
    op.drop_table("public_test_job")
    with op.batch_alter_table("public_test_admission", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_public_test_admission_candidate"))
        batch_op.drop_index(batch_op.f("ix_public_test_admission_at"))
    op.drop_table("public_test_admission")
    with op.batch_alter_table("skill_evidence", schema=None) as batch_op:
        batch_op.create_index("ix_skill_evidence_standing", ["candidate", "skill", "at", "score"], unique=False)
    with op.batch_alter_table("skill_standing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_skill_standing_skill"))
    op.drop_table("skill_standing")
