"""Create the resident portal's tables: login challenges, sessions, saved drafts, receipt summaries.

Residents log in with the 利用者証明用電子証明書 against a one-time challenge, keep unfinished
applications as drafts (field-encrypted, found by a blind index of the resident key) and print a
receipt after submitting; the submission itself stays ciphertext only, so the receipt's summary
(個人番号 masked) is kept apart, encrypted too.

Revision ID: internet_portal_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "internet_portal_0001"
down_revision = None
branch_labels = ("internet_portal",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_login_challenges",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("challenge", sa.LargeBinary(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_portal_login_challenges"),
    )
    op.create_index("ix_portal_login_challenges_created_at", "portal_login_challenges", ["created_at"])
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("resident_key", sa.LargeBinary(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_portal_sessions"),
    )
    op.create_index("ix_portal_sessions_expires_at", "portal_sessions", ["expires_at"])
    op.create_table(
        "portal_drafts",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("resident_index", sa.LargeBinary(32), nullable=False),
        sa.Column("procedure_id", sa.String(64), nullable=False),
        sa.Column("procedure_version", sa.String(100), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("validated", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_portal_drafts"),
        sa.UniqueConstraint("resident_index", "procedure_id", name="uq_portal_drafts_resident_procedure"),
    )
    op.create_table(
        "portal_draft_files",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("draft_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("filename", sa.LargeBinary(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["portal_drafts.id"],
            name="fk_portal_draft_files_draft_id_portal_drafts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_portal_draft_files"),
    )
    op.create_index("ix_portal_draft_files_draft_id", "portal_draft_files", ["draft_id"])
    op.create_table(
        "portal_receipts",
        sa.Column("receipt_number", sa.String(40), nullable=False),
        sa.Column("resident_index", sa.LargeBinary(32), nullable=False),
        sa.Column("procedure_id", sa.String(64), nullable=False),
        sa.Column("summary", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("receipt_number", name="pk_portal_receipts"),
    )
    op.create_index("ix_portal_receipts_resident_index", "portal_receipts", ["resident_index"])


def downgrade() -> None:
    op.drop_table("portal_receipts")
    op.drop_table("portal_draft_files")
    op.drop_table("portal_drafts")
    op.drop_table("portal_sessions")
    op.drop_table("portal_login_challenges")
