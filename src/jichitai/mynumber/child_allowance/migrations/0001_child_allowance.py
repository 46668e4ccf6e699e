"""Create the child allowance system: recipients, children, amounts, history, cases, notices,
registry-event tasks, payment runs and their frozen items, transfer settings.

Why: 児童手当 is certified per recipient (受給者) with the children in their care, paid by month
in six payment months; every decision must leave a history, every payment run must stay frozen
once approved, and registry events must reach the clerk as tasks rather than silent changes.
Months are month numbers (year*12+month-1) so the payment run can do month arithmetic in SQL.

Revision ID: child_allowance_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "child_allowance_0001"
down_revision = None
branch_labels = ("child_allowance",)
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ca_amounts",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=False),
        sa.Column("from_month", sa.Integer(), nullable=False),
        sa.Column("to_month", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ca_amounts")),
    )
    op.create_index(op.f("ix_ca_amounts_recipient_id"), "ca_amounts", ["recipient_id"], unique=False)
    op.create_table(
        "ca_cases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("receipt_number", sa.String(length=40), nullable=False),
        sa.Column("procedure_id", sa.String(length=60), nullable=False),
        sa.Column("procedure_version", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("applicant_atena_number", sa.String(length=15), nullable=True),
        sa.Column("applicant_name", sa.Text(), nullable=False),
        sa.Column("form", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_on", sa.Date(), nullable=False),
        sa.Column("accepted_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decision", sa.String(length=30), nullable=True),
        sa.Column("decision_message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ca_cases")),
        sa.UniqueConstraint("receipt_number", name=op.f("uq_ca_cases_receipt_number")),
    )
    op.create_index(
        op.f("ix_ca_cases_applicant_atena_number"), "ca_cases", ["applicant_atena_number"], unique=False
    )
    op.create_index(op.f("ix_ca_cases_kind"), "ca_cases", ["kind"], unique=False)
    op.create_index(op.f("ix_ca_cases_recipient_id"), "ca_cases", ["recipient_id"], unique=False)
    op.create_index(op.f("ix_ca_cases_status"), "ca_cases", ["status"], unique=False)
    op.create_table(
        "ca_children",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=False),
        sa.Column("atena_number", sa.String(length=15), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_kana", sa.Text(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("relationship", sa.String(length=20), nullable=False),
        sa.Column("lives_apart", sa.Boolean(), nullable=False),
        sa.Column("apart_statement_filed", sa.Boolean(), nullable=False),
        sa.Column("support_confirmation_filed", sa.Boolean(), nullable=False),
        sa.Column("lives_in_japan", sa.Boolean(), nullable=False),
        sa.Column("added_filed_on", sa.Date(), nullable=True),
        sa.Column("added_event_kind", sa.String(length=20), nullable=True),
        sa.Column("added_event_date", sa.Date(), nullable=True),
        sa.Column("left_care_on", sa.Date(), nullable=True),
        sa.Column("died_on", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ca_children")),
    )
    op.create_index(op.f("ix_ca_children_active"), "ca_children", ["active"], unique=False)
    op.create_index(op.f("ix_ca_children_atena_number"), "ca_children", ["atena_number"], unique=False)
    op.create_index(op.f("ix_ca_children_recipient_id"), "ca_children", ["recipient_id"], unique=False)
    op.create_table(
        "ca_counters",
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("value", _SEQ, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ca_counters")),
    )
    op.create_table(
        "ca_event_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", _SEQ, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ca_event_cursor")),
    )
    op.create_table(
        "ca_notices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=True),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("atena_number", sa.String(length=15), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ca_notices")),
    )
    op.create_index(op.f("ix_ca_notices_case_id"), "ca_notices", ["case_id"], unique=False)
    op.create_index(op.f("ix_ca_notices_recipient_id"), "ca_notices", ["recipient_id"], unique=False)
    op.create_table(
        "ca_payment_items",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=False),
        sa.Column("recipient_number", sa.String(length=10), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("payee_kana", sa.Text(), nullable=True),
        sa.Column("bank_code", sa.String(length=4), nullable=True),
        sa.Column("bank_name", sa.Text(), nullable=True),
        sa.Column("branch_code", sa.String(length=3), nullable=True),
        sa.Column("branch_name", sa.Text(), nullable=True),
        sa.Column("account_type", sa.Integer(), nullable=True),
        sa.Column("account_number", sa.String(length=7), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("first_month", sa.Integer(), nullable=False),
        sa.Column("last_month", sa.Integer(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("arrears", sa.Boolean(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("exception", sa.String(length=30), nullable=True),
        sa.Column("transfer", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ca_payment_items")),
    )
    op.create_index("ix_ca_payment_items_run", "ca_payment_items", ["run_id", "recipient_id"], unique=False)
    op.create_table(
        "ca_payment_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("payment_month", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("transfer_date", sa.Date(), nullable=False),
        sa.Column("header", sa.Text(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_by", sa.String(length=100), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("total_amount", sa.BigInteger(), nullable=False),
        sa.Column("transfer_count", sa.Integer(), nullable=False),
        sa.Column("transfer_amount", sa.BigInteger(), nullable=False),
        sa.Column("exception_count", sa.Integer(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("transfer_file", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ca_payment_runs")),
        sa.UniqueConstraint("payment_month", name=op.f("uq_ca_payment_runs_payment_month")),
    )
    op.create_table(
        "ca_recipient_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=False),
        sa.Column("atena_number", sa.String(length=15), nullable=False),
        sa.Column("version_no", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=30), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("task_id", sa.String(length=32), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ca_recipient_versions")),
        sa.UniqueConstraint("recipient_id", "version_no", name="uq_ca_recipient_versions_version"),
    )
    op.create_index(
        op.f("ix_ca_recipient_versions_recipient_id"), "ca_recipient_versions", ["recipient_id"], unique=False
    )
    op.create_table(
        "ca_recipients",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("recipient_number", sa.String(length=10), nullable=False),
        sa.Column("atena_number", sa.String(length=15), nullable=False),
        sa.Column("household_number", sa.String(length=15), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_kana", sa.Text(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("spouse_atena_number", sa.String(length=15), nullable=True),
        sa.Column("spouse_name", sa.Text(), nullable=True),
        sa.Column("civil_servant", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("claim_filed_on", sa.Date(), nullable=False),
        sa.Column("claim_event_kind", sa.String(length=20), nullable=True),
        sa.Column("claim_event_date", sa.Date(), nullable=True),
        sa.Column("start_month", sa.Integer(), nullable=False),
        sa.Column("end_month", sa.Integer(), nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.Column("moved_out_on", sa.Date(), nullable=True),
        sa.Column("died_on", sa.Date(), nullable=True),
        sa.Column("civil_servant_from", sa.Date(), nullable=True),
        sa.Column("paid_through", sa.Integer(), nullable=True),
        sa.Column("public_fund_account", sa.Boolean(), nullable=False),
        sa.Column("bank_code", sa.String(length=4), nullable=True),
        sa.Column("bank_name", sa.Text(), nullable=True),
        sa.Column("branch_code", sa.String(length=3), nullable=True),
        sa.Column("branch_name", sa.Text(), nullable=True),
        sa.Column("account_type", sa.Integer(), nullable=True),
        sa.Column("account_number", sa.String(length=7), nullable=True),
        sa.Column("account_holder_kana", sa.Text(), nullable=True),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("version_no", sa.Integer(), nullable=False),
        sa.Column("certified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ca_recipients")),
        sa.UniqueConstraint("recipient_number", name=op.f("uq_ca_recipients_recipient_number")),
        postgresql_with={"fillfactor": 70},
    )
    op.create_index(op.f("ix_ca_recipients_atena_number"), "ca_recipients", ["atena_number"], unique=False)
    op.create_index(
        op.f("ix_ca_recipients_household_number"), "ca_recipients", ["household_number"], unique=False
    )
    op.create_index(op.f("ix_ca_recipients_status"), "ca_recipients", ["status"], unique=False)
    op.create_table(
        "ca_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester_code", sa.String(length=10), nullable=False),
        sa.Column("requester_name", sa.Text(), nullable=False),
        sa.Column("bank_code", sa.String(length=4), nullable=False),
        sa.Column("bank_name", sa.Text(), nullable=False),
        sa.Column("branch_code", sa.String(length=3), nullable=False),
        sa.Column("branch_name", sa.Text(), nullable=False),
        sa.Column("account_type", sa.Integer(), nullable=False),
        sa.Column("account_number", sa.String(length=7), nullable=False),
        sa.Column("payment_day", sa.Integer(), nullable=False),
        sa.Column("shift", sa.String(length=10), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ca_settings")),
    )
    op.create_table(
        "ca_tasks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("event_seq", _SEQ, nullable=False),
        sa.Column("event_type", sa.String(length=20), nullable=False),
        sa.Column("atena_number", sa.String(length=15), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ca_tasks")),
        sa.UniqueConstraint("event_seq", "recipient_id", "kind", name="uq_ca_tasks_event"),
    )
    op.create_index(op.f("ix_ca_tasks_recipient_id"), "ca_tasks", ["recipient_id"], unique=False)
    op.create_index(op.f("ix_ca_tasks_status"), "ca_tasks", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ca_tasks_status"), table_name="ca_tasks")
    op.drop_index(op.f("ix_ca_tasks_recipient_id"), table_name="ca_tasks")
    op.drop_table("ca_tasks")
    op.drop_table("ca_settings")
    op.drop_index(op.f("ix_ca_recipients_status"), table_name="ca_recipients")
    op.drop_index(op.f("ix_ca_recipients_household_number"), table_name="ca_recipients")
    op.drop_index(op.f("ix_ca_recipients_atena_number"), table_name="ca_recipients")
    op.drop_table("ca_recipients")
    op.drop_index(op.f("ix_ca_recipient_versions_recipient_id"), table_name="ca_recipient_versions")
    op.drop_table("ca_recipient_versions")
    op.drop_table("ca_payment_runs")
    op.drop_index("ix_ca_payment_items_run", table_name="ca_payment_items")
    op.drop_table("ca_payment_items")
    op.drop_index(op.f("ix_ca_notices_recipient_id"), table_name="ca_notices")
    op.drop_index(op.f("ix_ca_notices_case_id"), table_name="ca_notices")
    op.drop_table("ca_notices")
    op.drop_table("ca_event_cursor")
    op.drop_table("ca_counters")
    op.drop_index(op.f("ix_ca_children_recipient_id"), table_name="ca_children")
    op.drop_index(op.f("ix_ca_children_atena_number"), table_name="ca_children")
    op.drop_index(op.f("ix_ca_children_active"), table_name="ca_children")
    op.drop_table("ca_children")
    op.drop_index(op.f("ix_ca_cases_status"), table_name="ca_cases")
    op.drop_index(op.f("ix_ca_cases_recipient_id"), table_name="ca_cases")
    op.drop_index(op.f("ix_ca_cases_kind"), table_name="ca_cases")
    op.drop_index(op.f("ix_ca_cases_applicant_atena_number"), table_name="ca_cases")
    op.drop_table("ca_cases")
    op.drop_index(op.f("ix_ca_amounts_recipient_id"), table_name="ca_amounts")
    op.drop_table("ca_amounts")
