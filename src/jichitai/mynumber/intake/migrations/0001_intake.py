"""Create the My Number zone's intake: received applications and the generic case inbox.

Why: every accepted application arriving from the linkage server is recorded by its 受付番号 and
routed to its core system; procedures without a core system here land in a generic case inbox
where staff record the outcome by hand, which flows back to the resident as a case result. The
form is kept field-encrypted because it holds 個人番号.

Revision ID: intake_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "intake_0001"
down_revision = None
branch_labels = ("intake",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_cases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("receipt_number", sa.String(length=40), nullable=False),
        sa.Column("procedure_id", sa.String(length=60), nullable=False),
        sa.Column("procedure_version", sa.String(length=10), nullable=False),
        sa.Column("procedure_name", sa.Text(), nullable=False),
        sa.Column("receiving_system", sa.String(length=40), nullable=False),
        sa.Column("applicant_atena_number", sa.String(length=15), nullable=True),
        sa.Column("applicant_name", sa.Text(), nullable=False),
        sa.Column("form", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("accepted_by", sa.String(length=100), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("outcome_status", sa.String(length=20), nullable=True),
        sa.Column("outcome_message", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_cases")),
        sa.UniqueConstraint("receipt_number", name=op.f("uq_intake_cases_receipt_number")),
    )
    op.create_index(op.f("ix_intake_cases_procedure_id"), "intake_cases", ["procedure_id"], unique=False)
    op.create_index(op.f("ix_intake_cases_status"), "intake_cases", ["status"], unique=False)
    op.create_table(
        "intake_receipts",
        sa.Column("receipt_number", sa.String(length=40), nullable=False),
        sa.Column("procedure_id", sa.String(length=60), nullable=False),
        sa.Column("receiving_system", sa.String(length=40), nullable=False),
        sa.Column("routed_to", sa.String(length=40), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("receipt_number", name=op.f("pk_intake_receipts")),
    )
    op.create_index(op.f("ix_intake_receipts_routed_to"), "intake_receipts", ["routed_to"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_intake_receipts_routed_to"), table_name="intake_receipts")
    op.drop_table("intake_receipts")
    op.drop_index(op.f("ix_intake_cases_status"), table_name="intake_cases")
    op.drop_index(op.f("ix_intake_cases_procedure_id"), table_name="intake_cases")
    op.drop_table("intake_cases")
