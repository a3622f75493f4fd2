"""security hardening: token expiry and revocation time, claims bound to a worker token, subject salts

Revision ID: 0005_secapi
Revises: 0004_authoring
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # the submodule the generated columns name (mypy does not see it through `import sqlmodel`)
from alembic import op

revision = "0005_secapi"
down_revision = "0004_authoring"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worker_token_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_salt", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.create_index(batch_op.f("ix_submission_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_created_at"))
        batch_op.drop_column("subject_salt")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("worker_token_id")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("expires_at")
