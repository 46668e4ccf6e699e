"""The changes (異動) the registry accepts, as plain requests, and what a change returns.

Every request carries the client's ``idempotency_key`` (the 受付番号 of the notification, say):
submitting the same request again returns the first result and changes nothing; a different
request under a used key is refused. ``event_date`` is the 異動日 (for a 転出, the 転出予定日),
``notified_on`` the 届出日 (None for ex-officio changes without a notification).
Persons already in the register are named by their 統合宛名番号.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class NewPerson:
    """A person entering the register (転入, 出生, 職権記載)."""

    name: str  # 氏名
    name_kana: str  # 氏名カナ
    birth_date: date
    sex: str  # 1 男 / 2 女
    relationship: str  # 続柄 to the 世帯主 (世帯主 for the head)
    kind: str = "日本人"  # 住民種別: 日本人 / 外国人
    juminhyo_code: str | None = None  # 住民票コード (from the 転出証明書; assigned when absent)
    individual_number: str | None = None  # 個人番号
    honseki: str | None = None  # 本籍
    hittosha: str | None = None  # 筆頭者
    nationality: str | None = None
    residence_status: str | None = None  # 在留資格
    stay_expires_on: date | None = None  # 在留期間満了日
    residence_card_number: str | None = None
    alias: str | None = None  # 通称
    alias_kana: str | None = None


@dataclass(frozen=True)
class ChangeRequest:
    idempotency_key: str
    event_date: date  # 異動日
    notified_on: date | None  # 届出日

    change_type = "change"

    def digest(self) -> str:
        """SHA-256 of the canonical request: the same change always has the same digest."""
        body = json.dumps(
            {"type": self.change_type, **asdict(self)}, ensure_ascii=False, sort_keys=True, default=_plain
        )
        return hashlib.sha256(body.encode()).hexdigest()


def _plain(value: object) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(type(value).__name__)


@dataclass(frozen=True)
class MoveIn(ChangeRequest):
    """転入届 (住基法第22条): from another municipality with the 転出証明書 data, or from abroad.

    Either a new household (one of ``persons`` is 世帯主) or joining ``household_number``.
    """

    persons: tuple[NewPerson, ...] = ()
    address: str = ""
    address_note: str | None = None  # 方書
    previous_address: str = ""  # 転入前住所 (from abroad: the country)
    from_abroad: bool = False
    household_number: str | None = None
    moved_out_expected_on: date | None = None  # 転出証明書の転出予定日

    change_type = "転入"


@dataclass(frozen=True)
class MoveWithin(ChangeRequest):
    """転居届 (第23条): a new address within the municipality.

    ``persons`` None moves the whole household. When only some move, they form a new household
    headed by ``new_head`` (with ``relationships`` to that head), and ``remaining_head`` heads what
    is left when the head moves away.
    """

    household_number: str = ""
    address: str = ""
    address_note: str | None = None
    persons: tuple[str, ...] | None = None
    new_head: str | None = None
    relationships: Mapping[str, str] = field(default_factory=dict)
    remaining_head: str | None = None
    remaining_relationships: Mapping[str, str] = field(default_factory=dict)

    change_type = "転居"


@dataclass(frozen=True)
class MoveOut(ChangeRequest):
    """転出届 (第24条): ``event_date`` is the 転出予定日; the record becomes a 除票 from that day.

    ``abroad`` records a 国外転出 (final at once); otherwise 転出確定 follows the 転入通知.
    """

    persons: tuple[str, ...] = ()
    destination: str = ""  # 転出先住所 (or country)
    abroad: bool = False
    remaining_head: str | None = None
    remaining_relationships: Mapping[str, str] = field(default_factory=dict)

    change_type = "転出"


@dataclass(frozen=True)
class ConfirmMoveOut(ChangeRequest):
    """転出確定: the new municipality's 転入通知 (施行令第11条) gives the actual move date."""

    atena_number: str = ""
    new_address: str | None = None  # 転入通知の住所
    # a 世帯主 who left before the 転出予定日, leaving behind members who all left later by the same
    # 転出 (so it named no new 世帯主): the one who was 世帯主 in between
    remaining_head: str | None = None

    change_type = "転出確定"


