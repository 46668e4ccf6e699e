"""The interchange file: row validation with line numbers, cross-row rules, reading and writing."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest

from jichitai.mynumber.registry.interchange import (
    COLUMN_NAMES,
    COLUMNS,
    HouseholdChecker,
    ParseContext,
    ResidentKind,
    ResidentRow,
    RowError,
    Sex,
    csv_rows,
    is_valid_my_number,
    is_valid_relationship,
    iter_csv,
    iter_jsonl,
    my_number_check_digit,
    parse_row,
    row_to_record,
    validate_households,
    write_csv,
    write_error_report,
    write_jsonl,
)
from jichitai.mynumber.registry.migration.parsing import PACK_SEP, packed_csv
from jichitai.mynumber.registry.names import GaijiMap

TODAY = date(2025, 4, 1)
CTX = ParseContext(
    today=TODAY,
    gaiji=GaijiMap.from_csv_text("U+E000,𠮷\n"),
    known_cities=("横浜市",),
    municipality_prefix="神奈川県横浜市",
)


def with_check_digit(first_eleven: str) -> str:
    return first_eleven + str(my_number_check_digit(first_eleven))


def japanese(**overrides: str) -> dict[str, str]:
    record = {
        "住民票コード": "12345678901",
        "個人番号": "123456789018",
        "世帯番号": "100",
        "続柄": "世帯主",
        "氏名": "髙橋　太郎",
        "氏名カナ": "ﾀｶﾊｼ ﾀﾛｳ",
        "生年月日": "1980-04-01",
        "性別": "1",
        "住民種別": "日本人",
        "住民となった年月日": "2000-01-01",
        "住所": "神奈川県横浜市中区本町一丁目２番３号",
        "方書": "サンハイツ１０１号室",
        "住所を定めた年月日": "2010-05-01",
        "本籍": "東京都千代田区千代田１番",
        "筆頭者": "髙橋　太郎",
        "異動事由": "転居",
        "異動日": "2010-05-01",
        "届出日": "2010-05-07",
    }
    record.update(overrides)
    return {k: v for k, v in record.items() if v != "<drop>"}


def foreign(**overrides: str) -> dict[str, str]:
    record = japanese(
        本籍="<drop>",
        筆頭者="<drop>",
        氏名="NGUYEN VAN AN",
        氏名カナ="グエン　ヴァン　アン",
        住民種別="外国人",
        国籍="ベトナム",
        在留資格="技術・人文知識・国際業務",
        在留期間満了日="2027-03-31",
        在留カード等番号="AB12345678CD",
    )
    record.update(overrides)
    return {k: v for k, v in record.items() if v != "<drop>"}


def parsed(record: dict[str, str], line: int = 2) -> ResidentRow:
    result = parse_row(record, line, CTX)
    assert isinstance(result, ResidentRow), result
    return result


def errors(record: dict[str, str], line: int = 2) -> list[RowError]:
    result = parse_row(record, line, CTX)
    assert isinstance(result, list), "expected the row to be refused"
    return result


# --- 個人番号 and code lists ---------------------------------------------------------------------


def test_my_number_check_digit() -> None:
    assert my_number_check_digit("12345678901") == 8
    assert is_valid_my_number("123456789018")
    assert sum(is_valid_my_number(f"12345678901{d}") for d in range(10)) == 1
    assert not is_valid_my_number("１２３４５６７８９０１８")  # full-width digits are not accepted
    assert not is_valid_my_number("12345678901")
    # remainders 0 and 1 both give check digit 0
    bodies = [f"{n:011d}" for n in range(200)]
    assert {my_number_check_digit(b) for b in bodies} <= set(range(10))
    with pytest.raises(ValueError):
        my_number_check_digit("1234")


@pytest.mark.parametrize(
    "value", ["世帯主", "妻", "子", "妻の子", "子の妻", "孫の子", "同居人", "縁故者", "妻（未届）"]
)
def test_valid_relationships(value: str) -> None:
    assert is_valid_relationship(value)


@pytest.mark.parametrize("value", ["", "友人", "世帯主の妻", "妻の", "の子", "子の子の子の子の子"])
def test_invalid_relationships(value: str) -> None:
    assert not is_valid_relationship(value)


# --- one row -------------------------------------------------------------------------------------


def test_valid_row_is_normalized() -> None:
    row = parsed(japanese())
    assert row.line == 2
    assert row.name == "髙橋　太郎"  # the registered variant kanji is kept
    assert row.name_kana == "タカハシ　タロウ"
    assert row.birth_date == date(1980, 4, 1)
    assert row.sex is Sex.MALE
    assert row.kind is ResidentKind.JAPANESE
    assert row.address.city == "横浜市中区"
    assert row.address.chome == 1
    assert row.address.block == "2-3"
    assert row.address_note == "サンハイツ101号室"
    assert row.honseki == "東京都千代田区千代田1番"
    assert row.age_on(TODAY) == 45
    assert not row.is_removed
    assert row.is_head


def test_alternative_date_and_sex_forms() -> None:
    row = parsed(japanese(生年月日="19800401", 住民となった年月日="平成12年1月1日", 性別="男"))
    assert row.birth_date == date(1980, 4, 1)
    assert row.became_resident_on == date(2000, 1, 1)
    assert row.sex is Sex.MALE


def test_gaiji_in_names_is_mapped() -> None:
    row = parsed(japanese(氏名="\ue000田　花子", 筆頭者="\ue000田　一郎"))
    assert row.name == "𠮷田　花子"
    assert row.hittosha == "𠮷田　一郎"


def test_foreign_resident() -> None:
    row = parsed(foreign(通称="中村　安", 通称カナ="ナカムラ　ヤス"))
    assert row.kind is ResidentKind.FOREIGN
    assert row.name == "NGUYEN　VAN　AN"
    assert row.stay_expires_on == date(2027, 3, 31)
    assert row.alias == "中村　安"


def test_a_former_surname_of_a_japanese_resident() -> None:
    row = parsed(japanese(旧氏="渡邊", 旧氏カナ="ﾜﾀﾅﾍﾞ"))
    assert (row.former_surname, row.former_surname_kana) == ("渡邊", "ワタナベ")  # the variant kept
    assert parsed(japanese()).former_surname is None


@pytest.mark.parametrize(
    ("record", "column", "fragment"),
    [
        (japanese(旧氏="鈴木　花子"), "旧氏", "氏のみ"),
        (japanese(旧氏カナ="スズキ"), "旧氏カナ", "旧氏のない"),
        (japanese(旧氏="SUZUKI"), "旧氏", "「S」"),
        (japanese(旧氏="鈴木", 旧氏カナ="すずき"), "旧氏カナ", "ひらがな"),
        (foreign(旧氏="中村"), "旧氏", "日本人住民のみ"),
    ],
)
def test_former_surname_rules(record: dict[str, str], column: str, fragment: str) -> None:
    found = errors(record, line=8)
    assert [e for e in found if e.column == column and fragment in e.reason_ja], found


def test_permanent_resident_needs_no_period() -> None:
    row = parsed(foreign(在留資格="特別永住者", 在留期間満了日=""))
    assert row.stay_expires_on is None


@pytest.mark.parametrize(
    ("overrides", "column", "fragment"),
    [
        ({"生年月日": "1980-02-30"}, "生年月日", "存在しない日付"),
        ({"生年月日": "1980/13/01"}, "生年月日", "存在しない日付"),
        ({"生年月日": "昭和55年"}, "生年月日", "和暦"),
        ({"生年月日": "April 1"}, "生年月日", "形式"),
        ({"生年月日": "2026-01-01"}, "生年月日", "未来"),
        ({"生年月日": "1890-01-01"}, "生年月日", "130歳"),
        ({"生年月日": ""}, "生年月日", "必須"),
        ({"氏名カナ": "たかはし"}, "氏名カナ", "ひらがな"),
        ({"氏名カナ": "TAKAHASHI"}, "氏名カナ", "カタカナ以外"),
        ({"氏名": "髙橋😀"}, "氏名", "絵文字"),
        ({"氏名": "髙橋\x00太郎"}, "氏名", "制御文字"),
        ({"氏名": "髙橋\t太郎"}, "氏名", "制御文字 (U+0009)"),  # white space to Python, not a 全角空白
        ({"世帯主氏名": "髙橋\x1f太郎"}, "世帯主氏名", "制御文字 (U+001F)"),
        ({"氏名": "TAKAHASHI TARO"}, "氏名", "使用できない文字"),  # latin only for foreign residents
        ({"氏名": "髙橋\ue001"}, "氏名", "U+E001"),
        ({"個人番号": "123456789012"}, "個人番号", "検査用数字"),
        ({"個人番号": "12345678901"}, "個人番号", "12桁"),
        ({"個人番号": "12345678901a"}, "個人番号", "数字以外"),
        ({"住民票コード": "1234567890"}, "住民票コード", "11桁"),
        ({"性別": "3"}, "性別", "1（男）か 2（女）"),
        ({"続柄": "友人"}, "続柄", "続柄"),
        ({"住民種別": "その他"}, "住民種別", "日本人"),
        ({"住民となった年月日": "1970-01-01"}, "住民となった年月日", "生年月日"),
        ({"住民となった年月日": "2025-05-01"}, "住民となった年月日", "未来"),
        ({"住所を定めた年月日": "1999-01-01"}, "住所を定めた年月日", "住民となった年月日より前"),
        ({"届出日": "2025-12-01"}, "届出日", "未来"),
        ({"住所": "東京都千代田区一番町5"}, "住所", "区域外"),
        ({"住所": "本町1-2-3"}, "住所", "都道府県"),
        ({"住所": "神奈川県横浜市中区本町\x07"}, "住所", "制御文字"),
        ({"異動事由": "引越し"}, "異動事由", "異動事由"),
        ({"異動日": ""}, "異動日", "異動事由があるとき"),
        ({"消除日": "2024-01-01"}, "消除事由", "消除日があるとき"),
        ({"消除事由": "転出"}, "消除日", "消除事由があるとき"),
        ({"筆頭者": ""}, "筆頭者", "本籍"),
        ({"国籍": "中国"}, "国籍", "日本人住民"),
        ({"通称": "山田　一"}, "通称", "外国人住民のみ"),
        ({"異動事由": "出生", "異動日": "1980-04-02"}, "異動日", "出生"),
    ],
)
def test_bad_input_is_refused_with_column_and_line(
    overrides: dict[str, str], column: str, fragment: str
) -> None:
    found = errors(japanese(**overrides), line=17)
    assert all(e.line == 17 for e in found)
    matching = [e for e in found if e.column == column and fragment in e.reason_ja]
    assert matching, found


@pytest.mark.parametrize(
    ("overrides", "column", "fragment"),
    [
        ({"国籍": ""}, "国籍", "必須"),
        ({"在留資格": ""}, "在留資格", "必須"),
        ({"在留資格": "観光"}, "在留資格", "認められない"),
        ({"在留期間満了日": ""}, "在留期間満了日", "必要"),
        ({"在留カード等番号": "12345"}, "在留カード等番号", "英字2桁"),
        ({"本籍": "東京都千代田区千代田1番"}, "本籍", "外国人住民には"),
        ({"在留期間満了日": "1980-01-01"}, "在留期間満了日", "生年月日より前"),
        ({"通称カナ": "ナカムラ　ヤス"}, "通称カナ", "通称のない"),
    ],
)
def test_foreign_resident_rules(overrides: dict[str, str], column: str, fragment: str) -> None:
    found = errors(foreign(**overrides), line=5)
    assert [e for e in found if e.column == column and fragment in e.reason_ja], found


def test_all_problems_of_a_row_are_reported() -> None:
    found = errors(japanese(生年月日="2030-01-01", 性別="9", 氏名カナ="たろう", 住民票コード="1"), line=9)
    assert {e.column for e in found} >= {"生年月日", "性別", "氏名カナ", "住民票コード"}
    assert str(found[0]).startswith("9行目 ")


def test_move_out_may_be_dated_ahead() -> None:
    row = parsed(japanese(消除事由="転出", 消除日="2025-04-20", 異動事由="転出", 異動日="2025-04-20"))
    assert row.is_removed
    bad = errors(japanese(消除事由="死亡", 消除日="2025-04-20", 異動事由="死亡", 異動日="2025-04-20"))
    assert any(e.column == "消除日" and "未来" in e.reason_ja for e in bad)


AHEAD = {"異動事由": "世帯主変更", "異動日": "2025-04-20", "異動前続柄": "妻"}
# a 転出 pending on that day (転出予定日 = 消除日)
LEAVING = {"消除事由": "転出", "消除日": "2025-04-20", "異動事由": "転出", "異動日": "2025-04-20",
           "転出先住所": "大阪府大阪市北区梅田3-1-1"}  # fmt: skip


def test_a_new_head_from_a_pending_move_out_is_dated_ahead_with_the_relationship_before() -> None:
    row = parsed(japanese(**AHEAD))
    assert (row.relationship, row.relationship_before, row.change_date) == ("世帯主", "妻", date(2025, 4, 20))
    assert (
        parsed(
            japanese(続柄="夫の子", 異動事由="続柄変更", 異動日="2025-04-20", 異動前続柄="子")
        ).relationship_before
        == "子"
    )


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({**AHEAD, "異動前続柄": ""}, "異動前続柄（その前日までの続柄）が必要"),
        ({**AHEAD, "異動前続柄": "友人"}, "続柄として認められない"),
        ({**AHEAD, "異動前続柄": "世帯主"}, "世帯主は記載できません"),
        ({**AHEAD, "異動日": "2025-03-20"}, "異動前続柄は、異動日が未来の"),
        ({**AHEAD, "異動事由": "転居"}, "異動前続柄は、異動日が未来の"),
        ({"異動前続柄": "妻"}, "異動前続柄は、異動日が未来の"),
        ({**AHEAD, "消除事由": "転出", "消除日": "2025-04-25"}, "除票には記載できません"),
    ],
)
def test_relationship_before_is_only_for_a_change_ahead(overrides: dict[str, str], fragment: str) -> None:
    found = errors(japanese(**overrides))
    assert [e for e in found if e.column == "異動前続柄" and fragment in e.reason_ja], found


GONE = {"消除事由": "転出", "消除日": "2025-03-20", "異動事由": "転出", "異動日": "2025-03-20"}
PENDING = {**GONE, "消除日": "2025-04-20", "異動日": "2025-04-20"}  # 転出予定日 ahead


def test_move_out_confirmation_is_as_stated_or_by_its_date() -> None:
    assert parsed(japanese(**GONE, 転出確定="未確定")).move_out_confirmed is False
    assert parsed(japanese(**GONE, 転出確定="確定")).move_out_confirmed is True
    assert parsed(japanese(**GONE)).move_out_confirmed is None  # the import decides by the date
    assert parsed(japanese(**PENDING, 転出確定="未確定")).move_out_confirmed is False


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({**GONE, "転出確定": "済"}, "「確定」か「未確定」です: 「済」"),
        ({**GONE, "転出確定": "1"}, "「確定」か「未確定」です"),
        ({**GONE, "消除事由": "死亡", "異動事由": "死亡", "転出確定": "確定"}, "消除事由が転出のとき"),
        ({"転出確定": "未確定"}, "消除事由が転出のとき"),
        ({**PENDING, "転出確定": "確定"}, "未来の転出は確定できません"),
    ],
)  # fmt: skip
def test_move_out_confirmation_is_only_for_a_move_out(overrides: dict[str, str], fragment: str) -> None:
    found = errors(japanese(**overrides))
    assert [e for e in found if e.column == "転出確定" and fragment in e.reason_ja], found


def test_removed_record_may_have_an_address_outside_after_leaving() -> None:
    # A 除票 keeps its last address; the municipality check applies to current residents only.
    row = parsed(japanese(住所="東京都新宿区西新宿2-8-1", 消除事由="転出", 消除日="2024-03-31"))
    assert row.removed_on == date(2024, 3, 31)


# --- cross-row rules -----------------------------------------------------------------------------


def household(*members: dict[str, str]) -> list[ResidentRow]:
    return [parsed(m, line=i + 2) for i, m in enumerate(members)]


def member(code: str, relationship: str, **overrides: str) -> dict[str, str]:
    number = with_check_digit(f"{int(code):011d}")
    return japanese(住民票コード=code, 個人番号=number, 続柄=relationship, **overrides)


def test_valid_household_has_no_errors() -> None:
    rows = household(
        member("10000000001", "世帯主"),
        member("10000000002", "妻", 氏名="髙橋　花子", 性別="2", 世帯主氏名="髙橋 太郎"),
        member("10000000003", "子", 氏名="髙橋　一", 生年月日="2012-01-01", 住民となった年月日="2012-01-01",
               住所を定めた年月日="2012-01-01", 異動事由="出生", 異動日="2012-01-01", 届出日="2012-01-05"),
    )  # fmt: skip
    assert validate_households(rows) == []


def test_household_without_head() -> None:
    rows = household(member("10000000001", "妻"), member("10000000002", "子"))
    found = validate_households(rows)
    assert [(e.line, e.column) for e in found] == [(2, "続柄")]
    assert "世帯主がいません" in found[0].reason_ja


def test_household_with_two_heads() -> None:
    rows = household(
        member("10000000001", "世帯主"), member("10000000002", "妻"), member("10000000003", "世帯主")
    )
    found = validate_households(rows)
    assert [(e.line, e.column) for e in found] == [(4, "続柄")]
    assert "2行目" in found[0].reason_ja


def test_removed_head_does_not_count() -> None:
    rows = household(
        member(
            "10000000001",
            "世帯主",
            消除事由="死亡",
            消除日="2024-01-01",
            異動事由="死亡",
            異動日="2024-01-01",
        ),
        member("10000000002", "世帯主"),
    )
    assert validate_households(rows) == []


def test_a_change_ahead_falls_on_the_day_the_head_leaves() -> None:
    wife = {"氏名": "髙橋　花子", "性別": "2", **AHEAD}
    rows = household(member("10000000001", "世帯主", **LEAVING), member("10000000002", "世帯主", **wife))
    assert validate_households(rows) == []
    elsewhere = household(
        member("10000000001", "世帯主", **{**LEAVING, "消除日": "2025-04-21", "異動日": "2025-04-21"}),
        member("10000000002", "世帯主", **wife),
    )
    found = validate_households(elsewhere)
    assert [(e.line, e.column) for e in found] == [(3, "異動日")]
    assert "世帯主の転出予定日（消除日）と一致しません" in found[0].reason_ja
    alone = household(member("10000000002", "世帯主", **wife))
    assert [(e.line, e.column) for e in validate_households(alone)] == [(2, "異動日")]


def test_a_restated_relationship_ahead_falls_on_the_day_any_member_leaves() -> None:
    """A 続柄変更 ahead may come with anyone's 転出; a 世帯主変更 ahead only with the 世帯主's."""
    restated = {"異動事由": "続柄変更", "異動日": "2025-04-20", "異動前続柄": "子"}
    rows = household(
        member("10000000001", "世帯主"),
        member("10000000002", "妻", 氏名="髙橋　花子", 性別="2", **LEAVING),
        member("10000000003", "夫の子", 氏名="髙橋　一郎", **restated),
    )
    assert validate_households(rows) == []
    other_day = household(
        member("10000000001", "世帯主"),
        member("10000000002", "妻", 氏名="髙橋　花子", 性別="2", **LEAVING),
        member("10000000003", "夫の子", 氏名="髙橋　一郎", **{**restated, "異動日": "2025-04-21"}),
    )
    found = validate_households(other_day)
    assert [(e.line, e.column) for e in found] == [(4, "異動日")]
    assert "世帯員の転出予定日（消除日）と一致しません" in found[0].reason_ja
    new_head_on_her_day = household(
        member("10000000001", "妻", 氏名="髙橋　花子", 性別="2", **LEAVING),
        member("10000000002", "世帯主", 氏名="髙橋　一郎", **AHEAD),
    )
    found = validate_households(new_head_on_her_day)
    assert [(e.line, e.column) for e in found] == [(3, "異動日")]
    assert "世帯主の転出予定日（消除日）と一致しません" in found[0].reason_ja


def test_head_name_reference_and_address_must_agree() -> None:
    rows = household(
        member("10000000001", "世帯主"),
        member("10000000002", "妻", 世帯主氏名="高橋　次郎"),
        member("10000000003", "子", 住所="神奈川県横浜市中区本町1丁目2番4号"),
    )
    found = validate_households(rows)
    assert [(e.line, e.column) for e in found] == [(3, "世帯主氏名"), (4, "住所")]


def test_duplicate_numbers_across_rows() -> None:
    rows = household(member("10000000001", "世帯主"), member("10000000001", "子", 世帯番号="200"))
    found = validate_households(rows + household(member("10000000009", "世帯主", 世帯番号="300")))
    assert any(e.column == "住民票コード" and "2行目" in e.reason_ja and e.line == 3 for e in found)
    assert any(e.column == "個人番号" and e.line == 3 for e in found)
    assert [e.column for e in validate_households(rows, check_duplicates=False)] == [
        "続柄"
    ]  # 200 has no head


def test_checker_streams() -> None:
    checker = HouseholdChecker()
    rows = household(
        member("10000000001", "世帯主"), member("10000000002", "子", 住所="神奈川県横浜市西区高島2-1")
    )
    assert checker.add(rows[0]) == []
    assert [e.column for e in checker.add(rows[1])] == ["住所"]
    assert checker.finish() == []
    assert len(checker.errors) == 1


# --- reading and writing -------------------------------------------------------------------------


def csv_text(*records: dict[str, str]) -> str:
    out = io.StringIO()
    import csv

    writer = csv.writer(out)
    writer.writerow(COLUMN_NAMES)
    for r in records:
        writer.writerow([r.get(c, "") for c in COLUMN_NAMES])
    return out.getvalue()


def test_iter_csv_reports_line_numbers_of_physical_lines() -> None:
    text = csv_text(japanese(), japanese(方書="改行を\n含む方書"), japanese())
    text += "only,three,fields\n"
    items = list(iter_csv(io.StringIO("\ufeff" + text)))
    assert [line for line, _ in items] == [2, 3, 5, 6]
    assert isinstance(items[3][1], list)
    assert "項目数" in items[3][1][0].reason_ja


def _reference_csv_rows(text: str) -> list[tuple[int, list[str] | str]]:
    """What the CSV parser alone gives: the records with the physical line each starts on (a
    wrong number of values as "width"), blank lines skipped."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    out: list[tuple[int, list[str] | str]] = []
    start = reader.line_num + 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        out.append((line, row if len(row) == len(header) else "width"))
    return out


