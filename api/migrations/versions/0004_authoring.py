"""pack versions are checked before they go live, and can be retired

Revision ID: 0004_authoring
Revises: 0003_tlog_credentials
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # the submodule the generated columns name (mypy does not see it through `import sqlmodel`)
from alembic import op

revision = "0004_authoring"
down_revision = "0003_tlog_credentials"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pack_version", schema=None) as batch_op:
        # Versions uploaded before checks existed were served at once: they stay live.
        batch_op.add_column(
            sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="live")
        )
        batch_op.add_column(sa.Column("report", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("checked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pack_version", schema=None) as batch_op:
        batch_op.drop_column("checked_at")
        batch_op.drop_column("report")
        batch_op.drop_column("state")
