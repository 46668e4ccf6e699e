"""Add the phase of an import job (initial load with indexes built at the end).

Why: the first full load of a municipality (millions of residents into an empty registry) is much
faster when the registry's secondary (search and history) indexes are dropped during the load and
built once at the end, by sorting, instead of being updated row by row. The job records which
phase it is in (``loading``: indexes dropped; ``indexing``: being rebuilt), so that an interrupted
initial load resumes in the same mode and its indexes are always rebuilt. NULL: a plain import.

Revision ID: registry_0400_import_phase
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "registry_0400_import_phase"
down_revision = "registry_0300_import_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registry_import_jobs") as batch:
        batch.add_column(sa.Column("phase", sa.String(10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("registry_import_jobs") as batch:
        batch.drop_column("phase")
