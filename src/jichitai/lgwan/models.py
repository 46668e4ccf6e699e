"""Tables of application management (申請管理) in the LGWAN zone.

Each tenant has its own database, so no row carries a tenant column. Personal data is encrypted
at rest: every application has its own AES-256 data key (wrapped with the tenant's field key,
bound to the row id); the form and each attachment (original and sanitized copy) are sealed with
it, so a stolen table or backup reveals nothing and deleting the key row forgets the application.
Names are searched through keyed blind indexes, never in clear.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.storage.base import Base, utcnow


class LgwanApplication(Base):
    """One application as application management holds it (申請データ), with its review state."""

    __tablename__ = "lgwan_applications"
    __audited__ = True
    __table_args__ = (
        Index("ix_lgwan_applications_status", "status"),
        Index("ix_lgwan_applications_business", "business", "procedure_id"),
        Index("ix_lgwan_applications_received_at", "received_at"),
        Index("ix_lgwan_applications_name_index", "applicant_name_index"),
        Index("ix_lgwan_applications_signer_serial", "signer_serial"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    receipt_number: Mapped[str] = mapped_column(String(40), unique=True)  # 受付番号
    procedure_id: Mapped[str] = mapped_column(String(64))
    procedure_version: Mapped[str] = mapped_column(String(100))  # effective definition id
    procedure_name: Mapped[str] = mapped_column(String(200), default="")
    business: Mapped[str] = mapped_column(String(32))  # Business: whose clerks see it
    receiving_system: Mapped[str] = mapped_column(String(64), default="")
    received_at: Mapped[datetime] = mapped_column()  # by the portal
    submitted_at: Mapped[datetime | None] = mapped_column(default=None)  # signed time in the payload
    pulled_at: Mapped[datetime] = mapped_column(default=utcnow)
    acked_at: Mapped[datetime | None] = mapped_column(default=None)  # portal acknowledged
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(24))  # SubmissionStatus value
    status_at: Mapped[datetime] = mapped_column(default=utcnow)
    verification: Mapped[str] = mapped_column(String(12))  # Verification value
    # Japanese reasons (JSON list) of a failed or flagged verification, shown to staff
    verification_notes: Mapped[str] = mapped_column(Text, default="[]")
    certificate_use: Mapped[str] = mapped_column(String(16), default="")
    signer_serial: Mapped[str] = mapped_column(String(64), default="")
    signer_issuer: Mapped[str] = mapped_column(String(400), default="")
    signer_not_before: Mapped[datetime | None] = mapped_column(default=None)
    signer_not_after: Mapped[datetime | None] = mapped_column(default=None)
    # encrypted JSON: the certificate's basic four facts and subject (personal data)
    signer_facts: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    applicant_name_index: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)
    match: Mapped[str] = mapped_column(String(12), default="no_match")  # Match value
    atena_number: Mapped[str | None] = mapped_column(String(20), default=None)  # 統合宛名番号
    candidates: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)  # encrypted JSON list
    data_key: Mapped[bytes] = mapped_column(LargeBinary)  # the application's AES key, field-encrypted
    form: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)  # sealed canonical JSON
    jwe_sha256: Mapped[str] = mapped_column(String(64), default="")
    # the ciphertext as pulled, kept only when it could not be decrypted or decoded (for the audit)
    raw_jwe: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    assignee: Mapped[str | None] = mapped_column(String(64), default=None)
    decided_by: Mapped[str | None] = mapped_column(String(64), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decision_note: Mapped[str] = mapped_column(Text, default="")  # reject reason / correction message
    handover_message_id: Mapped[str | None] = mapped_column(String(64), default=None)
    handed_over_at: Mapped[datetime | None] = mapped_column(default=None)

    def audit_object_id(self) -> str:
        return self.receipt_number

    def audit_person(self) -> str:
        return self.atena_number or ""


class LgwanAttachment(Base):
    """An attached file: the original (sealed, kept for the audit) and its sanitized copy for staff."""

    __tablename__ = "lgwan_attachments"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("application_id", "attachment_id", name="uq_lgwan_attachments_application_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    application_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("lgwan_applications.id", ondelete="CASCADE"), index=True
    )
    attachment_id: Mapped[str] = mapped_column(String(16))  # a1, a2 … within the submission
    kind: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    declared_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    hash_ok: Mapped[bool] = mapped_column(Boolean)
    original: Mapped[bytes] = mapped_column(LargeBinary)  # sealed with the application's key
    sanitized: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    sanitized_type: Mapped[str | None] = mapped_column(String(100), default=None)
    sanitized_name: Mapped[str | None] = mapped_column(String(255), default=None)
    sanitized_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    sanitize_method: Mapped[str] = mapped_column(String(32), default="")
    sanitize_removed: Mapped[str] = mapped_column(Text, default="")
    sanitize_reason_ja: Mapped[str | None] = mapped_column(Text, default=None)


class LgwanHistory(Base):
    """What happened to an application, in order (経過): pulled, assigned, accepted …"""

    __tablename__ = "lgwan_application_history"
    __table_args__ = (Index("ix_lgwan_application_history_app", "application_id", "at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    application_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("lgwan_applications.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="")
    purpose: Mapped[str] = mapped_column(String(64), default="")


class PortalEvent(Base):
    """A signed status event for the portal (処理状況), queued until the portal has taken it.

    The LGWAN side always opens the connection, so events wait here until a push succeeds.
    """

    __tablename__ = "lgwan_portal_events"
    __table_args__ = (Index("ix_lgwan_portal_events_pending", "posted_at", "created_at"),)

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    receipt_number: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(24))
    event_json: Mapped[str] = mapped_column(Text)  # the signed StatusEvent, exactly as it is posted
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    posted_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class LinkEntry(Base):
    """The LGWAN copy of one row of the serial-number link table (シリアル番号紐付情報).

    The serial and the 統合宛名番号 are in clear (the lookup keys); name, kana, birth date and
    address are one encrypted JSON value, found for candidates through a blind index of name and
    birth date. No 個人番号 is ever here.
    """

    __tablename__ = "lgwan_link_entries"
    __audited__ = False  # bulk-loaded; one audit entry per load is recorded by the handler
    __table_args__ = (
        Index("ix_lgwan_link_entries_serial", "serial"),
        Index("ix_lgwan_link_entries_name_birth", "name_birth_index"),
    )

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # "<use>:<serial>"
    serial: Mapped[str] = mapped_column(String(64))
    certificate_use: Mapped[str] = mapped_column(String(16))
    atena_number: Mapped[str] = mapped_column(String(20))  # 統合宛名番号
    facts: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted JSON: name, kana, birth, address
    name_birth_index: Mapped[bytes] = mapped_column(LargeBinary(32))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PortalConnectionRow(Base):
    """Which portal (receiving API) this tenant pulls from, and with which client credentials."""

    __tablename__ = "lgwan_portal_connection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1: one portal per tenant
    portal_url: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(100))
    client_secret: Mapped[bytes] = mapped_column(LargeBinary)  # field-encrypted
    interval_seconds: Mapped[int] = mapped_column(Integer, default=60)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_pull_at: Mapped[datetime | None] = mapped_column(default=None)
    last_result: Mapped[str] = mapped_column(Text, default="")
