"""Import: every broken row refused with its line, column and reason; the rest searchable."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from jichitai.mynumber.atena.models import AtenaPerson
from jichitai.mynumber.registry.migration.importer import ImportOptions, import_file
from jichitai.mynumber.registry.migration.models import ImportJob
from jichitai.mynumber.registry.models import Change, Person, PersonVersion
from jichitai.mynumber.registry.service import MoveIn, NewPerson, RegistryService, SearchQuery
from jichitai.platform.errors import PermissionDenied, ValidationError
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from tests.conftest import add_demo_tenant, close_storage, ctx, make_settings, make_storage
from tests.mynumber.registry.migration.support import (
    ADDRESS,
    TODAY,
    household,
    my_number,
    read_report,
    row,
    run_import,
    write_rows,
)

NOW = datetime(2025, 6, 2, 3, 0, tzinfo=UTC)


def _registered_number(storage: Storage) -> str:
    """A 個人番号 already in the registry, recorded by the registry's own 転入."""
    number = my_number()
    RegistryService(storage, clock=lambda: NOW).submit(
        ctx("registry.change.record"),
        MoveIn(
            idempotency_key=number, event_date=date(2021, 4, 1), notified_on=date(2021, 4, 1),
            persons=(
                NewPerson(name="既存　一子", name_kana="キソン　カズコ", birth_date=date(1970, 1, 1), sex="2",
                          relationship="世帯主", individual_number=number),
            ),
            address=f"{ADDRESS}9999番地の{number[-4:]}", previous_address="大阪府大阪市北区梅田1-1-1",
        ),
    )  # fmt: skip
    return number


def _child(number: str, born: str, address: str, **values: str) -> dict[str, str]:
    """A child born into household ``number``."""
    day = date.fromisoformat(born)
    return row(
        世帯番号=number, 続柄="子", 住所=address, 生年月日=born, 住民となった年月日=born,
        住所を定めた年月日=born, 異動事由="出生", 異動日=born,
        届出日=date(day.year, day.month, day.day + 1).isoformat(), **values,
    )  # fmt: skip


