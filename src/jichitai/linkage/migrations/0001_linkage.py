"""Create the linkage server's transfer log and the quarantine of attachment originals.

Why: the linkage server (連携サーバ) must deliver each message exactly once across crashes and be
able to say, for every message, what it did and with which payload hash; and attachments crossing
into the My Number zone are replaced by sanitized copies, so the originals are kept here, encrypted,
for the audit (a signature verified on the original can be checked again later).

Revision ID: linkage_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "linkage_0001"
down_revision = None
branch_labels = ("linkage",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transfers",
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("message_type", sa.String(40), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("destination", sa.String(20), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("delivered_sha256", sa.String(64), nullable=True),
        sa.Column("envelope", sa.LargeBinary(), nullable=True),
        sa.Column("refusal", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("picked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_transfers")),
    )
    op.create_index(op.f("ix_transfers_state"), "transfers", ["state"])
    op.create_table(
        "linkage_quarantine",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("attachment_id", sa.String(40), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("declared_type", sa.String(200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("original_sha256", sa.String(64), nullable=False),
        sa.Column("original", sa.LargeBinary(), nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("detected_kind", sa.String(40), nullable=False),
        sa.Column("method", sa.String(40), nullable=False),
        sa.Column("removed", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("sanitized_sha256", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_linkage_quarantine")),
        sa.UniqueConstraint("message_id", "attachment_id", name=op.f("uq_linkage_quarantine_message_id")),
    )
    op.create_index(op.f("ix_linkage_quarantine_message_id"), "linkage_quarantine", ["message_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_linkage_quarantine_message_id"), table_name="linkage_quarantine")
    op.drop_table("linkage_quarantine")
    op.drop_index(op.f("ix_transfers_state"), table_name="transfers")
    op.drop_table("transfers")
