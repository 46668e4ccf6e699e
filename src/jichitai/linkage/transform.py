"""What the linkage server does to a message on its way: 無害化 of attachments into My Number.

An accepted application carries the resident's attachments (base64, with their SHA-256). Before it
enters the My Number zone each attachment is replaced by its sanitized copy (and new hash), or, when
it cannot be made safe, by a short Japanese notice giving the reason. The original is kept here,
encrypted, in the quarantine table, for the audit. Other messages pass unchanged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Protocol

from jichitai.contracts.transfer import MessageType, TransferEnvelope
from jichitai.linkage.flows import Refusal
from jichitai.linkage.models import QuarantinedOriginal, new_id
from jichitai.platform.errors import ConfigurationError
from jichitai.platform.messaging.envelope import with_payload
from jichitai.platform.plugins import optional_module
from jichitai.platform.storage import UnitOfWork
from jichitai.platform.zones import Zone

NOTICE_TYPE = "text/plain; charset=utf-8"
_CONTENT_KEYS = frozenset(
    {"data_b64", "sha256", "size", "filename", "content_type", "refused", "reason_ja", "sanitized"}
)


class SanitizeOutcome(Protocol):
    """The fields of :class:`jichitai.platform.sanitize.SanitizeResult` the linkage server uses."""

    @property
    def ok(self) -> bool: ...
    @property
    def kind(self) -> object: ...
    @property
    def output(self) -> bytes | None: ...
    @property
    def output_type(self) -> str | None: ...
    @property
    def output_name(self) -> str | None: ...
    @property
    def method(self) -> object: ...
    @property
    def removed(self) -> list[str]: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def reason_ja(self) -> str | None: ...
    @property
    def original_sha256(self) -> str: ...
    @property
    def output_sha256(self) -> str | None: ...


class SanitizeFn(Protocol):
    def __call__(self, data: bytes, *, declared_name: str, declared_type: str) -> SanitizeOutcome: ...


def platform_sanitizer() -> SanitizeFn | None:
    """``jichitai.platform.sanitize.sanitize`` when that package is part of this build."""
    module = optional_module("jichitai.platform.sanitize")
    return getattr(module, "sanitize", None) if module is not None else None


class TransformRefused(Exception):
    """The message cannot be carried as it is (bad attachment data); refused, not retried."""

    def __init__(self, refusal: Refusal, reason: str) -> None:
        super().__init__(reason)
        self.refusal = refusal
        self.reason = reason


@dataclass(frozen=True)
class Transformed:
    envelope: TransferEnvelope
    sanitized: int = 0
    refused: int = 0


def needs_sanitizing(envelope: TransferEnvelope, destination: Zone) -> bool:
    return (
        destination is Zone.MYNUMBER
        and envelope.message_type is MessageType.ACCEPTED_APPLICATION
        and bool(envelope.payload.get("attachments"))
    )


def transform(
    uow: UnitOfWork, envelope: TransferEnvelope, destination: Zone, sanitizer: SanitizeFn | None
) -> Transformed:
    """The envelope to deliver; writes quarantine rows into ``uow`` for sanitized attachments."""
    if not needs_sanitizing(envelope, destination):
        return Transformed(envelope)
    if sanitizer is None:
        raise ConfigurationError(
            "attachments must be sanitized before entering the My Number zone, but no sanitizer is installed",
            hint="install jichitai.platform.sanitize; the message stays in the source outbox until then",
        )
    attachments = envelope.payload.get("attachments")
    if not isinstance(attachments, list):
        raise TransformRefused(Refusal.MALFORMED, "attachments is not a list")
    out: list[dict[str, Any]] = []
    sanitized = refused = 0
    for index, item in enumerate(attachments):
        clean = _one(uow, envelope.message_id, index, item, sanitizer)
        out.append(clean)
        if clean.get("refused"):
            refused += 1
        else:
            sanitized += 1
    payload = {**envelope.payload, "attachments": out}
    return Transformed(with_payload(envelope, payload), sanitized, refused)


@dataclass(frozen=True)
class AttachmentInput:
    """One attachment of a message as the sanitizer gets it, its hash checked against the declared one."""

    attachment_id: str
    filename: str
    declared_type: str
    data: bytes
    sha256: str


def attachment_input(index: int, item: object) -> AttachmentInput:
    """Read attachment ``index`` of a message; refused if malformed or not matching its hash."""
    if not isinstance(item, dict) or not isinstance(item.get("data_b64"), str):
        raise TransformRefused(Refusal.MALFORMED, f"attachment {index} has no data_b64")
    attachment_id = str(item.get("attachment_id") or f"a{index + 1}")[:40]
    filename = str(item.get("filename") or attachment_id)
    declared_type = str(item.get("content_type") or "application/octet-stream")[:200]
    try:
        data = base64.b64decode(item["data_b64"], validate=True)
    except (binascii.Error, ValueError):
        raise TransformRefused(Refusal.MALFORMED, f"attachment {attachment_id} is not valid base64") from None
    digest = hashlib.sha256(data).hexdigest()
    declared_sha = item.get("sha256")
    if declared_sha is not None and declared_sha != digest:
        raise TransformRefused(
            Refusal.ATTACHMENT_MISMATCH,
            f"attachment {attachment_id}: SHA-256 {digest} ≠ declared {declared_sha}",
        )
    return AttachmentInput(attachment_id, filename, declared_type, data, digest)


def sanitize_key(data_sha256: str, declared_name: str, declared_type: str) -> tuple[str, str, str]:
    """What a sanitized copy depends on: the bytes (by their hash) and the declared name and type."""
    return data_sha256, declared_name, declared_type


class PresanitizedSanitizer:
    """``sanitizer``, answering from copies made beforehand (in worker processes) where it has one.

    A copy is used only for the very bytes it was made of (same SHA-256) with the same declared
    name and type; anything else is sanitized here as before.
    """

    def __init__(self, sanitizer: SanitizeFn, done: dict[tuple[str, str, str], SanitizeOutcome]) -> None:
        self.sanitizer = sanitizer
        self.done = done

    def __call__(self, data: bytes, *, declared_name: str, declared_type: str) -> SanitizeOutcome:
        key = sanitize_key(hashlib.sha256(data).hexdigest(), declared_name, declared_type)
        found = self.done.get(key)
        if found is not None and found.original_sha256 == key[0]:
            return found
        return self.sanitizer(data, declared_name=declared_name, declared_type=declared_type)


def _one(uow: UnitOfWork, message_id: str, index: int, item: object, sanitizer: SanitizeFn) -> dict[str, Any]:
    part = attachment_input(index, item)
    assert isinstance(item, dict)
    attachment_id, filename, declared_type, data, digest = (
        part.attachment_id, part.filename, part.declared_type, part.data, part.sha256,
    )  # fmt: skip
    result = sanitizer(data, declared_name=filename, declared_type=declared_type)
    row_id = new_id()
    uow.session.add(
        QuarantinedOriginal(
            id=row_id,
            message_id=message_id,
            attachment_id=attachment_id,
            filename=filename,
            declared_type=declared_type,
            size=len(data),
            original_sha256=digest,
            original=uow.keyring.field_encrypt(
                "linkage_quarantine", "original", row_id, base64.b64encode(data).decode("ascii")
            ),
            outcome="sanitized" if result.ok else "refused",
            detected_kind=str(result.kind),
            method=str(result.method),
            removed=",".join(result.removed),
            reason=result.reason_ja if not result.ok else None,
            sanitized_sha256=result.output_sha256 if result.ok else None,
        )
    )
    # metadata from upstream (kind, the LGWAN zone's own hashes, ...) travels on; the content is ours
    keep = {k: v for k, v in item.items() if k not in _CONTENT_KEYS}
    trace = {
        "detected_kind": str(result.kind),
        "original_filename": filename,
        "original_content_type": declared_type,
        "original_sha256": digest,
        "quarantine_id": row_id,
    }
    if result.ok and result.output is not None:
        return {
            **keep,
            "attachment_id": attachment_id,
            "filename": result.output_name or filename,
            "content_type": result.output_type or "application/octet-stream",
            "size": len(result.output),
            "sha256": hashlib.sha256(result.output).hexdigest(),
            "data_b64": base64.b64encode(result.output).decode("ascii"),
            "sanitized": {"method": str(result.method), "removed": list(result.removed), **trace},
        }
    reason_ja = result.reason_ja or "無害化できないファイルです"
    notice = _notice(filename, reason_ja, digest).encode("utf-8")
    return {
        **keep,
        "attachment_id": attachment_id,
        "filename": f"{PurePath(filename).stem or attachment_id}_無害化不可.txt",
        "content_type": NOTICE_TYPE,
        "size": len(notice),
        "sha256": hashlib.sha256(notice).hexdigest(),
        "data_b64": base64.b64encode(notice).decode("ascii"),
        "refused": True,
        "reason_ja": reason_ja,
        "sanitized": {"method": str(result.method), "reason": result.reason or "refused", **trace},
    }


def _notice(filename: str, reason_ja: str, digest: str) -> str:
    return (
        "この添付ファイルは無害化できなかったため、マイナンバー利用事務系へは渡していません。\n"
        "原本は連携サーバで暗号化して隔離保管しています。\n"
        f"ファイル名: {filename}\n"
        f"理由: {reason_ja}\n"
        f"原本のSHA-256: {digest}\n"
    )
