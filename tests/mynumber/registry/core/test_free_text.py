"""Free-text items (前住所, 転入前住所, 転出先住所, 本籍, 方書) and 国籍 as a clerk types them.

The register keeps them as the import normalizes the same columns, and refuses what the import
would refuse, so that what is entered here leaves by the exit path unchanged (the state machine
in ``test_change_sequences.py`` found full-width digits and kanji numerals coming back different).
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from jichitai.mynumber.registry.errors import RegistryRefusal
from jichitai.mynumber.registry.events import EventType
from jichitai.mynumber.registry.service import (
    ConfirmMoveOut,
    MoveOut,
    RegistryService,
)
from jichitai.platform.storage import Storage
from tests.conftest import ctx
from tests.mynumber.registry.core.support import (
    correct,
    exported_row,
    foreign_head,
    japanese_head,
    move_in_one,
    read_ctx,
    submit,
)

EVENTS = "registry.events.consume"


def test_free_text_is_kept_as_the_import_normalizes_it(
    svc: RegistryService, reg_storage: Storage, tmp_path: Path
) -> None:
    atena = move_in_one(
        svc,
        japanese_head(
            "本籍　一郎", "ホンセキ　イチロウ", honseki="東京都千代田区千代田１番", hittosha="本籍　一郎"
        ),
        previous_address="大阪府堺市堺区三国ヶ丘御幸通一丁目１番",
        address_note="Ａ棟　２０１号室",
    )
    record = svc.person(read_ctx(), atena)
    assert record.address_before_move_in == "大阪府堺市堺区三国ヶ丘御幸通1丁目1番"
    assert record.honseki == "東京都千代田区千代田1番"
    assert record.address_note == "A棟\u3000201号室"

    correct(
        svc,
        atena,
        date(2024, 4, 1),
        honseki="東京都千代田区丸の内二丁目３番",
        previous_address="大阪府堺市堺区２－２",
    )
    record = svc.person(read_ctx(), atena)
    assert record.honseki == "東京都千代田区丸の内2丁目3番"
    assert record.previous_address == "大阪府堺市堺区2-2"

    consumer = ctx(EVENTS)
    last = max((e.seq for e in svc.events_since(consumer, 0, 100_000)), default=0)
    submit(
        svc,
        MoveOut,
        date(2025, 5, 1),
        date(2025, 5, 1),
        persons=(atena,),
        destination="神奈川県横浜市中区本町１丁目１番",
    )
    assert svc.person(read_ctx(), atena).moved_out_to == "神奈川県横浜市中区本町1丁目1番"
    submit(
        svc,
        ConfirmMoveOut,
        date(2025, 5, 1),
        None,
        atena_number=atena,
        new_address="神奈川県横浜市中区本町二丁目２番",
    )
    record = svc.person(read_ctx(), atena)
    assert record.moved_out_to == "神奈川県横浜市中区本町2丁目2番"
    # consumers read the same text in the events
    moves = [e for e in svc.events_since(consumer, last, 100) if e.event_type is EventType.MOVE_OUT]
    assert [e.payload["destination"] for e in moves] == [
        "神奈川県横浜市中区本町1丁目1番",
        "神奈川県横浜市中区本町2丁目2番",
    ]

    # the exit path: the import reads back exactly what the register holds
    row = exported_row(reg_storage, atena, tmp_path / "export.csv")
    assert (row.honseki, row.previous_address, row.address_before_move_in, row.moved_out_to) == (
        record.honseki,
        record.previous_address,
        record.address_before_move_in,
        record.moved_out_to,
    )
    assert row.address_note == record.address_note


def test_free_text_with_a_control_character_is_refused(svc: RegistryService) -> None:
    with pytest.raises(RegistryRefusal) as exc:
        move_in_one(
            svc,
            japanese_head(
                "制御　文子", "セイギョ　フミコ", honseki="東京都千代田区\t千代田1番", hittosha="制御　文子"
            ),
            previous_address="大阪府堺市\n堺区1-1",
        )
    reasons = exc.value.reasons
    assert any("転入前住所に制御文字" in r for r in reasons), reasons
    assert any("本籍に制御文字" in r for r in reasons), reasons

    atena = move_in_one(svc, japanese_head("制御　次郎", "セイギョ　ジロウ"))
    with pytest.raises(RegistryRefusal) as exc:
        correct(svc, atena, date(2024, 4, 1), address_note="201\x07号室")
    assert any("方書に制御文字" in r for r in exc.value.reasons), exc.value.reasons
    assert svc.person(read_ctx(), atena).address_note is None  # nothing half-applied


def test_a_nationality_the_import_would_refuse_is_refused(svc: RegistryService) -> None:
    foreign = foreign_head("CHEN　MEI", "チェン　メイ", "2", nationality="中国（台湾）")
    with pytest.raises(RegistryRefusal) as exc:
        move_in_one(svc, foreign, previous_address="台湾", from_abroad=True)
    assert any("国籍・地域" in r and "「（」" in r for r in exc.value.reasons), exc.value.reasons
    atena = move_in_one(svc, dataclasses.replace(foreign, nationality="台湾"), previous_address="台湾")
    assert svc.person(read_ctx(), atena).nationality == "台湾"


def test_a_hittosha_or_alias_the_import_would_refuse_is_refused(svc: RegistryService) -> None:
    with pytest.raises(RegistryRefusal) as exc:
        move_in_one(
            svc,
            japanese_head(
                "筆頭　一郎", "ヒットウ　イチロウ", honseki="東京都千代田区1番", hittosha="HITTO　ICHIRO"
            ),
        )
    assert any("筆頭者" in r and "「H」" in r for r in exc.value.reasons), exc.value.reasons
    foreign = foreign_head(
        "SMITH　JOHN",
        "スミス　ジョン",
        "1",
        nationality="アメリカ合衆国",
        alias="山田　ジョン",
        alias_kana="やまだ　じょん",
    )
    with pytest.raises(RegistryRefusal) as exc:
        move_in_one(svc, foreign)
    assert any("通称カナ" in r for r in exc.value.reasons), exc.value.reasons
    atena = move_in_one(svc, dataclasses.replace(foreign, alias_kana="ヤマダ　ジョン"))
    record = svc.person(read_ctx(), atena)
    assert (record.alias, record.alias_kana) == ("山田　ジョン", "ヤマダ　ジョン")
    # 通称の削除 takes its reading with it: a reading alone is refused here as by the import
    with pytest.raises(RegistryRefusal) as exc:
        correct(svc, atena, date(2024, 4, 1), alias=None)
    assert any("通称のない通称カナ" in r for r in exc.value.reasons), exc.value.reasons
    correct(svc, atena, date(2024, 4, 1), alias=None, alias_kana=None)
    record = svc.person(read_ctx(), atena)
    assert (record.alias, record.alias_kana) == (None, None)
    # a Japanese resident has no 通称, nor its reading alone (found by the state machine)
    japanese = move_in_one(svc, japanese_head("通称　次郎", "ツウショウ　ジロウ"))
    with pytest.raises(RegistryRefusal) as exc:
        correct(svc, japanese, date(2024, 4, 1), alias_kana="ヤマダ　ジョン")
    assert any("通称は外国人住民のみ" in r for r in exc.value.reasons), exc.value.reasons
