"""Payment days moved off weekends, national holidays and the year-end closure."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jichitai.mynumber.child_allowance.calendar import (
    PaymentDayRule,
    Shift,
    is_business_day,
    national_holiday_name,
    payment_date,
    payment_dates,
)
from jichitai.mynumber.child_allowance.rules import YearMonth
from jichitai.platform.errors import ValidationError


def test_foundation_day_moves_to_the_previous_business_day() -> None:
    assert national_holiday_name(date(2025, 2, 11)) is not None  # 建国記念の日, a Tuesday
    assert payment_date(YearMonth(2025, 2), PaymentDayRule(day=11)) == date(2025, 2, 10)
    assert payment_date(YearMonth(2025, 2), PaymentDayRule(day=11, shift=Shift.NEXT)) == date(2025, 2, 12)


def test_an_open_day_is_kept() -> None:
    assert payment_date(YearMonth(2025, 2)) == date(2025, 2, 10)  # a Monday


def test_weekend_followed_by_a_holiday() -> None:
    # 2025-08-10 is a Sunday and 2025-08-11 山の日 (Monday).
    assert payment_date(YearMonth(2025, 8)) == date(2025, 8, 8)
    assert payment_date(YearMonth(2025, 8), PaymentDayRule(shift=Shift.NEXT)) == date(2025, 8, 12)


def test_substitute_holiday_counts_as_closed() -> None:
    # 2025-02-23 天皇誕生日 is a Sunday, so 2025-02-24 is a 振替休日.
    assert not is_business_day(date(2025, 2, 24))
    assert payment_date(YearMonth(2025, 2), PaymentDayRule(day=24)) == date(2025, 2, 21)


def test_fifteenth_on_a_saturday() -> None:
    assert payment_date(YearMonth(2025, 2), PaymentDayRule(day=15)) == date(2025, 2, 14)


def test_year_end_closure_is_closed_and_configurable() -> None:
    for day in (date(2025, 12, 29), date(2025, 12, 30), date(2025, 12, 31), date(2026, 1, 2)):
        assert not is_business_day(day)
    assert is_business_day(date(2025, 12, 30), PaymentDayRule(year_end_closure=None))
    assert is_business_day(date(2025, 12, 26))
    # 28 December 2025 is a Sunday; moving forward crosses the whole closure into January.
    assert payment_date(YearMonth(2025, 12), PaymentDayRule(day=28, shift=Shift.NEXT)) == date(2026, 1, 5)
    assert payment_date(YearMonth(2025, 12), PaymentDayRule(day=28)) == date(2025, 12, 26)


def test_bad_rules_and_odd_months_are_refused() -> None:
    with pytest.raises(ValidationError):
        PaymentDayRule(day=29)
    with pytest.raises(ValidationError):
        PaymentDayRule(day=0)
    with pytest.raises(ValidationError):
        payment_date(YearMonth(2025, 3))


def test_six_payment_days_a_year() -> None:
    days = payment_dates(2026)
    assert [d.month for d in days] == [2, 4, 6, 8, 10, 12]
    assert all(is_business_day(d) for d in days)


@settings(max_examples=80, deadline=None)
@given(
    year=st.integers(min_value=2025, max_value=2035),
    day=st.integers(min_value=1, max_value=28),
    shift=st.sampled_from(list(Shift)),
)
def test_payment_day_is_the_nearest_open_day_in_the_rule_direction(year: int, day: int, shift: Shift) -> None:
    rule = PaymentDayRule(day=day, shift=shift)
    step = timedelta(days=-1 if shift is Shift.PREVIOUS else 1)
    for month in (2, 4, 6, 8, 10, 12):
        nominal = date(year, month, day)
        paid = payment_date(YearMonth(year, month), rule)
        assert is_business_day(paid, rule)
        assert (paid <= nominal) if shift is Shift.PREVIOUS else (paid >= nominal)
        skipped = nominal
        while skipped != paid:  # every day passed over was closed
            assert not is_business_day(skipped, rule)
            skipped += step
