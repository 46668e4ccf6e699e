"""Tables of the resident registry (住民記録).

- ``registry_person_versions``: append-only, bitemporal history of each person's facts. A version
  is valid from ``valid_from`` (異動日, the event date) to ``valid_to`` (exclusive; NULL = open) and
  was recorded at ``recorded_at`` (system time; ``notified_on`` is the 届出日) until
  ``superseded_at`` (NULL = still believed). A change never edits facts: it supersedes the versions
  it contradicts and inserts new ones (the part of an old version before the change is re-inserted
  with its ``valid_to``). So "what was true on D" and "what did we believe at T" are both queries.
- ``registry_persons``: one row per person with the latest facts, the search keys (names.py keys,
  kana key, birth date, household, normalized address) and the encrypted 個人番号 with its blind
  index; what search, views and certificates read at city scale.
- ``registry_households``: 世帯 with 世帯番号; membership and 世帯主 are facts of the persons
  (household_id, 続柄) and so have history too.
- ``registry_changes``: one row per accepted change (異動) with its idempotency key.
- ``registry_events`` + ``registry_event_head``: the ordered event feed other systems poll.

A removed person (転出, 死亡, 職権消除 …) keeps every row: status ``removed`` with the removal date
and reason is the 除票.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.storage.base import Base, utcnow

SeqType = BigInteger().with_variant(Integer(), "sqlite")
# Search keys compare byte-wise (collation "C" on PostgreSQL) so that a prefix range scan on the
# btree index is exactly a prefix match, whatever the database's default collation.
KeyType = String(200).with_variant(postgresql.VARCHAR(200, collation="C"), "postgresql")
AddressKeyType = Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")

STATUS_RESIDENT = "resident"  # 住民
STATUS_REMOVED = "removed"  # 除票 (from removed_on)
# the rows the 在留期間 review index holds (a literal: migrations restate it)
STAY_REVIEW_WHERE = "status = 'resident' AND stay_expires_on IS NOT NULL"
# the rows the other-name search indexes hold (literals: migrations restate them)
OTHER_NAME_WHERE = "other_name_key_folded IS NOT NULL"
OTHER_KANA_WHERE = "other_kana_key_folded IS NOT NULL"


class PersonFactsMixin:
    """The facts of a person's 住民票 (one version of them)."""

    household_id: Mapped[str] = mapped_column(String(32))  # 世帯
    relationship: Mapped[str] = mapped_column(String(40))  # 続柄 (世帯主, 妻, 子 …)
    name: Mapped[str] = mapped_column(Text)  # 氏名
    name_kana: Mapped[str] = mapped_column(Text)  # 氏名カナ
    alias: Mapped[str | None] = mapped_column(Text)  # 通称 (foreign residents)
    alias_kana: Mapped[str | None] = mapped_column(Text)
    birth_date: Mapped[date] = mapped_column(Date)  # 生年月日
    sex: Mapped[str] = mapped_column(String(1))  # 1 男 / 2 女
    kind: Mapped[str] = mapped_column(String(4))  # 日本人 / 外国人 (住民種別)
    became_resident_on: Mapped[date] = mapped_column(Date)  # 住民となった日
    address_text: Mapped[str] = mapped_column(Text)  # 住所 (normalized, addresses.Address.text)
    address_prefecture: Mapped[str] = mapped_column(String(10))
    address_city: Mapped[str] = mapped_column(String(60))
    address_town: Mapped[str] = mapped_column(Text)  # 町字
    address_chome: Mapped[int | None] = mapped_column(Integer)  # 丁目
    address_block: Mapped[str] = mapped_column(String(60))  # 番地 / 住居表示 (1-2-3)
    address_building: Mapped[str] = mapped_column(Text)  # 建物
    address_note: Mapped[str | None] = mapped_column(Text)  # 方書
    address_since: Mapped[date] = mapped_column(Date)  # 住所を定めた日
    previous_address: Mapped[str | None] = mapped_column(Text)  # 前住所 (異動前住所)
    address_before_move_in: Mapped[str | None] = mapped_column(Text)  # 転入前住所
    honseki: Mapped[str | None] = mapped_column(Text)  # 本籍 (Japanese nationals)
    hittosha: Mapped[str | None] = mapped_column(Text)  # 筆頭者
    nationality: Mapped[str | None] = mapped_column(Text)  # 国籍・地域
    residence_status: Mapped[str | None] = mapped_column(Text)  # 在留資格
    stay_expires_on: Mapped[date | None] = mapped_column(Date)  # 在留期間満了日
    residence_card_number: Mapped[str | None] = mapped_column(String(12))  # 在留カード等番号
    status: Mapped[str] = mapped_column(String(10))  # resident / removed
    removal_reason: Mapped[str | None] = mapped_column(String(20))  # 消除事由
    removed_on: Mapped[date | None] = mapped_column(Date)  # 消除日 (転出: 転出予定日 until confirmed)
    moved_out_to: Mapped[str | None] = mapped_column(Text)  # 転出先
    move_out_confirmed: Mapped[bool | None] = mapped_column(Boolean)  # 転出確定 (None: not a 転出)
    last_change: Mapped[str] = mapped_column(String(20))  # 異動事由 of this version
    last_change_on: Mapped[date] = mapped_column(Date)  # 異動日
    last_notified_on: Mapped[date | None] = mapped_column(Date)  # 届出日
    # 旧氏 (a Japanese resident's former surname from the 戸籍, 施行令第30条の13, at the resident's
    # 請求) and its reading; printed with the 氏名
    former_surname: Mapped[str | None] = mapped_column(Text)
    former_surname_kana: Mapped[str | None] = mapped_column(Text)


