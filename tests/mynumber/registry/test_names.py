"""Name normalization, match ranks, allowed characters and the 外字 map."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jichitai.mynumber.registry import names
from jichitai.mynumber.registry.names import (
    VARIANT_TABLE,
    GaijiMap,
    UnmappedGaiji,
    check_katakana,
    check_name_characters,
    match_rank,
    name_key_exact,
    name_key_folded,
    name_key_width,
    name_keys,
    normalize_kana,
    normalize_name,
)
from jichitai.platform.errors import ValidationError

COMPAT_KAMI = "\ufa19"  # 神 as a CJK compatibility ideograph
IVS_E0100 = "\U000e0100"


@pytest.mark.parametrize(
    ("query", "candidate", "rank"),
    [
        ("高橋", "高橋", 0),
        ("山田 太郎", "山田　太郎", 0),  # spaces never matter
        ("ﾔﾏﾀﾞ", "ヤマダ", 1),
        ("やまだ", "ヤマダ", 1),
        ("ｙａｍａｄａ", "YAMADA", 1),
        ("ジョン・スミス", "ジョン　スミス", 1),
        ("髙橋", "高橋", 2),
        ("山﨑", "山崎", 2),
        ("渡邊", "渡辺", 2),
        ("渡邉", "渡邊", 2),
        ("濵田", "浜田", 2),
        ("齋藤", "斎藤", 2),
        ("德永", "徳永", 2),
        ("櫻井", "桜井", 2),
        ("廣瀬", "広瀬", 2),
        ("國分", "国分", 2),
        ("澤田", "沢田", 2),
        ("嶋田", "島田", 2),
        ("槇野", "槙野", 2),
        ("𠮷田", "吉田", 2),
        (f"{COMPAT_KAMI}田", "神田", 2),
        (f"葛{IVS_E0100}西", "葛西", 2),
        ("ﾀｶﾊｼ", "タカハシ", 1),
        ("ミヅキ", "ミズキ", 2),
        ("高橋", "髙田", None),
        ("斎藤", "斉藤", None),  # distinct characters (齋→斎, 齊→斉), not variants of each other
        ("ヤマダ", "山田", None),  # kana and kanji are different fields, matched separately
    ],
)
def test_match_rank(query: str, candidate: str, rank: int | None) -> None:
    assert match_rank(query, candidate) == rank
    assert match_rank(candidate, query) == rank


def test_exact_ranks_before_variant() -> None:
    candidates = ["髙橋　一郎", "高橋　一郎", "ﾀｶﾊｼ", "高橋 一郎", "高田　一郎"]
    ranked = sorted((r, c) for c in candidates if (r := match_rank("高橋　一郎", c)) is not None)
    assert [c for _, c in ranked] == ["高橋 一郎", "高橋　一郎", "髙橋　一郎"]
    assert [r for r, _ in ranked] == [0, 0, 2]


def test_keys_are_consistent_with_rank() -> None:
    keys = name_keys("髙橋 ﾀﾛｳ")
    assert keys.exact == name_key_exact("髙橋 ﾀﾛｳ") == "髙橋ﾀﾛｳ"
    assert keys.width == name_key_width("髙橋 ﾀﾛｳ") == "髙橋タロウ"
    assert keys.folded == name_key_folded("髙橋 ﾀﾛｳ") == "高橋タロウ"


def test_variant_folding_is_idempotent_over_the_table() -> None:
    for old, new in VARIANT_TABLE.items():
        assert name_key_folded(old) == name_key_folded(new), old
        assert name_key_folded(name_key_folded(old)) == name_key_folded(old)
    assert not set(VARIANT_TABLE.values()) & set(VARIANT_TABLE), "a target must never fold further"


@pytest.mark.skipif(names.VARIANT_SOURCE == "table", reason="jntajis not installed")
def test_mj_reduction_pairs_fold_to_one_key() -> None:
    # The MJ map lists 淵 and 渕 as reductions of each other; both must give one stable key.
    assert name_key_folded("淵上") == name_key_folded("渕上") == name_key_folded(name_key_folded("淵上"))
    assert match_rank("條", "条") == 2  # covered by the MJ map and by our table


def test_compatibility_ideographs_are_kept_until_the_variant_rank() -> None:
    assert normalize_name(f"{COMPAT_KAMI}田") == f"{COMPAT_KAMI}田"  # NFC/NFKC alone would change it
    assert name_key_width(f"{COMPAT_KAMI}田") == f"{COMPAT_KAMI}田"
    assert name_key_folded(f"{COMPAT_KAMI}田") == "神田"


def test_normalize_kana_and_name() -> None:
    assert normalize_kana("ﾔﾏﾀﾞ  ﾀﾛｳ") == "ヤマダ　タロウ"
    assert normalize_kana("やまだ　たろう") == "ヤマダ　タロウ"
    assert normalize_kana("ゝ") == "ヽ"
    assert normalize_name(" 山田   太郎 ") == "山田　太郎"
    assert normalize_name("ＮＧＵＹＥＮ　ＶＡＮ") == "NGUYEN　VAN"
    assert normalize_name(f"葛{IVS_E0100}西") == f"葛{IVS_E0100}西"


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="山田髙橋﨑崎やまだヤマダﾔﾏﾀﾞ 　・ABCabcｱｲ々ー" + COMPAT_KAMI + IVS_E0100, max_size=12)
)
@example("ﾀ" + IVS_E0100 + "ﾞ")  # a selector between a kana and its voiced mark (found in CI)
def test_keys_are_idempotent(text: str) -> None:
    assert name_key_width(name_key_width(text)) == name_key_width(text)
    assert name_key_folded(name_key_folded(text)) == name_key_folded(text)
    assert match_rank(text, text) == 0


@pytest.mark.parametrize(
    "name",
    [
        "山田　太郎",
        "佐々木　さくら",
        "ヤマダ・ハナコ",
        "𠮷田",
        f"葛{IVS_E0100}城",
        "NGUYEN VAN AN",
        "José O'Neil",
    ],
)
def test_allowed_names(name: str) -> None:
    assert check_name_characters(name) is None


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("山田😀", "絵文字"),
        ("山田\x07", "制御文字 (U+0007)"),
        ("山田\u200b", "制御文字 (U+200B)"),
        ("山\ue000", "外字 (U+E000)"),
        ("山田1", "「1」(U+0031)"),
        ("山田★", "記号"),
        (IVS_E0100 + "山", "異体字セレクタ"),
        ("", "空"),
        ("　", "空"),
    ],
)
def test_refused_names(name: str, fragment: str) -> None:
    reason = check_name_characters(name)
    assert reason is not None
    assert fragment in reason


def test_latin_only_when_allowed() -> None:
    assert check_name_characters("SMITH", allow_latin=False) is not None
    assert check_name_characters("SMITH") is None


def test_check_katakana() -> None:
    assert check_katakana("ヤマダ　タロウ") is None
    assert check_katakana("ﾔﾏﾀﾞ ﾀﾛｳ") is None
    assert check_katakana("ヴァン・アン") is None
    hira = check_katakana("やまだ")
    assert hira is not None
    assert "ひらがな" in hira
    latin = check_katakana("YAMADA")
    assert latin is not None
    assert "「Y」" in latin
    assert check_katakana("山田") is not None


GAIJI_CSV = """legacy_code,mj_character
# 旧システムの外字
U+E000,𠮷
E001,U+845B U+E0100
\uf8ff,髙
"""


def test_gaiji_map_applies_mapping() -> None:
    gaiji = GaijiMap.from_csv_text(GAIJI_CSV)
    assert gaiji.apply("\ue000田") == "𠮷田"
    assert gaiji.apply("\ue001西") == f"葛{IVS_E0100}西"
    assert gaiji.apply("\uf8ff橋") == "髙橋"
    assert gaiji.apply("山田") == "山田"
    assert gaiji.unmapped("\ue000\ue005\U000f0001") == [0xE005, 0xF0001]


def test_unmapped_gaiji_names_the_code_point() -> None:
    gaiji = GaijiMap.from_csv_text(GAIJI_CSV)
    with pytest.raises(UnmappedGaiji, match="U\\+E002") as info:
        gaiji.apply("山\ue002")
    assert info.value.code_point == 0xE002
    assert info.value.message_ja is not None
    assert "U+E002" in info.value.message_ja


def test_gaiji_map_load_from_file(tmp_path: Path) -> None:
    path = tmp_path / "gaiji.csv"
    path.write_text("\ufeff" + GAIJI_CSV, encoding="utf-8")
    assert GaijiMap.load(path).apply("\ue000") == "𠮷"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("U+4E00,山\n", "1行目"),  # not a private-use code
        ("U+E000,𠮷\nU+E000,吉\n", "2行目"),  # mapped twice, differently
        ("U+E000\n", "1行目"),  # target missing
        ("U+E000,😀\n", "1行目"),  # target not a usable character
        ("U+E000,\ue001\n", "1行目"),  # target is itself a legacy character
    ],
)
def test_gaiji_map_rejects_bad_lines(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        GaijiMap.from_csv_text(text)
    assert info.value.message_ja is not None
    assert fragment in info.value.message_ja


def test_table_alone_covers_the_common_variants(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without jntajis (an optional package) the documented table still folds the usual name variants."""
    monkeypatch.setattr(names, "_mj_shrink_candidates", None)
    names._fold_char.cache_clear()
    try:
        for old, new in [
            ("髙橋", "高橋"),
            ("山﨑", "山崎"),
            ("渡邉", "渡辺"),
            ("齋藤", "斎藤"),
            ("𠮷田", "吉田"),
        ]:
            assert match_rank(old, new) == 2
        assert (
            match_rank(f"{COMPAT_KAMI}田", "神田") == 2
        )  # compatibility ideographs fold without the package
        assert match_rank("斎藤", "斉藤") is None
    finally:
        names._fold_char.cache_clear()
