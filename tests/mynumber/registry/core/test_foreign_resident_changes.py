"""A foreign resident's own changes: 在留資格変更, 在留期間更新, 通称記載, 通称削除; changes of
nationality (帰化, 国籍取得, 国籍喪失); and a Japanese resident's 転籍.

Each is recorded under its own 異動事由 (not as a 職権修正), emits a ``foreign_resident`` event,
keeps the earlier facts in the history, and leaves a record the import reads back the same.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from jichitai.mynumber.registry.errors import RegistryRefusal
from jichitai.mynumber.registry.events import EventType
from jichitai.mynumber.registry.service import (
    AliasEntry,
    AliasRemoval,
    ChangeRequest,
    Death,
    DomicileTransfer,
    MoveIn,
    NationalityAcquisition,
    NationalityLoss,
    Naturalization,
    NewPerson,
    RegistryService,
    ResidenceStatusChange,
    SearchQuery,
    StayExtension,
)
from jichitai.platform.storage import Storage
from tests.conftest import ctx
from tests.mynumber.registry.core.support import (
    TODAY,
    change_ctx,
    exported_row,
    foreign_head,
    japanese_head,
    key,
    move_in_one,
    read_ctx,
    refusal,
    submit,
)

EVENTS = "registry.events.consume"
CARD = "AB12345678CD"
NEW_CARD = "EF87654321GH"


def _student(svc: RegistryService, name: str = "NGUYEN　VAN AN", kana: str = "グエン　ヴァン　アン") -> str:
    """A student (留学) until 2025-09-30 moving in from abroad on 2024-04-01."""
    return move_in_one(
        svc,
        foreign_head(
            name,
            kana,
            "1",
            nationality="ベトナム",
            residence_status="留学",
            stay_expires_on=date(2025, 9, 30),
            residence_card_number=CARD,
        ),
        previous_address="ベトナム",
        from_abroad=True,
    )


def _refused(svc: RegistryService, request: ChangeRequest) -> tuple[str, ...]:
    with pytest.raises(RegistryRefusal) as exc:
        svc.submit(change_ctx(), request)
    return exc.value.reasons


def _extension(
    atena: str, until: date | None, card: str = NEW_CARD, on: date = date(2025, 5, 1)
) -> StayExtension:
    return StayExtension(
        idempotency_key=key(),
        event_date=on,
        notified_on=None,
        atena_number=atena,
        stay_expires_on=until,
        residence_card_number=card,
    )


def _status_change(
    atena: str, status: str, until: date | None, card: str = NEW_CARD, on: date = date(2025, 5, 1)
) -> ResidenceStatusChange:
    return ResidenceStatusChange(
        idempotency_key=key(),
        event_date=on,
        notified_on=None,
        atena_number=atena,
        residence_status=status,
        stay_expires_on=until,
        residence_card_number=card,
    )


def _last_seq(svc: RegistryService) -> int:
    return max((e.seq for e in svc.events_since(ctx(EVENTS), 0, 1000)), default=0)


def test_a_stay_extension_is_recorded_under_its_own_reason(
    svc: RegistryService, reg_storage: Storage, tmp_path: Path
) -> None:
    atena = _student(svc)
    last = _last_seq(svc)
    request = _extension(atena, date(2027, 9, 30))
    first = svc.submit(change_ctx(), request)
    again = svc.submit(change_ctx(), request)  # the same notice again changes nothing
    assert (again.replayed, again.change_id) == (True, first.change_id)

    record = svc.person(read_ctx(), atena)
    assert (record.residence_status, record.stay_expires_on, record.residence_card_number) == (
        "留学",
        date(2027, 9, 30),
        NEW_CARD,
    )
    assert (record.last_change, record.last_change_on, record.last_notified_on) == (
        "在留期間更新",
        date(2025, 5, 1),
        None,
    )
    # the history keeps the card and period that held until the day before
    before = svc.person_as_of(read_ctx(), atena, date(2025, 4, 30))
    assert before is not None
    assert (before.stay_expires_on, before.residence_card_number, before.last_change) == (
        date(2025, 9, 30),
        CARD,
        "国外転入",
    )
    events = [e for e in svc.events_since(ctx(EVENTS), last, 100) if e.atena_number == atena]
    assert [(e.event_type, e.payload["kind"]) for e in events] == [
        (EventType.FOREIGN_RESIDENT, "在留期間更新")
    ]
    assert events[0].payload["stay_expires_on"] == "2027-09-30"
    assert events[0].payload["previous_stay_expires_on"] == "2025-09-30"

    row = exported_row(reg_storage, atena, tmp_path / "export.csv")
    assert (row.change_reason, row.stay_expires_on, row.residence_card_number) == (
        "在留期間更新",
        date(2027, 9, 30),
        NEW_CARD,
    )


def test_a_stay_extension_that_does_not_extend_is_refused(svc: RegistryService) -> None:
    atena = _student(svc, "KIM　MINJI", "キム　ミンジ")
    versions = len(svc.person_history(read_ctx(), atena))
    reasons = _refused(svc, _extension(atena, date(2025, 9, 30)))
    assert any("現在の満了日（2025-09-30）より後ではありません" in r for r in reasons), reasons
    reasons = _refused(svc, _extension(atena, None))
    assert any("新しい在留期間満了日を入力" in r for r in reasons), reasons
    reasons = _refused(svc, _extension(atena, date(2027, 9, 30), card=""))
    assert any("新しい在留カード等番号" in r for r in reasons), reasons
    reasons = _refused(svc, _extension(atena, date(2027, 9, 30), card="12345"))
    assert any("在留カード等番号は英字2桁" in r for r in reasons), reasons
    reasons = _refused(svc, _extension(atena, date(2027, 9, 30), on=date(2024, 3, 1)))
    assert any("直前の異動日" in r for r in reasons), reasons
    reasons = _refused(svc, _extension(atena, date(2027, 9, 30), on=date(2025, 7, 1)))
    assert any("未来の日付" in r for r in reasons), reasons
    assert len(svc.person_history(read_ctx(), atena)) == versions  # nothing half-applied

    permanent = move_in_one(svc, foreign_head("LEE　SOOJIN", "イ　スジン", "2", nationality="韓国"))
    reasons = _refused(svc, _extension(permanent, date(2030, 1, 1)))
    assert any("永住者」には更新する在留期間がありません" in r for r in reasons), reasons


def test_only_a_foreign_resident_living_here_has_these_changes(svc: RegistryService) -> None:
    japanese = move_in_one(svc, japanese_head("日本　一郎", "ニホン　イチロウ"))
    reasons = _refused(svc, _extension(japanese, date(2030, 1, 1)))
    assert any("在留期間更新は外国人住民のみ記録できます" in r for r in reasons), reasons
    reasons = refusal(svc, AliasEntry, TODAY, TODAY, atena_number=japanese, alias="山")
    assert any("通称記載は外国人住民のみ" in r for r in reasons), reasons

    gone = _student(svc, "PHAM　THI LAN", "ファム　ティ　ラン")
    submit(svc, Death, date(2025, 1, 5), date(2025, 1, 6), atena_number=gone)
    reasons = _refused(svc, _extension(gone, date(2027, 9, 30)))
    assert any("除票（消除された住民）のため在留期間更新" in r for r in reasons), reasons


def test_a_status_change_replaces_status_period_and_card(
    svc: RegistryService, reg_storage: Storage, tmp_path: Path
) -> None:
    atena = _student(svc, "WANG　FANG", "ワン　ファン")
    svc.submit(
        change_ctx(),
        _status_change(atena, "技術・人文知識・国際業務", date(2030, 4, 30), on=date(2025, 3, 1)),
    )
    record = svc.person(read_ctx(), atena)
    assert (record.residence_status, record.stay_expires_on, record.last_change) == (
        "技術・人文知識・国際業務",
        date(2030, 4, 30),
        "在留資格変更",
    )
    # a status without a period: the old 満了日 ends with the old status
    svc.submit(change_ctx(), _status_change(atena, "永住者", None, card="IJ11112222KL", on=date(2025, 6, 1)))
    record = svc.person(read_ctx(), atena)
    assert (record.residence_status, record.stay_expires_on, record.residence_card_number) == (
        "永住者",
        None,
        "IJ11112222KL",
    )
    history = [
        (v.record.residence_status, v.record.last_change) for v in svc.person_history(read_ctx(), atena)
    ]
    assert history == [
        ("留学", "国外転入"),
        ("技術・人文知識・国際業務", "在留資格変更"),
        ("永住者", "在留資格変更"),
    ]
    row = exported_row(reg_storage, atena, tmp_path / "export.csv")
    assert (row.change_reason, row.residence_status, row.stay_expires_on) == ("在留資格変更", "永住者", None)


def test_a_status_change_the_rules_do_not_allow_is_refused(svc: RegistryService) -> None:
    atena = _student(svc, "ZHANG　WEI", "チャン　ウェイ")
    versions = len(svc.person_history(read_ctx(), atena))
    reasons = _refused(svc, _status_change(atena, "留学", date(2027, 3, 31)))
    assert any("在留資格が変わっていません（留学）" in r for r in reasons), reasons
    reasons = _refused(svc, _status_change(atena, "観光", date(2027, 3, 31)))
    assert any("在留資格「観光」は定められた区分にありません" in r for r in reasons), reasons
    reasons = _refused(svc, _status_change(atena, "家族滞在", None))
    assert any("在留資格「家族滞在」には在留期間満了日が必要です" in r for r in reasons), reasons
    reasons = _refused(svc, _status_change(atena, "永住者", date(2030, 1, 1)))
    assert any("在留資格「永住者」には在留期間満了日を記載できません" in r for r in reasons), reasons
    reasons = _refused(svc, _status_change(atena, "家族滞在", date(2025, 4, 30)))
    assert any("在留期間満了日が異動日より後ではありません" in r for r in reasons), reasons
    reasons = _refused(svc, _status_change(atena, "", date(2027, 3, 31)))
    assert any("新しい在留資格を入力" in r for r in reasons), reasons
    assert len(svc.person_history(read_ctx(), atena)) == versions
    assert svc.person(read_ctx(), atena).residence_status == "留学"


def _alias(atena: str, alias: str, kana: str | None, on: date) -> AliasEntry:
    return AliasEntry(
        idempotency_key=key(), event_date=on, notified_on=on, atena_number=atena, alias=alias, alias_kana=kana
    )


def test_an_alias_is_entered_and_removed_with_its_history(
    svc: RegistryService, reg_storage: Storage, tmp_path: Path
) -> None:
    atena = _student(svc, "PARK　JIHOON", "パク　ジフン")
    last = _last_seq(svc)
    # typed as a clerk may type it: half-width kana, a half-width space
    svc.submit(change_ctx(), _alias(atena, "朴 ｼﾞﾌﾝ", "ﾎﾞｸ ｼﾞﾌﾝ", date(2024, 10, 1)))
    record = svc.person(read_ctx(), atena)
    assert (record.alias, record.alias_kana, record.last_change) == ("朴　ジフン", "ボク　ジフン", "通称記載")
    assert record.last_notified_on == date(2024, 10, 1)

    reasons = _refused(svc, _alias(atena, "新井　次郎", "アライ　ジロウ", date(2025, 1, 1)))
    assert any("既に通称（朴　ジフン）が記載されています" in r for r in reasons), reasons

    submit(svc, AliasRemoval, date(2025, 2, 1), date(2025, 2, 1), atena_number=atena)
    record = svc.person(read_ctx(), atena)
    assert (record.alias, record.alias_kana, record.last_change) == (None, None, "通称削除")
    held = svc.person_as_of(read_ctx(), atena, date(2025, 1, 31))
    assert held is not None and held.alias == "朴　ジフン"  # 通称の履歴 (施行令第30条の27)

    reasons = refusal(svc, AliasRemoval, TODAY, TODAY, atena_number=atena)
    assert any("通称が記載されていません" in r for r in reasons), reasons
    svc.submit(change_ctx(), _alias(atena, "新井　次郎", "アライ　ジロウ", date(2025, 3, 1)))
    events = [e for e in svc.events_since(ctx(EVENTS), last, 100) if e.atena_number == atena]
    assert [(e.event_type, e.payload["kind"]) for e in events] == [
        (EventType.FOREIGN_RESIDENT, "通称記載"),
        (EventType.FOREIGN_RESIDENT, "通称削除"),
        (EventType.FOREIGN_RESIDENT, "通称記載"),
    ]
    assert events[1].payload["previous_alias"] == "朴　ジフン"
    row = exported_row(reg_storage, atena, tmp_path / "export.csv")
    assert (row.change_reason, row.alias, row.alias_kana) == ("通称記載", "新井　次郎", "アライ　ジロウ")


def test_an_alias_the_import_would_refuse_is_refused(svc: RegistryService) -> None:
    atena = _student(svc, "SINGH　ARJUN", "シン　アルジュン")
    reasons = _refused(svc, _alias(atena, "", None, date(2024, 10, 1)))
    assert any("通称を入力" in r for r in reasons), reasons
    reasons = _refused(svc, _alias(atena, "新井　次郎", "ARAI", date(2024, 10, 1)))
    assert any("通称カナ" in r for r in reasons), reasons
    reasons = _refused(svc, _alias(atena, "新井　次郎", "あらい　じろう", date(2024, 10, 1)))
    assert any("通称カナ" in r and "ひらがな" in r for r in reasons), reasons
    reasons = _refused(svc, _alias(atena, "新井　\U0001f600", None, date(2024, 10, 1)))
    assert any(r.startswith("SINGH　ARJUN: 通称 —") for r in reasons), reasons
    assert svc.person(read_ctx(), atena).alias is None


def test_a_naturalized_resident_becomes_japanese_from_that_day(
    svc: RegistryService, reg_storage: Storage, tmp_path: Path
) -> None:
    atena = _student(svc, "NGUYEN　THI　HOA", "グエン　ティ　ホア")
    submit(
        svc,
        AliasEntry,
        date(2024, 6, 1),
        date(2024, 6, 1),
        atena_number=atena,
        alias="中村　花",
        alias_kana="ナカムラ　ハナ",
    )
    before = svc.person(read_ctx(), atena)
    last = _last_seq(svc)
    # the 氏名 in the 戸籍 is required when the foreign 氏名 is in Latin letters, and 本籍・筆頭者 always
    reasons = refusal(svc, Naturalization, date(2025, 4, 1), date(2025, 4, 3), atena_number=atena)
    assert any("帰化後の本籍と筆頭者を入力" in r for r in reasons), reasons
    reasons = refusal(
        svc,
        Naturalization,
        date(2025, 4, 1),
        date(2025, 4, 3),
        atena_number=atena,
        honseki="東京都千代田区一番町１番",
        hittosha="中村　花",
    )
    assert any("氏名" in r and "「N」" in r for r in reasons), reasons
    assert svc.person_history(read_ctx(), atena)[-1].record == before  # nothing half-applied

    submit(
        svc,
        Naturalization,
        date(2025, 4, 1),
        date(2025, 4, 3),
        atena_number=atena,
        honseki="東京都千代田区一番町１番",
        hittosha="中村　花",
        name="中村　花",
        name_kana="ﾅｶﾑﾗ ﾊﾅ",
    )
    record = svc.person(read_ctx(), atena)
    assert (record.kind, record.name, record.name_kana, record.honseki, record.hittosha) == (
        "日本人",
        "中村　花",
        "ナカムラ　ハナ",
        "東京都千代田区一番町1番",
        "中村　花",
    )
    assert (record.nationality, record.residence_status, record.stay_expires_on, record.alias) == (None,) * 4
    assert (record.last_change, record.atena_number, record.juminhyo_code) == (
        "帰化",
        atena,
        before.juminhyo_code,
    )
    foreign = svc.person_as_of(read_ctx(), atena, date(2025, 3, 31))
    assert foreign is not None and (foreign.kind, foreign.nationality, foreign.alias) == (
        "外国人",
        "ベトナム",
        "中村　花",
    )
    assert svc.search(read_ctx(), SearchQuery(name="中村　花")).hits[0].atena_number == atena
    events = [e for e in svc.events_since(ctx(EVENTS), last, 100) if e.atena_number == atena]
    assert [(e.event_type, e.payload["kind"], e.payload["previous_nationality"]) for e in events] == [
        (EventType.FOREIGN_RESIDENT, "帰化", "ベトナム")
    ]
    row = exported_row(reg_storage, atena, tmp_path / "export.csv")
    assert (row.kind.value, row.change_reason, row.honseki, row.nationality) == (
        "日本人",
        "帰化",
        "東京都千代田区一番町1番",
        None,
    )

    # now Japanese: the foreign resident's changes are refused, 国籍喪失 is not
    reasons = _refused(svc, _extension(atena, date(2030, 1, 1), on=date(2025, 5, 1)))
    assert any("在留期間更新は外国人住民のみ記録できます" in r for r in reasons), reasons
    reasons = refusal(
        svc,
        NationalityAcquisition,
        date(2025, 5, 1),
        None,
        atena_number=atena,
        honseki="東京都千代田区一番町1番",
        hittosha="中村　花",
    )
    assert any("国籍取得は外国人住民のみ" in r for r in reasons), reasons


def test_a_kanji_name_is_kept_by_a_nationality_acquisition(svc: RegistryService) -> None:
    atena = move_in_one(svc, foreign_head("王　芳", "ワン　ファン", "2", nationality="中国"))
    submit(
        svc,
        NationalityAcquisition,
        date(2025, 1, 10),
        date(2025, 1, 10),
        atena_number=atena,
        honseki="東京都千代田区一番町2番",
        hittosha="王　芳",
    )
    record = svc.person(read_ctx(), atena)
    assert (record.kind, record.name, record.last_change, record.residence_status) == (
        "日本人",
        "王　芳",
        "国籍取得",
        None,
    )


def test_a_resident_who_lost_the_nationality_becomes_a_foreign_resident(
    svc: RegistryService, reg_storage: Storage, tmp_path: Path
) -> None:
    atena = move_in_one(
        svc, japanese_head("喪失　健", "ソウシツ　ケン", honseki="東京都千代田区1番", hittosha="喪失　健")
    )
    reasons = refusal(svc, NationalityLoss, date(2025, 3, 1), date(2025, 3, 5), atena_number=atena)
    assert any("国籍喪失後の国籍・地域を入力" in r for r in reasons), reasons
    reasons = refusal(
        svc,
        NationalityLoss,
        date(2025, 3, 1),
        None,
        atena_number=atena,
        nationality="アメリカ合衆国",
        stay_expires_on=date(2025, 4, 30),
    )
    assert any("国籍喪失による経過滞在者」には在留期間満了日を記載できません" in r for r in reasons), reasons

    submit(
        svc,
        NationalityLoss,
        date(2025, 3, 1),
        date(2025, 3, 5),
        atena_number=atena,
        nationality="アメリカ合衆国",
    )
    record = svc.person(read_ctx(), atena)
    assert (record.kind, record.nationality, record.residence_status, record.honseki, record.hittosha) == (
        "外国人",
        "アメリカ合衆国",
        "国籍喪失による経過滞在者",
        None,
        None,
    )
    assert record.last_change == "国籍喪失" and record.name == "喪失　健"
    row = exported_row(reg_storage, atena, tmp_path / "export.csv")
    assert (row.kind.value, row.change_reason, row.residence_status) == (
        "外国人",
        "国籍喪失",
        "国籍喪失による経過滞在者",
    )
    # a foreign resident now: a status follows by 在留資格変更
    submit(
        svc,
        ResidenceStatusChange,
        date(2025, 4, 20),
        None,
        atena_number=atena,
        residence_status="永住者",
        residence_card_number=NEW_CARD,
    )
    assert svc.person(read_ctx(), atena).residence_status == "永住者"


def test_a_domicile_transfer_moves_the_honseki_of_one_koseki(
    svc: RegistryService, reg_storage: Storage, tmp_path: Path
) -> None:
    """転籍: the members of one 戸籍 who live here have the new 本籍 from the day of the 転籍届."""
    koseki = {"honseki": "東京都千代田区一番町3番", "hittosha": "転籍　一郎"}
    head = move_in_one(svc, japanese_head("転籍　一郎", "テンセキ　イチロウ", **koseki))
    result = svc.submit(
        change_ctx(),
        MoveIn(
            idempotency_key=key(), event_date=date(2024, 4, 1), notified_on=date(2024, 4, 1),
            persons=(NewPerson(name="転籍　花子", name_kana="テンセキ　ハナコ", birth_date=date(1972, 2, 2),
                               sex="2", relationship="妻", **koseki),),
            address=svc.person(read_ctx(), head).address, previous_address="大阪府堺市堺区1-1",
            household_number=svc.person(read_ctx(), head).household_number,
        ),
    )  # fmt: skip
    wife = result.atena_numbers[0]
    other = move_in_one(
        svc, japanese_head("別籍　次郎", "ベッセキ　ジロウ", honseki="京都府京都市1番", hittosha="別籍　次郎")
    )
    no_koseki = move_in_one(svc, japanese_head("無籍　三郎", "ムセキ　サブロウ"))
    foreigner = _student(svc, "OKAFOR　EMEKA", "オカフォー　エメカ")

    on = date(2025, 2, 1)
    reasons = refusal(
        svc, DomicileTransfer, on, on, persons=(head, other), honseki="東京都港区芝公園四丁目２番"
    )
    assert any("本籍・筆頭者が一致しません" in r for r in reasons), reasons
    reasons = refusal(svc, DomicileTransfer, on, on, persons=(no_koseki,), honseki="東京都港区芝公園4丁目2番")
    assert any("本籍が記載されていません" in r for r in reasons), reasons
    reasons = refusal(svc, DomicileTransfer, on, on, persons=(foreigner,), honseki="東京都港区芝公園4丁目2番")
    assert any("転籍は日本人住民のみ記録できます" in r for r in reasons), reasons
    reasons = refusal(svc, DomicileTransfer, on, on, persons=(head, wife), honseki="東京都千代田区一番町３番")
    assert any("本籍が変わっていません" in r for r in reasons), reasons
    assert svc.person(read_ctx(), wife).honseki == "東京都千代田区一番町3番"  # nothing half-applied

    last = _last_seq(svc)
    submit(svc, DomicileTransfer, on, on, persons=(head, wife), honseki="東京都港区芝公園四丁目２番")
    for atena in (head, wife):
        record = svc.person(read_ctx(), atena)
        assert (record.honseki, record.hittosha, record.last_change) == (
            "東京都港区芝公園4丁目2番",
            "転籍　一郎",
            "転籍",
        )
        before = svc.person_as_of(read_ctx(), atena, date(2025, 1, 31))
        assert before is not None and before.honseki == "東京都千代田区一番町3番"
    events = [e for e in svc.events_since(ctx(EVENTS), last, 100) if e.atena_number in (head, wife)]
    assert [(e.event_type, e.payload["kind"]) for e in events] == [(EventType.CORRECTION, "転籍")] * 2
    row = exported_row(reg_storage, wife, tmp_path / "export.csv")
    assert (row.change_reason, row.honseki) == ("転籍", "東京都港区芝公園4丁目2番")
