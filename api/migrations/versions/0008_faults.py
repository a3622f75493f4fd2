"""indexes for the hot queries at a million results (bench/bench_data.py shows their plans)

Composite indexes in the order the queries filter then sort: the latest run and result
of a submission, a candidate's profile and submission list, the reaper's queued runs.
Each replaces the single-column index that is its prefix (one index less to write).

Revision ID: 0008_faults
Revises: 0007_cohorts
"""

from alembic import op

revision = "0008_faults"
down_revision = "0007_cohorts"
branch_labels = None
depends_on = None

#: (table, new index, columns, the single-column index it replaces or None)
INDEXES = [
    ("run", "ix_run_submission_id_created_at", ["submission_id", "created_at"], "ix_run_submission_id"),
    ("run", "ix_run_state_updated_at", ["state", "updated_at"], "ix_run_state"),
    ("result", "ix_result_submission_id_created_at", ["submission_id", "created_at"], "ix_result_submission_id"),
    # Covering: a profile is read from the index alone, one range of pages, however scattered the
    # candidate's rows are in a table of millions (the table lookups were the cost on a cold cache).
    (
        "skill_evidence",
        "ix_skill_evidence_candidate_at",
        ["candidate", "at", "skill", "score", "verdict", "result_id"],
        "ix_skill_evidence_candidate",
    ),
    ("submission", "ix_submission_candidate_created_at", ["candidate", "created_at"], "ix_submission_candidate"),
]


def upgrade() -> None:
    for table, name, columns, replaced in INDEXES:
        op.create_index(name, table, columns, unique=False)
        if replaced:
            op.drop_index(replaced, table_name=table)


def downgrade() -> None:
    for table, name, columns, replaced in reversed(INDEXES):
        if replaced:
            op.create_index(replaced, table, columns[:1], unique=False)
        op.drop_index(name, table_name=table)
