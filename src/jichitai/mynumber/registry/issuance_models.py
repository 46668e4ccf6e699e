"""Tables of certificate issuance (住民票の写し等の交付): one row per issued certificate.

``registry_certificate_issuances`` keeps what is needed to answer "did we issue this?" and "who
saw whose data": the serial (証明書番号), kind and layout, the 統合宛名番号 of the persons on it,
the optional items printed, the content digest the QR code carries, the SHA-256 of the sealed PDF,
the requester kind, who issued it and when. The PDF itself is not kept: the record and the seal
are enough to verify a presented copy, and a second copy of personal data would only add risk.

Serials run per tenant and per Japanese calendar year (``R8-000123``); the counter lives in the
registry's ``registry_counters`` table under ``certificate_serial_<era><year>``.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.storage.base import Base


class CertificateIssuance(Base):
    """One issued certificate (交付記録)."""

    __tablename__ = "registry_certificate_issuances"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("serial", name="uq_registry_certificate_issuances_serial"),
        Index("ix_registry_certificate_issuances_issued_at", "issued_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    serial: Mapped[str] = mapped_column(String(32))  # 証明書番号 (R8-000123)
    kind: Mapped[str] = mapped_column(String(20))  # CertificateKind.name
    layout: Mapped[str] = mapped_column(String(20))  # Layout.name
    subject_atena_numbers: Mapped[str] = mapped_column(Text)  # JSON list of 統合宛名番号
    household_number: Mapped[str | None] = mapped_column(String(15))  # 世帯番号 (household layout)
    items_printed: Mapped[str] = mapped_column(Text)  # JSON list of OptionalItem.name
    items_refused: Mapped[str] = mapped_column(Text)  # JSON list of OptionalItem.name
    certified_items: Mapped[str] = mapped_column(Text)  # JSON list (住民票記載事項証明書)
    requester_kind: Mapped[str] = mapped_column(String(30))  # RequesterKind.name
    content_digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the printed content
    pdf_sha256: Mapped[str] = mapped_column(String(64))  # SHA-256 of the sealed PDF as handed out
    pages: Mapped[int] = mapped_column(Integer)
    seal_key_version: Mapped[int] = mapped_column(Integer)  # version of the tenant's signing key
    issue_date: Mapped[date] = mapped_column(Date)  # 交付日 (printed in 和暦)
    issued_by: Mapped[str] = mapped_column(String(100))  # the actor (staff login id)
    issued_at: Mapped[datetime] = mapped_column()

    def audit_person(self) -> str:
        numbers = self.subjects()
        return numbers[0] if numbers else ""

    def audit_object_id(self) -> str:
        return self.serial

    def subjects(self) -> list[str]:
        value = json.loads(self.subject_atena_numbers or "[]")
        return [str(v) for v in value]
