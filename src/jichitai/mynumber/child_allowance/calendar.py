"""Payment days (支払日): the municipality's day of the payment month, moved off bank holidays.

Each municipality fixes the day by 規則 (e.g. 岩手町: 支払期月の10日, and when that is a Saturday,
Sunday or national holiday, the nearest earlier day that is not). :class:`PaymentDayRule` holds that
choice: the day of the month and whether to move to the previous or the next business day.

Closed days: Saturdays, Sundays, Japanese national holidays (国民の祝日, 振替休日, 国民の休日, from
``holidays.Japan``, reached through ``holidays.country_holidays("JP")``) and the year-end closure.
Banks close 31 December to 3 January (銀行法施行令第5条); the office that sends the transfer file
closes 29 December to 3 January (地方自治法第4条の2, by 条例), so by default 12/29–1/3 counts as
closed. The closure is configurable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache

import holidays

from jichitai.platform.errors import ValidationError

from .rules.months import YearMonth
from .rules.payments import PAYMENT_MONTHS, is_payment_month


class Shift(StrEnum):
    """Which way a payment day on a closed day moves."""

    PREVIOUS = "previous"  # 前営業日 (the usual local rule)
    NEXT = "next"  # 翌営業日


YEAR_END_CLOSURE: tuple[tuple[int, int], tuple[int, int]] = ((12, 29), (1, 3))


@dataclass(frozen=True)
class PaymentDayRule:
    """A municipality's payment day: ``day`` of each payment month, moved by ``shift``.

    ``year_end_closure``: first and last (month, day) of the year-end closure, wrapping over New Year;
    ``None`` for no closure beyond the holidays.
    """

    day: int = 10
    shift: Shift = Shift.PREVIOUS
    year_end_closure: tuple[tuple[int, int], tuple[int, int]] | None = YEAR_END_CLOSURE

    def __post_init__(self) -> None:
        if not 1 <= self.day <= 28:
            raise ValidationError(
                f"payment day must be 1-28, got {self.day}",
                message_ja="支払日は1日から28日の間で指定してください",
            )


@lru_cache(maxsize=64)
def _national_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("JP", years=year).keys())


def national_holiday_name(day: date) -> str | None:
    """The holiday's name (in English, as the package gives it), or ``None``."""
    name = holidays.country_holidays("JP", years=day.year).get(day)
    return str(name) if name is not None else None


def _in_year_end_closure(day: date, closure: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    (first_month, first_day), (last_month, last_day) = closure
    key = (day.month, day.day)
    if (first_month, first_day) <= (last_month, last_day):
        return (first_month, first_day) <= key <= (last_month, last_day)
    return key >= (first_month, first_day) or key <= (last_month, last_day)


def is_business_day(day: date, rule: PaymentDayRule | None = None) -> bool:
    """Whether banks and the office are open: not a weekend, holiday or the year-end closure."""
    closure = (rule or PaymentDayRule()).year_end_closure
    if day.weekday() >= 5 or day in _national_holidays(day.year):
        return False
    return closure is None or not _in_year_end_closure(day, closure)


def move_to_business_day(day: date, rule: PaymentDayRule) -> date:
    """``day`` itself when open, else the previous or next open day as the rule says."""
    step = timedelta(days=-1 if rule.shift is Shift.PREVIOUS else 1)
    while not is_business_day(day, rule):
        day += step
    return day


def payment_date(month: YearMonth, rule: PaymentDayRule | None = None) -> date:
    """The payment day of a payment month (2, 4, 6, 8, 10 or 12)."""
    rule = rule or PaymentDayRule()
    if not is_payment_month(month):
        raise ValidationError(f"{month} is not a payment month", message_ja="支払期月ではありません")
    return move_to_business_day(date(month.year, month.month, rule.day), rule)


def payment_dates(year: int, rule: PaymentDayRule | None = None) -> list[date]:
    """The six payment days of a year."""
    return [payment_date(YearMonth(year, month), rule) for month in PAYMENT_MONTHS]