def test_broken_rows_are_reported_and_the_rest_is_searchable(mig_storage: Storage, tmp_path: Path) -> None:
    in_db = _registered_number(mig_storage)
    ha, hb, hc = household(), household(), household()
    addr_a = f"{ADDRESS}1番地の{ha[-4:]}"
    head = row(世帯番号=ha, 氏名="取込　一郎", 氏名カナ="トリコミ　イチロウ", 住所=addr_a)
    rows = [
        head,  # 2
        row(世帯番号=ha, 続柄="妻", 氏名="取込　花子", 氏名カナ="トリコミ　ハナコ", 性別="2",
            世帯主氏名="取込　一郎", 住所=addr_a, 生年月日="1982-07-07"),  # 3
        row(生年月日="2023-02-30"),  # 4 bad date
        row(生年月日="1850-01-01", 住民となった年月日="1870-01-01", 住所を定めた年月日="1870-01-01"),  # 5 age
        row(氏名カナ="とりこみ　じろう"),  # 6 hiragana
        row(氏名="取込　三郎☺"),  # 7 a symbol
        row(世帯番号=hb, 続柄="妻", 性別="2", 住所=f"{ADDRESS}2番地の{hb[-4:]}"),  # 8 no 世帯主 in hb
        _child(hb, "2010-01-01", f"{ADDRESS}2番地の{hb[-4:]}"),  # 9
        row(個人番号=head["個人番号"]),  # 10 same 個人番号 as line 2
        row(個人番号=in_db),  # 11 個人番号 already registered
        row(住所="東京都港区芝公園4-2-8"),  # 12 outside the municipality
        row(世帯番号=hc, 氏名="別世　太郎", 住所=f"{ADDRESS}3番地の{hc[-4:]}"),  # 13
        _child(hc, "2012-05-05", f"{ADDRESS}3番地の{hc[-4:]}", 世帯主氏名="別人　次郎"),  # 14
        row(氏名="除票　四郎", 氏名カナ="ジョヒョウ　シロウ", 消除事由="死亡", 消除日="2020-01-01",
            異動事由="死亡", 異動日="2020-01-01"),  # 15 a 除票, accepted
        _child(ha, "2015-03-03", addr_a),  # 16 ha again, apart from its household
        row(国籍="ベトナム"),  # 17 nationality on a Japanese resident
        row(個人番号="123456789012"),  # 18 wrong check digit
    ]  # fmt: skip
    path = write_rows(tmp_path / "broken.csv", rows)
    summary = run_import(mig_storage, path, batch_size=100)

    assert summary.status == "done"
    assert (summary.rows_read, summary.rows_accepted, summary.rows_rejected) == (17, 3, 14)
    report = read_report(summary.errors_path)
    by_line: dict[int, list[tuple[str, str]]] = {}
    for line, column, reason in report:
        by_line.setdefault(line, []).append((column, reason))
    assert sorted(by_line) == [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18]
    assert by_line[4] == [("生年月日", "存在しない日付です: 「2023-02-30」")]
    assert by_line[5] == [("生年月日", "年齢が130歳を超えています: 1850-01-01")]
    assert by_line[6][0][0] == "氏名カナ" and "ひらがな" in by_line[6][0][1]
    assert by_line[7] == [("氏名", "絵文字・記号 「☺」(U+263A) は使用できません")]
    assert by_line[8] == [("続柄", f"世帯番号{hb}に世帯主がいません")]
    assert by_line[9] == [("", "同じ世帯の8行目に誤りがあるため、この行も取り込みません")]
    assert by_line[10] == [("個人番号", "個人番号が2行目と重複しています")]
    ((column, reason),) = by_line[11]
    assert column == "個人番号" and reason.startswith("この個人番号は既に統合宛名番号 ")
    assert by_line[12] == [("住所", "住所が東京都千代田区の区域外です: 「東京都港区芝公園4-2-8」")]
    assert by_line[13] == [("", "同じ世帯の14行目に誤りがあるため、この行も取り込みません")]
    assert by_line[14] == [("世帯主氏名", f"世帯番号{hc}の世帯主（13行目）の氏名と一致しません")]
    assert by_line[16] == [  # the detached part has no 世帯主 of its own either
        ("世帯番号", f"世帯番号{ha}の世帯員は連続した行に記載してください（2行目からの世帯と離れています）"),
        ("続柄", f"世帯番号{ha}に世帯主がいません"),
    ]
    assert by_line[17] == [("国籍", "日本人住民には記載できません")]
    assert by_line[18] == [("個人番号", "個人番号の検査用数字が一致しません")]

    svc = RegistryService(mig_storage, clock=lambda: NOW)
    read = ctx("registry.person.read")
    page = svc.search(read, SearchQuery(name="取込"))
    assert sorted(h.name for h in page.hits) == ["取込　一郎", "取込　花子"]
    by_kana = svc.search(read, SearchQuery(name="トリコミ　ハナコ"))
    assert [h.name for h in by_kana.hits] == ["取込　花子"]
    atena_no = next(h.atena_number for h in page.hits if h.name == "取込　一郎")
    record = svc.person(read, atena_no, with_individual_number=True)
    assert record.individual_number == head["個人番号"]  # encrypted with the registry's row binding
    assert record.household_number == ha and record.relationship == "世帯主"
    family = svc.household(read, ha)
    assert [m.name for m in family.members] == ["取込　一郎", "取込　花子"]
    assert svc.household_as_of(read, ha, date(2012, 1, 1)).head is not None
    removed = svc.search(read, SearchQuery(name="除票　四郎", include_removed=True)).hits
    assert [(h.status, h.removal_reason) for h in removed] == [("removed", "死亡")]
    history = svc.person_history(read, removed[0].atena_number)
    assert [(v.record.status, v.valid_from, v.valid_to) for v in history] == [
        ("resident", date(2010, 3, 15), date(2020, 1, 1)),
        ("removed", date(2020, 1, 1), None),
    ]
    with mig_storage.unit_of_work(ctx("registry.migration"), Zone.MYNUMBER) as uow:
        atena = uow.session.scalar(select(AtenaPerson).where(AtenaPerson.atena_number == atena_no))
        assert atena is not None and atena.kind == "resident"
        job = uow.session.get_one(ImportJob, summary.job_id)
        change = uow.session.scalar(select(Change).where(Change.idempotency_key.like(f"import:{job.id}:%")))
        assert change is not None and change.change_type == "移行"
        assert (
            uow.session.scalar(
                select(func.count()).select_from(PersonVersion).where(PersonVersion.change_id == change.id)
            )
            == 4
        )  # two residents and a 除票 (resident, then removed)


def test_same_file_again_does_nothing(mig_storage: Storage, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "one.csv", [row(氏名="再実行　一郎", 氏名カナ="サイジッコウ　イチロウ")])
    first = run_import(mig_storage, path)
    again = run_import(mig_storage, path)
    assert (first.rows_accepted, again.already_done, again.job_id) == (1, True, first.job_id)
    with mig_storage.unit_of_work(ctx("registry.migration"), Zone.MYNUMBER) as uow:
        n = uow.session.scalar(select(func.count()).select_from(Person).where(Person.name == "再実行　一郎"))
    assert n == 1


