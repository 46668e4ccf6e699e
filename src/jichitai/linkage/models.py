"""Tables of the linkage server, in each tenant's database of the linkage zone.

``transfers`` is the server's own log of every message it handled, by message id: its state
(picked → delivered → acked, or refused), the payload hashes on each side, and while the message is
in flight the outgoing envelope (field-encrypted), so that a re-delivery after a crash sends the
very same bytes the first attempt did. ``linkage_quarantine`` keeps each attachment's original,
encrypted, for the audit, next to what sanitization (無害化) made of it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.storage.base import Base, utcnow


class TransferState:
    PICKED = "picked"  # taken from the source outbox, checked, transformed; not yet delivered
    DELIVERED = "delivered"  # the destination's intake took it (or already had it)
    ACKED = "acked"  # the source knows it was delivered: done
    REFUSED = "refused"  # refused (allow-list, hash, destination); acked_at says the source knows


class Transfer(Base):
    """One message through the linkage server (連携記録)."""

    __tablename__ = "transfers"

    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_type: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20))
    destination: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(12), index=True)
    source_sha256: Mapped[str] = mapped_column(String(64))  # payload as found in the source outbox
    delivered_sha256: Mapped[str | None] = mapped_column(String(64), default=None)  # after transformation
    envelope: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)  # encrypted; cleared when done
    refusal: Mapped[str | None] = mapped_column(String(40), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    picked_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    acked_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def new_id() -> str:
    return uuid.uuid4().hex


class QuarantinedOriginal(Base):
    """An attachment's original as it came from the LGWAN zone (隔離保管), encrypted."""

    __tablename__ = "linkage_quarantine"
    __table_args__ = (UniqueConstraint("message_id", "attachment_id"),)
    # originals are residents' documents: every insert is audited
    __audited__ = True

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    message_id: Mapped[str] = mapped_column(String(64), index=True)
    attachment_id: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(Text)
    declared_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    original_sha256: Mapped[str] = mapped_column(String(64))
    original: Mapped[bytes] = mapped_column(LargeBinary)  # field-encrypted base64 of the original bytes
    outcome: Mapped[str] = mapped_column(String(12))  # sanitized | refused
    detected_kind: Mapped[str] = mapped_column(String(40))
    method: Mapped[str] = mapped_column(String(40))
    removed: Mapped[str] = mapped_column(Text, default="")  # what sanitization took out, comma-separated
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    sanitized_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
