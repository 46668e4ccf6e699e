"""Months and ages as the law counts them.

児童手当 is paid by the month (児童手当法第6条第1項「月を単位として支給する」), so the rules work
on :class:`YearMonth`. Ages follow 年齢計算ニ関スル法律 and 民法第143条: a person reaches age *n*
(満n歳に達する日) at the end of the day before the *n*-th anniversary of birth. A child born on
1 April therefore reaches 18 on 31 March and belongs to the earlier school year, which is why the
law's "the first 31 March on or after the day the child reaches 18" (18歳に達する日以後の最初の
3月31日) is not simply "the 31 March after the 18th birthday".
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from jichitai.platform.errors import ValidationError


@dataclass(frozen=True, order=True)
class YearMonth:
    """A calendar month (年月), the unit of entitlement and payment."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValidationError(
                f"month out of range: {self.month}", message_ja="月の指定が正しくありません"
            )
        if not 1 <= self.year <= 9999:  # beyond, its days are no dates (and a database int overflows)
            raise ValidationError(f"year out of range: {self.year}", message_ja="年の指定が正しくありません")

    @classmethod
    def of(cls, day: date) -> YearMonth:
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, text: str) -> YearMonth:
        """``"2025-04"`` → ``YearMonth(2025, 4)``."""
        try:
            year, month = (int(part) for part in text.split("-"))
        except ValueError:
            raise ValidationError(
                f"not a YYYY-MM month: {text!r}", message_ja="年月の形式が正しくありません"
            ) from None
        return cls(year, month)

    def __add__(self, months: int) -> YearMonth:
        index = self.year * 12 + (self.month - 1) + months
        return YearMonth(index // 12, index % 12 + 1)

    def __sub__(self, months: int) -> YearMonth:
        return self + (-months)

    def months_until(self, other: YearMonth) -> int:
        """How many months from ``self`` to ``other`` (negative when ``other`` is earlier)."""
        return (other.year - self.year) * 12 + (other.month - self.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def month_range(first: YearMonth, last: YearMonth) -> Iterator[YearMonth]:
    """Every month from ``first`` to ``last``, both included (nothing when ``last`` is earlier)."""
    current = first
    while current <= last:
        yield current
        current = current + 1


def anniversary(birth_date: date, years: int) -> date:
    """The ``years``-th birthday; a 29 February birthday falls on 1 March in common years."""
    try:
        return birth_date.replace(year=birth_date.year + years)
    except ValueError:  # 29 February in a common year
        return date(birth_date.year + years, 3, 1)


def reaches_age_on(birth_date: date, age: int) -> date:
    """満``age``歳に達する日: the day before the ``age``-th birthday (年齢計算ニ関スル法律, 民法第143条)."""
    return anniversary(birth_date, age) - timedelta(days=1)


def first_march_31_on_or_after(day: date) -> date:
    """The first 31 March on or after ``day`` (以後の最初の3月31日: the end of the school year)."""
    march_31 = date(day.year, 3, 31)
    return march_31 if day <= march_31 else date(day.year + 1, 3, 31)


def school_year_end_after_age(birth_date: date, age: int) -> date:
    """``age``歳に達する日以後の最初の3月31日 (e.g. 18: end of high-school age, 22: university age)."""
    return first_march_31_on_or_after(reaches_age_on(birth_date, age))


def last_under_three_month(birth_date: date) -> YearMonth:
    """The last month paid at the under-3 rate: the month that contains the 3rd birthday.

    児童手当法第6条 pays the under-3 amount for 「三歳に満たない児童（月の初日に生まれた児童に
    ついては、出生の日から三年を経過しない児童）」 and the amount is set per month, judged at the
    start of the month. A child born on 15 May is still 2 on 1 May three years later and 3 on
    1 June, so May is the last under-3 month. A child born on 1 May legally reaches 3 on 30 April,
    but the parenthesis keeps it under 3 until three years from the birth day have passed, so May
    is again the last month. Either way: the birthday month (municipal guidance says the same:
    「誕生日の月の分までは15,000円（3歳未満として扱います）」, 浜松市 FAQ). A child born on
    29 February reaches 3 on 28 February, so February.
    """
    return YearMonth(birth_date.year + 3, birth_date.month)
