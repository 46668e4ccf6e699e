"""What the linkage server (連携サーバ) carries between the LGWAN and My Number zones."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class MessageType(StrEnum):
    ACCEPTED_APPLICATION = "accepted_application"  # LGWAN → My Number
    LINK_TABLE = "link_table"  # My Number → LGWAN: serial-number link information
    CASE_RESULT = "case_result"  # My Number → LGWAN: a core system's decision


class TransferEnvelope(BaseModel):
    """One message through the linkage server; ``message_id`` makes delivery idempotent."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal["1"] = "1"
    # Constrained, because they become keys, log entries and error texts at the receiving zone: a
    # lone surrogate (a JSON "\\udc80" escape) failed there at the first UTF-8 encoding.
    message_id: str = Field(pattern=r"^[0-9A-Za-z_-]{1,64}$")
    message_type: MessageType
    source: str = Field(pattern=r"^[a-z]{1,20}$")  # zone
    destination: str = Field(pattern=r"^[a-z]{1,20}$")  # zone
    tenant: str = Field(pattern=r"^[0-9]{6}$")  # 全国地方公共団体コード
    created_at: datetime
    payload: dict[str, Any]
    payload_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class LinkTableRow(BaseModel):
    """シリアル番号紐付情報: a JPKI certificate serial linked to a person, without 個人番号."""

    model_config = ConfigDict(frozen=True)

    serial: str  # certificate serial number, upper-case hex
    certificate_use: str  # signing | authentication
    integrated_atena_number: str  # 統合宛名番号
    name: str
    name_kana: str
    birth_date: date
    address: str
    valid_from: date
    valid_to: date | None = None  # None while the link is current


class LinkTable(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    generated_at: datetime
    full: bool  # a full table replaces the copy; otherwise rows are changes since the last
    rows: list[LinkTableRow]


class AcceptedApplication(BaseModel):
    """An application accepted in the back office, handed to a core system's intake."""

    model_config = ConfigDict(frozen=True)

    receipt_number: str
    tenant: str
    procedure_id: str
    procedure_version: str
    receiving_system: str  # e.g. child_allowance, generic
    form: dict[str, Any]
    applicant_atena_number: str | None  # 統合宛名番号 when identified
    signer_serial: str
    attachments: list[dict[str, Any]] = Field(default_factory=list)  # sanitized copies (base64) + hashes
    accepted_by: str
    accepted_at: datetime


class CaseResult(BaseModel):
    """A core system's decision, flowing back to become a status event for the resident."""

    model_config = ConfigDict(frozen=True)

    receipt_number: str
    tenant: str
    business: str
    outcome: str  # e.g. certified, rejected, amount_decided, completed
    status: str  # SubmissionStatus value to show the resident
    message_ja: str
    decided_at: datetime
    details: dict[str, Any] = Field(default_factory=dict)
