"""Add the import job table and the rejected-row table of the resident import (データ移行).

Why: importing a municipality's residents (millions of rows) must survive an interruption without
duplicates and must account for every row. Each batch commits together with the job's progress
(last committed line, counts) and the problems of the rows it rejected, so a re-run of the same
file resumes after the last committed batch and the error report is complete.

Revision ID: registry_0300_import_jobs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "registry_0300_import_jobs"
down_revision = "registry_0200_issuances"
branch_labels = None
depends_on = None

_COUNT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "registry_import_jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_format", sa.String(8), nullable=False),
        sa.Column("gaiji_sha256", sa.String(64), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("last_line", _COUNT, nullable=False),
        sa.Column("rows_read", _COUNT, nullable=False),
        sa.Column("rows_accepted", _COUNT, nullable=False),
        sa.Column("rows_rejected", _COUNT, nullable=False),
        sa.Column("households", _COUNT, nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_import_jobs")),
    )
    op.create_index("ix_registry_import_jobs_file_sha256", "registry_import_jobs", ["file_sha256"])
    op.create_table(
        "registry_import_errors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("line", _COUNT, nullable=False),
        sa.Column("column_name", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_import_errors")),
    )
    op.create_index("ix_registry_import_errors_job_line", "registry_import_errors", ["job_id", "line"])


def downgrade() -> None:
    op.drop_index("ix_registry_import_errors_job_line", table_name="registry_import_errors")
    op.drop_table("registry_import_errors")
    op.drop_index("ix_registry_import_jobs_file_sha256", table_name="registry_import_jobs")
    op.drop_table("registry_import_jobs")
