"""stackable micro-credentials: definitions and awards

Revision ID: 0003_tlog_credentials
Revises: 0002_tlog
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # the submodule the generated columns name (mypy does not see it through `import sqlmodel`)
from alembic import op

revision = "0003_tlog_credentials"
down_revision = "0002_tlog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credential_definition",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("image", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("within_days", sa.Integer(), nullable=True),
        sa.Column("credentials", sa.JSON(), nullable=False),
        sa.Column("owner", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "credential_award",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("definition_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("candidate", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status_index", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("awarded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("revoked_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["credential_definition.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("status_index"),
    )
    with op.batch_alter_table("credential_award", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credential_award_definition_id"), ["definition_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_credential_award_candidate"), ["candidate"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("credential_award", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credential_award_candidate"))
        batch_op.drop_index(batch_op.f("ix_credential_award_definition_id"))
    op.drop_table("credential_award")
    op.drop_table("credential_definition")
