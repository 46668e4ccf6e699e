"""Request and answer bodies of the internet zone's API, with Japanese descriptions for OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jichitai.contracts.status import StatusEvent
from jichitai.contracts.submission import CertificateUse, SubmissionStatus


class ErrorBody(BaseModel):
    """Every refusal: a stable code, a message for the operator and one for people (Japanese)."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="エラーの種類を表すコード(例: invalid_form, certificate_revoked)")
    message: str = Field(description="システム管理者向けの説明(英語)")
    message_ja: str = Field(description="利用者向けの説明(日本語)")


class FieldErrorOut(BaseModel):
    pointer: str = Field(description="申請内容の項目(JSON Pointer)。例: /claimant/postal_code")
    label: str = Field(description="項目の名称(例: 請求者 > 郵便番号)")
    message: str = Field(description="項目ごとの日本語のメッセージ")
    keyword: str = Field(description="違反した規則(required, format など)")


class InvalidFormBody(ErrorBody):
    errors: list[FieldErrorOut] = Field(default_factory=list, description="項目ごとの誤り(画面の順)")


class TokenResponse(BaseModel):
    access_token: str = Field(description="アクセストークン(Bearer)")
    token_type: str = Field(description="常に Bearer")
    expires_in: int = Field(description="有効期間(秒)")
    scope: str = Field(description="許可された権限(空白区切り)")


class OAuthErrorBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    error: str = Field(description="RFC 6749 のエラーコード(invalid_client など)")
    error_description: str = Field(description="説明(英語)")
    message_ja: str = Field(description="説明(日本語)")


class AttachmentIn(BaseModel):
    kind: str = Field(max_length=64, description="添付書類の種類(手続定義の kind)")
    filename: str = Field(max_length=255, description="ファイル名")
    content_type: str = Field(
        max_length=100, description="ファイル形式(application/pdf, image/jpeg, image/png)"
    )
    data_b64: str = Field(description="ファイルの内容(Base64)")


class SubmissionIn(BaseModel):
    """A signed application as the portal page sends it after the card has signed."""

    procedure_id: str = Field(max_length=64, description="手続ID(例: child_allowance_claim)")
    procedure_version: str = Field(
        max_length=100,
        description="申請書の版(例: child_allowance_claim@1 又は child_allowance_claim@1+131016.3)",
    )
    form: dict[str, Any] = Field(description="申請内容(手続定義のJSON Schemaに従う)")
    signed_data_b64: str | None = Field(
        default=None, description="カードが署名したバイト列(Base64)。省略時は申請内容の正規化バイト列"
    )
    signature_b64: str = Field(description="電子署名(PKCS#1 v1.5 SHA-256, Base64)")
    certificate_pem: str = Field(max_length=20000, description="署名に用いた電子証明書(PEM)")
    certificate_use: CertificateUse = Field(
        description="電子証明書の種類(signing=署名用, authentication=利用者証明用)"
    )
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=30, description="添付書類")
    idempotency_key: str | None = Field(
        default=None,
        description="送信番号(8〜128文字)。同じ番号の再送は同じ受付番号を返し、二重に受け付けません。"
        "Idempotency-Key ヘッダーでも指定できます",
    )


class ReceiptOut(BaseModel):
    receipt_number: str = Field(description="受付番号")
    received_at: datetime = Field(description="受付日時")
    status: SubmissionStatus = Field(description="処理状況")
    status_label: str = Field(description="処理状況(日本語)")
    replayed: bool = Field(description="同じ送信番号で既に受け付けた申請への応答であるとき true")


class ApplicationSummary(BaseModel):
    receipt_number: str = Field(description="受付番号")
    tenant: str = Field(description="全国地方公共団体コード")
    procedure_id: str = Field(description="手続ID")
    procedure_version: str = Field(description="申請書の版")
    received_at: datetime = Field(description="受付日時")
    status: SubmissionStatus = Field(description="処理状況")
    status_at: datetime = Field(description="処理状況の更新日時")
    kid: str = Field(description="暗号化に用いた提出用公開鍵の識別子")
    size: int = Field(description="暗号文(JWE)のバイト数")
    acknowledged_at: datetime | None = Field(description="受領確認の日時(未確認は null)")
    purged: bool = Field(description="保存期間の経過により暗号文を消去済みのとき true")


class ApplicationDetail(ApplicationSummary):
    jwe: str | None = Field(
        description="申請データの暗号文(JWE Compact, RSA-OAEP-256 + A256GCM)。消去済みは null"
    )


class ApplicationList(BaseModel):
    items: list[ApplicationSummary] = Field(description="申請の一覧(受付日時の古い順)")
    page: int = Field(description="ページ番号(1から)")
    per_page: int = Field(description="1ページの件数")
    total: int = Field(description="条件に合う申請の総数")
    has_next: bool = Field(description="次のページがあるとき true")


class EventList(BaseModel):
    items: list[StatusEvent] = Field(description="処理状況の履歴(古い順)")


class ReplyOut(BaseModel):
    reply_id: str = Field(description="回答ID")
    receipt_number: str = Field(description="受付番号")
    in_reply_to: str = Field(description="回答の対象となった連絡(処理状況)のイベントID")
    created_at: datetime = Field(description="回答日時")
    kid: str = Field(description="暗号化に用いた提出用公開鍵の識別子")
    size: int = Field(description="暗号文のバイト数")
    jwe: str | None = Field(description="回答の暗号文(JWE Compact, 種別 amendment)。消去済みは null")


class ReplyList(BaseModel):
    items: list[ReplyOut] = Field(description="申請者からの回答(古い順)")
