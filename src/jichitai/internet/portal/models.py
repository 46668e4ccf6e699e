"""Tables of the resident portal: login challenges, resident sessions, saved drafts, receipt summaries.

They belong to the ``jichitai.internet`` component (same tenant database of the internet zone,
same Alembic location: ``internet/migrations/0100_portal.py``, branch ``internet_portal``).

What a resident typed is personal data: drafts, their files and the receipt summaries are kept
only field-encrypted (AES-256-GCM with the row id bound in, ``uow.keyring.field_encrypt``), and the
resident is found through a keyed blind index of the portal's resident key, never the key itself.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.storage.base import Base, utcnow

COMPONENT: dict[str, Any] = {"info": {"component": "jichitai.internet"}}


def new_id() -> str:
    return uuid.uuid4().hex


def _person(index: bytes | None) -> str:
    return "resident:" + index.hex()[:32] if index else ""


class PortalLoginChallenge(Base):
    """A random challenge the card signs at login (利用者証明用); usable once, for a few minutes."""

    __tablename__ = "portal_login_challenges"
    __table_args__ = (Index("ix_portal_login_challenges_created_at", "created_at"), COMPONENT)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class PortalSession(Base):
    """A logged-in resident. The cookie holds a random token; only its SHA-256 is kept here."""

    __tablename__ = "portal_sessions"
    __table_args__ = (Index("ix_portal_sessions_expires_at", "expires_at"), COMPONENT)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie token
    resident_key: Mapped[bytes] = mapped_column(LargeBinary)  # field-encrypted
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(default=utcnow)


class PortalDraft(Base):
    """A resident's unfinished application (一時保存), one per resident and procedure."""

    __tablename__ = "portal_drafts"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("resident_index", "procedure_id", name="uq_portal_drafts_resident_procedure"),
        COMPONENT,
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    resident_index: Mapped[bytes] = mapped_column(LargeBinary(32))
    procedure_id: Mapped[str] = mapped_column(String(64))
    procedure_version: Mapped[str] = mapped_column(String(100))  # effective id the form was opened with
    data: Mapped[bytes] = mapped_column(LargeBinary)  # field-encrypted JSON of what was typed
    validated: Mapped[bool] = mapped_column(Boolean, default=False)  # passed the checks as saved
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def audit_person(self) -> str:
        return _person(self.resident_index)


class PortalDraftFile(Base):
    """A file attached to a draft (添付書類), name and content field-encrypted."""

    __tablename__ = "portal_draft_files"
    __audited__ = True
    __table_args__ = (Index("ix_portal_draft_files_draft_id", "draft_id"), COMPONENT)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    draft_id: Mapped[str] = mapped_column(String(32), ForeignKey("portal_drafts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    filename: Mapped[bytes] = mapped_column(LargeBinary)  # field-encrypted
    content: Mapped[bytes] = mapped_column(LargeBinary)  # field-encrypted (base64 of the bytes)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PortalReceipt(Base):
    """What the receipt (申請受付票) prints: kept because the application itself is ciphertext only.

    The summary has 個人番号 masked before it is stored; it is field-encrypted all the same.
    """

    __tablename__ = "portal_receipts"
    __audited__ = True
    __table_args__ = (Index("ix_portal_receipts_resident_index", "resident_index"), COMPONENT)

    receipt_number: Mapped[str] = mapped_column(String(40), primary_key=True)
    resident_index: Mapped[bytes] = mapped_column(LargeBinary(32))
    procedure_id: Mapped[str] = mapped_column(String(64))
    summary: Mapped[bytes] = mapped_column(LargeBinary)  # field-encrypted JSON [[label, value], ...]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    def audit_object_id(self) -> str:
        return self.receipt_number

    def audit_person(self) -> str:
        return _person(self.resident_index)


__all__ = [
    "PortalDraft",
    "PortalDraftFile",
    "PortalLoginChallenge",
    "PortalReceipt",
    "PortalSession",
    "new_id",
]
