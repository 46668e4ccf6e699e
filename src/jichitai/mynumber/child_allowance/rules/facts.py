"""The facts the rules read: a recipient (受給者), the children, and the claims that brought them in.

Plain frozen dataclasses filled by the service from the records and the registry; the rules never
look anything up. Dates are the days the events happened, as the registry or the claim shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from jichitai.platform.errors import ValidationError


class EventKind(StrEnum):
    """What made a claim late through no fault of the claimant (児童手当法第8条第3項)."""

    BIRTH = "birth"  # 出生: the day of birth
    MOVE_IN = "move_in"  # 住所変更: the day the address changed (for a move between municipalities,
    # the 転出予定日 at the old address, as municipalities apply it)
    UNAVOIDABLE = "unavoidable"  # 災害その他やむを得ない理由: the day the claim became impossible
    CARE_START = "care_start"  # 監護開始 other than by birth (adoption, custody): no 15-day rule

    @property
    def label_ja(self) -> str:
        return _EVENT_LABELS[self]


_EVENT_LABELS = {
    EventKind.BIRTH: "出生",
    EventKind.MOVE_IN: "住所変更",
    EventKind.UNAVOIDABLE: "災害その他やむを得ない理由",
    EventKind.CARE_START: "監護開始",
}


@dataclass(frozen=True)
class QualifyingEvent:
    """The event a claim follows; with :class:`EventKind.UNAVOIDABLE`, also the day it ended."""

    kind: EventKind
    occurred_on: date
    obstacle_ended_on: date | None = None  # やむを得ない理由がやんだ日

    def __post_init__(self) -> None:
        if self.kind is EventKind.UNAVOIDABLE and self.obstacle_ended_on is None:
            raise ValidationError(
                "an unavoidable-reason event needs the day the reason ended",
                message_ja="やむを得ない理由がやんだ日を入力してください",
            )
        if self.obstacle_ended_on is not None and self.obstacle_ended_on < self.occurred_on:
            raise ValidationError(
                "the obstacle cannot end before it began", message_ja="理由がやんだ日が発生日より前です"
            )


@dataclass(frozen=True)
class Claim:
    """A claim: 認定請求 (for the recipient) or 額改定請求 (for a child added later)."""

    filed_on: date
    event: QualifyingEvent | None = None

    def __post_init__(self) -> None:
        if self.event is not None and self.filed_on < self.event.occurred_on:
            raise ValidationError(
                f"claim filed on {self.filed_on} before its event on {self.event.occurred_on}",
                message_ja="請求日が事由の発生日より前です",
            )


@dataclass(frozen=True)
class RecipientFacts:
    """受給資格者 (the claimant, once certified: 受給者).

    ``moved_out_on``, ``died_on`` and ``civil_servant_from`` are the events that end the entitlement
    (支給すべき事由の消滅); ``civil_servant`` at the claim means the employer pays (第17条).
    """

    claim: Claim  # 認定請求
    resident: bool = True  # 住所が当該市町村にある (第7条第1項; 住民基本台帳)
    civil_servant: bool = False  # 公務員 at the claim (第17条: 所属庁が認定・支給)
    civil_servant_from: date | None = None  # became a civil servant after certification
    moved_out_on: date | None = None  # 転出: the day the address changed
    died_on: date | None = None


@dataclass(frozen=True)
class ChildFacts:
    """A child of the claimant's household, counted for birth order and possibly paid.

    ``added_by`` is the 額改定請求 that added the child after certification (a birth, or a
    university-age child whose 確認書 came later); ``None`` means the child was in the 認定請求.
    """

    child_id: str
    birth_date: date
    in_care: bool = True  # 監護し、かつ生計を同じくする (父母), or 監護し生計を維持する (第4条第1項)
    lives_apart: bool = False  # 別居
    apart_statement_filed: bool = False  # 別居監護申立書
    lives_in_japan: bool = True  # 国内に住所 (第3条第1項; 留学 counts as living in Japan)
    support_confirmation_filed: bool = False  # 監護相当・生計費の負担についての確認書 (past age 18)
    added_by: Claim | None = None  # 額改定請求
    left_care_on: date | None = None  # 監護・生計同一 (or the support for a university-age child) ended
    died_on: date | None = None

    @property
    def cared_for_as_child(self) -> bool:
        """監護・生計同一 as 児童: in care, living in Japan, and if apart, with the 申立書."""
        return self.in_care and self.lives_in_japan and (not self.lives_apart or self.apart_statement_filed)
