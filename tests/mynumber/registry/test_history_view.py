"""The 変更内容 column of the person page's history (pure)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from jichitai.mynumber.registry.history_view import ItemChange, changes_by_version, item_changes, shown
from jichitai.mynumber.registry.service.queries import PersonRecord, VersionRecord

RECORD = PersonRecord(
    atena_number="000000000000018", juminhyo_code="12345678901", household_number="000000001",
    relationship="世帯主", name="LEE　SOOJIN", name_kana="イ　スジン", alias=None, alias_kana=None,
    birth_date=date(1990, 1, 1), sex="2", kind="外国人", became_resident_on=date(2024, 4, 1),
    address="東京都千代田区一番町1番地", address_note=None, address_since=date(2024, 4, 1),
    previous_address=None, address_before_move_in="韓国", honseki=None, hittosha=None,
    nationality="韓国", residence_status="留学", stay_expires_on=date(2025, 9, 30),
    residence_card_number="AB12345678CD", status="resident", removal_reason=None, removed_on=None,
    moved_out_to=None, move_out_confirmed=None, last_change="国外転入", last_change_on=date(2024, 4, 1),
    last_notified_on=date(2024, 4, 1),
)  # fmt: skip


def _version(record: PersonRecord, valid_from: date, valid_to: date | None) -> VersionRecord:
    return VersionRecord(record, valid_from, valid_to, datetime(2025, 1, 1, tzinfo=UTC), None, "c")


def test_each_version_lists_what_differs_from_the_one_before() -> None:
    extended = dataclasses.replace(
        RECORD,
        stay_expires_on=date(2027, 9, 30),
        residence_card_number="EF87654321GH",
        last_change="在留期間更新",
        last_change_on=date(2025, 5, 1),
    )
    named = dataclasses.replace(extended, alias="李　秀珍", last_change="通称記載")
    history = [
        _version(RECORD, date(2024, 4, 1), date(2025, 5, 1)),
        _version(extended, date(2025, 5, 1), date(2025, 6, 1)),
        _version(named, date(2025, 6, 1), None),
    ]
    assert changes_by_version(history) == [
        [],
        [
            ItemChange("在留期間満了日", "令和7年9月30日", "令和9年9月30日"),
            ItemChange("在留カード等番号", "AB12345678CD", "EF87654321GH"),
        ],
        [ItemChange("通称", "（なし）", "李　秀珍")],
    ]  # the 異動 itself (異動事由, 異動日) has its own column
    assert changes_by_version([]) == []


def test_values_are_shown_as_the_screen_prints_them() -> None:
    assert shown("sex", "1") == "男"
    assert shown("removed_on", None) == "（なし）"
    assert shown("address_note", "") == "（なし）"
    assert item_changes(RECORD, dataclasses.replace(RECORD, sex="1")) == [ItemChange("性別", "女", "男")]
    naturalized = dataclasses.replace(RECORD, kind="日本人", nationality=None, honseki="東京都千代田区1番")
    assert [c.label for c in item_changes(RECORD, naturalized)] == ["住民種別", "本籍", "国籍・地域"]
