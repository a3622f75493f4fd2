"""credentials: at most one active award per candidate and definition (a partial unique index)

Revision ID: 0007_tlog2
Revises: 0006_web
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_tlog2'
down_revision = '0006_web'
branch_labels = None
depends_on = None

ACTIVE = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    # Two processes that raced before this index may have awarded twice: keep the first active award.
    op.execute("UPDATE credential_award SET revoked_at = awarded_at, revoked_reason = 'duplicate award' "
               "WHERE revoked_at IS NULL AND EXISTS (SELECT 1 FROM credential_award AS earlier "
               "WHERE earlier.candidate = credential_award.candidate "
               "AND earlier.definition_id = credential_award.definition_id AND earlier.revoked_at IS NULL "
               "AND earlier.status_index < credential_award.status_index)")
    op.create_index('ux_credential_award_active', 'credential_award', ['candidate', 'definition_id'], unique=True,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)


def downgrade() -> None:
    op.drop_index('ux_credential_award_active', table_name='credential_award')
