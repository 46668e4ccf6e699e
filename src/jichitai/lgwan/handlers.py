"""Intake of what the My Number zone sends back through the linkage server (LGWAN side).

- LINK_TABLE: the registry's serial-number link table; a full table replaces the LGWAN copy, a
  delta applies changes; applications that had no match are identified again afterwards.
- CASE_RESULT: a core system's decision (認定, 却下, 額の決定 …) becomes the application's status
  here and a signed status event for the resident, queued for the portal (the LGWAN side pushes
  it on its next run; it never waits for the portal inside the delivery).

Both run inside :func:`jichitai.platform.messaging.receive`'s unit of work, so the message record
and its effects commit together, exactly once. A handler refuses (raises) a message it cannot
apply; the delivery is then answered with the reason and nothing is changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TypeVar

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select

from jichitai.contracts.submission import SubmissionStatus
from jichitai.contracts.transfer import CaseResult, LinkTable, MessageType, TransferEnvelope
from jichitai.lgwan.events import queue_status_event
from jichitai.lgwan.identify import apply_link_table
from jichitai.lgwan.models import LgwanApplication, LgwanHistory
from jichitai.lgwan.purposes import APPLICATION_STATUS, LINK_TABLE_REFRESH
from jichitai.platform.errors import ValidationError
from jichitai.platform.messaging import Handler
from jichitai.platform.storage import UnitOfWork

# Statuses a core system may report; anything before the hand-over is the back office's own.
RESULT_STATUSES = frozenset(
    {
        SubmissionStatus.DECIDED,
        SubmissionStatus.COMPLETED,
        SubmissionStatus.REJECTED,
        SubmissionStatus.HANDED_OVER,
    }
)


M = TypeVar("M", LinkTable, CaseResult)


def _model(cls: type[M], envelope: TransferEnvelope) -> M:
    try:
        value = cls.model_validate(envelope.payload)
    except PydanticValidationError as exc:
        raise ValidationError(
            f"{envelope.message_type.value} {envelope.message_id} does not match its contract: "
            f"{exc.errors()[:3]}",
            message_ja="連携データの形式が正しくありません",
        ) from None
    if value.tenant != envelope.tenant:
        raise ValidationError(
            f"payload for tenant {value.tenant} in an envelope for {envelope.tenant}",
            message_ja="連携データの宛先団体が一致しません",
        )
    return value


def handle_link_table(uow: UnitOfWork, envelope: TransferEnvelope, /) -> None:
    """Refresh the LGWAN copy of the serial-number link table."""
    table = _model(LinkTable, envelope)
    report = apply_link_table(uow, table)
    uow.record(
        "link_table_refreshed",
        "lgwan_link_entries",
        envelope.message_id,
        purpose_detail=LINK_TABLE_REFRESH.code,
        full=report.full,
        rows=report.rows,
        reidentified=report.reidentified,
    )


def handle_case_result(uow: UnitOfWork, envelope: TransferEnvelope, /) -> None:
    """A core system's decision: status here, and a signed status event for the resident."""
    result = _model(CaseResult, envelope)
    try:
        status = SubmissionStatus(result.status)
    except ValueError:
        raise ValidationError(
            f"case result status {result.status!r} is not a status",
            message_ja="処理状況の値が正しくありません",
        ) from None
    if status not in RESULT_STATUSES:
        raise ValidationError(
            f"a core system may not report {status.value}",
            message_ja="担当業務からは通知できない処理状況です",
        )
    app = uow.session.scalars(
        select(LgwanApplication).where(LgwanApplication.receipt_number == result.receipt_number)
    ).first()
    if app is None:
        raise ValidationError(
            f"case result for unknown application {result.receipt_number}",
            message_ja="該当する申請がないため結果を反映できません",
        )
    if app.status not in {SubmissionStatus.HANDED_OVER.value, SubmissionStatus.DECIDED.value}:
        raise ValidationError(
            f"{result.receipt_number} is {app.status}, not handed over",
            message_ja="担当業務へ引き継いでいない申請の結果は反映できません",
        )
    at = result.decided_at
    app.status, app.status_at = status.value, at
    queue_status_event(uow, app.receipt_number, status, message_ja=result.message_ja[:4000], at=at)
    uow.session.add(
        LgwanHistory(
            id=uuid.uuid4().hex,
            application_id=app.id,
            at=at,
            actor=f"{result.business}",
            action="case_result",
            status=status.value,
            note=f"{result.outcome}: {result.message_ja}"[:4000],
            purpose=APPLICATION_STATUS.code,
        )
    )
    uow.record(
        "case_result_applied",
        "lgwan_applications",
        app.receipt_number,
        person=app.atena_number or "",
        business=result.business,
        outcome=result.outcome,
        status=status.value,
    )


HANDLERS: Mapping[MessageType, Handler] = {
    MessageType.LINK_TABLE: handle_link_table,
    MessageType.CASE_RESULT: handle_case_result,
}
