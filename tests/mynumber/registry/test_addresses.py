"""Address normalization and splitting into components."""

from __future__ import annotations

import pytest

from jichitai.mynumber.registry.addresses import (
    Address,
    kanji_to_int,
    normalize_address,
    normalize_address_text,
    parse_address,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("一", 1), ("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23), ("百", 100), ("百二", 102),
        ("三百五", 305), ("千二百三十四", 1234), ("一〇五", 105), ("三〇〇〇", 3000),
    ],
)  # fmt: skip
def test_kanji_to_int(text: str, expected: int) -> None:
    assert kanji_to_int(text) == expected


def test_kanji_to_int_refuses_other_text() -> None:
    with pytest.raises(ValueError):
        kanji_to_int("一つ")
    with pytest.raises(ValueError):
        kanji_to_int("")


@pytest.mark.parametrize(
    ("text", "prefecture", "city", "town", "chome", "block", "building"),
    [
        ("神奈川県横浜市中区本町一丁目２番３号　サンハイツ１０１", "神奈川県", "横浜市中区", "本町", 1, "2-3",
         "サンハイツ101"),
        ("神奈川県横浜市中区本町1-2-3 サンハイツ101", "神奈川県", "横浜市中区", "本町", None, "1-2-3",
         "サンハイツ101"),
        ("東京都千代田区一番町五番地", "東京都", "千代田区", "一番町", None, "5", ""),
        ("東京都町田市原町田六丁目1ー1", "東京都", "町田市", "原町田", 6, "1-1", ""),
        ("福島県郡山市朝日二丁目23番7号", "福島県", "郡山市", "朝日", 2, "23-7", ""),
        ("三重県四日市市諏訪町1番5号", "三重県", "四日市市", "諏訪町", None, "1-5", ""),
        ("神奈川県三浦郡葉山町堀内２１３５番地の３", "神奈川県", "三浦郡葉山町", "堀内", None, "2135-3", ""),
        ("北海道札幌市中央区北一条西二丁目1番地", "北海道", "札幌市中央区", "北1条西", 2, "1", ""),
        ("長野県大町市大町三〇〇番地", "長野県", "大町市", "大町", None, "300", ""),
        ("東京都北区十条仲原一丁目３−２", "東京都", "北区", "十条仲原", 1, "3-2", ""),
        ("岩手県花巻市大字鍋倉字上鍋倉１２３番地", "岩手県", "花巻市", "大字鍋倉字上鍋倉", None, "123", ""),
        ("大阪府大阪市北区梅田３ｰ１ｰ１ メゾンー２０３号室", "大阪府", "大阪市北区", "梅田", None, "3-1-1",
         "メゾンー203号室"),
        ("奈良県大和郡山市北郡山町248番地の4", "奈良県", "大和郡山市", "北郡山町", None, "248-4", ""),
        ("東京都東村山市本町1‐2‐3", "東京都", "東村山市", "本町", None, "1-2-3", ""),
        ("沖縄県島尻郡与那原町字与那原３０００", "沖縄県", "島尻郡与那原町", "字与那原", None, "3000", ""),
        ("横浜市西区高島二丁目", "", "横浜市西区", "高島", 2, "", ""),
        ("東京都新宿区西新宿", "東京都", "新宿区", "西新宿", None, "", ""),
    ],
)  # fmt: skip
def test_parse_address(
    text: str, prefecture: str, city: str, town: str, chome: int | None, block: str, building: str
) -> None:
    assert parse_address(text) == Address(prefecture, city, town, chome, block, building)


def test_known_cities_take_precedence_over_guessing() -> None:
    # 市川三郷町 would otherwise be cut at 市; a caller that knows its municipality says so.
    text = "山梨県西八代郡市川三郷町市川大門１７９０番地の３"
    assert parse_address(text, known_cities=("西八代郡市川三郷町",)).city == "西八代郡市川三郷町"
    assert parse_address(text, known_cities=("西八代郡市川三郷町",)).block == "1790-3"


def test_same_place_written_two_ways_has_one_match_key() -> None:
    a = parse_address("神奈川県横浜市中区本町１丁目２番３号")
    b = parse_address("神奈川県横浜市中区本町1-2-3")
    assert a.text != b.text  # the 丁目 is kept where it was written
    assert a.match_key == b.match_key == "神奈川県横浜市中区本町1-2-3"
    c = parse_address("神奈川県横浜市中区本町１丁目２番４号")
    assert c.match_key != a.match_key


def test_normalized_text_is_a_fixed_point() -> None:
    for text in (
        "神奈川県横浜市中区本町一丁目２番３号　サンハイツ１０１",
        "神奈川県三浦郡葉山町堀内２１３５番地の３",
        "大阪府大阪市北区梅田３ｰ１ｰ１ メゾンー２０３号室",
    ):
        once = parse_address(text)
        assert parse_address(once.text) == once
        assert normalize_address(once.text) == once.text


def test_dashes_are_normalized_only_between_digits() -> None:
    assert normalize_address_text("１ー２－３‐４−５") == "1-2-3-4-5"
    assert normalize_address_text("メゾンーＡ") == "メゾンーA"  # a long vowel mark stays
    assert normalize_address_text("1 - 2") == "1-2"


def test_kanji_numerals_converted_only_where_they_count() -> None:
    assert normalize_address_text("九段南一丁目") == "九段南1丁目"
    assert normalize_address_text("四番町五番地") == "四番町5番地"  # 四番町 is a town name
    assert normalize_address_text("十条仲原三丁目") == "十条仲原3丁目"
    assert normalize_address_text("二十三番地の十五") == "23番地の15"
    assert normalize_address_text("二丁目三番四号") == "2丁目3番4号"


def test_no_prefecture_name_begins_another() -> None:
    """parse_address finds the prefecture by looking up the address's first 3 or 4 characters,
    which is only the same as trying each name in turn while no name is the start of another."""
    from jichitai.platform.tenants import PREFECTURES

    assert len(set(PREFECTURES)) == 47
    for p in PREFECTURES:
        assert [q for q in PREFECTURES if q != p and q.startswith(p)] == []


@pytest.mark.parametrize(
    ("text", "prefecture", "city"),
    [
        ("北海道札幌市中央区北1条西2丁目", "北海道", "札幌市中央区"),
        ("神奈川県横浜市中区本町1-2", "神奈川県", "横浜市中区"),
        ("三重県四日市市諏訪町1-5", "三重県", "四日市市"),
        ("四日市市諏訪町1-5", "", "四日市市"),
        ("県道沿い1-2", "", ""),
    ],
)
def test_prefecture_and_city_found_by_their_first_characters(text: str, prefecture: str, city: str) -> None:
    address = parse_address(text)
    assert (address.prefecture, address.city) == (prefecture, city)
