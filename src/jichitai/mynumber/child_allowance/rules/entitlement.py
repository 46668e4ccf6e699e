"""When payment starts and ends (児童手当法第8条第2項・第3項, 第9条).

- Start: the month after the claim (認定請求をした日の属する月の翌月から, 第8条第2項).
- 15日特例: a claim within 15 days after a move or after an unavoidable reason ended starts the month
  after the event (第8条第3項). Municipalities apply the same to a birth: a claim within 15 days
  after the birth day counts as made in the birth month (e.g. 江戸川区: 「出生日の翌日から15日以内」;
  4月30日出生 → 5月15日までの請求は5月分から, 5月16日なら6月分から). The 15 days are counted from
  the day after the event (民法第140条, 初日不算入): ``filed_on - event <= 15 days``.
- An increase (増額改定) for a child added later starts likewise from the 額改定請求 (第9条第1項,
  with 第8条第3項 applied by 第9条第2項).
- End: the month in which the reason for payment disappears (支給すべき事由が消滅した日の属する月で
  終わる, 第8条第2項): move-out, death, becoming a civil servant, no child left to pay.
- A decrease (減額改定: a child ages out, leaves the household or dies) applies from the month after
  the event (第9条第3項), so the month of the event is still paid at the old amount.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from .facts import ChildFacts, Claim, EventKind, RecipientFacts
from .months import YearMonth, school_year_end_after_age

FIFTEEN_DAYS = timedelta(days=15)

PAID_UNTIL_AGE = 18  # 児童: 18歳に達する日以後の最初の3月31日まで (第3条第1項)
COUNTED_UNTIL_AGE = 22  # 第3子以降の算定: 22歳に達する日以後の最初の3月31日まで (第6条)


def fifteen_day_rule_applies(claim: Claim) -> bool:
    """Whether the claim was made within 15 days after its event (15日特例)."""
    event = claim.event
    if event is None or event.kind is EventKind.CARE_START:
        return False
    window_opens = event.obstacle_ended_on if event.kind is EventKind.UNAVOIDABLE else event.occurred_on
    assert window_opens is not None  # QualifyingEvent guarantees it for UNAVOIDABLE
    return claim.filed_on - window_opens <= FIFTEEN_DAYS


def start_month(claim: Claim) -> YearMonth:
    """First month paid for a claim: the month after the claim, or after the event under the 15日特例."""
    if fifteen_day_rule_applies(claim):
        assert claim.event is not None
        return YearMonth.of(claim.event.occurred_on) + 1
    return YearMonth.of(claim.filed_on) + 1


def last_paid_month_by_age(child: ChildFacts) -> YearMonth:
    """March of the school year in which the child reaches 18 (高校生年代の終わり)."""
    return YearMonth.of(school_year_end_after_age(child.birth_date, PAID_UNTIL_AGE))


def last_counted_month_by_age(child: ChildFacts) -> YearMonth:
    """March of the school year in which the child reaches 22 (大学生年代の終わり)."""
    return YearMonth.of(school_year_end_after_age(child.birth_date, COUNTED_UNTIL_AGE))


def child_first_month(child: ChildFacts, recipient: RecipientFacts) -> YearMonth:
    """The first month the child counts: from the certification, or from its 額改定請求 (増額改定)."""
    recipient_start = start_month(recipient.claim)
    if child.added_by is None:
        return recipient_start
    return max(recipient_start, start_month(child.added_by))


def _household_exit_month(child: ChildFacts) -> YearMonth | None:
    """Last month before a decrease for leaving care or death (減額は翌月から, 第9条第3項)."""
    exits = [YearMonth.of(day) for day in (child.left_care_on, child.died_on) if day is not None]
    return min(exits) if exits else None


Span = tuple[YearMonth, YearMonth]  # first and last month, both included


@dataclass(frozen=True)
class ChildPeriods:
    """The months a child is paid for and the months it counts for birth order."""

    paid: Span | None
    counted: Span | None


def child_periods(child: ChildFacts, recipient: RecipientFacts) -> ChildPeriods:
    """Paid: while a 児童 (to high-school age) in the claimant's care. Counted (第3子以降の算定):
    the same months, and after high-school age up to the end of the school year of the 22nd year
    while the claimant still looks after and supports the child, shown by the 確認書 (監護相当・
    生計費の負担についての確認書). Both stop after the month the child leaves or dies.
    """
    first = child_first_month(child, recipient)
    paid_until = last_paid_month_by_age(child)
    exit_month = _household_exit_month(child)
    counted_first = first if child.cared_for_as_child else max(first, paid_until + 1)
    counted_until = last_counted_month_by_age(child) if child.support_confirmation_filed else paid_until
    if not child.cared_for_as_child and not child.support_confirmation_filed:
        counted_until = counted_first - 1
    if exit_month is not None:
        paid_until = min(paid_until, exit_month)
        counted_until = min(counted_until, exit_month)
    paid = (first, paid_until) if child.cared_for_as_child and first <= paid_until else None
    counted = (counted_first, counted_until) if counted_first <= counted_until else None
    return ChildPeriods(paid, counted)


def paid_months(child: ChildFacts, recipient: RecipientFacts) -> Span | None:
    """The first and last month the child is a 支給対象児童 (a 児童 in care), or ``None``."""
    return child_periods(child, recipient).paid


def covers(span: Span | None, month: YearMonth) -> bool:
    """Whether ``month`` lies in ``span``."""
    return span is not None and span[0] <= month <= span[1]


def is_paid_child(child: ChildFacts, recipient: RecipientFacts, month: YearMonth) -> bool:
    """Whether the child is a 支給対象児童 for the month: a 児童 in the claimant's care."""
    return covers(child_periods(child, recipient).paid, month)


