"""Tables of the messages a zone hands to, and receives from, the linkage server (連携サーバ).

``outbox_messages`` is the transactional outbox: a business change and the message announcing it
are written in one transaction, so a message exists exactly when the change does. The payload is
personal data (an accepted application, a link table) and is stored field-encrypted, bound to the
message id. ``inbox_messages`` is the idempotent intake: one row per message id received, with the
payload hash only, so a re-delivery is recognised and a different payload under a known id is
refused.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.storage.base import Base, utcnow

SEQ = BigInteger().with_variant(Integer(), "sqlite")


class OutboxState:
    PENDING = "pending"  # waiting for the linkage server
    DELIVERED = "delivered"  # delivered to the destination and acknowledged
    REFUSED = "refused"  # refused by the linkage server or the destination, with a reason


class OutboxMessage(Base):
    """A message waiting in a zone's outbox (送信待ち) until the linkage server acknowledges it."""

    __tablename__ = "outbox_messages"
    # the payload holds personal data: inserts and acknowledgements are audited
    __audited__ = True

    # insertion order; the linkage server takes a tenant's messages in this order
    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    message_type: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20))
    destination: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # field-encrypted JSON, AAD = message_id
    payload_sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12), default=OutboxState.PENDING, index=True)
    acked_at: Mapped[datetime | None] = mapped_column(default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)

    def audit_object_id(self) -> str:
        return self.message_id


class InboxMessage(Base):
    """A message received from the linkage server (受信済み), kept to make re-delivery harmless."""

    __tablename__ = "inbox_messages"

    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_type: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]  # when the source created the message
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
