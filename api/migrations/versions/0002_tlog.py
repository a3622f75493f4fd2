"""transparency log: leaves and signed checkpoints

Revision ID: 0002_tlog
Revises: 0001
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # the submodule the generated columns name (mypy does not see it through `import sqlmodel`)
from alembic import op

revision = "0002_tlog"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=True),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("result_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("view", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["result.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("log_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_log_entry_log_index"), ["log_index"], unique=True)
        batch_op.create_index(batch_op.f("ix_log_entry_digest"), ["digest"], unique=False)
        batch_op.create_index(batch_op.f("ix_log_entry_result_id"), ["result_id"], unique=False)
    op.create_table(
        "log_checkpoint",
        sa.Column("size", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("size"),
    )


def downgrade() -> None:
    op.drop_table("log_checkpoint")
    with op.batch_alter_table("log_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_log_entry_result_id"))
        batch_op.drop_index(batch_op.f("ix_log_entry_digest"))
        batch_op.drop_index(batch_op.f("ix_log_entry_log_index"))
    op.drop_table("log_entry")
