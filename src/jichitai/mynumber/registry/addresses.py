"""Normalizing Japanese addresses (住所) into components, without any lookup table of places.

An address splits into prefecture (都道府県), city (市区町村, with the 郡 of a town or village and the
ward of a designated city), 町字 (town and 大字/字, with its 丁目), the block numbers (番地 for land
numbering, 番・号 for 住居表示), and the rest (building, room: 方書).

Normalization: compatibility forms folded (full-width digits and latin to ASCII, half-width kana to
full width), dash variants between digits (ー－‐−― ...) to ``-``, kanji numerals to arabic where
they count 丁目・番地・番・号・条・地割, and the block written as hyphen-joined numbers
(``1丁目2番3号`` keeps its 丁目 and becomes ``1丁目2-3``; ``123番地の4`` becomes ``123-4``).
:attr:`Address.match_key` also drops 丁目 so that ``本町1-2-3`` and ``本町1丁目2番3号`` meet.

Without the address master data (アドレス・ベース・レジストリ) the city is found by its ending
(市/区/町/村), with a list of names that contain those characters inside (四日市市, 大町市, 郡山市 ...)
and any city names the caller knows (its own municipality, best given always).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from jichitai.mynumber.registry.names import safe_nfkc
from jichitai.platform.tenants import PREFECTURES

DESIGNATED_CITIES: tuple[str, ...] = (
    "札幌市", "仙台市", "さいたま市", "千葉市", "横浜市", "川崎市", "相模原市", "新潟市", "静岡市", "浜松市",
    "名古屋市", "京都市", "大阪市", "堺市", "神戸市", "岡山市", "広島市", "北九州市", "福岡市", "熊本市",
)  # fmt: skip

# Municipalities and counties whose names contain 市, 区, 町, 村 or 郡 before their end, so that cutting
# at the first such character would go wrong.
_TRICKY_NAMES: tuple[str, ...] = (
    "四日市市", "廿日市市", "野々市市", "市川市", "市原市", "大町市", "十日町市", "町田市", "村山市",
    "東村山市", "武蔵村山市", "羽村市", "村上市", "田村市", "郡山市", "大和郡山市", "小郡市", "蒲郡市",
    "郡上市", "上市町", "市貝町", "市川三郷町", "市川町", "玉村町", "村田町", "中村区", "北村山郡",
    "西村山郡", "東村山郡", "余市郡", "余市町", "田村郡", "大町町", "十津川村",
)  # fmt: skip

_KANJI_DIGITS = {
    "〇": 0,
    "零": 0,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
_KN = "〇零一二三四五六七八九十百千"
_DASHES = "‐‑‒–—―−ーｰ－─━-"

_DASH_BETWEEN_DIGITS = re.compile(rf"(?<=\d)\s*[{_DASHES}]\s*(?=\d)")
_KANJI_BEFORE_COUNTER = re.compile(rf"([{_KN}]+)(?=丁目|番地|番(?![町丁])|号(?!室)|地割)")
_KANJI_AFTER_NUMBER = re.compile(rf"(\d(?:番地の|番地|番の|番|号の|の|-))([{_KN}]+)")
_KANJI_JO = re.compile(rf"(?<=[東西南北])([{_KN}]+)(?=条)")
_ANY_KANJI_NUMERAL = re.compile(rf"[{_KN}]")
_SPACES = re.compile(r"[\s\u3000]+")
_CITY = re.compile(r"^(?P<gun>[^\d]{1,5}?郡)?(?P<city>[^\d]+?[市区町村])")
_WARD = re.compile(r"^[^\d]{1,5}?区")
_CITY_ONLY = re.compile(r"^[^\d]+?[市区]")
_TOWN_OR_VILLAGE = re.compile(r"^[^\d]+?[町村]")
_CHOME = re.compile(r"^(?P<town>.*?)(?P<chome>\d+)丁目(?P<after>.*)$")
_BLOCK = re.compile(r"(?P<nums>\d+(?:(?:番地の|番地|番の|番|号の|号|の|-)\d+)*(?:番地|番|号)?)")
_NUMBER_SPLIT = re.compile(r"番地の|番地|番の|番|号の|号|の|-")


def kanji_to_int(text: str) -> int:
    """``二十三`` → 23, ``百二`` → 102, ``一〇五`` → 105 (positional form)."""
    if not text:
        raise ValueError("empty numeral")
    if all(c in _KANJI_DIGITS for c in text):
        return int("".join(str(_KANJI_DIGITS[c]) for c in text))
    total, current = 0, 0
    for c in text:
        if c in _KANJI_DIGITS:
            current = _KANJI_DIGITS[c]
        elif c in _KANJI_UNITS:
            total += (current or 1) * _KANJI_UNITS[c]
            current = 0
        else:
            raise ValueError(f"not a kanji numeral: {c!r}")
    return total + current


@lru_cache(maxsize=1 << 17)  # addresses repeat (households, 本籍): an import calls this millions of times
def normalize_address_text(text: str) -> str:
    """Width, dashes and numerals normalized; spaces kept as one ASCII space (they may delimit 方書)."""
    out = safe_nfkc(text)
    out = _SPACES.sub(" ", out).strip()
    if _ANY_KANJI_NUMERAL.search(out):  # each of the three needs one; most addresses have none
        out = _KANJI_JO.sub(lambda m: str(kanji_to_int(m.group(1))), out)
        out = _KANJI_BEFORE_COUNTER.sub(lambda m: str(kanji_to_int(m.group(1))), out)
        previous = None
        while previous != out:  # 三番地の五 → 3番地の五 → 3番地の5 (each number becomes a digit in turn)
            previous = out
            out = _KANJI_AFTER_NUMBER.sub(lambda m: m.group(1) + str(kanji_to_int(m.group(2))), out)
    return _DASH_BETWEEN_DIGITS.sub("-", out)


@dataclass(frozen=True, slots=True)
class Address:
    """An address split into its parts; empty strings for parts that are absent."""

    prefecture: str
    city: str
    town: str
    chome: int | None
    block: str
    building: str

    @property
    def town_with_chome(self) -> str:
        return f"{self.town}{self.chome}丁目" if self.chome is not None else self.town

    @property
    def text(self) -> str:
        """The normalized address: ``神奈川県横浜市中区本町1丁目2-3 サンハイツ101``."""
        main = f"{self.prefecture}{self.city}{self.town_with_chome}{self.block}"
        return f"{main} {self.building}" if self.building else main

    @property
    def match_key(self) -> str:
        """Key for comparing addresses: 丁目 as a plain number, building and spaces dropped."""
        numbers = "-".join(x for x in (str(self.chome) if self.chome is not None else "", self.block) if x)
        return f"{self.prefecture}{self.city}{self.town}{numbers}".replace("ヶ", "ケ").replace("ヵ", "カ")


@lru_cache(maxsize=64)
def _prefixes_by_first(known: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The names to try first, longest first, by their first character (only those can match)."""
    by_first: dict[str, tuple[str, ...]] = {}
    for name in sorted({*known, *_TRICKY_NAMES}, key=len, reverse=True):
        if name:
            by_first[name[0]] = (*by_first.get(name[0], ()), name)
    return by_first


