"""What the resident sees of their own applications, and their answers to requests (補正への回答).

The portal identifies the logged-in resident by its own stable resident key; the database keeps
only a keyed blind index of it, so "my applications" is an index probe and a stolen database does
not list who applied. An application of someone else answers exactly like one that does not exist.

A reply is encrypted like the submission, to the tenant's submission key, as an ``amendment`` JWE
(:class:`AmendmentPayload`); the receiving API hands it to application management with the
application (``GET …/applications/{receipt}/replies``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from jichitai.contracts.status import StatusEvent
from jichitai.contracts.submission import STATUS_LABELS, AmendmentPayload, AttachmentPart, SubmissionStatus
from jichitai.internet.models import Application, ResidentReply, StatusEventRow, new_id
from jichitai.internet.purposes import RESIDENT_REPLY, RESIDENT_VIEW
from jichitai.internet.submissions.encryption import AMENDMENT_TYPE, encrypt_for_tenant, submission_key
from jichitai.internet.submissions.errors import ApplicationNotFound, SubmissionInvalid
from jichitai.internet.submissions.receiving import as_utc
from jichitai.internet.submissions.service import RESIDENT_INDEX_COLUMN, AttachmentUpload
from jichitai.internet.submissions.status_events import signature_valid
from jichitai.platform.context import Actor, ActorKind, Purpose, TenantContext
from jichitai.platform.errors import ValidationError
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone
from jichitai.procedures import FieldError

MAX_REPLY_CHARS = 4000
MAX_REPLY_FILES = 5
MAX_REPLY_FILE_BYTES = 10 * 1024 * 1024
REPLY_CONTENT_TYPES: dict[str, bytes] = {
    "application/pdf": b"%PDF-",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
}


@dataclass(frozen=True)
class ResidentApplication:
    """One of the resident's applications, as listed on the portal."""

    receipt_number: str  # 受付番号
    procedure_id: str
    procedure_version: str
    received_at: datetime
    status: SubmissionStatus
    status_label: str
    status_at: datetime
    reply_requested: bool  # the latest event asks for an answer not yet given


@dataclass(frozen=True)
class ResidentEvent:
    event_id: str
    status: SubmissionStatus
    status_label: str
    message_ja: str
    reply_requested: bool
    at: datetime
    replied: bool


@dataclass(frozen=True)
class ReplySummary:
    reply_id: str
    in_reply_to: str
    created_at: datetime


@dataclass(frozen=True)
class ResidentApplicationDetail:
    application: ResidentApplication
    events: list[ResidentEvent]  # only events whose signature verifies, oldest first
    replies: list[ReplySummary]


def _ctx(tenant: str, resident_key: str, purpose: Purpose, reason: str = "") -> TenantContext:
    digest = hashlib.sha256(resident_key.encode()).hexdigest()[:24]
    actor = Actor(id=f"resident:{digest}", kind=ActorKind.RESIDENT, role="applicant")
    return TenantContext(TenantCode(tenant), actor, purpose, reason)


def _own_row(uow: UnitOfWork, resident_key: str, receipt_number: str) -> Application:
    index = uow.keyring.blind_index(RESIDENT_INDEX_COLUMN, resident_key)
    row = uow.session.scalars(
        select(Application).where(
            Application.receipt_number == receipt_number, Application.resident_index == index
        )
    ).one_or_none()
    if row is None:
        raise ApplicationNotFound(receipt_number)
    return row


def _verified_events(uow: UnitOfWork, tenant: str, receipt_number: str) -> list[StatusEvent]:
    rows = uow.session.scalars(
        select(StatusEventRow)
        .where(StatusEventRow.receipt_number == receipt_number)
        .order_by(StatusEventRow.at, StatusEventRow.event_id)
    ).all()
    events = [StatusEvent.model_validate_json(r.event_json) for r in rows]
    return [e for e in events if signature_valid(uow.session, tenant, e)]


def _replied_to(uow: UnitOfWork, receipt_numbers: Sequence[str]) -> set[tuple[str, str]]:
    if not receipt_numbers:
        return set()
    rows = uow.session.execute(
        select(ResidentReply.receipt_number, ResidentReply.in_reply_to).where(
            ResidentReply.receipt_number.in_(receipt_numbers)
        )
    ).all()
    return {(r.receipt_number, r.in_reply_to) for r in rows}


def _summary(row: Application, open_request: bool) -> ResidentApplication:
    status = SubmissionStatus(row.status)
    return ResidentApplication(
        row.receipt_number,
        row.procedure_id,
        row.procedure_version,
        as_utc(row.received_at),
        status,
        STATUS_LABELS[status],
        as_utc(row.status_at),
        open_request,
    )


def list_for_resident(storage: Storage, tenant: str, resident_key: str) -> list[ResidentApplication]:
    """The resident's applications to this tenant, newest first."""
    with storage.unit_of_work(_ctx(tenant, resident_key, RESIDENT_VIEW), Zone.INTERNET) as uow:
        index = uow.keyring.blind_index(RESIDENT_INDEX_COLUMN, resident_key)
        rows = uow.session.scalars(
            select(Application)
            .where(Application.resident_index == index)
            .order_by(Application.received_at.desc(), Application.receipt_number)
        ).all()
        numbers = [r.receipt_number for r in rows]
        requests = (
            uow.session.execute(
                select(StatusEventRow.receipt_number, StatusEventRow.event_id).where(
                    StatusEventRow.receipt_number.in_(numbers), StatusEventRow.reply_requested.is_(True)
                )
            ).all()
            if numbers
            else []
        )
        replied = _replied_to(uow, numbers)
        open_requests = {r.receipt_number for r in requests if (r.receipt_number, r.event_id) not in replied}
        if rows:
            uow.record("applications_listed", "internet_applications", "", person=rows[0].audit_person())
        return [_summary(r, r.receipt_number in open_requests) for r in rows]