def test_gaiji_are_mapped_and_unmapped_ones_refused(mig_storage: Storage, tmp_path: Path) -> None:
    gaiji = tmp_path / "gaiji.csv"
    gaiji.write_text("legacy_code,mj_character\nU+E000,𠮷\nU+E010,U+845B U+E0100\n", encoding="utf-8")
    rows = [
        row(氏名="\ue000野　外字", 氏名カナ="ヨシノ　ガイジ"),  # 2 mapped to 𠮷
        row(氏名="\ue010城　外字", 氏名カナ="カツラギ　ガイジ"),  # 3 mapped to 葛 with its IVS
        row(氏名="\ue001野　外字", 氏名カナ="ヨシノ　ミトウロク"),  # 4 not in the map
    ]
    summary = run_import(mig_storage, write_rows(tmp_path / "gaiji-rows.csv", rows), gaiji=gaiji)
    assert (summary.rows_accepted, summary.rows_rejected) == (2, 1)
    assert read_report(summary.errors_path) == [(4, "氏名", "外字 U+E001 の対応が外字対応表にありません")]
    svc = RegistryService(mig_storage, clock=lambda: NOW)
    hits = svc.search(ctx("registry.person.read"), SearchQuery(name="吉野　外字")).hits
    assert [h.name for h in hits] == ["𠮷野　外字"]  # found through the variant key
    hits = svc.search(ctx("registry.person.read"), SearchQuery(name="葛城　外字")).hits
    assert [h.name for h in hits] == ["\u845b\U000e0100城　外字"]


def test_header_problems_refuse_the_whole_file(mig_storage: Storage, tmp_path: Path) -> None:
    path = tmp_path / "bad-header.csv"
    path.write_text("住民票コード,氏名,趣味\n12345678901,山田　太郎,釣り\n", encoding="utf-8")
    summary = run_import(mig_storage, path)
    assert summary.status == "failed" and summary.rows_accepted == 0
    report = read_report(summary.errors_path)
    assert (1, "趣味", "未知の列名です") in report
    assert (1, "生年月日", "必須の列がありません") in report


def test_non_utf8_file_is_refused_before_anything(mig_storage: Storage, tmp_path: Path) -> None:
    path = tmp_path / "sjis.csv"
    path.write_bytes("住民票コード\n".encode() + "山田".encode("shift_jis") + b"\n")
    with pytest.raises(ValidationError) as err:
        run_import(mig_storage, path)
    assert "2行目" in (err.value.message_ja or "")


def test_import_needs_the_migration_purpose(mig_storage: Storage, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "p.csv", [row()])
    with pytest.raises(PermissionDenied):
        import_file(mig_storage, ctx("registry.change.record"), path)


def test_jsonl_import(mig_storage: Storage, tmp_path: Path) -> None:
    import json

    path = tmp_path / "rows.jsonl"
    good = row(氏名="行形式　一郎", 氏名カナ="ギョウケイシキ　イチロウ")
    path.write_text(
        json.dumps(good, ensure_ascii=False) + "\n" + "{broken\n" + json.dumps({"趣味": "x"}) + "\n",
        encoding="utf-8",
    )
    summary = run_import(mig_storage, path)
    assert (summary.rows_read, summary.rows_accepted, summary.rows_rejected) == (3, 1, 2)
    lines = [line for line, _, _ in read_report(summary.errors_path)]
    assert lines == [2, 3]