# Column names of the facts, in one place for copying between versions and the current row.
FACT_FIELDS: tuple[str, ...] = tuple(
    name
    for name, value in vars(PersonFactsMixin).items()
    if not name.startswith("_") and hasattr(value, "column")
)


# Columns the name searches read besides the key (rank and the resident/removed filter).
NAME_INDEX_INCLUDE = ["name_key_exact", "name_key_width", "kana_key_width", "status", "removed_on"]
KANA_INDEX_INCLUDE = ["kana_key_width", "status", "removed_on"]


class Person(PersonFactsMixin, Base):
    """Current state of one person (住民票), with search keys; one row per person, ever."""

    __tablename__ = "registry_persons"
    __audited__ = True
    __table_args__ = (
        # The name searches range over these in key order (see search._statements); on
        # PostgreSQL they carry what the filter and the rank read, so a broad search (a common
        # surname alone: hundreds of matches read) is an index-only scan, not a heap fetch a match.
        Index(
            "ix_registry_persons_name_folded_birth",
            "name_key_folded",
            "birth_date",
            "id",
            postgresql_include=NAME_INDEX_INCLUDE,
        ),
        Index(
            "ix_registry_persons_kana_folded_birth",
            "kana_key_folded",
            "birth_date",
            "id",
            postgresql_include=KANA_INDEX_INCLUDE,
        ),
        # search by the other name (通称, or 旧氏 with the 名): partial, since few have one
        Index(
            "ix_registry_persons_other_name_folded",
            "other_name_key_folded",
            "birth_date",
            "id",
            postgresql_where=text(OTHER_NAME_WHERE),
            sqlite_where=text(OTHER_NAME_WHERE),
        ),
        Index(
            "ix_registry_persons_other_kana_folded",
            "other_kana_key_folded",
            "birth_date",
            "id",
            postgresql_where=text(OTHER_KANA_WHERE),
            sqlite_where=text(OTHER_KANA_WHERE),
        ),
        Index("ix_registry_persons_birth_date", "birth_date"),
        Index("ix_registry_persons_household_id", "household_id"),
        Index("ix_registry_persons_address_key", "address_key"),
        Index("ix_registry_persons_status_removed_on", "status", "removed_on"),
        # 在留期間満了の確認 (stay_review.py): only foreign residents living here have a 満了日 to review
        Index(
            "ix_registry_persons_stay_expires",
            "stay_expires_on",
            "id",
            postgresql_where=text(STAY_REVIEW_WHERE),
            sqlite_where=text(STAY_REVIEW_WHERE),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    atena_number: Mapped[str] = mapped_column(String(15), unique=True)  # 統合宛名番号
    juminhyo_code: Mapped[str] = mapped_column(String(11), unique=True)  # 住民票コード
    individual_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # 個人番号 (AES-GCM)
    individual_number_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    name_key_exact: Mapped[str] = mapped_column(KeyType)  # names.name_key_exact
    name_key_width: Mapped[str] = mapped_column(KeyType)  # names.name_key_width
    name_key_folded: Mapped[str] = mapped_column(KeyType)  # names.name_key_folded
    kana_key_width: Mapped[str] = mapped_column(KeyType)
    kana_key_folded: Mapped[str] = mapped_column(KeyType)
    # the keys of the other name (通称, or 旧氏 with the 名: names.other_name); NULL for the many
    # without one
    other_name_key_exact: Mapped[str | None] = mapped_column(KeyType)
    other_name_key_width: Mapped[str | None] = mapped_column(KeyType)
    other_name_key_folded: Mapped[str | None] = mapped_column(KeyType)
    other_kana_key_width: Mapped[str | None] = mapped_column(KeyType)
    other_kana_key_folded: Mapped[str | None] = mapped_column(KeyType)
    address_key: Mapped[str] = mapped_column(AddressKeyType)  # normalized address, for prefix search
    version_no: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def audit_person(self) -> str:
        return self.atena_number


class PersonVersion(PersonFactsMixin, Base):
    """One bitemporal version of a person's facts; rows are inserted, and only ever superseded."""

    __tablename__ = "registry_person_versions"
    __audited__ = True
    __table_args__ = (
        Index("ix_registry_person_versions_person", "person_id", "valid_from"),
        Index("ix_registry_person_versions_household", "household_id", "valid_from"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(32))
    atena_number: Mapped[str] = mapped_column(String(15))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column()
    superseded_at: Mapped[datetime | None] = mapped_column()
    change_id: Mapped[str] = mapped_column(String(32), index=True)

    def audit_person(self) -> str:
        return self.atena_number


class Household(Base):
    """世帯: its 世帯番号 and lifetime; members and head are facts of the persons."""

    __tablename__ = "registry_households"
    __audited__ = True

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    household_number: Mapped[str] = mapped_column(String(15), unique=True)  # 世帯番号
    created_on: Mapped[date] = mapped_column(Date)
    dissolved_on: Mapped[date | None] = mapped_column(Date)  # no member left
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def audit_object_id(self) -> str:
        return self.household_number


class Change(Base):
    """One accepted change (異動), keyed by the client's idempotency key."""

    __tablename__ = "registry_changes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    change_type: Mapped[str] = mapped_column(String(30))
    request_digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the canonical request
    event_date: Mapped[date] = mapped_column(Date)  # 異動日
    notified_on: Mapped[date | None] = mapped_column(Date)  # 届出日
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    result_json: Mapped[str] = mapped_column(Text)


class RegistryEvent(Base):
    """One registry event for other core systems; ``seq`` has no gaps and commits in order."""

    __tablename__ = "registry_events"
    __audited__ = True

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    event_type: Mapped[str] = mapped_column(String(20))
    change_id: Mapped[str] = mapped_column(String(32))
    atena_number: Mapped[str] = mapped_column(String(15), index=True)
    household_number: Mapped[str | None] = mapped_column(String(15))
    event_date: Mapped[date] = mapped_column(Date)
    notified_on: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[str] = mapped_column(Text)  # JSON

    def audit_person(self) -> str:
        return self.atena_number

    def audit_object_id(self) -> str:
        return str(self.seq)


class EventHead(Base):
    """The last event sequence number; writers lock the row so events commit in ``seq`` order."""

    __tablename__ = "registry_event_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(SeqType)


class RegistryCounter(Base):
    """Next value of a number sequence (世帯番号, 住民票コード)."""

    __tablename__ = "registry_counters"

    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    next_value: Mapped[int] = mapped_column(SeqType)
