"""Monthly amounts (児童手当法第6条, as amended by 令和6年法律第47号, in force 1 October 2024).

Per paid child and month:

- third child onward (第3子以降算定額): 30,000 yen, whatever the age;
- otherwise under 3 (三歳未満児童算定額): 15,000 yen, through the month of the 3rd birthday;
- otherwise 3 to the end of high-school age (三歳以上児童算定額): 10,000 yen.

Birth order counts, oldest first, every child who counts in that month (see
:func:`~.entitlement.child_periods`): the children in care up to high-school age, and the
university-age children the claimant supports (確認書). Those older ones count but are not paid.
Example: children aged 20 (確認書), 15 and 10 → the 10-year-old is the third child → 30,000 yen;
the 15-year-old gets 10,000 yen; the 20-year-old nothing. When the eldest passes the school year of
their 22nd birthday, they leave the count from April and the youngest becomes the second child
(10,000 yen): a decrease from the month after the event (第9条第3項).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from jichitai.platform.errors import ValidationError

from .entitlement import ChildPeriods, child_periods, covers, entitlement_from_periods
from .facts import ChildFacts, RecipientFacts
from .months import YearMonth, last_under_three_month, month_range

REFORM_FIRST_MONTH = YearMonth(2024, 10)  # 令和6年10月分から (令和6年法律第47号)

UNDER_THREE_AMOUNT = 15_000  # 三歳未満児童算定額
FROM_THREE_AMOUNT = 10_000  # 三歳以上児童算定額
THIRD_CHILD_AMOUNT = 30_000  # 第3子以降算定額


class AmountReason(StrEnum):
    """Why a child's line has its amount; ``label_ja`` is what the clerk and the notice show."""

    UNDER_THREE = "under_three"
    FROM_THREE = "from_three"
    THIRD_OR_LATER = "third_or_later"
    COUNTED_ONLY = "counted_only"

    @property
    def label_ja(self) -> str:
        return _REASON_LABELS[self]


_REASON_LABELS = {
    AmountReason.UNDER_THREE: "3歳未満（3歳の誕生月まで）",
    AmountReason.FROM_THREE: "3歳以上・高校生年代まで",
    AmountReason.THIRD_OR_LATER: "第3子以降",
    AmountReason.COUNTED_ONLY: "第3子以降の算定にのみ含める（大学生年代・確認書あり、支給なし）",
}


@dataclass(frozen=True)
class ChildLine:
    """One child's part of a month: its place in the birth order, amount and reason."""

    child_id: str
    birth_order: int  # 1 = eldest counted child
    amount: int
    reason: AmountReason


@dataclass(frozen=True)
class MonthlyAmount:
    """The amount for one month (月額) with its per-child breakdown."""

    month: YearMonth
    total: int
    children: tuple[ChildLine, ...]


def child_amount(child: ChildFacts, birth_order: int, month: YearMonth) -> tuple[int, AmountReason]:
    """The amount for a paid child in a month, given its birth order."""
    if birth_order >= 3:
        return THIRD_CHILD_AMOUNT, AmountReason.THIRD_OR_LATER
    if month <= last_under_three_month(child.birth_date):
        return UNDER_THREE_AMOUNT, AmountReason.UNDER_THREE
    return FROM_THREE_AMOUNT, AmountReason.FROM_THREE


def month_amount(
    recipient: RecipientFacts, children: Iterable[ChildFacts], month: YearMonth
) -> MonthlyAmount:
    """The amount for one month, assuming the month lies within the entitlement."""
    household = [(child, child_periods(child, recipient)) for child in children]
    return _month_amount(household, month)


def _month_amount(household: Sequence[tuple[ChildFacts, ChildPeriods]], month: YearMonth) -> MonthlyAmount:
    counted = sorted(
        ((child, periods) for child, periods in household if covers(periods.counted, month)),
        key=lambda item: (item[0].birth_date, item[0].child_id),
    )
    lines: list[ChildLine] = []
    for order, (child, periods) in enumerate(counted, start=1):
        if covers(periods.paid, month):
            amount, reason = child_amount(child, order, month)
        else:
            amount, reason = 0, AmountReason.COUNTED_ONLY
        lines.append(ChildLine(child.child_id, order, amount, reason))
    return MonthlyAmount(month, sum(line.amount for line in lines), tuple(lines))


def monthly_amounts(
    recipient: RecipientFacts,
    children: Iterable[ChildFacts],
    from_month: YearMonth,
    to_month: YearMonth,
) -> list[MonthlyAmount]:
    """The amount for each month of the entitlement between ``from_month`` and ``to_month``.

    Months outside the entitlement (before its start, after its end) are left out. Call
    :func:`~.eligibility.check_eligibility` first: a claim it refuses yields no months here either
    (a non-resident or a civil servant has no entitlement; a child not in care is not counted).
    """
    if from_month < REFORM_FIRST_MONTH:
        raise ValidationError(
            f"these rules apply from {REFORM_FIRST_MONTH}; asked from {from_month}",
            message_ja="令和6年9月分以前の手当額は改正前の規定によります",
        )
    household = tuple(children)
    ids = [child.child_id for child in household]
    if len(set(ids)) != len(ids):
        raise ValidationError("a child appears twice", message_ja="同じ児童が重複しています")
    periods = [(child, child_periods(child, recipient)) for child in household]
    period = entitlement_from_periods(recipient, [child_span for _, child_span in periods])
    if period is None:
        return []
    first = max(from_month, period.start)
    last = min(to_month, period.end)
    return [_month_amount(periods, month) for month in month_range(first, last)]
