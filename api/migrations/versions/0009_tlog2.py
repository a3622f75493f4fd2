"""credentials: at most one active award per candidate and definition (a partial unique index),
definitions declared by packs (pack_id, pack_version, retired_at);
the log's perfect subtrees (log_node), filled from the sealed leaves

Revision ID: 0009_tlog2
Revises: 0008_faults
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # the submodule the generated columns name (mypy does not see it through `import sqlmodel`)
from alembic import op

from engine import merkle, transparency

revision = "0009_tlog2"
down_revision = "0008_faults"
branch_labels = None
depends_on = None

ACTIVE = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    # Two processes that raced before this index may have awarded twice: keep the first active award.
    op.execute(
        "UPDATE credential_award SET revoked_at = awarded_at, revoked_reason = 'duplicate award' "
        "WHERE revoked_at IS NULL AND EXISTS (SELECT 1 FROM credential_award AS earlier "
        "WHERE earlier.candidate = credential_award.candidate "
        "AND earlier.definition_id = credential_award.definition_id AND earlier.revoked_at IS NULL "
        "AND earlier.status_index < credential_award.status_index)"
    )
    op.create_index(
        "ux_credential_award_active",
        "credential_award",
        ["candidate", "definition_id"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )

    with op.batch_alter_table("credential_definition", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pack_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("pack_version", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("retired_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index("ix_credential_definition_pack_id", ["pack_id"], unique=False)
    op.create_table(
        "log_node",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "position"),
    )
    # The subtrees of what is already sealed, as the sealer would have stored them.
    digests = [
        row[0]
        for row in op.get_bind().execute(
            sa.text("SELECT digest FROM log_entry WHERE log_index IS NOT NULL ORDER BY log_index")
        )
    ]
    if digests:
        nodes = merkle.completed_nodes(0, [transparency.leaf_hash(d) for d in digests], lambda wanted: {})
        table = sa.table("log_node", sa.column("level"), sa.column("position"), sa.column("hash"))
        op.bulk_insert(
            table, [{"level": level, "position": position, "hash": value} for (level, position), value in nodes.items()]
        )


def downgrade() -> None:
    op.drop_table("log_node")
    with op.batch_alter_table("credential_definition", schema=None) as batch_op:
        batch_op.drop_index("ix_credential_definition_pack_id")
        batch_op.drop_column("retired_at")
        batch_op.drop_column("pack_version")
        batch_op.drop_column("pack_id")
    op.drop_index("ux_credential_award_active", table_name="credential_award")
