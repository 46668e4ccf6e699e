"""A resident's submission: routing metadata (readable) and the encrypted payload (JWE).

The internet zone stores the :class:`SubmissionEnvelope` (routing only) and the JWE compact token;
only the LGWAN zone can decrypt the token into a :class:`SubmissionPayload`. The payload carries the
SHA-256 of the form bytes and of each attachment inside the encrypted part, so nothing can be
swapped on the way.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CertificateUse(StrEnum):
    SIGNING = "signing"  # 署名用電子証明書
    AUTHENTICATION = "authentication"  # 利用者証明用電子証明書


class AttachmentPart(BaseModel):
    """One attached file, inside the encrypted payload."""

    model_config = ConfigDict(frozen=True)

    attachment_id: str  # stable within the submission: "a1", "a2", ...
    kind: str  # the attachment kind from the procedure definition (e.g. health_insurance_card)
    filename: str
    content_type: str  # as declared by the resident's browser; the LGWAN zone judges by content
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    data_b64: str  # standard base64


class SubmissionPayload(BaseModel):
    """Everything the resident sent, as the LGWAN zone sees it after decryption."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal["1"] = "1"
    receipt_number: str  # 受付番号
    tenant: str
    procedure_id: str
    procedure_version: str  # the effective definition id the form was made with
    form: dict[str, Any]
    form_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")  # over canonical_form_bytes(form)
    signed_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")  # over the exact bytes the card signed
    signature_b64: str  # PKCS#1 v1.5 SHA-256 by the certificate's key
    certificate_pem: str
    certificate_use: CertificateUse
    attachments: list[AttachmentPart] = Field(default_factory=list)
    submitted_at: datetime
    idempotency_key: str


class SubmissionStatus(StrEnum):
    """Processing status, as the resident sees it on the portal."""

    RECEIVED = "received"  # 受付済み (stored in the internet zone)
    DELIVERED = "delivered"  # 自治体へ送付済み (acknowledged by application management)
    UNDER_REVIEW = "under_review"  # 審査中
    CORRECTION_REQUESTED = "correction_requested"  # 補正依頼中
    ACCEPTED = "accepted"  # 受理
    REJECTED = "rejected"  # 却下
    HANDED_OVER = "handed_over"  # 担当業務へ引継ぎ済み
    DECIDED = "decided"  # 決定 (e.g. 認定)
    COMPLETED = "completed"  # 完了

    @property
    def label_ja(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS: dict[SubmissionStatus, str] = {
    SubmissionStatus.RECEIVED: "受付済み",
    SubmissionStatus.DELIVERED: "自治体へ送付済み",
    SubmissionStatus.UNDER_REVIEW: "審査中",
    SubmissionStatus.CORRECTION_REQUESTED: "補正のお願い",
    SubmissionStatus.ACCEPTED: "受理",
    SubmissionStatus.REJECTED: "却下",
    SubmissionStatus.HANDED_OVER: "担当課で処理中",
    SubmissionStatus.DECIDED: "決定",
    SubmissionStatus.COMPLETED: "完了",
}


class SubmissionEnvelope(BaseModel):
    """Routing metadata the internet zone keeps in clear beside the ciphertext."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal["1"] = "1"
    receipt_number: str
    tenant: str
    procedure_id: str
    procedure_version: str
    received_at: datetime
    status: SubmissionStatus
    kid: str  # which submission key the JWE is encrypted to
    size: int  # bytes of the JWE token


MAX_REPLY_CHARS = 4000


class AmendmentPayload(BaseModel):
    """A resident's reply to a request (e.g. 補正依頼), as the LGWAN zone sees it after decryption.

    It travels as a JWE to the tenant's submission key with header ``jichitai_type=amendment``.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: Literal["1"] = "1"
    kind: Literal["amendment"] = "amendment"
    reply_id: str
    receipt_number: str
    tenant: str
    in_reply_to: str  # event_id of the request
    message_ja: str = Field(max_length=MAX_REPLY_CHARS)
    attachments: list[AttachmentPart] = Field(default_factory=list)
    submitted_at: datetime