@dataclass(frozen=True)
class CancelMoveOut(ChangeRequest):
    """転出取消: a 転出 notified in advance that did not happen; the person stays a resident.

    ``event_date`` is the 転出予定日 being cancelled: from that day nothing the 転出 recorded holds.
    """

    atena_number: str = ""

    change_type = "転出取消"


@dataclass(frozen=True)
class SplitHousehold(ChangeRequest):
    """世帯分離: ``persons`` leave to form a new household at the same address."""

    household_number: str = ""
    persons: tuple[str, ...] = ()
    new_head: str = ""
    relationships: Mapping[str, str] = field(default_factory=dict)
    remaining_head: str | None = None
    remaining_relationships: Mapping[str, str] = field(default_factory=dict)

    change_type = "世帯分離"


@dataclass(frozen=True)
class MergeHouseholds(ChangeRequest):
    """世帯合併: every member of ``other_household_number`` joins ``household_number``."""

    household_number: str = ""
    other_household_number: str = ""
    relationships: Mapping[str, str] = field(default_factory=dict)  # required for each joining member

    change_type = "世帯合併"


@dataclass(frozen=True)
class ChangeHead(ChangeRequest):
    """世帯主変更: ``new_head`` becomes 世帯主; ``relationships`` restate the others' 続柄."""

    household_number: str = ""
    new_head: str = ""
    relationships: Mapping[str, str] = field(default_factory=dict)

    change_type = "世帯主変更"


@dataclass(frozen=True)
class NameChange(ChangeRequest):
    """氏名変更 (婚姻, 離婚, 養子縁組 … notified through 戸籍; a foreign resident's by the 法務大臣).

    A foreign resident's 通称 changes by :class:`AliasEntry` and :class:`AliasRemoval`.
    """

    atena_number: str = ""
    name: str = ""
    name_kana: str = ""
    reason: str = ""

    change_type = "氏名変更"


@dataclass(frozen=True)
class Birth(ChangeRequest):
    """出生 (notified through 戸籍): the child joins ``household_number``; event_date = birth date."""

    household_number: str = ""
    child: NewPerson | None = None

    change_type = "出生"


@dataclass(frozen=True)
class Death(ChangeRequest):
    """死亡: the record becomes a 除票; a dying head's household needs ``new_head`` unless it empties."""

    atena_number: str = ""
    new_head: str | None = None
    relationships: Mapping[str, str] = field(default_factory=dict)

    change_type = "死亡"


@dataclass(frozen=True)
class Correction(ChangeRequest):
    """職権修正: facts recorded wrongly are corrected from ``event_date`` on (第8条, 施行令第12条).

    ``fields`` maps a correctable item to its right value (dates as ``date``).
    """

    atena_number: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""

    change_type = "職権修正"


@dataclass(frozen=True)
class ExOfficioEntry(ChangeRequest):
    """職権記載: a person found living here without a notification is entered ex officio."""

    persons: tuple[NewPerson, ...] = ()
    address: str = ""
    address_note: str | None = None
    previous_address: str = ""
    household_number: str | None = None
    reason: str = ""

    change_type = "職権記載"


@dataclass(frozen=True)
class ExOfficioRemoval(ChangeRequest):
    """職権消除: a person no longer living here (実態調査) is removed ex officio."""

    atena_number: str = ""
    reason: str = ""
    new_head: str | None = None
    relationships: Mapping[str, str] = field(default_factory=dict)

    change_type = "職権消除"


@dataclass(frozen=True)
class ResidenceStatusChange(ChangeRequest):
    """在留資格変更: a foreign resident's new 在留資格 as the 法務大臣 notifies it (住基法第30条の50)
    or the resident shows it on a new 在留カード; ``event_date`` is the day it was permitted.

    ``stay_expires_on`` is the new 在留期間満了日 (None for a status without a period, 永住者 …).
    """

    atena_number: str = ""
    residence_status: str = ""
    stay_expires_on: date | None = None
    residence_card_number: str = ""  # the new card's 在留カード等番号

    change_type = "在留資格変更"


@dataclass(frozen=True)
class StayExtension(ChangeRequest):
    """在留期間更新: the same 在留資格 for a later 在留期間満了日, on a new 在留カード."""

    atena_number: str = ""
    stay_expires_on: date | None = None
    residence_card_number: str = ""

    change_type = "在留期間更新"


