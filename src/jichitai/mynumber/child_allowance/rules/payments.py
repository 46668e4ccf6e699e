"""Payment months (支払期月, 児童手当法第8条第4項 as amended by 令和6年法律第47号).

「児童手当は、毎年二月、四月、六月、八月、十月及び十二月の六期に、それぞれの前月までの分を支払う。
ただし、前支払期月に支払うべきであつた児童手当又は支給すべき事由が消滅した場合におけるその期の
児童手当は、その支払期月でない月であつても、支払うものとする。」

So June pays April and May; February pays December and January. Months whose payment month has
already passed without them being paid (a certification decided late) roll into the next open
payment month; they, and the last months of an ended entitlement, may also be paid outside the
payment months (随時払い), which :class:`Payment` flags for the clerk.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass, replace

from jichitai.platform.errors import ValidationError

from .amounts import MonthlyAmount
from .months import YearMonth

PAYMENT_MONTHS = (2, 4, 6, 8, 10, 12)


def is_payment_month(month: YearMonth) -> bool:
    return month.month in PAYMENT_MONTHS


def regular_payment_month(month: YearMonth) -> YearMonth:
    """The payment month that pays ``month``: the first even month after it."""
    following = month + 1
    return following if is_payment_month(following) else following + 1


def next_payment_month_from(month: YearMonth) -> YearMonth:
    """The first payment month on or after ``month``."""
    return month if is_payment_month(month) else month + 1


# The first payment under the six-period calendar (令和6年12月期, paying October and November 2024):
# earlier runs paid three times a year under the old 第8条第4項 and are not computed here.
FIRST_SIX_PERIOD_PAYMENT = YearMonth(2024, 12)  # regular_payment_month(REFORM_FIRST_MONTH)
# A run may be prepared ahead (and recomputed until approved), but not for a year that is not due.
RUN_MONTHS_AHEAD = 12


def check_run_month(month: YearMonth, *, this_month: YearMonth) -> list[str]:
    """A payment run's month: a payment month, from 令和6年12月期 to a year after ``this_month``."""
    if not is_payment_month(month):
        return ["支払期月（2・4・6・8・10・12月）を指定してください"]
    last = this_month + RUN_MONTHS_AHEAD
    if month < FIRST_SIX_PERIOD_PAYMENT:
        return ["令和6年12月期より前の支払期は年6回払いの対象外のため計算できません"]
    if month > last:
        return [f"支払期月は{last.year}年{last.month}月までの間で指定してください（1年先まで）"]
    return []


def months_paid_at(payment_month: YearMonth) -> tuple[YearMonth, YearMonth]:
    """The two months a regular payment covers (前月までの分)."""
    if not is_payment_month(payment_month):
        raise ValidationError(
            f"{payment_month} is not a payment month",
            message_ja="支払期月（2・4・6・8・10・12月）ではありません",
        )
    return (payment_month - 2, payment_month - 1)


@dataclass(frozen=True)
class Payment:
    """One payment to a recipient.

    ``includes_arrears``: it pays months whose own payment month has passed (前支払期月に支払う
    べきであつた児童手当). ``final``: it pays the last month of an ended entitlement. Either may be
    paid at once outside the payment months (``ad_hoc_allowed``, 随時払い, 第8条第4項ただし書).
    """

    payment_month: YearMonth
    months_covered: tuple[YearMonth, ...]
    amount: int
    includes_arrears: bool = False
    final: bool = False

    @property
    def ad_hoc_allowed(self) -> bool:
        return self.includes_arrears or self.final


def payments(
    schedule: Iterable[MonthlyAmount],
    *,
    already_paid: Set[YearMonth] = frozenset(),
    first_open_payment_month: YearMonth | None = None,
    entitlement_ended: bool = False,
) -> list[Payment]:
    """Group the monthly amounts into payments, in payment-month order.

    - ``already_paid``: months paid by earlier runs; they are never paid again.
    - ``first_open_payment_month``: the earliest payment month still to be run (e.g. the month the
      certification is decided); months due before it roll into it (or the next payment month).
    - ``entitlement_ended``: the schedule ends with the entitlement; its last payment is ``final``.

    Months with no amount are not paid (a payment is never of 0 yen).
    """
    by_month: dict[YearMonth, MonthlyAmount] = {}
    for item in schedule:
        if item.month in by_month:
            raise ValidationError(
                f"month {item.month} appears twice in the schedule", message_ja="同じ月が重複しています"
            )
        by_month[item.month] = item
    open_from = next_payment_month_from(first_open_payment_month) if first_open_payment_month else None

    groups: dict[YearMonth, list[MonthlyAmount]] = {}
    arrears: set[YearMonth] = set()
    for month in sorted(by_month):
        item = by_month[month]
        if month in already_paid or item.total <= 0:
            continue
        due = regular_payment_month(month)
        if open_from is not None and due < open_from:
            due = open_from
            arrears.add(due)
        groups.setdefault(due, []).append(item)

    result = [
        Payment(
            payment_month=due,
            months_covered=tuple(item.month for item in items),
            amount=sum(item.total for item in items),
            includes_arrears=due in arrears,
        )
        for due, items in sorted(groups.items())
    ]
    if entitlement_ended and result and max(by_month) in result[-1].months_covered:
        result[-1] = replace(result[-1], final=True)
    return result