def get_for_resident(
    storage: Storage, tenant: str, resident_key: str, receipt_number: str
) -> ResidentApplicationDetail:
    """One application of the resident with its status history and messages; NotFound otherwise."""
    ctx = _ctx(tenant, resident_key, RESIDENT_VIEW, receipt_number)
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        row = _own_row(uow, resident_key, receipt_number)
        events = _verified_events(uow, tenant, receipt_number)
        replies = uow.session.scalars(
            select(ResidentReply)
            .where(ResidentReply.receipt_number == receipt_number)
            .order_by(ResidentReply.created_at, ResidentReply.id)
        ).all()
        answered = {r.in_reply_to for r in replies}
        uow.record("application_viewed", "internet_applications", receipt_number, person=row.audit_person())
        shown = [
            ResidentEvent(
                e.event_id,
                e.status,
                STATUS_LABELS[e.status],
                e.message_ja,
                e.reply_requested,
                e.at,
                e.event_id in answered,
            )
            for e in events
        ]
        open_request = any(e.reply_requested and not e.replied for e in shown)
        return ResidentApplicationDetail(
            _summary(row, open_request),
            shown,
            [ReplySummary(r.id, r.in_reply_to, as_utc(r.created_at)) for r in replies],
        )


def _reply_file_errors(attachments: Sequence[AttachmentUpload]) -> list[FieldError]:
    errors: list[FieldError] = []
    if len(attachments) > MAX_REPLY_FILES:
        errors.append(
            FieldError("/attachments", "添付書類", f"添付できるのは{MAX_REPLY_FILES}件までです", "max_count")
        )
    for i, a in enumerate(attachments):
        pointer = f"/attachments/{i}"
        magic = REPLY_CONTENT_TYPES.get(a.content_type)
        if magic is None:
            errors.append(
                FieldError(pointer, a.filename, "PDF・JPEG・PNGの形式で添付してください", "content_type")
            )
        elif not a.data.startswith(magic):
            errors.append(
                FieldError(pointer, a.filename, "ファイルの内容が形式と一致しません", "content_mismatch")
            )
        elif not 0 < len(a.data) <= MAX_REPLY_FILE_BYTES:
            errors.append(FieldError(pointer, a.filename, "ファイルは10MB以下にしてください", "max_size"))
    return errors


def reply_to_message(
    storage: Storage,
    tenant: str,
    resident_key: str,
    receipt_number: str,
    *,
    in_reply_to: str,
    message_ja: str,
    attachments: Sequence[AttachmentUpload] = (),
    now: datetime | None = None,
) -> ReplySummary:
    """Store the resident's answer to a request (an event with ``reply_requested``), encrypted."""
    now = now or datetime.now(UTC)
    text = message_ja.strip()
    errors = _reply_file_errors(attachments)
    if not text:
        errors.insert(0, FieldError("/message_ja", "回答", "回答を入力してください", "required"))
    elif len(text) > MAX_REPLY_CHARS:
        errors.insert(
            0,
            FieldError(
                "/message_ja", "回答", f"回答は{MAX_REPLY_CHARS}文字以内で入力してください", "maxLength"
            ),
        )
    if errors:
        raise SubmissionInvalid("the reply has problems", errors)
    key = submission_key(storage, tenant)
    ctx = _ctx(tenant, resident_key, RESIDENT_REPLY, receipt_number)
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        row = _own_row(uow, resident_key, receipt_number)
        request = uow.session.get(StatusEventRow, in_reply_to)
        if request is None or request.receipt_number != receipt_number or not request.reply_requested:
            raise ValidationError(
                f"event {in_reply_to!r} of {receipt_number} asks for no reply",
                message_ja="回答を求められている連絡が見つかりません",
            )
        reply = ResidentReply(
            id=new_id(), receipt_number=receipt_number, in_reply_to=in_reply_to, created_at=now, kid=key.kid
        )
        payload = AmendmentPayload(
            reply_id=reply.id,
            receipt_number=receipt_number,
            tenant=str(ctx.tenant),
            in_reply_to=in_reply_to,
            message_ja=text,
            attachments=[
                AttachmentPart(
                    attachment_id=f"r{i + 1}",
                    kind="reply",
                    filename=a.filename,
                    content_type=a.content_type,
                    size=len(a.data),
                    sha256=hashlib.sha256(a.data).hexdigest(),
                    data_b64=base64.b64encode(a.data).decode("ascii"),
                )
                for i, a in enumerate(attachments)
            ],
            submitted_at=now,
        )
        token = encrypt_for_tenant(payload.model_dump_json().encode(), key, AMENDMENT_TYPE, receipt_number)
        reply.jwe = token.encode("ascii")
        reply.size = len(token)
        uow.session.add(reply)
        uow.record("reply_received", "internet_resident_replies", reply.id, person=row.audit_person())
        return ReplySummary(reply.id, in_reply_to, now)


__all__ = [
    "AmendmentPayload",
    "ReplySummary",
    "ResidentApplication",
    "ResidentApplicationDetail",
    "ResidentEvent",
    "get_for_resident",
    "list_for_resident",
    "reply_to_message",
]
