"""Intake of the My Number zone (受付): accepted applications in, each to its core system's inbox.

:func:`handle_accepted_application` is the messaging handler for ``accepted_application``
messages: it runs inside the idempotent inbox's unit of work (so a re-delivery does nothing) and
routes by the application's ``receiving_system``:

- ``child_allowance`` → a case in the child allowance clerk's inbox;
- anything else → the generic case inbox (:class:`~.models.GenericCase`), where staff read the
  form and record the outcome by hand; recording it enqueues a
  :class:`~jichitai.contracts.transfer.CaseResult` back to the LGWAN zone.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import func, select

from jichitai.contracts.submission import SubmissionStatus
from jichitai.contracts.transfer import AcceptedApplication, CaseResult, MessageType, TransferEnvelope
from jichitai.mynumber.child_allowance.claims import CASE_KINDS
from jichitai.mynumber.child_allowance.service.cases import open_online_case
from jichitai.mynumber.intake import purposes
from jichitai.mynumber.intake.models import GenericCase, GenericCaseStatus, IntakeReceipt
from jichitai.platform.context import TenantContext
from jichitai.platform.errors import Conflict, NotFound, PermissionDenied, ValidationError
from jichitai.platform.messaging import Handler, enqueue, new_envelope
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.zones import Zone

CHILD_ALLOWANCE = "child_allowance"
GENERIC = "generic"

# the outcomes staff may record by hand, with the status the resident sees
OUTCOMES: dict[str, tuple[SubmissionStatus, str]] = {
    "completed": (SubmissionStatus.COMPLETED, "完了"),
    "decided": (SubmissionStatus.DECIDED, "決定"),
    "rejected": (SubmissionStatus.REJECTED, "却下"),
}


def _procedure_name(procedure_id: str) -> str:
    try:
        from jichitai.procedures.catalog import default_catalog

        return default_catalog().get(procedure_id).name
    except Exception:
        return procedure_id


def _applicant_name(form: Mapping[str, Any]) -> str:
    for key in ("claimant", "recipient", "applicant", "insured", "person", "notifier"):
        part = form.get(key)
        if isinstance(part, Mapping) and part.get("name"):
            return str(part["name"])
    name = form.get("name")
    return str(name) if name else "（氏名なし）"


def route(uow: UnitOfWork, application: AcceptedApplication, message_id: str) -> str:
    """Put the application in its inbox; returns where it went (``child_allowance`` or ``generic``)."""
    if application.tenant != uow.tenant.code:
        raise ValidationError(
            f"application {application.receipt_number} is for tenant {application.tenant}",
            message_ja="宛先の団体が異なる申請です",
        )
    seen = uow.session.get(IntakeReceipt, application.receipt_number)
    if seen is not None:
        raise Conflict(
            f"receipt {application.receipt_number} was received before (message {seen.message_id})",
            message_ja=f"受付番号 {application.receipt_number} の申請は既に受け付けています",
        )
    # a procedure the child allowance system does not know (a newer one) waits in the generic inbox
    if application.receiving_system == CHILD_ALLOWANCE and application.procedure_id in CASE_KINDS:
        case = open_online_case(uow, application)
        routed, case_id = CHILD_ALLOWANCE, case.id
    else:
        generic = _open_generic(uow, application)
        routed, case_id = GENERIC, generic.id
    uow.session.add(
        IntakeReceipt(
            receipt_number=application.receipt_number,
            procedure_id=application.procedure_id,
            receiving_system=application.receiving_system,
            routed_to=routed,
            message_id=message_id,
        )
    )
    uow.record(
        "receive",
        "intake.application",
        application.receipt_number,
        person=application.applicant_atena_number or "",
        procedure=application.procedure_id,
        routed_to=routed,
        case_id=case_id,
    )
    return routed


def handle_accepted_application(uow: UnitOfWork, envelope: TransferEnvelope) -> None:
    """Messaging handler: an ``accepted_application`` envelope into its inbox (inside the inbox's uow)."""
    if envelope.message_type is not MessageType.ACCEPTED_APPLICATION:
        raise ValidationError(
            f"intake takes accepted applications, not {envelope.message_type}",
            message_ja="受付できない種類の連携データです",
        )
    try:
        application = AcceptedApplication.model_validate(envelope.payload)
    except PydanticValidationError as exc:
        raise ValidationError(
            f"accepted_application {envelope.message_id} does not match its contract: {exc.errors()[:3]}",
            message_ja="連携データの形式が正しくありません",
        ) from None
    route(uow, application, envelope.message_id)


def handlers() -> dict[MessageType, Handler]:
    """The My Number zone's message handlers, for ``messaging_router(..., handlers=handlers())``."""
    return {MessageType.ACCEPTED_APPLICATION: handle_accepted_application}


def _open_generic(uow: UnitOfWork, application: AcceptedApplication) -> GenericCase:
    case_id = uuid.uuid4().hex
    body = {
        "form": application.form,
        "attachments": [dict(a) for a in application.attachments],
        "signer_serial": application.signer_serial,
    }
    case = GenericCase(
        id=case_id,
        receipt_number=application.receipt_number,
        procedure_id=application.procedure_id,
        procedure_version=application.procedure_version,
        procedure_name=_procedure_name(application.procedure_id),
        receiving_system=application.receiving_system,
        applicant_atena_number=application.applicant_atena_number,
        applicant_name=_applicant_name(application.form),
        form=uow.keyring.field_encrypt(
            GenericCase.__tablename__, "form", case_id, json.dumps(body, ensure_ascii=False, sort_keys=True)
        ),
        status=GenericCaseStatus.OPEN,
        accepted_by=application.accepted_by[:100],
        accepted_at=application.accepted_at,
    )
    uow.session.add(case)
    return case


# -- the generic case inbox ------------------------------------------------------------------------


@dataclass(frozen=True)
class GenericCaseRow:
    id: str
    receipt_number: str
    procedure_id: str
    procedure_name: str
    applicant_name: str
    applicant_atena_number: str | None
    status: str
    accepted_at: datetime
    received_at: datetime
    outcome: str | None
    outcome_message: str | None
    decided_by: str | None
    decided_at: datetime | None


@dataclass(frozen=True)
class GenericCaseDetail:
    row: GenericCaseRow
    procedure_version: str
    form: dict[str, Any]
    attachments: list[dict[str, Any]]


@dataclass(frozen=True)
class GenericInbox:
    rows: tuple[GenericCaseRow, ...]
    by_status: dict[str, int]
    by_procedure: dict[str, tuple[str, int]]  # open cases: procedure id → (name, count)


def _row(c: GenericCase) -> GenericCaseRow:
    return GenericCaseRow(
        id=c.id,
        receipt_number=c.receipt_number,
        procedure_id=c.procedure_id,
        procedure_name=c.procedure_name,
        applicant_name=c.applicant_name,
        applicant_atena_number=c.applicant_atena_number,
        status=c.status,
        accepted_at=c.accepted_at,
        received_at=c.received_at,
        outcome=c.outcome,
        outcome_message=c.outcome_message,
        decided_by=c.decided_by,
        decided_at=c.decided_at,
    )


def _system_clock() -> datetime:
    return datetime.now(UTC)


class IntakeService:
    """The generic case inbox's use cases (view, record the outcome by hand)."""

    def __init__(self, storage: Storage, *, clock: Callable[[], datetime] = _system_clock) -> None:
        self.storage = storage
        self.clock = clock

    def _uow(self, ctx: TenantContext) -> Any:
        if ctx.purpose.code != purposes.GENERIC_CASE.code:
            raise PermissionDenied(
                f"purpose {ctx.purpose.code} does not allow the generic case inbox",
                message_ja=f"利用目的「{ctx.purpose.label_ja}」では汎用案件を扱えません",
            )
        return self.storage.unit_of_work(ctx, Zone.MYNUMBER)

    def inbox(
        self,
        ctx: TenantContext,
        *,
        status: str | None = GenericCaseStatus.OPEN,
        procedure_id: str | None = None,
    ) -> GenericInbox:
        with self._uow(ctx) as uow:
            stmt = select(GenericCase)
            if status:
                stmt = stmt.where(GenericCase.status == status)
            if procedure_id:
                stmt = stmt.where(GenericCase.procedure_id == procedure_id)
            rows = uow.session.scalars(stmt.order_by(GenericCase.accepted_at).limit(200)).all()
            by_status = {
                str(s): int(n)
                for s, n in uow.session.execute(
                    select(GenericCase.status, func.count()).group_by(GenericCase.status)
                )
            }
            by_procedure = {
                str(pid): (str(name), int(n))
                for pid, name, n in uow.session.execute(
                    select(GenericCase.procedure_id, GenericCase.procedure_name, func.count())
                    .where(GenericCase.status == GenericCaseStatus.OPEN)
                    .group_by(GenericCase.procedure_id, GenericCase.procedure_name)
                )
            }
            return GenericInbox(tuple(_row(c) for c in rows), by_status, by_procedure)

    def case(self, ctx: TenantContext, case_id: str) -> GenericCaseDetail:
        with self._uow(ctx) as uow:
            c = self._get(uow, case_id)
            body = json.loads(uow.keyring.field_decrypt(GenericCase.__tablename__, "form", c.id, c.form))
            uow.record("read", "intake_cases", c.id, person=c.applicant_atena_number or "")
            attachments = [
                {k: v for k, v in a.items() if k != "content_b64"} for a in body.get("attachments", [])
            ]
            return GenericCaseDetail(_row(c), c.procedure_version, body.get("form", {}), attachments)

    def record_outcome(
        self, ctx: TenantContext, case_id: str, outcome: str, message_ja: str
    ) -> GenericCaseRow:
        """Staff record the outcome by hand; the resident is told through a CaseResult."""
        if outcome not in OUTCOMES:
            raise ValidationError(f"unknown outcome {outcome!r}", message_ja="処理結果を選んでください")
        message_ja = message_ja.strip()
        if not message_ja:
            raise ValidationError("a message is needed", message_ja="申請者へのお知らせを入力してください")
        if len(message_ja) > 2000:
            raise ValidationError("message too long", message_ja="お知らせは2000文字以内で入力してください")
        status, _label = OUTCOMES[outcome]
        with self._uow(ctx) as uow:
            c = self._get(uow, case_id)
            if c.status != GenericCaseStatus.OPEN:
                raise Conflict(f"case {case_id} is already done", message_ja="この案件は既に処理されています")
            now = self.clock()
            c.status = GenericCaseStatus.DONE
            c.outcome, c.outcome_status, c.outcome_message = outcome, status.value, message_ja
            c.decided_by, c.decided_at = str(ctx.actor)[:100], now
            result = CaseResult(
                receipt_number=c.receipt_number,
                tenant=uow.tenant.code,
                business=c.receiving_system,
                outcome=outcome,
                status=status.value,
                message_ja=message_ja,
                decided_at=now,
                details={"procedure_id": c.procedure_id},
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
            return _row(c)

    @staticmethod
    def _get(uow: UnitOfWork, case_id: str) -> GenericCase:
        c = uow.session.get(GenericCase, case_id)
        if c is None:
            raise NotFound(f"no generic case {case_id}", message_ja="該当する案件がありません")
        return c
