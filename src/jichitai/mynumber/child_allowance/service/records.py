"""Rows ↔ rule facts, amount recomputation, history snapshots and number sequences.

Everything here works inside a unit of work the service opened; nothing commits.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from jichitai.mynumber.child_allowance.models import (
    AmountPeriod,
    Child,
    Counter,
    Recipient,
    RecipientStatus,
    RecipientVersion,
    month_no,
    month_of,
)
from jichitai.mynumber.child_allowance.rules import (
    REFORM_FIRST_MONTH,
    ChildFacts,
    Claim,
    EndReason,
    Entitlement,
    EventKind,
    MonthlyAmount,
    QualifyingEvent,
    RecipientFacts,
    YearMonth,
    entitlement,
    monthly_amounts,
)
from jichitai.platform.storage import UnitOfWork


def new_id() -> str:
    return uuid.uuid4().hex


def next_number(uow: UnitOfWork, name: str) -> int:
    """The next value of a sequence (locked until commit, so numbers are never reused)."""
    row = uow.session.execute(
        select(Counter).where(Counter.name == name).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        row = Counter(name=name, value=0)
        uow.session.add(row)
    row.value += 1
    uow.session.flush()
    return row.value


def new_recipient_number(uow: UnitOfWork) -> str:
    """受給者番号: 10 digits (fits the Zengin 顧客コード, so returned transfers can be matched)."""
    return f"{next_number(uow, 'recipient_number'):010d}"


def _event(kind: str | None, day: Any) -> QualifyingEvent | None:
    if kind is None or day is None:
        return None
    return QualifyingEvent(EventKind(kind), day)


def recipient_facts(r: Recipient) -> RecipientFacts:
    return RecipientFacts(
        claim=Claim(r.claim_filed_on, _event(r.claim_event_kind, r.claim_event_date)),
        resident=True,  # checked at certification; a later move-out is ``moved_out_on``
        civil_servant=r.civil_servant,
        civil_servant_from=r.civil_servant_from,
        moved_out_on=r.moved_out_on,
        died_on=r.died_on,
    )


def child_facts(c: Child) -> ChildFacts:
    added = (
        Claim(c.added_filed_on, _event(c.added_event_kind, c.added_event_date))
        if c.added_filed_on is not None
        else None
    )
    return ChildFacts(
        child_id=c.id,
        birth_date=c.birth_date,
        in_care=True,
        lives_apart=c.lives_apart,
        apart_statement_filed=c.apart_statement_filed,
        lives_in_japan=c.lives_in_japan,
        support_confirmation_filed=c.support_confirmation_filed,
        added_by=added,
        left_care_on=c.left_care_on,
        died_on=c.died_on,
    )


def children_of(uow: UnitOfWork, recipient_id: str) -> list[Child]:
    rows = uow.session.scalars(select(Child).where(Child.recipient_id == recipient_id))
    return sorted(rows, key=lambda c: (c.birth_date, c.id))


@dataclass(frozen=True)
class Period:
    """A run of months with the same amount and breakdown."""

    first: YearMonth
    last: YearMonth
    amount: int
    lines: tuple[dict[str, Any], ...]


def periods_of(months: Sequence[MonthlyAmount], names: dict[str, str]) -> list[Period]:
    """Consecutive months with identical lines, folded into periods."""
    result: list[Period] = []
    for item in months:
        lines = tuple(
            {
                "child_id": line.child_id,
                "name": names.get(line.child_id, ""),
                "birth_order": line.birth_order,
                "amount": line.amount,
                "reason": line.reason.value,
                "reason_ja": line.reason.label_ja,
            }
            for line in item.children
        )
        last = result[-1] if result else None
        if last is not None and last.lines == lines and last.last + 1 == item.month:
            result[-1] = Period(last.first, item.month, last.amount, lines)
        else:
            result.append(Period(item.month, item.month, item.total, lines))
    return result


@dataclass(frozen=True)
class Computed:
    entitlement: Entitlement | None
    periods: list[Period]


def compute(recipient: Recipient, children: Sequence[Child]) -> Computed:
    """Entitlement and amount periods of a recipient as the rules give them now."""
    facts = recipient_facts(recipient)
    kids = [child_facts(c) for c in children]
    period = entitlement(facts, kids)
    if period is None:
        return Computed(None, [])
    first = max(period.start, REFORM_FIRST_MONTH)
    months = monthly_amounts(facts, kids, first, period.end)
    names = {c.id: c.name for c in children}
    return Computed(period, periods_of(months, names))


def apply_computed(uow: UnitOfWork, recipient: Recipient, computed: Computed) -> None:
    """Replace the recipient's amount periods and set the start and end month."""
    uow.session.execute(delete(AmountPeriod).where(AmountPeriod.recipient_id == recipient.id))
    for p in computed.periods:
        uow.session.add(
            AmountPeriod(
                recipient_id=recipient.id,
                from_month=month_no(p.first),
                to_month=month_no(p.last),
                amount=p.amount,
                lines=json.dumps(list(p.lines), ensure_ascii=False),
            )
        )
    ent = computed.entitlement
    if ent is None:
        recipient.end_month = recipient.start_month - 1
        recipient.end_reason = EndReason.NO_CHILD.value
    else:
        recipient.start_month = month_no(ent.start)
        recipient.end_month = month_no(ent.end)
        recipient.end_reason = ent.end_reason.value
    hard_end = ent is None or ent.end_reason is not EndReason.NO_CHILD
    if hard_end:
        recipient.status = RecipientStatus.ENDED


def amount_periods(uow: UnitOfWork, recipient_id: str) -> list[AmountPeriod]:
    return list(
        uow.session.scalars(
            select(AmountPeriod)
            .where(AmountPeriod.recipient_id == recipient_id)
            .order_by(AmountPeriod.from_month)
        )
    )


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def snapshot(uow: UnitOfWork, recipient: Recipient) -> dict[str, Any]:
    columns = [c.key for c in Recipient.__table__.columns]
    child_columns = [c.key for c in Child.__table__.columns]
    return {
        "recipient": {k: _plain(getattr(recipient, k)) for k in columns},
        "children": [
            {k: _plain(getattr(c, k)) for k in child_columns} for c in children_of(uow, recipient.id)
        ],
        "amounts": [
            {
                "from": str(month_of(a.from_month)),
                "to": str(month_of(a.to_month)),
                "amount": a.amount,
                "lines": json.loads(a.lines),
            }
            for a in amount_periods(uow, recipient.id)
        ],
    }


def record_version(
    uow: UnitOfWork,
    recipient: Recipient,
    change: str,
    *,
    now: datetime,
    case_id: str | None = None,
    task_id: str | None = None,
) -> None:
    """Append the recipient's state after ``change`` to the history."""
    uow.session.flush()
    latest = uow.session.scalar(
        select(RecipientVersion.version_no)
        .where(RecipientVersion.recipient_id == recipient.id)
        .order_by(RecipientVersion.version_no.desc())
        .limit(1)
    )
    recipient.version_no = (latest or 0) + 1
    recipient.updated_at = now
    uow.session.add(
        RecipientVersion(
            id=new_id(),
            recipient_id=recipient.id,
            atena_number=recipient.atena_number,
            version_no=recipient.version_no,
            change=change,
            case_id=case_id,
            task_id=task_id,
            actor=str(uow.ctx.actor)[:100],
            recorded_at=now,
            snapshot=json.dumps(snapshot(uow, recipient), ensure_ascii=False, sort_keys=True),
        )
    )
