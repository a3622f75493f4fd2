"""large data: standings carry the latest evidence's result and the best evidence's verdict, time and result,
so a profile reads one row per skill and scope instead of every piece of evidence

Revision ID: 0012_datascale
Revises: 0011_web2

The table is made again from the evidence already stored, per (candidate, skill, scope): the
newest evidence (the highest id among evidence of the same instant, as the profile takes the
last one) and the best (the highest score, the earliest of equal ones, as the profile keeps the
first). Every column is filled, so the new ones need no default.
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # the submodule the generated columns name (mypy does not see it through `import sqlmodel`)
from alembic import op

revision = "0012_datascale"
down_revision = "0011_web2"
branch_labels = None
depends_on = None


def _create(*extra: sa.Column) -> None:
    op.create_table(
        "skill_standing",
        sa.Column("candidate", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("skill", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("verdict", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("best", sa.Float(), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        *extra,
        sa.PrimaryKeyConstraint("candidate", "skill", "scope"),
    )
    with op.batch_alter_table("skill_standing", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_skill_standing_skill"), ["skill"], unique=False)


def _drop() -> None:
    with op.batch_alter_table("skill_standing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_skill_standing_skill"))
    op.drop_table("skill_standing")


#: Per (candidate, skill, scope), in one pass over the evidence: the newest row (``newest = 1``), which
#: carries the best row's values (``first_value`` over the best-first order).
_EVIDENCE = (
    "WITH e AS (SELECT ev.id, ev.candidate, ev.skill, ev.score, ev.verdict, ev.at, ev.result_id, "
    "COALESCE(s.assessment_id, '') AS scope FROM skill_evidence ev "
    "JOIN result r ON r.id = ev.result_id JOIN submission s ON s.id = r.submission_id), "
    "picked AS (SELECT candidate, skill, scope, score, verdict, at, result_id, "
    "row_number() OVER (PARTITION BY candidate, skill, scope ORDER BY at DESC, id DESC) AS newest, "
    "first_value(score) OVER best AS best, first_value(verdict) OVER best AS best_verdict, "
    "first_value(at) OVER best AS best_at, first_value(result_id) OVER best AS best_result_id "
    "FROM e WINDOW best AS (PARTITION BY candidate, skill, scope ORDER BY score DESC, at, id)) "
)


def upgrade() -> None:
    _drop()
    _create(
        sa.Column("result_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("best_verdict", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("best_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("best_result_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    )
    op.execute(
        _EVIDENCE  # noqa: S608 - constant text, no value in it
        + "INSERT INTO skill_standing (candidate, skill, scope, score, verdict, at, result_id, "
        "best, best_verdict, best_at, best_result_id) SELECT candidate, skill, scope, score, verdict, at, "
        "result_id, best, best_verdict, best_at, best_result_id FROM picked WHERE newest = 1"
    )


def downgrade() -> None:
    _drop()
    _create()
    op.execute(
        _EVIDENCE  # noqa: S608 - constant text, no value in it
        + "INSERT INTO skill_standing (candidate, skill, scope, score, verdict, at, best) "
        "SELECT candidate, skill, scope, score, verdict, at, best FROM picked WHERE newest = 1"
    )
