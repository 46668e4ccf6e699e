"""児童手当 rules against worked examples and properties (児童手当法 as amended in 2024)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jichitai.mynumber.child_allowance.rules import (
    AmountReason,
    ChildFacts,
    Claim,
    EndReason,
    EventKind,
    IneligibilityCode,
    MonthlyAmount,
    QualifyingEvent,
    RecipientFacts,
    YearMonth,
    check_eligibility,
    entitlement,
    last_paid_month_by_age,
    last_under_three_month,
    monthly_amounts,
    months_paid_at,
    payments,
    regular_payment_month,
    school_year_end_after_age,
    start_month,
)
from jichitai.platform.errors import ValidationError

FAR = YearMonth(2060, 12)
REFORM = YearMonth(2024, 10)


def ym(text: str) -> YearMonth:
    return YearMonth.parse(text)


def claimant(filed_on: date, event: QualifyingEvent | None = None, **facts: object) -> RecipientFacts:
    return RecipientFacts(claim=Claim(filed_on, event), **facts)  # type: ignore[arg-type]


def birth(day: date) -> QualifyingEvent:
    return QualifyingEvent(EventKind.BIRTH, day)


def by_month(schedule: list[MonthlyAmount]) -> dict[str, MonthlyAmount]:
    return {str(item.month): item for item in schedule}


# --- ages and school years -------------------------------------------------------------------


def test_high_school_age_ends_in_the_school_year_the_child_reaches_18() -> None:
    # Born 1 April: reaches 18 on 31 March (the day before the birthday), so the earlier school year.
    assert school_year_end_after_age(date(2007, 4, 1), 18) == date(2025, 3, 31)
    assert school_year_end_after_age(date(2007, 4, 2), 18) == date(2026, 3, 31)
    assert school_year_end_after_age(date(2008, 2, 29), 18) == date(2026, 3, 31)
    assert school_year_end_after_age(date(2003, 6, 1), 22) == date(2026, 3, 31)


@pytest.mark.parametrize(
    ("born", "last_month"),
    [
        (date(2023, 5, 15), "2026-05"),
        (date(2023, 5, 1), "2026-05"),  # 月の初日に生まれた児童: still the birthday month
        (date(2023, 5, 31), "2026-05"),
        (date(2024, 2, 29), "2027-02"),
    ],
)
def test_under_three_amount_runs_through_the_month_of_the_third_birthday(born: date, last_month: str) -> None:
    assert last_under_three_month(born) == ym(last_month)
    schedule = by_month(monthly_amounts(claimant(born, birth(born)), [ChildFacts("a", born)], REFORM, FAR))
    last = ym(last_month)
    assert schedule[str(last)].total == 15_000
    assert schedule[str(last)].children[0].reason is AmountReason.UNDER_THREE
    assert schedule[str(last + 1)].total == 10_000
    assert schedule[str(last + 1)].children[0].reason is AmountReason.FROM_THREE


# --- start month: the month after the claim, 15日特例 -----------------------------------------


def test_born_25_march_claimed_5_april_is_paid_from_april() -> None:
    born = date(2025, 3, 25)
    facts = claimant(date(2025, 4, 5), birth(born))
    assert start_month(facts.claim) == ym("2025-04")
    schedule = monthly_amounts(facts, [ChildFacts("a", born)], REFORM, FAR)
    assert schedule[0].month == ym("2025-04")
    assert schedule[0].total == 15_000


def test_born_25_march_claimed_15_april_is_paid_from_may() -> None:
    born = date(2025, 3, 25)
    facts = claimant(date(2025, 4, 15), birth(born))  # 21 days after the birth
    assert start_month(facts.claim) == ym("2025-05")
    assert monthly_amounts(facts, [ChildFacts("a", born)], REFORM, FAR)[0].month == ym("2025-05")


@pytest.mark.parametrize(("filed", "first"), [(date(2025, 5, 15), "2025-05"), (date(2025, 5, 16), "2025-06")])
def test_fifteen_days_count_from_the_day_after_the_event(filed: date, first: str) -> None:
    # 江戸川区 FAQ: 4月30日出生 → 5月15日までの請求は5月分から, 5月16日なら6月分から.
    assert start_month(Claim(filed, birth(date(2025, 4, 30)))) == ym(first)


def test_move_in_within_fifteen_days_starts_after_the_move() -> None:
    moved = QualifyingEvent(EventKind.MOVE_IN, date(2025, 3, 31))
    assert start_month(Claim(date(2025, 4, 14), moved)) == ym("2025-04")
    assert start_month(Claim(date(2025, 4, 17), moved)) == ym("2025-05")
    assert start_month(Claim(date(2025, 4, 14))) == ym("2025-05")  # no event: the month after the claim


def test_unavoidable_reason_counts_fifteen_days_from_its_end() -> None:
    disaster = QualifyingEvent(EventKind.UNAVOIDABLE, date(2025, 1, 10), obstacle_ended_on=date(2025, 3, 20))
    assert start_month(Claim(date(2025, 4, 4), disaster)) == ym("2025-02")
    assert start_month(Claim(date(2025, 4, 5), disaster)) == ym("2025-05")


def test_care_start_other_than_birth_has_no_fifteen_day_rule() -> None:
    custody = QualifyingEvent(EventKind.CARE_START, date(2025, 3, 30))
    assert start_month(Claim(date(2025, 4, 2), custody)) == ym("2025-05")


def test_claim_before_its_event_is_refused() -> None:
    with pytest.raises(ValidationError, match="before its event"):
        Claim(date(2025, 3, 1), birth(date(2025, 3, 2)))


# --- amounts: birth order and the third child -------------------------------------------------


def test_children_20_15_and_10_the_ten_year_old_is_the_third_child() -> None:
    children = [
        ChildFacts("age20", date(2005, 1, 10), support_confirmation_filed=True, lives_apart=True),
        ChildFacts("age15", date(2010, 1, 10)),
        ChildFacts("age10", date(2015, 1, 10)),
    ]
    june = monthly_amounts(claimant(date(2025, 5, 10)), children, ym("2025-06"), ym("2025-06"))[0]
    lines = {line.child_id: line for line in june.children}
    assert (lines["age20"].birth_order, lines["age20"].amount) == (1, 0)
    assert lines["age20"].reason is AmountReason.COUNTED_ONLY
    assert (lines["age15"].birth_order, lines["age15"].amount) == (2, 10_000)
    assert (lines["age10"].birth_order, lines["age10"].amount) == (3, 30_000)
    assert lines["age10"].reason is AmountReason.THIRD_OR_LATER
    assert june.total == 40_000


def test_university_age_child_without_confirmation_is_not_counted() -> None:
    children = [
        ChildFacts("age20", date(2005, 1, 10)),  # no 確認書
        ChildFacts("age15", date(2010, 1, 10)),
        ChildFacts("age10", date(2015, 1, 10)),
    ]
    june = monthly_amounts(claimant(date(2025, 5, 10)), children, ym("2025-06"), ym("2025-06"))[0]
    assert [line.child_id for line in june.children] == ["age15", "age10"]
    assert june.total == 20_000


def test_third_child_drops_to_10000_from_april_after_the_eldest_passes_22() -> None:
    children = [
        ChildFacts("eldest", date(2003, 6, 1), support_confirmation_filed=True),  # 22歳年度末: 2026-03-31
        ChildFacts("middle", date(2008, 6, 1)),
        ChildFacts("youngest", date(2012, 6, 1)),
    ]
    schedule = by_month(monthly_amounts(claimant(date(2025, 5, 10)), children, REFORM, FAR))
    march, april = schedule["2026-03"], schedule["2026-04"]
    assert {line.child_id: line.amount for line in march.children} == {
        "eldest": 0,
        "middle": 10_000,
        "youngest": 30_000,
    }
    assert {line.child_id: line.amount for line in april.children} == {"middle": 10_000, "youngest": 10_000}
    assert (march.total, april.total) == (40_000, 20_000)


def test_under_three_third_child_gets_30000_not_15000() -> None:
    children = [
        ChildFacts("a", date(2015, 1, 1)),
        ChildFacts("b", date(2018, 1, 1)),
        ChildFacts("c", date(2025, 1, 1)),
    ]
    first = monthly_amounts(claimant(date(2025, 1, 5), birth(date(2025, 1, 1))), children, REFORM, FAR)[0]
    assert first.month == ym("2025-02")  # the month after the birth
    assert [line.amount for line in first.children] == [10_000, 10_000, 30_000]


def test_twins_are_ordered_deterministically_and_both_third_or_later() -> None:
    twins = [
        ChildFacts("t2", date(2020, 5, 5)),
        ChildFacts("t1", date(2020, 5, 5)),
        ChildFacts("a", date(2012, 1, 1)),
    ]
    month = monthly_amounts(claimant(date(2025, 1, 5)), twins, ym("2025-02"), ym("2025-02"))[0]
    assert [(line.child_id, line.birth_order, line.amount) for line in month.children] == [
        ("a", 1, 10_000),
        ("t1", 2, 10_000),
        ("t2", 3, 30_000),
    ]


def test_newborn_added_by_amount_change_claim_uses_the_fifteen_day_rule() -> None:
    born = date(2025, 6, 28)
    base = [ChildFacts("a", date(2015, 1, 1)), ChildFacts("b", date(2018, 1, 1))]
    for filed, first_month in ((date(2025, 7, 10), "2025-07"), (date(2025, 7, 20), "2025-08")):
        baby = ChildFacts("c", born, added_by=Claim(filed, birth(born)))
        schedule = by_month(monthly_amounts(claimant(date(2024, 11, 5)), [*base, baby], REFORM, FAR))
        first = ym(first_month)
        assert schedule[str(first - 1)].total == 20_000
        assert schedule[str(first)].total == 50_000


def test_child_death_lowers_the_amount_from_the_following_month() -> None:
    children = [
        ChildFacts("a", date(2015, 1, 1)),
        ChildFacts("b", date(2018, 1, 1), died_on=date(2025, 7, 5)),
    ]
    schedule = by_month(monthly_amounts(claimant(date(2024, 11, 5)), children, REFORM, FAR))
    assert schedule["2025-07"].total == 20_000
    assert schedule["2025-08"].total == 10_000


def test_child_leaving_the_household_lowers_the_amount_and_order_from_the_following_month() -> None:
    children = [
        ChildFacts("a", date(2010, 1, 1), left_care_on=date(2025, 9, 30)),
        ChildFacts("b", date(2014, 1, 1)),
        ChildFacts("c", date(2018, 1, 1)),
    ]
    schedule = by_month(monthly_amounts(claimant(date(2024, 11, 5)), children, REFORM, FAR))
    assert schedule["2025-09"].total == 50_000
    assert schedule["2025-10"].total == 20_000


# --- end month --------------------------------------------------------------------------------


def test_move_out_ends_the_entitlement_in_the_month_of_the_move() -> None:
    facts = claimant(date(2024, 11, 5), moved_out_on=date(2025, 7, 20))
    period = entitlement(facts, (ChildFacts("a", date(2015, 1, 1)),))
    assert period is not None
    assert (period.end, period.end_reason) == (ym("2025-07"), EndReason.MOVED_OUT)
    assert monthly_amounts(facts, [ChildFacts("a", date(2015, 1, 1))], REFORM, FAR)[-1].month == ym("2025-07")


def test_death_and_civil_service_end_the_entitlement_in_their_month() -> None:
    kids = (ChildFacts("a", date(2015, 1, 1)),)
    died = entitlement(claimant(date(2024, 11, 5), died_on=date(2025, 3, 3)), kids)
    servant = entitlement(claimant(date(2024, 11, 5), civil_servant_from=date(2025, 4, 1)), kids)
    assert died is not None and (died.end, died.end_reason) == (ym("2025-03"), EndReason.DIED)
    assert servant is not None and (servant.end, servant.end_reason) == (
        ym("2025-04"),
        EndReason.CIVIL_SERVANT,
    )


def test_last_child_ageing_out_ends_in_march() -> None:
    kids = (ChildFacts("a", date(2007, 4, 2)),)
    period = entitlement(claimant(date(2024, 10, 1)), kids)
    assert period is not None
    assert (period.start, period.end, period.end_reason) == (ym("2024-11"), ym("2026-03"), EndReason.NO_CHILD)
    assert last_paid_month_by_age(kids[0]) == ym("2026-03")


def test_move_out_before_the_start_means_no_entitlement() -> None:
    assert (
        entitlement(
            claimant(date(2025, 4, 5), moved_out_on=date(2025, 4, 20)), (ChildFacts("a", date(2020, 1, 1)),)
        )
        is None
    )


def test_no_amounts_before_the_reform() -> None:
    with pytest.raises(ValidationError, match="apply from 2024-10"):
        monthly_amounts(claimant(date(2024, 5, 5)), [ChildFacts("a", date(2020, 1, 1))], ym("2024-09"), FAR)


def test_a_child_listed_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="twice"):
        monthly_amounts(claimant(date(2025, 5, 5)), [ChildFacts("a", date(2020, 1, 1))] * 2, REFORM, FAR)


# --- eligibility as data ----------------------------------------------------------------------


def codes(reasons: list) -> list[tuple[IneligibilityCode, str | None]]:  # type: ignore[type-arg]
    return [(reason.code, reason.child_id) for reason in reasons]


def test_eligible_claim_has_no_reasons() -> None:
    assert check_eligibility(claimant(date(2025, 5, 5)), [ChildFacts("a", date(2020, 1, 1))]) == []


def test_non_resident_and_civil_servant_are_refused_and_paid_nothing() -> None:
    facts = claimant(date(2025, 5, 5), resident=False, civil_servant=True)
    kids = [ChildFacts("a", date(2020, 1, 1))]
    reasons = check_eligibility(facts, kids)
    assert codes(reasons) == [(IneligibilityCode.NOT_RESIDENT, None), (IneligibilityCode.CIVIL_SERVANT, None)]
    assert "所属庁" in reasons[1].message_ja
    assert reasons[1].legal_basis == "児童手当法第17条"
    assert monthly_amounts(facts, kids, REFORM, FAR) == []


def test_children_not_in_care_apart_without_statement_or_certified_elsewhere() -> None:
    kids = [
        ChildFacts("away", date(2016, 1, 1), lives_apart=True),
        ChildFacts("away_ok", date(2017, 1, 1), lives_apart=True, apart_statement_filed=True),
        ChildFacts("not_cared", date(2018, 1, 1), in_care=False),
        ChildFacts("abroad", date(2019, 1, 1), lives_in_japan=False),
        ChildFacts("other_parent", date(2020, 1, 1)),
    ]
    reasons = check_eligibility(
        claimant(date(2025, 5, 5)), kids, children_certified_elsewhere={"other_parent"}
    )
    assert codes(reasons) == [
        (IneligibilityCode.CHILD_APART_WITHOUT_STATEMENT, "away"),
        (IneligibilityCode.CHILD_NOT_IN_CARE, "not_cared"),
        (IneligibilityCode.CHILD_ABROAD, "abroad"),
        (IneligibilityCode.CHILD_CERTIFIED_ELSEWHERE, "other_parent"),
    ]
    assert all(reason.message_ja for reason in reasons)
    # The rules never pay a child not in care: only "away_ok" and "other_parent" could be counted.
    june = monthly_amounts(claimant(date(2025, 5, 5)), kids[:4], ym("2025-06"), ym("2025-06"))[0]
    assert [line.child_id for line in june.children] == ["away_ok"]


def test_no_payable_child_when_all_are_past_high_school_age() -> None:
    kids = [ChildFacts("a", date(2004, 1, 1), support_confirmation_filed=True)]
    facts = claimant(date(2025, 5, 5))
    assert codes(check_eligibility(facts, kids)) == [(IneligibilityCode.NO_PAYABLE_CHILD, None)]
    assert monthly_amounts(facts, kids, REFORM, FAR) == []


# --- payments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "paid_in"),
    [
        ("2025-04", "2025-06"),
        ("2025-05", "2025-06"),
        ("2024-12", "2025-02"),
        ("2025-01", "2025-02"),
        ("2024-10", "2024-12"),
    ],
)
def test_each_month_is_paid_in_the_next_even_month(month: str, paid_in: str) -> None:
    assert regular_payment_month(ym(month)) == ym(paid_in)


def test_months_paid_at_a_payment_month_and_odd_months_refused() -> None:
    assert months_paid_at(ym("2025-06")) == (ym("2025-04"), ym("2025-05"))
    assert months_paid_at(ym("2026-02")) == (ym("2025-12"), ym("2026-01"))
    with pytest.raises(ValidationError):
        months_paid_at(ym("2025-05"))


def test_payments_group_two_months_each() -> None:
    schedule = monthly_amounts(
        claimant(date(2025, 3, 10)), [ChildFacts("a", date(2015, 1, 1))], REFORM, ym("2025-09")
    )
    result = payments(schedule)
    assert [(str(p.payment_month), [str(m) for m in p.months_covered], p.amount) for p in result] == [
        ("2025-06", ["2025-04", "2025-05"], 20_000),
        ("2025-08", ["2025-06", "2025-07"], 20_000),
        ("2025-10", ["2025-08", "2025-09"], 20_000),
    ]
    assert not any(p.ad_hoc_allowed for p in result)


def test_a_start_in_an_odd_month_pays_one_month_first() -> None:
    schedule = monthly_amounts(
        claimant(date(2025, 4, 10)), [ChildFacts("a", date(2015, 1, 1))], REFORM, ym("2025-07")
    )
    assert [(str(p.payment_month), len(p.months_covered)) for p in payments(schedule)] == [
        ("2025-06", 1),
        ("2025-08", 2),
    ]


def test_late_certification_rolls_past_months_into_the_next_open_payment() -> None:
    schedule = monthly_amounts(
        claimant(date(2025, 3, 10)), [ChildFacts("a", date(2015, 1, 1))], REFORM, ym("2025-09")
    )
    result = payments(schedule, first_open_payment_month=ym("2025-07"))
    assert [str(m) for m in result[0].months_covered] == ["2025-04", "2025-05", "2025-06", "2025-07"]
    assert result[0].payment_month == ym("2025-08")
    assert result[0].includes_arrears and result[0].ad_hoc_allowed
    assert result[1].payment_month == ym("2025-10") and not result[1].includes_arrears


def test_months_already_paid_are_never_paid_again() -> None:
    schedule = monthly_amounts(
        claimant(date(2025, 3, 10)), [ChildFacts("a", date(2015, 1, 1))], REFORM, ym("2025-09")
    )
    result = payments(schedule, already_paid={ym("2025-04"), ym("2025-05"), ym("2025-06")})
    assert [[str(m) for m in p.months_covered] for p in result] == [["2025-07"], ["2025-08", "2025-09"]]


def test_an_ended_entitlement_flags_its_final_payment_for_ad_hoc_payment() -> None:
    facts = claimant(date(2025, 3, 10), moved_out_on=date(2025, 7, 2))
    schedule = monthly_amounts(facts, [ChildFacts("a", date(2015, 1, 1))], REFORM, FAR)
    result = payments(schedule, entitlement_ended=True)
    assert result[-1].months_covered == (ym("2025-06"), ym("2025-07"))
    assert result[-1].final and result[-1].ad_hoc_allowed
    assert not result[0].final


def test_a_schedule_with_a_month_twice_is_refused() -> None:
    item = MonthlyAmount(ym("2025-04"), 10_000, ())
    with pytest.raises(ValidationError, match="twice"):
        payments([item, item])


# --- properties -------------------------------------------------------------------------------

births = st.dates(min_value=date(2024, 10, 1), max_value=date(2035, 12, 31))


@settings(max_examples=60, deadline=None)
@given(born=births, delay=st.integers(min_value=0, max_value=15))
def test_one_child_paid_from_birth_lifetime_total_matches_the_law(born: date, delay: int) -> None:
    facts = claimant(born + timedelta(days=delay), birth(born))
    child = ChildFacts("a", born)
    schedule = monthly_amounts(facts, [child], REFORM, FAR)
    paid = payments(schedule, entitlement_ended=True)
    first = YearMonth.of(born) + 1
    under_three = first.months_until(last_under_three_month(born)) + 1
    from_three = last_under_three_month(born).months_until(last_paid_month_by_age(child))
    assert under_three == 36
    assert schedule[0].month == first and schedule[-1].month == last_paid_month_by_age(child)
    assert sum(p.amount for p in paid) == sum(m.total for m in schedule) == 15_000 * 36 + 10_000 * from_three


child_strategy = st.builds(
    ChildFacts,
    child_id=st.uuids().map(str),
    birth_date=st.dates(min_value=date(2002, 1, 1), max_value=date(2026, 12, 31)),
    support_confirmation_filed=st.booleans(),
    died_on=st.one_of(st.none(), st.dates(min_value=date(2027, 1, 1), max_value=date(2035, 1, 1))),
)


@settings(max_examples=80, deadline=None)
@given(
    kids=st.lists(child_strategy, min_size=1, max_size=4, unique_by=lambda c: c.child_id),
    filed=st.dates(min_value=date(2024, 9, 1), max_value=date(2026, 12, 31)),
    paid_before=st.sets(st.integers(min_value=0, max_value=30), max_size=6),
    open_offset=st.one_of(st.none(), st.integers(min_value=0, max_value=12)),
)
def test_payments_pay_every_month_once_in_even_months(
    kids: list[ChildFacts], filed: date, paid_before: set[int], open_offset: int | None
) -> None:
    kids = [k for k in kids if k.birth_date <= filed]  # a claim lists children already born
    facts = claimant(filed)
    schedule = monthly_amounts(facts, kids, REFORM, FAR)
    for item in schedule:
        assert item.total == sum(line.amount for line in item.children)
        assert [line.birth_order for line in item.children] == list(range(1, len(item.children) + 1))
        assert all(line.amount in (0, 10_000, 15_000, 30_000) for line in item.children)

    positive = {item.month for item in schedule if item.total > 0}
    plain = payments(schedule)
    covered = [m for p in plain for m in p.months_covered]
    assert len(covered) == len(set(covered))  # no month paid twice
    assert set(covered) == {item.month for item in schedule if item.total > 0}
    assert sum(p.amount for p in plain) == sum(item.total for item in schedule)
    for p in plain:
        assert p.payment_month.month in (2, 4, 6, 8, 10, 12)
        # exactly the two preceding months, less any without an amount (before the start, after the end)
        assert set(p.months_covered) == set(months_paid_at(p.payment_month)) & positive

    if not schedule:
        return
    start = schedule[0].month
    done = {start + offset for offset in paid_before}
    open_from = None if open_offset is None else start + open_offset
    later = payments(schedule, already_paid=done, first_open_payment_month=open_from)
    covered = [m for p in later for m in p.months_covered]
    assert len(covered) == len(set(covered))
    assert set(covered) == {item.month for item in schedule if item.total > 0} - done
    for p in later:
        assert p.payment_month.month % 2 == 0
        assert all(m < p.payment_month for m in p.months_covered)
        if open_from is not None:
            assert p.payment_month >= open_from


def test_child_added_later_is_checked_on_the_day_of_its_amount_change_claim() -> None:
    born = date(2025, 8, 1)
    kids = [
        ChildFacts("a", date(2015, 1, 1)),
        ChildFacts("baby", born, lives_apart=True, added_by=Claim(date(2025, 8, 5), birth(born))),
    ]
    reasons = check_eligibility(claimant(date(2024, 11, 5)), kids)
    assert codes(reasons) == [(IneligibilityCode.CHILD_APART_WITHOUT_STATEMENT, "baby")]
