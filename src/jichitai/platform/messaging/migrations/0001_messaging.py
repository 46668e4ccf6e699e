"""Create the transactional outbox and the idempotent inbox of the linkage server's messages.

Why: a message crossing zones (an accepted application, the serial-number link table, a case
result) must leave exactly when the business change that causes it commits, and arrive exactly
once however often the linkage server re-delivers it after a crash. The outbox is written in the
business transaction and read by the linkage server; the inbox remembers each message id with its
payload hash. Outbox payloads are field-encrypted (personal data); the inbox keeps no payload.

Revision ID: messaging_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "messaging_0001"
down_revision = None
branch_labels = ("platform_messaging",)
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("message_type", sa.String(40), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("destination", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_messages_message_id")),
    )
    op.create_index(op.f("ix_outbox_messages_state"), "outbox_messages", ["state"])
    op.create_table(
        "inbox_messages",
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("message_type", sa.String(40), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_inbox_messages")),
    )


def downgrade() -> None:
    op.drop_table("inbox_messages")
    op.drop_index(op.f("ix_outbox_messages_state"), table_name="outbox_messages")
    op.drop_table("outbox_messages")
