"""Input of certificate issuance: the facts to print and the options of one request.

Plain dataclasses, independent of storage: the registry service loads a person or household and
hands these to the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class Sex(StrEnum):
    MALE = "男"
    FEMALE = "女"


class CertificateKind(StrEnum):
    JUMINHYO = "住民票の写し"
    JOHYO = "住民票の除票の写し"  # a removed record (転出, 死亡 …): per person only
    KISAI_JIKOU = "住民票記載事項証明書"  # certifies only the items asked for


class Layout(StrEnum):
    HOUSEHOLD = "世帯連記式"  # up to 4 people a sheet
    PERSON = "個人票"  # one person, A4 portrait


class OptionalItem(StrEnum):
    """Items printed only when requested and allowed (住民基本台帳法第12条第5項)."""

    HONSEKI = "本籍・筆頭者"
    RELATIONSHIP = "世帯主・続柄"
    INDIVIDUAL_NUMBER = "個人番号"
    RESIDENT_CODE = "住民票コード"
    FOREIGN_STATUS = "国籍・地域・在留資格等"  # foreign residents (法第30条の45)


class RequesterKind(StrEnum):
    """Who asks for the certificate, which bounds what may be printed."""

    SELF = "本人"
    SAME_HOUSEHOLD = "同一世帯員"
    PROXY = "代理人"  # with a power of attorney (委任状)
    PUBLIC_BODY = "国又は地方公共団体の機関"  # 法第12条の2
    LEGAL_PROFESSIONAL = "特定事務受任者"  # 弁護士等, 法第12条の3第3項
    THIRD_PARTY = "第三者"  # 法第12条の3第1項 (自己の権利行使等)


class CertifiedItem(StrEnum):
    """Items a 住民票記載事項証明書 can certify (only those asked for are printed)."""

    NAME = "氏名"
    BIRTH_DATE = "生年月日"
    SEX = "性別"
    ADDRESS = "住所"
    ADDRESS_SINCE = "住所を定めた日"
    BECAME_RESIDENT = "住民となった日"
    PREVIOUS_ADDRESS = "前住所"


@dataclass(frozen=True)
class ForeignResidentFacts:
    """Items of a foreign resident's record (外国人住民)."""

    nationality: str  # 国籍・地域
    category: str  # 法第30条の45に規定する区分 (中長期在住者, 特別永住者 …)
    residence_status: str = ""  # 在留資格
    period_of_stay: str = ""  # 在留期間 (e.g. 3年)
    period_ends_on: date | None = None  # 在留期間の満了の日
    card_number: str = ""  # 在留カード等の番号


@dataclass(frozen=True)
class ChangeNote:
    """The last recorded change (記載事由): what, on which day, notified when."""

    reason: str  # 転入, 転居, 出生 …
    occurred_on: date
    notified_on: date | None = None


@dataclass(frozen=True)
class Removal:
    """Why and when a record was removed (消除), for 住民票の除票."""

    reason: str  # 転出, 死亡, 国外転出, 職権消除 …
    removed_on: date
    destination: str = ""  # 転出先 (for a move out)


@dataclass(frozen=True)
class PersonFacts:
    """One person's record as it is to be certified."""

    name: str  # 氏名 (MJ characters and IVS allowed)
    kana: str  # フリガナ
    birth_date: date
    sex: Sex
    relationship: str  # 続柄 (世帯主, 妻, 子 …)
    became_resident_on: date  # 住民となった日
    address_since: date  # 住所を定めた日
    address: str
    resident_code: str  # 住民票コード (11 digits)
    individual_number: str  # 個人番号 (12 digits)
    household_head: str = ""  # 世帯主の氏名 (printed with 続柄 on a per-person certificate)
    previous_address: str = ""  # 前住所
    address_before_move_in: str = ""  # 転入前住所 (the standard's extra item)
    honseki: str = ""  # 本籍 (Japanese nationals)
    hittousha: str = ""  # 筆頭者
    foreign: ForeignResidentFacts | None = None
    alias: str = ""  # 通称 (a foreign resident's, 施行令第30条の26: a 記載事項, printed with the 氏名)
    alias_kana: str = ""  # 通称のフリガナ
    former_surname: str = ""  # 旧氏 (a Japanese resident's, 施行令第30条の13: printed with the 氏名)
    former_surname_kana: str = ""  # 旧氏の振り仮名
    last_change: ChangeNote | None = None
    removal: Removal | None = None


@dataclass(frozen=True)
class HouseholdFacts:
    """A household (世帯) as listed on a household certificate."""

    head_name: str  # 世帯主
    address: str
    members: tuple[PersonFacts, ...]


@dataclass(frozen=True)
class IssueOptions:
    """One issuance: what is asked, by whom, and what the sheet says about the issuer."""

    serial: str  # 証明書番号
    municipality_name: str  # 横浜市
    mayor_title: str  # 横浜市長
    mayor_name: str
    issue_date: date
    verify_base_url: str
    kind: CertificateKind = CertificateKind.JUMINHYO
    layout: Layout = Layout.PERSON
    requester: RequesterKind = RequesterKind.SELF
    requested_items: frozenset[OptionalItem] = field(default_factory=frozenset)
    # for 住民票記載事項証明書 only: which basic items to certify
    certified_items: frozenset[CertifiedItem] = field(default_factory=frozenset)
    # a proxy's request for 個人番号/住民票コード is served only by mail to the person's address
    deliver_to_registered_address: bool = False
