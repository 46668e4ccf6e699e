"""Fictitious residents for previews, tests and the certificate benchmark (no real person)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from jichitai.mynumber.registry.certificates.model import (
    ChangeNote,
    ForeignResidentFacts,
    HouseholdFacts,
    IssueOptions,
    PersonFacts,
    Removal,
    Sex,
)

ADDRESS = "神奈川県横浜市中区港町一丁目1番地1　港町ハイツ101号室"


def sample_person(**changes: object) -> PersonFacts:
    person = PersonFacts(
        name="髙橋　一郎",
        kana="タカハシ　イチロウ",
        birth_date=date(1980, 5, 17),
        sex=Sex.MALE,
        relationship="世帯主",
        became_resident_on=date(1980, 5, 17),
        address_since=date(2015, 4, 1),
        address=ADDRESS,
        resident_code="12345678901",
        individual_number="123456789018",
        household_head="髙橋　一郎",
        previous_address="東京都千代田区霞が関二丁目1番2号",
        honseki="神奈川県横浜市中区日本大通1番地",
        hittousha="髙橋　一郎",
        last_change=ChangeNote("転居", date(2015, 4, 1), date(2015, 4, 6)),
    )
    return replace(person, **changes)  # type: ignore[arg-type]


def sample_household(size: int = 5) -> HouseholdFacts:
    head = sample_person()
    others = [
        sample_person(
            name="髙橋　花子"
            if i == 0
            else f"髙橋　{('次郎', '三郎', '四郎', '五郎', '六郎', '七郎', '八郎')[(i - 1) % 7]}",
            kana="タカハシ　ハナコ" if i == 0 else "タカハシ",
            birth_date=date(1982, 8, 3) if i == 0 else date(2008 + i, 1 + i, 10),
            sex=Sex.FEMALE if i == 0 else Sex.MALE,
            relationship="妻" if i == 0 else "子",
            individual_number=f"98765432{i:04d}",
            resident_code=f"9876543{i:04d}",
            became_resident_on=date(2015, 4, 1),
            hittousha="髙橋　一郎",
        )
        for i in range(size - 1)
    ]
    return HouseholdFacts(head_name=head.name, address=head.address, members=(head, *others))


def sample_foreign_person() -> PersonFacts:
    return sample_person(
        name="ＳＭＩＴＨ　ＪＯＨＮ",
        kana="スミス　ジョン",
        honseki="",
        hittousha="",
        foreign=ForeignResidentFacts(
            nationality="アメリカ合衆国",
            category="中長期在留者",
            residence_status="技術・人文知識・国際業務",
            period_of_stay="3年",
            period_ends_on=date(2027, 3, 31),
            card_number="AB12345678CD",
        ),
        alias="山田　ジョン",
        alias_kana="ヤマダ　ジョン",
    )


def sample_removed_person() -> PersonFacts:
    return sample_person(
        name="山﨑　𠮷男",
        kana="ヤマザキ　ヨシオ",
        household_head="山﨑　𠮷男",
        hittousha="山﨑　𠮷男",
        removal=Removal("転出", date(2025, 3, 20), "東京都新宿区西新宿二丁目8番1号"),
    )


def sample_options(**changes: object) -> IssueOptions:
    options = IssueOptions(
        serial="141003-2026-000001",
        municipality_name="横浜市",
        mayor_title="横浜市長",
        mayor_name="山田　太郎",
        issue_date=date(2026, 11, 26),
        verify_base_url="https://verify.example.lg.jp/c",
    )
    return replace(options, **changes)  # type: ignore[arg-type]
