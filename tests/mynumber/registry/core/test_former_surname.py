"""旧氏 (a Japanese resident's former surname): entered and removed at the resident's 請求, on both
backends, with its history, its event, the export read back by the import, the search by the
旧氏 with the 名, and every refusal with nothing half-applied."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from jichitai.mynumber.registry.events import EventType
from jichitai.mynumber.registry.service import (
    FormerSurnameEntry,
    FormerSurnameRemoval,
    NationalityLoss,
    RegistryService,
    SearchQuery,
)
from jichitai.platform.storage import Storage
from tests.conftest import ctx
from tests.mynumber.registry.core.support import (
    TODAY,
    exported_row,
    foreign_head,
    japanese_head,
    move_in_one,
    read_ctx,
    refusal,
    submit,
)

EVENTS = "registry.events.consume"


def _enter(svc: RegistryService, atena: str, on: date, former: str, kana: str | None = None) -> None:
    submit(
        svc, FormerSurnameEntry, on, on, atena_number=atena, former_surname=former, former_surname_kana=kana
    )


def _last_seq(svc: RegistryService) -> int:
    return max((e.seq for e in svc.events_since(ctx(EVENTS), 0, 1000)), default=0)


def test_a_former_surname_is_entered_and_removed_with_its_history(
    svc: RegistryService, reg_storage: Storage, tmp_path: Path
) -> None:
    atena = move_in_one(svc, japanese_head("山田　瑞穂", "ヤマダ　ミズホ"))
    last = _last_seq(svc)
    _enter(svc, atena, date(2024, 10, 1), " 鈴木 ", "ｽｽﾞｷ")  # typed with spaces and half-width kana
    record = svc.person(read_ctx(), atena)
    assert (record.former_surname, record.former_surname_kana, record.last_change) == (
        "鈴木",
        "スズキ",
        "旧氏記載",
    )
    assert svc.person_as_of(read_ctx(), atena, date(2024, 9, 30)).former_surname is None  # type: ignore[union-attr]

    reasons = refusal(svc, FormerSurnameEntry, TODAY, TODAY, atena_number=atena, former_surname="佐藤")
    assert any("既に旧氏（鈴木）が記載されています" in r for r in reasons), reasons

    submit(svc, FormerSurnameRemoval, date(2025, 2, 1), date(2025, 2, 1), atena_number=atena)
    record = svc.person(read_ctx(), atena)
    assert (record.former_surname, record.former_surname_kana, record.last_change) == (None, None, "旧氏削除")
    held = svc.person_as_of(read_ctx(), atena, date(2025, 1, 31))
    assert held is not None and held.former_surname == "鈴木"  # kept in the history
    reasons = refusal(svc, FormerSurnameRemoval, TODAY, TODAY, atena_number=atena)
    assert any("旧氏が記載されていません" in r for r in reasons), reasons

    _enter(svc, atena, date(2025, 3, 1), "佐藤", "サトウ")
    events = [e for e in svc.events_since(ctx(EVENTS), last, 100) if e.atena_number == atena]
    assert [(e.event_type, e.payload["kind"]) for e in events] == [
        (EventType.NAME_CHANGE, "旧氏記載"),
        (EventType.NAME_CHANGE, "旧氏削除"),
        (EventType.NAME_CHANGE, "旧氏記載"),
    ]
    assert events[1].payload["previous_former_surname"] == "鈴木"
    row = exported_row(reg_storage, atena, tmp_path / "export.csv")
    assert (row.change_reason, row.former_surname, row.former_surname_kana) == ("旧氏記載", "佐藤", "サトウ")


def test_what_a_former_surname_cannot_be(svc: RegistryService) -> None:
    atena = move_in_one(svc, japanese_head("高木　紗和", "タカギ　サワ"))

    def refused(former: str, kana: str | None = None) -> tuple[str, ...]:
        return refusal(
            svc, FormerSurnameEntry, TODAY, TODAY, atena_number=atena, former_surname=former,
            former_surname_kana=kana,
        )  # fmt: skip

    assert any("旧氏を入力" in r for r in refused("  "))
    assert any("旧氏は氏のみを記載してください" in r for r in refused("鈴木　紗和"))
    assert any("現在の氏と同じです" in r for r in refused("高木"))
    assert any("旧氏カナ" in r and "ひらがな" in r for r in refused("鈴木", "すずき"))
    assert any("旧氏 —" in r for r in refused("SUZUKI"))  # a 戸籍's 氏 has no latin letters
    assert svc.person(read_ctx(), atena).former_surname is None  # nothing half-applied

    foreign = move_in_one(svc, foreign_head("WANG　LEI", "ワン　レイ", "1", nationality="中国"))
    reasons = refusal(svc, FormerSurnameEntry, TODAY, TODAY, atena_number=foreign, former_surname="王")
    assert any("旧氏記載は日本人住民のみ" in r for r in reasons), reasons


def test_staff_find_a_resident_by_the_former_surname(svc: RegistryService) -> None:
    """People are known at work by their 旧氏: the 旧氏 with the 名 is searched like the 氏名."""
    atena = move_in_one(svc, japanese_head("蓮見　紬希", "ハスミ　ツムギ"))
    _enter(svc, atena, date(2024, 10, 1), "檜山", "ヒヤマ")
    for query in ("檜山　紬希", "ひやま　つむぎ", "檜山", "ヒヤマ"):
        hits = svc.search(read_ctx(), SearchQuery(name=query, birth_date=date(1970, 1, 1))).hits
        found = [(h.atena_number, h.by_other_name, h.former_surname) for h in hits]
        assert found == [(atena, True, "檜山")], query
    submit(svc, FormerSurnameRemoval, date(2025, 1, 1), date(2025, 1, 1), atena_number=atena)
    assert svc.search(read_ctx(), SearchQuery(name="檜山　紬希")).hits == ()


def test_a_resident_who_loses_japanese_nationality_has_no_former_surname(svc: RegistryService) -> None:
    atena = move_in_one(svc, japanese_head("森川　エマ", "モリカワ　エマ"))
    _enter(svc, atena, date(2024, 5, 1), "ブラウン", "ブラウン")
    submit(svc, NationalityLoss, date(2024, 9, 1), date(2024, 9, 2), atena_number=atena, nationality="カナダ",
           residence_status="国籍喪失による経過滞在者", stay_expires_on=None)  # fmt: skip
    record = svc.person(read_ctx(), atena)
    assert (record.kind, record.former_surname, record.former_surname_kana) == ("外国人", None, None)
    assert svc.person_as_of(read_ctx(), atena, date(2024, 8, 31)).former_surname == "ブラウン"  # type: ignore[union-attr]
