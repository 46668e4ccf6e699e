"""Tables of the internet zone (インターネット接続系): what the portal keeps of residents' submissions.

Only ciphertext and routing metadata are here. The form, the attachments, the signature and the
certificate travel inside one JWE addressed to the tenant's submission key, whose private half only
the LGWAN zone holds. The resident is findable for "my applications" through a keyed blind index
of the portal's resident key, never the key itself.

Every tenant has its own database (or schema), so no row carries a tenant column. The ciphertext
sits in its own table so that listing never reads it and the retention purge can drop it while
keeping the routing metadata and status history.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.storage.base import Base, utcnow


def new_id() -> str:
    return uuid.uuid4().hex


class Application(Base):
    """One submitted application (電子申請) as the internet zone knows it: routing metadata only."""

    __tablename__ = "internet_applications"
    # routing metadata of a resident's application: creation, acknowledgement and purge are audited
    __audited__ = True
    __table_args__ = (
        Index("ix_internet_applications_received_at", "received_at"),
        Index("ix_internet_applications_resident", "resident_index"),
        Index("ix_internet_applications_status", "status"),
    )

    receipt_number: Mapped[str] = mapped_column(String(40), primary_key=True)  # 受付番号
    procedure_id: Mapped[str] = mapped_column(String(64))
    procedure_version: Mapped[str] = mapped_column(String(100))  # effective definition id
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(24))
    status_at: Mapped[datetime] = mapped_column(default=utcnow)
    kid: Mapped[str] = mapped_column(String(40))  # submission key the JWE is encrypted to
    size: Mapped[int] = mapped_column(Integer)  # bytes of the JWE token
    resident_index: Mapped[bytes] = mapped_column(LargeBinary(32))  # blind index of the resident key
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    # SHA-256 over what makes two requests "the same submission" (form, files, signature, certificate)
    fingerprint: Mapped[str] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    purged_at: Mapped[datetime | None] = mapped_column(default=None)

    def audit_object_id(self) -> str:
        return self.receipt_number

    def audit_person(self) -> str:
        # the portal's resident key is never stored; its blind index names the person in the log
        return "resident:" + self.resident_index.hex()[:32] if self.resident_index else ""


class ApplicationCiphertext(Base):
    """The JWE of an application (RSA-OAEP-256 + A256GCM); deleted by retention.

    See :func:`jichitai.internet.submissions.encryption.split_compact` for how it is kept.
    """

    __tablename__ = "internet_application_ciphertexts"

    receipt_number: Mapped[str] = mapped_column(
        String(40),
        ForeignKey("internet_applications.receipt_number", ondelete="CASCADE"),
        primary_key=True,
    )
    # The JWE compact serialization with its (large) ciphertext segment kept as raw bytes, a
    # quarter smaller than base64url: ``head`` is the token with that segment left empty.
    head: Mapped[str] = mapped_column(Text)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)


class ApplicationCiphertextSegment(Base):
    """The JWE of an application whose ciphertext segment lies in the tenant's segment files (on
    the embedded backend, see :mod:`jichitai.platform.storage.segments`): ``head`` as in
    :class:`ApplicationCiphertext`, and where the raw ciphertext is. Deleted by retention, after
    which the segment file goes once nothing else points into it.
    """

    __tablename__ = "internet_ciphertext_segments"

    receipt_number: Mapped[str] = mapped_column(
        String(40),
        ForeignKey("internet_applications.receipt_number", ondelete="CASCADE"),
        primary_key=True,
    )
    head: Mapped[str] = mapped_column(Text)
    segment: Mapped[str] = mapped_column(String(64))  # file name in the tenant's blob directory
    position: Mapped[int] = mapped_column(BigInteger)  # the record's offset in the file
    length: Mapped[int] = mapped_column(Integer)  # bytes of the raw ciphertext


class StatusEventRow(Base):
    """A status event (処理状況) signed by the tenant, stored for the resident to see."""

    __tablename__ = "internet_status_events"
    # may carry a message to a named resident
    __audited__ = True
    __table_args__ = (Index("ix_internet_status_events_receipt", "receipt_number", "at"),)

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    receipt_number: Mapped[str] = mapped_column(
        String(40), ForeignKey("internet_applications.receipt_number", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(24))
    message_ja: Mapped[str] = mapped_column(Text, default="")
    reply_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column()
    key_version: Mapped[int] = mapped_column(Integer)
    signature_b64: Mapped[str] = mapped_column(String(200))
    event_json: Mapped[str] = mapped_column(Text)  # the event exactly as posted, for re-verification
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)

    def audit_object_id(self) -> str:
        return self.event_id


class ResidentReply(Base):
    """A resident's answer to a request (e.g. 補正), encrypted to the submission key as an amendment."""

    __tablename__ = "internet_resident_replies"
    __audited__ = True
    __table_args__ = (Index("ix_internet_resident_replies_receipt", "receipt_number", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    receipt_number: Mapped[str] = mapped_column(
        String(40), ForeignKey("internet_applications.receipt_number", ondelete="CASCADE")
    )
    in_reply_to: Mapped[str] = mapped_column(String(64))  # event_id of the request
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kid: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    jwe: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)  # None once purged


class StatusSigningKey(Base):
    """The tenant's status-signing public key (LGWAN zone's 電子公印, ECDSA P-256), published here.

    The internet zone's own ``public_keys`` rows of kind ``signing`` are this zone's key (for its
    audit checkpoints); status events are signed in the LGWAN zone, so its key is published apart.
    """

    __tablename__ = "internet_status_signing_keys"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    public_key_pem: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)


INTERNET_TABLES: tuple[Table, ...] = tuple(
    cls.__table__  # type: ignore[misc]
    for cls in (
        Application,
        ApplicationCiphertext,
        ApplicationCiphertextSegment,
        StatusEventRow,
        ResidentReply,
        StatusSigningKey,
    )
)