def test_csv_rows_split_plain_lines_as_the_csv_parser_does() -> None:
    """Lines without quotes are split without the CSV parser; every kind of line gives what the
    parser gives, with the same line numbers, and a packed record holds the same values."""
    width = len(COLUMN_NAMES)
    plain = ",".join(f"v{i}" for i in range(width))
    lines = [
        ",".join(COLUMN_NAMES) + "\r\n",
        plain + "\n",
        plain.replace("v3", " 世帯 ") + "\r\n",
        "\n",
        "   \n",
        ",".join([""] * width) + "\n",
        "a,b,c\n",
        plain.replace("v5", '"quoted, with a comma"') + "\n",
        plain.replace("v6", '"two\nlines ""and"" quotes"') + "\n",
        plain.replace("v7", '"\r\n"') + "\r\n",
        plain + ",extra\n",
        '"a,b",c\n',
        plain.replace("v8", "nul\x00char"),  # the last line, without a line break
    ]
    text = "".join(lines)
    header: list[str] = []
    got = [
        (line, row if isinstance(row[0], str) else "width")
        for line, row in csv_rows(io.StringIO(text, newline=""), header)
    ]
    assert got == _reference_csv_rows(text)
    assert [line for line, _ in got] == [2, 3, 6, 7, 8, 9, 11, 13, 14, 15]
    assert header == list(COLUMN_NAMES)
    packed = list(packed_csv(io.StringIO(text, newline=""), []))
    assert [line for line, _ in packed] == [line for line, _ in got]
    for (_, row), (_, record) in zip(got, packed, strict=True):
        if isinstance(row, list):
            assert isinstance(record, str)
            key, *values = record.split(PACK_SEP)
            assert (key, values) == (row[3].strip(), row)


