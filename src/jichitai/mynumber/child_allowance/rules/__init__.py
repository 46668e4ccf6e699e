"""児童手当法 (as amended by 令和6年法律第47号, from October 2024) as pure rules: facts in, values out.

Read next to the law: :mod:`.months` (ages and school years, 年齢計算), :mod:`.facts` (what the
rules read), :mod:`.entitlement` (start and end months, 第8条・第9条), :mod:`.amounts` (monthly
amounts, 第6条), :mod:`.payments` (payment months, 第8条第4項), :mod:`.eligibility` (reasons a
claim cannot be certified, 第3条・第4条・第7条・第17条). No I/O anywhere in this package.
"""

from .amounts import (
    FROM_THREE_AMOUNT,
    REFORM_FIRST_MONTH,
    THIRD_CHILD_AMOUNT,
    UNDER_THREE_AMOUNT,
    AmountReason,
    ChildLine,
    MonthlyAmount,
    month_amount,
    monthly_amounts,
)
from .eligibility import Ineligibility, IneligibilityCode, check_eligibility
from .entitlement import (
    ChildPeriods,
    EndReason,
    Entitlement,
    child_periods,
    covers,
    entitlement,
    entitlement_from_periods,
    fifteen_day_rule_applies,
    is_counted_child,
    is_paid_child,
    last_counted_month_by_age,
    last_paid_month_by_age,
    paid_months,
    start_month,
)
from .facts import ChildFacts, Claim, EventKind, QualifyingEvent, RecipientFacts
from .months import (
    YearMonth,
    last_under_three_month,
    month_range,
    reaches_age_on,
    school_year_end_after_age,
)
from .payments import (
    FIRST_SIX_PERIOD_PAYMENT,
    PAYMENT_MONTHS,
    Payment,
    check_run_month,
    is_payment_month,
    months_paid_at,
    next_payment_month_from,
    payments,
    regular_payment_month,
)

__all__ = [
    "FIRST_SIX_PERIOD_PAYMENT",
    "FROM_THREE_AMOUNT",
    "PAYMENT_MONTHS",
    "REFORM_FIRST_MONTH",
    "THIRD_CHILD_AMOUNT",
    "UNDER_THREE_AMOUNT",
    "AmountReason",
    "ChildFacts",
    "ChildLine",
    "ChildPeriods",
    "Claim",
    "EndReason",
    "Entitlement",
    "EventKind",
    "Ineligibility",
    "IneligibilityCode",
    "MonthlyAmount",
    "Payment",
    "QualifyingEvent",
    "RecipientFacts",
    "YearMonth",
    "check_eligibility",
    "check_run_month",
    "child_periods",
    "covers",
    "entitlement",
    "entitlement_from_periods",
    "fifteen_day_rule_applies",
    "is_counted_child",
    "is_paid_child",
    "is_payment_month",
    "last_counted_month_by_age",
    "last_paid_month_by_age",
    "last_under_three_month",
    "month_amount",
    "month_range",
    "monthly_amounts",
    "months_paid_at",
    "next_payment_month_from",
    "paid_months",
    "payments",
    "reaches_age_on",
    "regular_payment_month",
    "school_year_end_after_age",
    "start_month",
]