def test_an_imported_alias_or_former_surname_is_searchable(mig_storage: Storage, tmp_path: Path) -> None:
    """The import writes the search keys of the other name (通称, 旧氏) as a change does."""
    foreign = row(
        住民種別="外国人", 氏名="CHOI MINSU", 氏名カナ="チェ　ミンス", 通称="松﨑　民秀",
        通称カナ="マツザキ　タミヒデ", 国籍="韓国", 在留資格="永住者", 在留カード等番号="AB12345678CD",
    )  # fmt: skip
    married = row(氏名="岩永　千尋", 氏名カナ="イワナガ　チヒロ", 旧氏="菱沼", 旧氏カナ="ヒシヌマ")
    summary = run_import(mig_storage, write_rows(tmp_path / "alias.csv", [foreign, row(), married]))
    assert (summary.rows_accepted, summary.rows_rejected) == (3, 0), read_report(summary.errors_path)
    svc = RegistryService(mig_storage, clock=lambda: NOW)
    read = ctx("registry.person.read")
    for query in ("松崎　民秀", "まつざき", "松﨑"):
        hits = svc.search(read, SearchQuery(name=query)).hits
        found = [(h.name, h.alias, h.by_other_name) for h in hits]
        assert found == [("CHOI　MINSU", "松﨑　民秀", True)], query
    assert svc.search(read, SearchQuery(name="チェ　ミンス")).hits[0].by_other_name is False
    for query in ("菱沼　千尋", "ひしぬま"):
        hits = svc.search(read, SearchQuery(name=query)).hits
        assert [(h.name, h.former_surname, h.by_other_name) for h in hits] == [("岩永　千尋", "菱沼", True)]
    atena = svc.search(read, SearchQuery(name="岩永　千尋")).hits[0].atena_number
    record = svc.person(read, atena)
    assert (record.former_surname, record.former_surname_kana) == ("菱沼", "ヒシヌマ")


def test_imported_dates_and_times_are_stored_as_the_orm_stores_them(
    mig_storage: Storage, tmp_path: Path
) -> None:
    """On SQLite, dates and timestamps are text: the bulk inserts of an import must write them in
    the ORM's format, so that imported rows and rows the registry wrote itself compare and sort
    alike (an aware timestamp through the driver's own adapter gained "+00:00")."""
    path = write_rows(tmp_path / "dates.csv", [row(氏名="日付　確認", 氏名カナ="ヒヅケ　カクニン")])
    assert run_import(mig_storage, path).rows_accepted == 1
    with mig_storage.unit_of_work(ctx("registry.person.read"), Zone.MYNUMBER) as uow:
        person = uow.session.scalars(select(Person).where(Person.name == "日付　確認")).one()
        raw = uow.session.execute(
            text(
                "SELECT CAST(updated_at AS TEXT), CAST(birth_date AS TEXT)"
                " FROM registry_persons WHERE id = :id"
            ),
            {"id": person.id},
        ).one()
    assert isinstance(person.updated_at, datetime) and isinstance(person.birth_date, date)
    if mig_storage.settings.backend == "sqlite":
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}", raw[0]), raw
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw[1]), raw
    assert raw[1] == person.birth_date.isoformat()


@pytest.mark.parametrize("workers", [0, 2])
def test_a_value_holding_the_packing_separator_is_refused_and_shifts_nothing(
    mig_storage: Storage, tmp_path: Path, workers: int
) -> None:
    """CSV records travel to the parsing workers packed into one string joined by U+001F; a record
    with that character inside a value goes as it is instead, so no column shifts, and the value is
    refused as the control character it is (not read as a space)."""
    good, odd, after = row(), row(氏名="山田\x1f太郎"), row()
    path = write_rows(tmp_path / f"sep{workers}.csv", [good, odd, after])
    summary = run_import(mig_storage, path, workers=workers)
    assert (summary.rows_read, summary.rows_accepted, summary.rows_rejected) == (3, 2, 1)
    assert read_report(summary.errors_path) == [(3, "氏名", "制御文字 (U+001F) は使用できません")]
    with mig_storage.unit_of_work(ctx("registry.person.read"), Zone.MYNUMBER) as uow:
        codes = set(uow.session.scalars(select(Person.juminhyo_code)))
    assert {good["住民票コード"], after["住民票コード"]} <= codes and odd["住民票コード"] not in codes


