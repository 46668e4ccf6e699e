"""Add the record of issued certificates (住民票の写し等の交付記録).

Why: every certificate the registry seals gets a serial and a content digest that a presented copy
is checked against (the QR code and the verification endpoint), and every issuance must be
traceable to who asked, who issued it and which optional items were printed. The PDF itself is not
stored. The serial counter reuses ``registry_counters``.

Revision ID: registry_0200_issuances
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "registry_0200_issuances"
down_revision = "registry_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_certificate_issuances",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("serial", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("layout", sa.String(20), nullable=False),
        sa.Column("subject_atena_numbers", sa.Text(), nullable=False),
        sa.Column("household_number", sa.String(15), nullable=True),
        sa.Column("items_printed", sa.Text(), nullable=False),
        sa.Column("items_refused", sa.Text(), nullable=False),
        sa.Column("certified_items", sa.Text(), nullable=False),
        sa.Column("requester_kind", sa.String(30), nullable=False),
        sa.Column("content_digest", sa.String(64), nullable=False),
        sa.Column("pdf_sha256", sa.String(64), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("seal_key_version", sa.Integer(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("issued_by", sa.String(100), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registry_certificate_issuances"),
        sa.UniqueConstraint("serial", name="uq_registry_certificate_issuances_serial"),
    )
    op.create_index(
        "ix_registry_certificate_issuances_issued_at", "registry_certificate_issuances", ["issued_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_registry_certificate_issuances_issued_at", "registry_certificate_issuances")
    op.drop_table("registry_certificate_issuances")
