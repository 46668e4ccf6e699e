"""Create the tenant's key tables: wrapped data keys and published public keys.

Why: field encryption needs per-tenant data keys that live next to the data they protect but are
useless without the keystore, so they are stored only wrapped under the tenant's KEK (rotating
the KEK rewrites these few rows, not the encrypted data). Public keys are recorded so that
signatures and submissions can be checked and addressed by version long after a rotation.

Revision ID: keys_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "keys_0001"
down_revision = None
branch_labels = ("platform_crypto",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_keys")),
        sa.UniqueConstraint("purpose", "version", name="uq_data_keys_purpose_version"),
        sa.CheckConstraint("purpose IN ('field', 'blind_index')", name=op.f("ck_data_keys_purpose")),
        sa.CheckConstraint("status IN ('active', 'retired')", name=op.f("ck_data_keys_status")),
    )
    op.create_table(
        "public_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_keys")),
        sa.UniqueConstraint("kind", "version", name="uq_public_keys_kind_version"),
        sa.CheckConstraint("kind IN ('signing', 'submission')", name=op.f("ck_public_keys_kind")),
        sa.CheckConstraint("format IN ('pem', 'jwk')", name=op.f("ck_public_keys_format")),
    )


def downgrade() -> None:
    op.drop_table("public_keys")
    op.drop_table("data_keys")