def test_iter_csv_header_problems() -> None:
    items = list(iter_csv(io.StringIO("住民票コード,氏名,趣味\n1,2,3\n")))
    assert len(items) == 1
    line, problems = items[0]
    assert line == 1
    assert isinstance(problems, list)
    assert any(e.column == "趣味" and "未知" in e.reason_ja for e in problems)
    assert any(e.column == "生年月日" and "必須の列" in e.reason_ja for e in problems)
    assert list(iter_csv(io.StringIO(""))) == [
        (1, [RowError(1, None, "ファイルが空です（見出し行がありません）")])
    ]


def test_iter_jsonl_reports_bad_lines() -> None:
    lines = [
        json.dumps(japanese(), ensure_ascii=False),
        "{not json",
        "[1, 2]",
        json.dumps({"趣味": "釣り"}, ensure_ascii=False),
        "",
        json.dumps({"氏名": {"姓": "山田"}}, ensure_ascii=False),
    ]
    items = list(iter_jsonl(io.StringIO("\n".join(lines) + "\n")))
    assert [line for line, _ in items] == [1, 2, 3, 4, 6]
    assert isinstance(items[0][1], dict)
    for _, value in items[1:]:
        assert isinstance(value, list)


def read_all(text: str, kind: str) -> tuple[list[ResidentRow], list[RowError]]:
    reader = iter_csv if kind == "csv" else iter_jsonl
    rows, problems = [], []
    for line, record in reader(io.StringIO(text)):
        if isinstance(record, list):
            problems += record
            continue
        result = parse_row(record, line, CTX)
        if isinstance(result, list):
            problems += result
        else:
            rows.append(result)
    return rows, problems


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_round_trip(kind: str) -> None:
    source = csv_text(
        japanese(),
        foreign(住民票コード="22222222222", 個人番号="", 世帯番号="200", 通称="中村　安",
                通称カナ="ナカムラ　ヤス"),
        japanese(住民票コード="33333333333", 個人番号="", 世帯番号="300", 氏名="\ue000田　花子", 性別="2",
                 消除事由="転出", 消除日="2024-03-31", 転出先住所="大阪府大阪市北区梅田３ｰ１ｰ１",
                 旧氏="鈴木", 旧氏カナ="スズキ"),
    )  # fmt: skip
    first, problems = read_all(source, "csv")
    assert problems == []
    assert len(first) == 3
    out = io.StringIO()
    (write_csv if kind == "csv" else write_jsonl)(first, out)
    second, problems = read_all(out.getvalue(), kind)
    assert problems == []
    assert [row_to_record(r) for r in second] == [row_to_record(r) for r in first]
    if kind == "csv":
        assert second == first  # line numbers agree too: one row per line
    out2 = io.StringIO()
    (write_csv if kind == "csv" else write_jsonl)(second, out2)
    assert out2.getvalue() == out.getvalue()


def test_error_report() -> None:
    out = io.StringIO()
    count = write_error_report([RowError(3, "生年月日", "未来の日付です"), RowError(4, None, "項目数")], out)
    assert count == 2
    assert out.getvalue().splitlines() == ["行,項目,理由", "3,生年月日,未来の日付です", "4,,項目数"]


def test_every_column_is_documented() -> None:
    doc = Path(__file__).resolve().parents[3] / "docs" / "registry-interchange.md"
    text = doc.read_text(encoding="utf-8")
    for column in COLUMNS:
        assert f"| {column.name} |" in text, column.name