# No prefecture's name begins another's (checked by the tests), so the one an address starts with is
# found by looking its first 3 or 4 characters up.
_PREFECTURE_SET = frozenset(PREFECTURES)
_PREFECTURE_LENGTHS = tuple(sorted({len(p) for p in PREFECTURES}))


def _prefecture(text: str) -> str:
    for n in _PREFECTURE_LENGTHS:
        if text[:n] in _PREFECTURE_SET:
            return text[:n]
    return ""


def _split_city(rest: str, known: tuple[str, ...]) -> tuple[str, str]:
    for name in _prefixes_by_first(known).get(rest[:1], ()):
        if rest.startswith(name):
            city, rest = name, rest[len(name) :]
            break
    else:
        m = _CITY.match(rest)
        if m is None:
            return "", rest
        city, rest = m.group(0), rest[m.end() :]
        if m.group("gun") and city.endswith(("市", "区")):
            # cities are never inside a county: the 郡 belonged to a city name we do not know
            m = _CITY_ONLY.match(city + rest)
            if m is None:  # pragma: no cover - the first match proves a 市/区 exists
                return "", city + rest
            city, rest = m.group(0), (city + rest)[m.end() :]
    if city.endswith("郡"):  # a county from the list: its town or village follows
        m = _TOWN_OR_VILLAGE.match(rest)
        if m:
            city, rest = city + m.group(0), rest[m.end() :]
    if city in DESIGNATED_CITIES:
        m = _WARD.match(rest)
        if m:
            city, rest = city + m.group(0), rest[m.end() :]
    return city, rest


def _block(numbers_text: str) -> str:
    return "-".join(n for n in _NUMBER_SPLIT.split(numbers_text) if n)


def parse_address(text: str, *, known_cities: Iterable[str] = ()) -> Address:
    """Split a free-text address into :class:`Address` parts, normalizing on the way.

    ``known_cities`` are municipality names (``横浜市``, ``三浦郡葉山町``) to prefer over guessing;
    give at least the tenant's own. The prefecture may be absent (then it is left empty).
    """
    return _parse_address(text, tuple(known_cities))


@lru_cache(maxsize=1 << 16)  # the members of a household share one address
def _parse_address(text: str, known_cities: tuple[str, ...]) -> Address:
    rest = normalize_address_text(text)
    prefecture = _prefecture(rest)
    if prefecture:
        rest = rest[len(prefecture) :].lstrip()
    city, rest = _split_city(rest, known_cities)
    rest = rest.lstrip()
    chome: int | None = None
    m = _CHOME.match(rest)
    if m:
        town, chome, after = m.group("town").strip(), int(m.group("chome")), m.group("after").lstrip()
        b = _BLOCK.match(after)
        block, building = (_block(b.group("nums")), after[b.end() :]) if b else ("", after)
    else:
        b = _BLOCK.search(rest)
        if b:
            town, block, building = rest[: b.start()].strip(), _block(b.group("nums")), rest[b.end() :]
        else:
            town, block, building = rest.strip(), "", ""
    building = building.strip(" -")
    return Address(prefecture, city, town, chome, block, building)


def normalize_address(text: str, *, known_cities: Iterable[str] = ()) -> str:
    """The normalized text of an address (see :attr:`Address.text`)."""
    return parse_address(text, known_cities=known_cities).text
