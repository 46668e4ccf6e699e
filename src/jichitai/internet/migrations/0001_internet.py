"""Create the internet zone's submission store: applications, ciphertexts, status events, replies.

The portal stores what residents submit only as JWE ciphertext beside routing metadata, so that
nothing in the internet zone can read an application; status events signed in the LGWAN zone and
residents' encrypted replies sit next to them, and the LGWAN zone's status-signing public key is
published here so the portal can check every event before a resident sees it.

Revision ID: internet_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "internet_0001"
down_revision = None
branch_labels = ("internet",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "internet_applications",
        sa.Column("receipt_number", sa.String(40), nullable=False),
        sa.Column("procedure_id", sa.String(64), nullable=False),
        sa.Column("procedure_version", sa.String(100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kid", sa.String(40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("resident_index", sa.LargeBinary(32), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("receipt_number", name=op.f("pk_internet_applications")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_internet_applications_idempotency_key")),
    )
    op.create_index("ix_internet_applications_received_at", "internet_applications", ["received_at"])
    op.create_index("ix_internet_applications_resident", "internet_applications", ["resident_index"])
    op.create_index("ix_internet_applications_status", "internet_applications", ["status"])
    op.create_table(
        "internet_application_ciphertexts",
        sa.Column("receipt_number", sa.String(40), nullable=False),
        sa.Column("head", sa.Text(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["receipt_number"],
            ["internet_applications.receipt_number"],
            name=op.f("fk_internet_application_ciphertexts_receipt_number_internet_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("receipt_number", name=op.f("pk_internet_application_ciphertexts")),
    )
    op.create_table(
        "internet_status_events",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("receipt_number", sa.String(40), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("message_ja", sa.Text(), nullable=False),
        sa.Column("reply_requested", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("signature_b64", sa.String(200), nullable=False),
        sa.Column("event_json", sa.Text(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["receipt_number"],
            ["internet_applications.receipt_number"],
            name=op.f("fk_internet_status_events_receipt_number_internet_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_internet_status_events")),
    )
    op.create_index("ix_internet_status_events_receipt", "internet_status_events", ["receipt_number", "at"])
    op.create_table(
        "internet_resident_replies",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("receipt_number", sa.String(40), nullable=False),
        sa.Column("in_reply_to", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kid", sa.String(40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("jwe", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["receipt_number"],
            ["internet_applications.receipt_number"],
            name=op.f("fk_internet_resident_replies_receipt_number_internet_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_internet_resident_replies")),
    )
    op.create_index(
        "ix_internet_resident_replies_receipt", "internet_resident_replies", ["receipt_number", "created_at"]
    )
    op.create_table(
        "internet_status_signing_keys",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_internet_status_signing_keys")),
    )


def downgrade() -> None:
    op.drop_table("internet_status_signing_keys")
    op.drop_index("ix_internet_resident_replies_receipt", table_name="internet_resident_replies")
    op.drop_table("internet_resident_replies")
    op.drop_index("ix_internet_status_events_receipt", table_name="internet_status_events")
    op.drop_table("internet_status_events")
    op.drop_table("internet_application_ciphertexts")
    op.drop_index("ix_internet_applications_status", table_name="internet_applications")
    op.drop_index("ix_internet_applications_resident", table_name="internet_applications")
    op.drop_index("ix_internet_applications_received_at", table_name="internet_applications")
    op.drop_table("internet_applications")
