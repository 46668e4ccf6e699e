"""Add the table that says where an application's ciphertext lies in the tenant's segment files.

Why: on the embedded (SQLite) backend a submission's ciphertext (about 280 KB) stored in a row was
written twice (WAL, then the checkpoint) and read back in between; appended to a segment file it
is written once, past the page cache. The database keeps the JWE head and the location
(:mod:`jichitai.platform.storage.segments`). Rows already in ``internet_application_ciphertexts``
stay where they are and are read as before; PostgreSQL keeps using that table.

Revision ID: internet_0002_segments
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "internet_0002_segments"
down_revision = "internet_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "internet_ciphertext_segments",
        sa.Column("receipt_number", sa.String(40), nullable=False),
        sa.Column("head", sa.Text(), nullable=False),
        sa.Column("segment", sa.String(64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["receipt_number"],
            ["internet_applications.receipt_number"],
            name=op.f("fk_internet_ciphertext_segments_receipt_number_internet_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("receipt_number", name=op.f("pk_internet_ciphertext_segments")),
    )


def downgrade() -> None:
    op.drop_table("internet_ciphertext_segments")