def test_reasons_quoting_unshowable_characters_are_stored_and_reported(
    mig_storage: Storage, tmp_path: Path
) -> None:
    """A reason quotes the refused value or column name. A NUL there (PostgreSQL text refuses it),
    a lone surrogate from a JSON escape (no UTF-8 form) or an over-long unknown key used to abort
    the whole import; each is written as its code point and the row is reported like any other."""
    import json

    good = row(氏名="表示　可能", 氏名カナ="ヒョウジ　カノウ")
    csv_path = write_rows(tmp_path / "nul.csv", [good, row(住民票コード="1234\x005678901"), row()])
    summary = run_import(mig_storage, csv_path)
    counts = (summary.status, summary.rows_read, summary.rows_accepted, summary.rows_rejected)
    assert counts == ("done", 3, 2, 1)
    assert read_report(summary.errors_path) == [
        (3, "住民票コード", "数字以外の文字が含まれています: 「1234U+00005678901」")
    ]

    long_key = "趣味" * 30 + "\x00"
    lines = [
        json.dumps(row(氏名="表示　二郎", 氏名カナ="ヒョウジ　ジロウ"), ensure_ascii=False),
        json.dumps({**row(), "性別": "\ud800"}),  # the escape stays in the file: valid JSON text
        json.dumps({long_key: "x"}, ensure_ascii=False),
    ]
    jsonl = tmp_path / "odd.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = run_import(mig_storage, jsonl)
    counts = (summary.status, summary.rows_read, summary.rows_accepted, summary.rows_rejected)
    assert counts == ("done", 3, 1, 2)
    report = read_report(summary.errors_path)
    assert report[0] == (2, "性別", "性別は 1（男）か 2（女）です: 「U+D800」")
    line, column, reason = report[1]
    assert (line, reason) == (3, "未知の項目名です")
    assert len(column) == 40 and column.startswith("趣味趣味") and column.endswith("…")

    # json.loads raises ValueError past int's 4,300 digits and RecursionError on deep nesting:
    # both used to abort the import instead of refusing their line
    deep = tmp_path / "deep.jsonl"
    good = json.dumps(row(氏名="表示　三郎", 氏名カナ="ヒョウジ　サブロウ"), ensure_ascii=False)
    deep.write_text(
        good + "\n" + '{"個人番号": ' + "9" * 5000 + "}\n" + "[" * 100_000 + "]" * 100_000 + "\n",
        encoding="utf-8",
    )
    summary = run_import(mig_storage, deep)
    counts = (summary.status, summary.rows_read, summary.rows_accepted, summary.rows_rejected)
    assert counts == ("done", 3, 1, 2)
    assert read_report(summary.errors_path) == [
        (2, "", "JSONとして読めません（桁数の多すぎる数値があります）"),
        (3, "", "JSONとして読めません（入れ子が深すぎます）"),
    ]


@pytest.mark.parametrize("workers", [0, 2])
def test_over_long_values_are_refused_alike_on_every_backend(
    mig_storage: Storage, tmp_path: Path, workers: int
) -> None:
    """PostgreSQL enforces the lengths of the search-key and 番地 columns and SQLite does not: a
    224-character reading used to abort the import on PostgreSQL only. The limits are now rules of
    the file format, so the row is refused with its reason on both."""
    given = "田畑"[min(workers, 1)] * 49  # a name of its own for each run (one installation)
    at_limit = row(氏名="山" * 50 + "　" + given, 氏名カナ="ヤ" * 50 + "　" + "タ" * 49)
    rows = [
        at_limit,
        row(氏名カナ="ナガ" * 110 + "　タロウ"),
        row(住所=f"{ADDRESS}" + "1-" * 30 + "1"),
        row(本籍="東京都" + "一" * 198, 筆頭者="移行　太郎"),
    ]
    path = write_rows(tmp_path / f"long{workers}.csv", rows)
    summary = run_import(mig_storage, path, workers=workers)
    counts = (summary.status, summary.rows_read, summary.rows_accepted, summary.rows_rejected)
    assert counts == ("done", 4, 1, 3)
    assert read_report(summary.errors_path) == [
        (3, "氏名カナ", "100文字以内で記載してください（224文字です）"),
        (4, "住所", "番地・住居表示は60文字以内で記載してください（61文字です）"),
        (5, "本籍", "200文字以内で記載してください（201文字です）"),
    ]
    page = RegistryService(mig_storage).search(
        ctx("registry.person.read"), SearchQuery(name=at_limit["氏名"])
    )
    assert [hit.name for hit in page.hits] == [at_limit["氏名"]]


def test_the_larger_sqlite_page_cache_of_a_batch_is_given_back(tmp_path: Path) -> None:
    """A batch on SQLite raises its connection's page cache (random keys of the unique indexes);
    the connection goes back to the pool with the cache it had."""
    storage = make_storage(make_settings(tmp_path / "home", "sqlite"))
    try:
        add_demo_tenant(storage)

        def cache_size() -> int:
            with storage.unit_of_work(ctx("registry.person.read"), Zone.MYNUMBER) as uow:
                return int(uow.session.execute(text("PRAGMA cache_size")).scalar_one())

        before = cache_size()
        seen: list[int] = []
        path = write_rows(tmp_path / "two.csv", [row(), row(), row()])
        summary = import_file(
            storage, ctx("registry.migration"), path, ImportOptions(today=TODAY, batch_size=1),
            progress=lambda p: seen.append(cache_size()),
        )  # fmt: skip
        assert summary.rows_accepted == 3 and summary.batches == 3
        assert before != -262144 and set(seen) == {before} and cache_size() == before
    finally:
        close_storage(storage)
