"""Tables of the addressee-number system (統合宛名).

``atena_persons`` holds one row per person with the 統合宛名番号, the encrypted 個人番号 with its
blind index (for duplicate checks and look-up, never decrypted to search), and the four basic facts
(氏名, カナ, 生年月日, 住所) the registry keeps up to date for residents: they are what the link
table carries. Business numbers and certificate serial links are kept with their history.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.storage.base import Base, utcnow

CounterType = BigInteger().with_variant(Integer(), "sqlite")

KIND_RESIDENT = "resident"  # 住民 (has a registry record here)
KIND_NON_RESIDENT = "non_resident"  # 住登外者 (taxpayers living elsewhere, former residents ...)

USE_SIGNING = "signing"  # 署名用電子証明書
USE_AUTHENTICATION = "authentication"  # 利用者証明用電子証明書
CERTIFICATE_USES = (USE_SIGNING, USE_AUTHENTICATION)


class AtenaPerson(Base):
    """A person with a 統合宛名番号 (integrated addressee number)."""

    __tablename__ = "atena_persons"
    __audited__ = True

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    atena_number: Mapped[str] = mapped_column(String(15), unique=True)  # 統合宛名番号
    kind: Mapped[str] = mapped_column(String(12))  # resident / non_resident
    individual_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # 個人番号 (AES-GCM)
    individual_number_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    name: Mapped[str] = mapped_column(Text)  # 氏名
    name_kana: Mapped[str] = mapped_column(Text)  # 氏名カナ
    birth_date: Mapped[date] = mapped_column(Date)  # 生年月日
    sex: Mapped[str | None] = mapped_column(String(1))  # 1 男 / 2 女
    address: Mapped[str] = mapped_column(Text)  # 住所 (normalized)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def audit_person(self) -> str:
        return self.atena_number


class BusinessNumber(Base):
    """A business's own addressee number (業務宛名番号) linked to a 統合宛名番号."""

    __tablename__ = "atena_business_numbers"
    __audited__ = True
    __table_args__ = (Index("ix_atena_business_numbers_business_number", "business", "business_number"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    atena_person_id: Mapped[str] = mapped_column(ForeignKey("atena_persons.id"), index=True)
    atena_number: Mapped[str] = mapped_column(String(15))
    business: Mapped[str] = mapped_column(String(40))  # e.g. child_allowance, resident_tax
    business_number: Mapped[str] = mapped_column(String(30))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    unlinked_at: Mapped[datetime | None] = mapped_column()

    def audit_person(self) -> str:
        return self.atena_number


class SerialLink(Base):
    """シリアル番号紐付情報: a JPKI certificate serial number linked to a person, with its period.

    A renewed or reissued card has new serial numbers: the new link starts and the old one gets
    ``valid_to``. ``changed_at`` is the system time of the last change, for delta exports.
    """

    __tablename__ = "atena_serial_links"
    __audited__ = True
    __table_args__ = (Index("ix_atena_serial_links_use_serial", "certificate_use", "serial", unique=True),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    atena_person_id: Mapped[str] = mapped_column(ForeignKey("atena_persons.id"), index=True)
    atena_number: Mapped[str] = mapped_column(String(15))
    serial: Mapped[str] = mapped_column(String(40))  # upper-case hex
    certificate_use: Mapped[str] = mapped_column(String(16))  # signing / authentication
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)  # None while current
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    def audit_person(self) -> str:
        return self.atena_number


class AtenaCounter(Base):
    """Next value of a number sequence; the row is locked while a number is drawn."""

    __tablename__ = "atena_counters"

    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    next_value: Mapped[int] = mapped_column(CounterType)