def is_counted_child(child: ChildFacts, recipient: RecipientFacts, month: YearMonth) -> bool:
    """Whether the child counts for birth order in the month (第3子以降算定の対象)."""
    return covers(child_periods(child, recipient).counted, month)


class EndReason(StrEnum):
    """Why an entitlement ends (支給事由の消滅)."""

    MOVED_OUT = "moved_out"
    DIED = "died"
    CIVIL_SERVANT = "civil_servant"
    NO_CHILD = "no_child"

    @property
    def label_ja(self) -> str:
        return _END_LABELS[self]


_END_LABELS = {
    EndReason.MOVED_OUT: "転出",
    EndReason.DIED: "受給者の死亡",
    EndReason.CIVIL_SERVANT: "公務員となったこと（所属庁から支給）",
    EndReason.NO_CHILD: "支給対象児童の不存在（年齢到達・監護の終了等）",
}


@dataclass(frozen=True)
class Entitlement:
    """The months a recipient is paid for: ``start`` to ``end``, both included."""

    start: YearMonth
    end: YearMonth
    end_reason: EndReason


def entitlement(recipient: RecipientFacts, children: Iterable[ChildFacts]) -> Entitlement | None:
    """The certified period, or ``None`` when nothing is payable by this municipality.

    The period runs from :func:`start_month` while at least one child is paid each month, and ends in
    the month of the first ending event (move-out, death, becoming a civil servant). A child who
    joins after a month without any paid child needs a new 認定請求: that is a new entitlement.
    """
    return entitlement_from_periods(recipient, [child_periods(child, recipient) for child in children])


def entitlement_from_periods(
    recipient: RecipientFacts, periods: Iterable[ChildPeriods]
) -> Entitlement | None:
    """:func:`entitlement` from the children's periods already worked out."""
    if not recipient.resident or recipient.civil_servant:
        return None
    first = start_month(recipient.claim)
    events = [
        (YearMonth.of(day), reason)
        for day, reason in (
            (recipient.moved_out_on, EndReason.MOVED_OUT),
            (recipient.died_on, EndReason.DIED),
            (recipient.civil_servant_from, EndReason.CIVIL_SERVANT),
        )
        if day is not None
    ]
    hard_end = min(events, key=lambda item: item[0]) if events else None
    if hard_end is not None and hard_end[0] < first:
        return None
    # Paid months of each child are one run of months; follow the runs from the start while they
    # leave no month without a paid child.
    spans = sorted(p.paid for p in periods if p.paid is not None)
    last: YearMonth | None = None
    for span_first, span_last in spans:
        if span_first > (first if last is None else last + 1):
            break
        if last is None or span_last > last:
            last = span_last
    if last is None:
        return None
    if hard_end is not None and hard_end[0] <= last:
        return Entitlement(first, hard_end[0], hard_end[1])
    return Entitlement(first, last, EndReason.NO_CHILD)
