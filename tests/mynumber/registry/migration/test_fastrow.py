"""The import's fast row validator agrees with ``parse_row``: same row for every row it accepts, and
it accepts (almost) every valid row. Rows are generated, then damaged column by column."""

from __future__ import annotations

import csv
import io
import random
from datetime import date

import pytest

from jichitai.mynumber.registry.interchange import COLUMN_NAMES, ParseContext, ResidentRow, parse_row
from jichitai.mynumber.registry.migration.fastrow import FastRowParser
from jichitai.mynumber.registry.names import GaijiMap
from jichitai.mynumber.registry.synthetic import write_population

TODAY = date(2025, 6, 2)
GAIJI = GaijiMap.from_csv_text("U+E000,髙\nU+E001,U+845B U+E0100\n")

# Values that break (or nearly break) one rule or another; mixed into valid rows at random.
ODD_VALUES = [
    "", " ", "　", "0", "1", "2", "3", "男", "女", "日本人", "外国人", "世帯主", "妻の子",
    "子の子の子の子の子", "同居人", "妻（未届）", "1980-04-01", "1980/4/1", "19800401", "1980-02-30",
    "令和2年4月1日", "R2.4.1", "S55.4.1", "2999-01-01", "1890-01-01", str(TODAY), "2025-06-03", "abc",
    "ｱｲｳ", "あいう", "アイウ", "ヤマダ　タロウ", "山田　太郎", "山田 太郎", "ＹＡＭＡＤＡ", "Smith John",
    "\ue000田", "\ue002田", "高\ufe00", "😀", "a\x00b", "a\tb", "神奈川県横浜市中区本町1丁目2番3号",
    "横浜市中区本町1-2-3", "東京都千代田区一番町5", "大阪府大阪市北区梅田3-1-1", "ベトナム", "永住者",
    "留学", "特別永住者", "AB12345678CD", "ab12345678cd", "転入", "転出", "国外転出", "死亡", "出生",
    "移行", "職権消除", "123456789018", "123456789012", "１２３４５６７８９０１", "12345678901",
    "1234567890123456", "０１", "サンハイツ101号室", "新潟県新潟市中央区東和町1422番地", "吉川　学",
    "世帯主変更", "続柄変更", "夫の子", "2025-06-20", "確定", "未確定", "2025-05-20",
    # at and just past the length limits (names and readings 100, texts 200, 番地 60)
    "山" * 50 + "　" + "田" * 49, "山" * 50 + "　" + "田" * 50, "ア" * 100, "ア" * 101,
    "東京都" + "一" * 197, "東京都" + "一" * 198, "神奈川県横浜市中区本町" + "1-" * 29 + "1",
    "神奈川県横浜市中区本町" + "1-" * 30 + "1",
]  # fmt: skip


def _records(residents: int, seed: int) -> list[dict[str, str]]:
    buf = io.StringIO()
    write_population(buf, residents, seed, "141003", "横浜市", wards=("中区", "西区"))
    buf.seek(0)
    return list(csv.DictReader(buf))


def _ctx() -> ParseContext:
    return ParseContext(
        today=TODAY, gaiji=GAIJI, known_cities=("横浜市",), municipality_prefix="神奈川県横浜市"
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_valid_rows_give_the_reference_row(seed: int) -> None:
    ctx = _ctx()
    fast = FastRowParser(ctx)
    records = _records(3000, seed)
    accepted = 0
    for line, record in enumerate(records, start=2):
        reference = parse_row(record, line, ctx)
        row = fast.parse(record, line)
        if isinstance(reference, ResidentRow):
            accepted += row is not None
        if row is not None:
            assert row == reference
    valid = sum(isinstance(parse_row(r, 2, ctx), ResidentRow) for r in records)
    assert valid > 2900
    assert accepted == valid  # nothing valid left to the slow path


@pytest.mark.parametrize("seed", range(4))
def test_damaged_rows_are_never_accepted_otherwise(seed: int) -> None:
    ctx = _ctx()
    fast = FastRowParser(ctx)
    rng = random.Random(seed)
    records = _records(1500, seed + 10)
    accepted = refused = 0
    for line, original in enumerate(records * 3, start=2):
        record = dict(original)
        for _ in range(rng.choice((1, 1, 2, 3))):
            column = rng.choice(COLUMN_NAMES)
            record[column] = rng.choice([*ODD_VALUES, record[rng.choice(COLUMN_NAMES)]])
        reference = parse_row(record, line, ctx)
        row = fast.parse(record, line)
        if row is not None:
            assert row == reference, (line, record)
            accepted += 1
        else:
            refused += isinstance(reference, list)
    assert accepted > 500 and refused > 500  # both paths were exercised


def test_former_surnames_take_the_fast_path_and_give_the_reference_row() -> None:
    """旧氏 (the generator writes none): valid ones are accepted as ``parse_row`` accepts them,
    wrong ones are left to it."""
    ctx = _ctx()
    fast = FastRowParser(ctx)
    rng = random.Random(5)
    formers = [("鈴木", "スズキ"), ("渡邊", "ﾜﾀﾅﾍﾞ"), ("\ue000田", "ヨシダ"), ("菅野", ""),
               ("鈴木　花子", "スズキ"), ("SUZUKI", ""), ("鈴木", "すずき"), ("", "スズキ"),
               ("😀", "")]  # fmt: skip
    accepted = fast_valid = 0
    for line, original in enumerate(_records(600, 3), start=2):
        former, kana = rng.choice(formers)
        record = {**original, "旧氏": former, "旧氏カナ": kana}
        reference = parse_row(record, line, ctx)
        row = fast.parse(record, line)
        if row is not None:
            assert row == reference, (line, record)
            accepted += 1
            fast_valid += row.former_surname is not None
        elif isinstance(reference, ResidentRow):
            raise AssertionError(f"a valid row left to the slow path: {record}")
    assert accepted > 100 and fast_valid > 50
