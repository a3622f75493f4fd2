"""cohorts, second part: revisions on progress rows (incremental staff views), results released at an
assessment's close, superseded results' skill evidence removed

Revision ID: 0010_cohorts2
Revises: 0009_tlog2
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # the submodule the generated columns name (mypy does not see it through `import sqlmodel`)
from alembic import op

revision = "0010_cohorts2"
down_revision = "0009_tlog2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("assessment_score", sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_assessment_score_revision", "assessment_score", ["assessment_id", "revision"], unique=False)
    op.add_column("assessment_start", sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_assessment_start_revision", "assessment_start", ["assessment_id", "revision"], unique=False)
    op.add_column("assessment", sa.Column("released_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    # A superseded result no longer counts: its evidence goes (its signed document keeps its micro-skills).
    op.execute("DELETE FROM skill_evidence WHERE result_id IN (SELECT id FROM result WHERE superseded_by IS NOT NULL)")


def downgrade() -> None:
    # The removed evidence of superseded results is not restored: it must not count, before or after.
    op.drop_column("assessment", "released_at")
    op.drop_index("ix_assessment_start_revision", table_name="assessment_start")
    op.drop_column("assessment_start", "revision")
    op.drop_index("ix_assessment_score_revision", table_name="assessment_score")
    op.drop_column("assessment_score", "revision")
