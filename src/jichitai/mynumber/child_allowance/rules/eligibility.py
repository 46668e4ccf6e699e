"""Whether a claim can be certified (受給資格, 児童手当法第4条・第7条・第17条), as reasons, not exceptions.

A clerk sees every reason at once, each with its Japanese message and the provision it rests on;
nothing is certified while any remains. Checked here:

- the claimant lives in this municipality (第7条第1項: 住所地の市町村長の認定);
- the claimant is not a civil servant (第17条: 公務員は所属庁が認定・支給);
- each child is in the claimant's care (監護・生計同一, 第4条第1項), living apart only with a
  別居監護申立書, and lives in Japan (第3条第1項; 留学 counts as living in Japan);
- no child is already certified for someone else (two parents claiming: 第4条第2項～第4項 give it to
  the one who maintains the household more; the other certification must end first);
- at least one child is payable (a 児童: up to high-school age) on the claim day.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from .facts import ChildFacts, RecipientFacts
from .months import school_year_end_after_age


class IneligibilityCode(StrEnum):
    NOT_RESIDENT = "not_resident"
    CIVIL_SERVANT = "civil_servant"
    CHILD_NOT_IN_CARE = "child_not_in_care"
    CHILD_APART_WITHOUT_STATEMENT = "child_apart_without_statement"
    CHILD_ABROAD = "child_abroad"
    CHILD_CERTIFIED_ELSEWHERE = "child_certified_elsewhere"
    NO_PAYABLE_CHILD = "no_payable_child"


_MESSAGES: dict[IneligibilityCode, tuple[str, str]] = {
    IneligibilityCode.NOT_RESIDENT: (
        "請求者の住所が本市区町村にありません。住所地の市区町村に請求してください。",
        "児童手当法第7条第1項",
    ),
    IneligibilityCode.CIVIL_SERVANT: (
        "公務員の方の児童手当は、勤務先（所属庁）から支給されます。",
        "児童手当法第17条",
    ),
    IneligibilityCode.CHILD_NOT_IN_CARE: (
        "請求者がこの児童を監護し、生計を同じくしていません。",
        "児童手当法第4条第1項",
    ),
    IneligibilityCode.CHILD_APART_WITHOUT_STATEMENT: (
        "別居している児童について、別居監護申立書が提出されていません。",
        "児童手当法第4条第1項、同法施行規則",
    ),
    IneligibilityCode.CHILD_ABROAD: (
        "児童が日本国内に住所を有していません（留学の場合を除く）。",
        "児童手当法第3条第1項",
    ),
    IneligibilityCode.CHILD_CERTIFIED_ELSEWHERE: (
        "この児童は既に他の受給者の児童手当の対象として認定されています。",
        "児童手当法第4条第2項から第4項",
    ),
    IneligibilityCode.NO_PAYABLE_CHILD: (
        "支給の対象となる児童（18歳到達後最初の3月31日までの児童）がいません。",
        "児童手当法第3条第1項、第4条第1項",
    ),
}


@dataclass(frozen=True)
class Ineligibility:
    """One reason a claim cannot be certified as it stands."""

    code: IneligibilityCode
    message_ja: str
    legal_basis: str
    child_id: str | None = None


def _reason(code: IneligibilityCode, child_id: str | None = None) -> Ineligibility:
    message, basis = _MESSAGES[code]
    return Ineligibility(code, message, basis, child_id)


def _is_child_on(child: ChildFacts, day: date) -> bool:
    """A 児童 on ``day``: born, not yet past high-school age, alive."""
    return child.birth_date <= day <= school_year_end_after_age(child.birth_date, 18) and (
        child.died_on is None or child.died_on > day
    )


def check_eligibility(
    recipient: RecipientFacts,
    children: Iterable[ChildFacts],
    *,
    children_certified_elsewhere: Set[str] = frozenset(),
) -> list[Ineligibility]:
    """Every reason the claim cannot be certified; an empty list means it can.

    ``children_certified_elsewhere``: ids of the claimed children that hold a current certification
    for another recipient (looked up by the service). Children past high-school age are checked only
    for overlap: they are counted for birth order, not paid, and need the 確認書 instead of care.
    """
    claim_day = recipient.claim.filed_on
    reasons: list[Ineligibility] = []
    if not recipient.resident:
        reasons.append(_reason(IneligibilityCode.NOT_RESIDENT))
    if recipient.civil_servant:
        reasons.append(_reason(IneligibilityCode.CIVIL_SERVANT))
    payable = False
    for child in children:
        if child.child_id in children_certified_elsewhere:
            reasons.append(_reason(IneligibilityCode.CHILD_CERTIFIED_ELSEWHERE, child.child_id))
        # A child added by a 額改定請求 is checked on the day of that claim.
        day = child.added_by.filed_on if child.added_by is not None else claim_day
        if not _is_child_on(child, day):
            continue
        if not child.in_care:
            reasons.append(_reason(IneligibilityCode.CHILD_NOT_IN_CARE, child.child_id))
        elif child.lives_apart and not child.apart_statement_filed:
            reasons.append(_reason(IneligibilityCode.CHILD_APART_WITHOUT_STATEMENT, child.child_id))
        elif not child.lives_in_japan:
            reasons.append(_reason(IneligibilityCode.CHILD_ABROAD, child.child_id))
        elif child.child_id not in children_certified_elsewhere:
            payable = True
    if not payable:
        reasons.append(_reason(IneligibilityCode.NO_PAYABLE_CHILD))
    return reasons
