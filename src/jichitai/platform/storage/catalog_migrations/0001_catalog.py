"""Create the tenant catalog with its placement column.

The catalog lists the local public bodies served and the PostgreSQL server each is placed on.

Revision ID: catalog_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "catalog_0001"
down_revision = None
branch_labels = ("catalog",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("code", sa.String(6), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kana", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("prefecture", sa.String(8), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("server", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_tenants")),
    )


def downgrade() -> None:
    op.drop_table("tenants")