@dataclass(frozen=True)
class AliasEntry(ChangeRequest):
    """通称記載: the 通称 a foreign resident asks to have entered (申出, 施行令第30条の26)."""

    atena_number: str = ""
    alias: str = ""  # 通称
    alias_kana: str | None = None  # 通称カナ

    change_type = "通称記載"


@dataclass(frozen=True)
class AliasRemoval(ChangeRequest):
    """通称削除: the 通称 removed at the resident's 申出 (施行令第30条の26第5項); kept in the history."""

    atena_number: str = ""

    change_type = "通称削除"


@dataclass(frozen=True)
class FormerSurnameEntry(ChangeRequest):
    """旧氏記載: a Japanese resident's 旧氏 (a former surname in their 戸籍) entered at their 請求
    (住民基本台帳法施行令第30条の13), from the 異動日; printed with the 氏名 from then on."""

    atena_number: str = ""
    former_surname: str = ""  # 旧氏 (the 氏 only)
    former_surname_kana: str | None = None  # 旧氏の振り仮名

    change_type = "旧氏記載"


@dataclass(frozen=True)
class FormerSurnameRemoval(ChangeRequest):
    """旧氏削除: the 旧氏 removed at the resident's 請求 (施行令第30条の14); kept in the history."""

    atena_number: str = ""

    change_type = "旧氏削除"


@dataclass(frozen=True)
class Naturalization(ChangeRequest):
    """帰化: a foreign resident becomes a Japanese national (notified through 戸籍, 帰化届).

    The record turns Japanese from the 異動日 (the day of the 官報告示): the foreign items end, the
    new 本籍・筆頭者 begin, and the 氏名 is the one in the 戸籍 (``name`` empty keeps the 氏名, which
    must then be one a Japanese national may have). The person keeps the 統合宛名番号 and 住民票コード;
    the history keeps the foreign record before that day.
    """

    atena_number: str = ""
    honseki: str = ""  # 本籍
    hittosha: str = ""  # 筆頭者
    name: str = ""  # 氏名 in the 戸籍 (empty: unchanged)
    name_kana: str = ""

    change_type = "帰化"


@dataclass(frozen=True)
class NationalityAcquisition(Naturalization):
    """国籍取得 (国籍法第3条・第17条, the 国籍取得届): as :class:`Naturalization`, by notification."""

    change_type = "国籍取得"


@dataclass(frozen=True)
class NationalityLoss(ChangeRequest):
    """国籍喪失: a Japanese national who lost the nationality and still lives here becomes a foreign
    resident, 国籍喪失による経過滞在者 (up to 60 days, 入管法第22条の2) unless another status is given."""

    atena_number: str = ""
    nationality: str = ""  # 国籍・地域
    residence_status: str = "国籍喪失による経過滞在者"
    stay_expires_on: date | None = None
    residence_card_number: str | None = None

    change_type = "国籍喪失"


@dataclass(frozen=True)
class DomicileTransfer(ChangeRequest):
    """転籍: the 本籍 of a 戸籍 moves (戸籍法第108条, notified through 戸籍); its members who live
    here have the new 本籍 from the 異動日 (the day of the 転籍届).

    ``persons`` are the 統合宛名番号 of those members (one 戸籍: the same 本籍 and 筆頭者 now);
    ``hittosha`` is kept unless given.
    """

    persons: tuple[str, ...] = ()
    honseki: str = ""  # the new 本籍
    hittosha: str = ""

    change_type = "転籍"


@dataclass(frozen=True)
class ChangeResult:
    """What an accepted change did; the same value comes back when it is submitted again."""

    change_id: str
    change_type: str
    idempotency_key: str
    atena_numbers: tuple[str, ...]  # persons concerned, in order (new persons included)
    household_numbers: tuple[str, ...]  # households touched (new ones included)
    event_seqs: tuple[int, ...]
    replayed: bool = False  # True when this is the stored result of an earlier submission
    late_notification: bool = False  # 転入・転居届 after the 14-day period

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ChangeResult:
        data = json.loads(text)
        return cls(
            change_id=data["change_id"],
            change_type=data["change_type"],
            idempotency_key=data["idempotency_key"],
            atena_numbers=tuple(data["atena_numbers"]),
            household_numbers=tuple(data["household_numbers"]),
            event_seqs=tuple(data["event_seqs"]),
            replayed=bool(data["replayed"]),
            late_notification=bool(data.get("late_notification", False)),
        )
