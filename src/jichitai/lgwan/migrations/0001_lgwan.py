"""Create application management's tables: applications, attachments, history, portal events,
the LGWAN copy of the serial-number link table and the portal connection.

Application management keeps every pulled application (also those that failed a check, with the
reason) encrypted under a per-application data key, the sanitized copies staff open, the signed
status events waiting for the portal, and the registry's serial-number link table it identifies
applicants with.

Revision ID: lgwan_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lgwan_0001"
down_revision = None
branch_labels = ("lgwan",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lgwan_applications",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("receipt_number", sa.String(40), nullable=False),
        sa.Column("procedure_id", sa.String(64), nullable=False),
        sa.Column("procedure_version", sa.String(100), nullable=False),
        sa.Column("procedure_name", sa.String(200), nullable=False),
        sa.Column("business", sa.String(32), nullable=False),
        sa.Column("receiving_system", sa.String(64), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("submitted_at", TS, nullable=True),
        sa.Column("pulled_at", TS, nullable=False),
        sa.Column("acked_at", TS, nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("status_at", TS, nullable=False),
        sa.Column("verification", sa.String(12), nullable=False),
        sa.Column("verification_notes", sa.Text(), nullable=False),
        sa.Column("certificate_use", sa.String(16), nullable=False),
        sa.Column("signer_serial", sa.String(64), nullable=False),
        sa.Column("signer_issuer", sa.String(400), nullable=False),
        sa.Column("signer_not_before", TS, nullable=True),
        sa.Column("signer_not_after", TS, nullable=True),
        sa.Column("signer_facts", sa.LargeBinary(), nullable=True),
        sa.Column("applicant_name_index", sa.LargeBinary(32), nullable=True),
        sa.Column("match", sa.String(12), nullable=False),
        sa.Column("atena_number", sa.String(20), nullable=True),
        sa.Column("candidates", sa.LargeBinary(), nullable=True),
        sa.Column("data_key", sa.LargeBinary(), nullable=False),
        sa.Column("form", sa.LargeBinary(), nullable=True),
        sa.Column("jwe_sha256", sa.String(64), nullable=False),
        sa.Column("raw_jwe", sa.LargeBinary(), nullable=True),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("handover_message_id", sa.String(64), nullable=True),
        sa.Column("handed_over_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lgwan_applications")),
        sa.UniqueConstraint("receipt_number", name=op.f("uq_lgwan_applications_receipt_number")),
    )
    op.create_index("ix_lgwan_applications_status", "lgwan_applications", ["status"])
    op.create_index("ix_lgwan_applications_business", "lgwan_applications", ["business", "procedure_id"])
    op.create_index("ix_lgwan_applications_received_at", "lgwan_applications", ["received_at"])
    op.create_index("ix_lgwan_applications_name_index", "lgwan_applications", ["applicant_name_index"])
    op.create_index("ix_lgwan_applications_signer_serial", "lgwan_applications", ["signer_serial"])

    op.create_table(
        "lgwan_attachments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("application_id", sa.String(32), nullable=False),
        sa.Column("attachment_id", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("declared_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("hash_ok", sa.Boolean(), nullable=False),
        sa.Column("original", sa.LargeBinary(), nullable=False),
        sa.Column("sanitized", sa.LargeBinary(), nullable=True),
        sa.Column("sanitized_type", sa.String(100), nullable=True),
        sa.Column("sanitized_name", sa.String(255), nullable=True),
        sa.Column("sanitized_sha256", sa.String(64), nullable=True),
        sa.Column("sanitize_method", sa.String(32), nullable=False),
        sa.Column("sanitize_removed", sa.Text(), nullable=False),
        sa.Column("sanitize_reason_ja", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["lgwan_applications.id"],
            name=op.f("fk_lgwan_attachments_application_id_lgwan_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lgwan_attachments")),
        sa.UniqueConstraint(
            "application_id", "attachment_id", name=op.f("uq_lgwan_attachments_application_id")
        ),
    )
    op.create_index("ix_lgwan_attachments_application_id", "lgwan_attachments", ["application_id"])

    op.create_table(
        "lgwan_application_history",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("application_id", sa.String(32), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["lgwan_applications.id"],
            name=op.f("fk_lgwan_application_history_application_id_lgwan_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lgwan_application_history")),
    )
    op.create_index("ix_lgwan_application_history_app", "lgwan_application_history", ["application_id", "at"])

    op.create_table(
        "lgwan_portal_events",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("receipt_number", sa.String(40), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("event_json", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("posted_at", TS, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_lgwan_portal_events")),
    )
    op.create_index("ix_lgwan_portal_events_pending", "lgwan_portal_events", ["posted_at", "created_at"])
    op.create_index("ix_lgwan_portal_events_receipt_number", "lgwan_portal_events", ["receipt_number"])

    op.create_table(
        "lgwan_link_entries",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("certificate_use", sa.String(16), nullable=False),
        sa.Column("atena_number", sa.String(20), nullable=False),
        sa.Column("facts", sa.LargeBinary(), nullable=False),
        sa.Column("name_birth_index", sa.LargeBinary(32), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lgwan_link_entries")),
    )
    op.create_index("ix_lgwan_link_entries_serial", "lgwan_link_entries", ["serial"])
    op.create_index("ix_lgwan_link_entries_name_birth", "lgwan_link_entries", ["name_birth_index"])

    op.create_table(
        "lgwan_portal_connection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("portal_url", sa.String(500), nullable=False),
        sa.Column("client_id", sa.String(100), nullable=False),
        sa.Column("client_secret", sa.LargeBinary(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("last_pull_at", TS, nullable=True),
        sa.Column("last_result", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lgwan_portal_connection")),
    )


def downgrade() -> None:
    for table in (
        "lgwan_portal_connection",
        "lgwan_link_entries",
        "lgwan_portal_events",
        "lgwan_application_history",
        "lgwan_attachments",
        "lgwan_applications",
    ):
        op.drop_table(table)
