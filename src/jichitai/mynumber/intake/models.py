"""Tables of the My Number zone's intake (受付): where each accepted application went.

- ``intake_receipts``: every accepted application received, by 受付番号, with the system it was
  routed to (a second delivery of the same 受付番号 under another message id is refused here);
- ``intake_cases``: the generic case inbox for procedures whose core system is not built here:
  the application's form (field-encrypted: it holds 個人番号) and the outcome staff record by hand.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.storage.base import Base, utcnow


class IntakeReceipt(Base):
    """One accepted application received from the linkage server."""

    __tablename__ = "intake_receipts"

    receipt_number: Mapped[str] = mapped_column(String(40), primary_key=True)  # 受付番号
    procedure_id: Mapped[str] = mapped_column(String(60))
    receiving_system: Mapped[str] = mapped_column(String(40))
    routed_to: Mapped[str] = mapped_column(String(40), index=True)  # child_allowance / generic
    message_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class GenericCaseStatus:
    OPEN = "open"  # 未処理
    DONE = "done"  # 結果登録済み


class GenericCase(Base):
    """汎用案件: an application for a procedure handled outside this platform's core systems."""

    __tablename__ = "intake_cases"
    __audited__ = True

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    receipt_number: Mapped[str] = mapped_column(String(40), unique=True)
    procedure_id: Mapped[str] = mapped_column(String(60), index=True)
    procedure_version: Mapped[str] = mapped_column(String(10))
    procedure_name: Mapped[str] = mapped_column(Text)
    receiving_system: Mapped[str] = mapped_column(String(40))
    applicant_atena_number: Mapped[str | None] = mapped_column(String(15))
    applicant_name: Mapped[str] = mapped_column(Text)
    form: Mapped[bytes] = mapped_column(LargeBinary)  # field-encrypted JSON: form + attachment list
    status: Mapped[str] = mapped_column(String(12), index=True)
    accepted_by: Mapped[str] = mapped_column(String(100))
    accepted_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str | None] = mapped_column(String(30))  # completed / rejected / decided
    outcome_status: Mapped[str | None] = mapped_column(String(20))  # SubmissionStatus shown to the resident
    outcome_message: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column()

    def audit_person(self) -> str:
        return self.applicant_atena_number or ""
