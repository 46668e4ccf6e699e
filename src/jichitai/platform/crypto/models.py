"""Tables of a tenant's key material kept in its own database: wrapped data keys, public keys.

Data keys are stored only wrapped (encrypted) under a version of the tenant's KEK, which stays in
the keystore; a key rotation rewrites ``wrapped`` and ``kek_version`` and nothing else.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.storage.base import Base, utcnow

PURPOSE_FIELD = "field"
PURPOSE_BLIND_INDEX = "blind_index"
STATUS_ACTIVE = "active"
STATUS_RETIRED = "retired"


class DataKey(Base):
    """A 256-bit data key for field encryption or blind indexes, wrapped under the tenant's KEK.

    ``status`` is ``active`` for the key new values use and ``retired`` for older versions, which
    stay for decrypting what they encrypted.
    """

    __tablename__ = "data_keys"
    __table_args__ = (
        UniqueConstraint("purpose", "version", name="uq_data_keys_purpose_version"),
        CheckConstraint("purpose IN ('field', 'blind_index')", name="purpose"),
        CheckConstraint("status IN ('active', 'retired')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    kek_version: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(8), default=STATUS_ACTIVE)


class PublicKey(Base):
    """A published public key of the tenant: signing key (PEM) or submission key (JWK JSON)."""

    __tablename__ = "public_keys"
    __table_args__ = (
        UniqueConstraint("kind", "version", name="uq_public_keys_kind_version"),
        CheckConstraint("kind IN ('signing', 'submission')", name="kind"),
        CheckConstraint("format IN ('pem', 'jwk')", name="format"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(8))
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
