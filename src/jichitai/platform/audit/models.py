"""Tables of the audit log (監査ログ): entries, signed checkpoints, and the head row writers lock.

Each tenant has these three tables in each zone's database (its SQLite file, or its schema on
PostgreSQL). Triggers created by the migration refuse UPDATE and DELETE on entries and checkpoints;
the hash chain and the signed checkpoints catch what gets past them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.storage.base import Base

# 64-bit on PostgreSQL (hundreds of entries a second outgrow 2^31 in a few years); plain INTEGER on
# SQLite, where it is 64-bit anyway and makes the key the rowid.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class AuditEntry(Base):
    """One access to or change of personal data, chained to the entry before it."""

    __tablename__ = "audit_entries"

    # 1, 2, 3 … with no gaps: a gap is a deleted entry. Assigned by ``log.append``, never by the DB.
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32), index=True)  # ISO 8601 UTC text, see chain.py
    zone: Mapped[str] = mapped_column(Text)
    tenant: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text, index=True)
    actor_kind: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(Text)  # purpose code (利用目的)
    legal_basis: Mapped[str] = mapped_column(Text)  # 根拠法令
    person: Mapped[str] = mapped_column(Text, index=True)  # the person concerned; "" when none
    action: Mapped[str] = mapped_column(Text)
    object_type: Mapped[str] = mapped_column(Text)
    object_id: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON text, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<AuditEntry {self.seq} {self.actor} {self.action} {self.object_type}:{self.object_id}>"


class AuditCheckpoint(Base):
    """The chain hash at ``seq``, signed with the tenant's signing key (電子公印)."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    key_version: Mapped[int] = mapped_column(Integer)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    signed_at: Mapped[str] = mapped_column(String(32))  # ISO 8601 UTC text, part of what is signed


class AuditHead(Base):
    """The single row holding the end of the chain.

    Writers lock it (SELECT … FOR UPDATE on PostgreSQL; SQLite transactions are BEGIN IMMEDIATE)
    so appends serialize and sequence numbers never collide or skip.
    """

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(SeqType)
    last_hash: Mapped[str] = mapped_column(String(64))


HEAD_ID = 1
