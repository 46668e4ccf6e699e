"""Procedure settings per tenant move from JSON files into the tenant database.

Revisions are kept forever so that an application can always be shown with the exact form it
was made with.

Revision ID: procedures_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "procedures_0001"
down_revision = None
branch_labels = ("procedures",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "procedure_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.String(80), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("changed_by", sa.String(120), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedure_overrides")),
        sa.UniqueConstraint("procedure_id", "revision", name="uq_procedure_overrides_revision"),
    )
    op.create_index(op.f("ix_procedure_overrides_procedure_id"), "procedure_overrides", ["procedure_id"])


def downgrade() -> None:
    op.drop_table("procedure_overrides")
