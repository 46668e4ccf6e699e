"""The values the child allowance use cases take and return (plain frozen dataclasses)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from jichitai.mynumber.child_allowance.models import NoticeKind
from jichitai.mynumber.child_allowance.service.cases import CaseRow


@dataclass(frozen=True)
class CertifyOptions:
    """What the clerk confirms when certifying (beyond the form).

    ``apart_statements``: indexes of claimed children whose 別居監護申立書 was checked;
    ``filed_on``: the claim day when it differs from the day the case was received.
    """

    apart_statements: frozenset[int] = frozenset()
    filed_on: date | None = None


@dataclass(frozen=True)
class NewChild:
    """A child added by a 額改定請求 (increase), matched to the registry by 統合宛名番号."""

    atena_number: str
    lives_apart: bool = False
    apart_statement_filed: bool = False
    support_confirmation_filed: bool = False
    relationship: str = "子"


@dataclass(frozen=True)
class Removal:
    """A child leaving the count (decrease from the following month)."""

    child_id: str
    on: date
    died: bool = False


@dataclass(frozen=True)
class AmountChange:
    """額改定: children added (with the day of the 額改定請求) or removed."""

    filed_on: date
    add: Sequence[NewChild] = ()
    remove: Sequence[Removal] = ()
    birth: bool = False  # the added children were born (15日特例 from the birth)


class EndKind:
    MOVED_OUT = "moved_out"
    DIED = "died"
    CIVIL_SERVANT = "civil_servant"
    NO_CHILD = "no_child"  # no longer raising any child


END_KIND_LABELS = {
    EndKind.MOVED_OUT: "転出",
    EndKind.DIED: "受給者の死亡",
    EndKind.CIVIL_SERVANT: "公務員となったこと",
    EndKind.NO_CHILD: "児童を監護しなくなったこと",
}


@dataclass(frozen=True)
class EndRequest:
    kind: str
    on: date


@dataclass(frozen=True)
class Decision:
    outcome: str
    message_ja: str
    case_id: str | None = None
    recipient_id: str | None = None
    notice_id: str | None = None


@dataclass(frozen=True)
class CaseDetail:
    case: CaseRow
    form: dict[str, Any]
    attachments: list[dict[str, Any]]
    procedure_version: str
    procedure_id: str
    recipient: RecipientDetail | None
    notices: list[tuple[str, str]]  # (notice id, kind)


@dataclass(frozen=True)
class ChildRow:
    id: str
    atena_number: str
    name: str
    birth_date: date
    relationship: str
    lives_apart: bool
    support_confirmation_filed: bool
    active: bool
    left_care_on: date | None
    died_on: date | None


@dataclass(frozen=True)
class AmountRow:
    first: str  # 令和8年5月
    last: str
    amount: int
    lines: list[dict[str, Any]]


@dataclass(frozen=True)
class RecipientDetail:
    id: str
    recipient_number: str
    atena_number: str
    name: str
    name_kana: str
    address: str
    status: str
    start_month: str
    end_month: str | None
    end_reason: str | None
    paid_through: str | None
    public_fund_account: bool
    account: str | None
    children: list[ChildRow]
    amounts: list[AmountRow]
    versions: list[tuple[int, str, datetime, str]] = field(default_factory=list)
    notices: list[tuple[str, str, datetime]] = field(default_factory=list)


NOTICE_TITLES = {
    NoticeKind.CERTIFICATION: "児童手当 認定通知書",
    NoticeKind.AMOUNT_CHANGE: "児童手当 額改定通知書",
    NoticeKind.EXTINCTION: "児童手当 支給事由消滅通知書",
}
