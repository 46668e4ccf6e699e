"""Cases (案件): opening them from intake or paper, reading them, and telling the resident the result."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from jichitai.contracts.submission import SubmissionStatus
from jichitai.contracts.transfer import AcceptedApplication, CaseResult, MessageType
from jichitai.mynumber.child_allowance.claims import KIND_LABELS, applicant_name, case_kind
from jichitai.mynumber.child_allowance.models import Case, CaseStatus
from jichitai.mynumber.child_allowance.service.records import new_id, next_number
from jichitai.platform.errors import Conflict, NotFound
from jichitai.platform.messaging import enqueue, new_envelope
from jichitai.platform.storage import UnitOfWork
from jichitai.platform.zones import Zone

JST = ZoneInfo("Asia/Tokyo")
BUSINESS = "child_allowance"

STATUS_LABELS = {
    CaseStatus.OPEN: "未処理",
    CaseStatus.DECIDED: "決定済み",
    CaseStatus.REJECTED: "却下",
    CaseStatus.CLOSED: "処理済み",
}


def _encrypt_form(uow: UnitOfWork, case_id: str, body: dict[str, Any]) -> bytes:
    text = json.dumps(body, ensure_ascii=False, sort_keys=True)
    return uow.keyring.field_encrypt(Case.__tablename__, "form", case_id, text)


def case_body(uow: UnitOfWork, case: Case) -> dict[str, Any]:
    """The stored form and attachment list of a case (decrypted; the caller audits the read)."""
    text = uow.keyring.field_decrypt(Case.__tablename__, "form", case.id, case.form)
    body: dict[str, Any] = json.loads(text)
    return body


def open_online_case(uow: UnitOfWork, application: AcceptedApplication) -> Case:
    """A case in the clerk's inbox for an application delivered by the linkage server."""
    existing = uow.session.scalar(select(Case).where(Case.receipt_number == application.receipt_number))
    if existing is not None:
        raise Conflict(
            f"receipt {application.receipt_number} already has case {existing.id}",
            message_ja=f"受付番号 {application.receipt_number} の案件は既にあります",
        )
    case_id = new_id()
    body = {
        "form": application.form,
        "attachments": application.attachments,
        "signer_serial": application.signer_serial,
    }
    case = Case(
        id=case_id,
        receipt_number=application.receipt_number,
        procedure_id=application.procedure_id,
        procedure_version=application.procedure_version,
        kind=case_kind(application.procedure_id),
        source="online",
        applicant_atena_number=application.applicant_atena_number,
        applicant_name=applicant_name(application.form),
        form=_encrypt_form(uow, case_id, body),
        status=CaseStatus.OPEN,
        received_at=datetime.now(JST),
        # the day the municipality accepted the online claim counts as the claim day (請求日)
        filed_on=application.accepted_at.astimezone(JST).date(),
        accepted_by=application.accepted_by[:100],
    )
    uow.session.add(case)
    return case


def open_paper_case(
    uow: UnitOfWork,
    *,
    procedure_id: str,
    form: dict[str, Any],
    applicant_atena_number: str | None,
    filed_on: date,
) -> Case:
    """A case for a claim on paper (窓口・郵送), keyed in by the clerk."""
    case_id = new_id()
    number = f"P{filed_on.year:04d}-{next_number(uow, 'paper_receipt'):07d}"
    case = Case(
        id=case_id,
        receipt_number=number,
        procedure_id=procedure_id,
        procedure_version="1",
        kind=case_kind(procedure_id),
        source="paper",
        applicant_atena_number=applicant_atena_number,
        applicant_name=applicant_name(form),
        form=_encrypt_form(uow, case_id, {"form": form, "attachments": []}),
        status=CaseStatus.OPEN,
        received_at=datetime.now(JST),
        filed_on=filed_on,
        accepted_by=str(uow.ctx.actor)[:100],
    )
    uow.session.add(case)
    return case


def get_case(uow: UnitOfWork, case_id: str) -> Case:
    case = uow.session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no child allowance case {case_id}", message_ja="該当する案件がありません")
    return case


def require_open(case: Case) -> None:
    if case.status != CaseStatus.OPEN:
        from jichitai.mynumber.child_allowance.errors import CaseAlreadyDecided

        raise CaseAlreadyDecided(
            f"case {case.id} is {case.status}",
            message_ja=f"この案件は既に処理されています（{STATUS_LABELS.get(case.status, case.status)}）",
        )


def send_result(
    uow: UnitOfWork,
    case: Case,
    *,
    outcome: str,
    status: SubmissionStatus,
    message_ja: str,
    decided_at: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Tell the resident (online cases only): a CaseResult through the outbox, in this transaction."""
    if case.source != "online":
        return
    result = CaseResult(
        receipt_number=case.receipt_number,
        tenant=uow.tenant.code,
        business=BUSINESS,
        outcome=outcome,
        status=status.value,
        message_ja=message_ja,
        decided_at=decided_at,
        details=details or {},
    )
    enqueue(
        uow,
        new_envelope(
            MessageType.CASE_RESULT,
            source=Zone.MYNUMBER,
            destination=Zone.LGWAN,
            tenant=uow.tenant.code,
            payload=result,
        ),
    )


@dataclass(frozen=True)
class CaseRow:
    id: str
    receipt_number: str
    kind: str
    kind_ja: str
    source: str
    applicant_name: str
    applicant_atena_number: str | None
    status: str
    status_ja: str
    received_at: datetime
    filed_on: date
    decision_message: str | None
    recipient_id: str | None


def to_row(case: Case) -> CaseRow:
    return CaseRow(
        id=case.id,
        receipt_number=case.receipt_number,
        kind=case.kind,
        kind_ja=KIND_LABELS.get(case.kind, case.kind),
        source=case.source,
        applicant_name=case.applicant_name,
        applicant_atena_number=case.applicant_atena_number,
        status=case.status,
        status_ja=STATUS_LABELS.get(case.status, case.status),
        received_at=case.received_at,
        filed_on=case.filed_on,
        decision_message=case.decision_message,
        recipient_id=case.recipient_id,
    )


@dataclass(frozen=True)
class Inbox:
    rows: tuple[CaseRow, ...]
    by_status: dict[str, int]
    by_kind: dict[str, int]  # open cases per kind
    total: int
    page: int
    page_size: int


def inbox(
    uow: UnitOfWork, *, status: str | None, kind: str | None, page: int = 1, page_size: int = 50
) -> Inbox:
    stmt = select(Case)
    count = select(func.count()).select_from(Case)
    if status:
        stmt, count = stmt.where(Case.status == status), count.where(Case.status == status)
    if kind:
        stmt, count = stmt.where(Case.kind == kind), count.where(Case.kind == kind)
    page = max(1, page)
    rows = uow.session.scalars(
        stmt.order_by(Case.received_at, Case.receipt_number).offset((page - 1) * page_size).limit(page_size)
    ).all()
    by_status = {
        str(s): int(n)
        for s, n in uow.session.execute(select(Case.status, func.count()).group_by(Case.status))
    }
    by_kind = {
        str(k): int(n)
        for k, n in uow.session.execute(
            select(Case.kind, func.count()).where(Case.status == CaseStatus.OPEN).group_by(Case.kind)
        )
    }
    total = int(uow.session.scalar(count) or 0)
    return Inbox(tuple(to_row(c) for c in rows), by_status, by_kind, total, page, page_size)
