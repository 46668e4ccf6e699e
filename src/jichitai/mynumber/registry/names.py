"""Normalizing and matching residents' names (氏名・氏名カナ), and mapping legacy characters (外字).

Three keys, from strict to loose, give the ranks of :func:`match_rank`:

0. exact (:func:`name_key_exact`): the name as written, only spaces dropped.
1. width/kana-insensitive (:func:`name_key_width`): compatibility forms folded (NFKC, except on
   CJK compatibility ideographs, which NFKC would silently turn into another character), half-width
   katakana to full width, hiragana to katakana, latin case-folded, spaces and ``・`` dropped.
2. variant-insensitive (:func:`name_key_folded`): old and variant kanji reduced to one
   representative (髙→高, 﨑→崎, 邊/邉→辺, ...), ideographic variation selectors (IVS) dropped, and
   a few kana spelled two ways (ヂ/ジ, ヅ/ズ, ヲ/オ, ヰ/イ, ヱ/エ, ヶ/ケ) folded.

Variant reduction uses the MJ縮退マップ through ``jntajis`` (PyPI ``jntajis-python``) when it is
installed, which knows the reductions of the whole MJ set (about 58,000 characters); a reduction
can have several candidates and the first, the plain JIS X 0213 form, is taken. Our own table
(:data:`VARIANT_TABLE`) covers the variants common in names either way, so matching of the common
cases does not depend on the package. :data:`VARIANT_SOURCE` says which is in use.

The 外字 map (:class:`GaijiMap`) turns a municipality's in-house characters, kept in Unicode's
private-use areas by legacy systems, into MJ characters (possibly with an IVS) through a CSV file
the municipality provides. An unmapped private-use character is an error that names the code point.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jichitai.platform.errors import ValidationError

# Old/variant kanji common in names, mapped to the form used for matching. Values are never keys,
# so folding is idempotent. Where jntajis is present it reduces first; these entries agree with it.
VARIANT_TABLE: Mapping[str, str] = {
    "髙": "高", "﨑": "崎", "嵜": "崎", "邊": "辺", "邉": "辺", "濵": "浜", "濱": "浜",
    "齋": "斎", "齊": "斉", "德": "徳", "櫻": "桜", "廣": "広", "國": "国", "澤": "沢",
    "嶋": "島", "嶌": "島", "槇": "槙", "曾": "曽", "桒": "桑", "𠮷": "吉", "冨": "富",
    "條": "条", "藏": "蔵", "實": "実", "榮": "栄", "惠": "恵", "眞": "真", "壽": "寿",
    "彌": "弥", "瀨": "瀬", "邨": "村", "埜": "野", "莊": "荘", "峯": "峰", "舘": "館",
    "栁": "柳", "兒": "児", "來": "来", "黑": "黒", "亞": "亜", "圓": "円", "應": "応",
    "學": "学", "樂": "楽", "戶": "戸", "靑": "青", "淸": "清", "龜": "亀", "萬": "万",
    "豐": "豊", "禮": "礼", "增": "増", "瀧": "滝", "螢": "蛍", "穗": "穂", "濟": "済",
    "澁": "渋", "兩": "両", "劍": "剣", "縣": "県", "會": "会",
}  # fmt: skip

# Kana written two ways in names; folded only at the variant rank.
_KANA_FOLD = str.maketrans(
    {"ヂ": "ジ", "ヅ": "ズ", "ヲ": "オ", "ヰ": "イ", "ヱ": "エ", "ヶ": "ケ", "ヵ": "カ"}
)

try:  # optional: MJ reduction candidates for the whole MJ character set
    import jntajis as _jntajis

    _JNTAJIS_COMBO = (
        15  # all four MJ shrink schemes (JIS/UCS unification, reading+glyph, MOJ 582, MOJ family register)
    )
    _mj_shrink_candidates: Callable[[str, int], list[str]] | None = _jntajis.mj_shrink_candidates
except ImportError:  # pragma: no cover - exercised only where the package is absent
    _mj_shrink_candidates = None

VARIANT_SOURCE = "jntajis+table" if _mj_shrink_candidates is not None else "table"

# Pure functions on names are cached: in a city's file surnames, given names and readings repeat
# a lot, and an import calls them millions of times.
_CACHE = 1 << 17
_WHITESPACE = re.compile(r"[\s\u3000]+")
_CJK_COMPAT = re.compile("([\uf900-\ufaff\U0002f800-\U0002fa1f])")
_VARIATION_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
_SEPARATORS = re.compile(r"[\s\u3000・･]+")
_HIRAGANA_TO_KATAKANA = {cp: cp + 0x60 for cp in range(0x3041, 0x3097)} | {0x309D: 0x30FD, 0x309E: 0x30FE}


_PUA = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")


def _is_pua(cp: int) -> bool:
    return 0xE000 <= cp <= 0xF8FF or 0xF0000 <= cp <= 0xFFFFD or 0x100000 <= cp <= 0x10FFFD


def safe_nfkc(text: str) -> str:
    """NFKC, except that CJK compatibility ideographs (神, 﨑 ...) are left as written.

    NFKC (and even NFC) replaces a compatibility ideograph with its unified counterpart, which for a
    name is a different registered character: that folding belongs to the variant rank only.
    """
    if not _CJK_COMPAT.search(text):
        return unicodedata.normalize("NFKC", text)
    parts = _CJK_COMPAT.split(text)
    # split() with one group puts the separators (the compatibility ideographs) at odd indexes
    return "".join(p if i % 2 else unicodedata.normalize("NFKC", p) for i, p in enumerate(parts))


def hiragana_to_katakana(text: str) -> str:
    """ひらがな → カタカナ (ゝゞ → ヽヾ); everything else unchanged.

    A voiced mark left uncombined because hiragana lacks the precomposed letter (わ゛) combines
    once in katakana (ヷ), so that the result is the same however the text was written.
    """
    out = text.translate(_HIRAGANA_TO_KATAKANA)
    if "\u3099" in out or "\u309a" in out:
        out = safe_nfkc(out)
    return out


def normalize_spaces(text: str) -> str:
    """Runs of spaces (half- or full-width) become one full-width space; ends are stripped."""
    return _WHITESPACE.sub("\u3000", text).strip("\u3000")


@lru_cache(maxsize=_CACHE)
def normalize_kana(text: str) -> str:
    """A kana reading (フリガナ) in full-width katakana: ﾔﾏﾀﾞ, やまだ → ヤマダ; spaces kept as one 全角空白."""
    return normalize_spaces(hiragana_to_katakana(unicodedata.normalize("NFKC", text)))


@lru_cache(maxsize=_CACHE)
def normalize_name(text: str) -> str:
    """A name for storage and display: safe NFKC, spaces collapsed to one full-width space.

    Half-width katakana and full-width latin become their usual forms; kanji, including variant and
    compatibility ideographs and IVS sequences, stay exactly as written.
    """
    return normalize_spaces(safe_nfkc(text))


def name_key_exact(text: str) -> str:
    """Rank 0 key: the name as written, without any spaces."""
    return _WHITESPACE.sub("", text)


def name_key_width(text: str) -> str:
    """Rank 1 key: width-, kana- and case-insensitive; spaces and ``・`` dropped."""
    key = _SEPARATORS.sub("", hiragana_to_katakana(safe_nfkc(text)).casefold())
    if "\u3099" in key or "\u309a" in key:  # a voiced mark once cut off by a space now follows its kana
        key = safe_nfkc(key)
    return key


@lru_cache(maxsize=65536)
def _fold_char(ch: str) -> str:
    if 0xF900 <= ord(ch) <= 0xFAFF or 0x2F800 <= ord(ch) <= 0x2FA1F:
        ch = unicodedata.normalize("NFC", ch) or ch
    if _mj_shrink_candidates is not None and ord(ch) >= 0x3400:
        # Follow first candidates to a fixed point; the MJ map has a few two-way pairs (淵⇄渕),
        # whose members both fold to the smaller code point so that the key is stable.
        seen = [ch]
        current = ch
        for _ in range(8):
            candidates = _mj_shrink_candidates(current, _JNTAJIS_COMBO)
            nxt = candidates[0] if candidates else current
            if nxt == current:
                break
            if nxt in seen:
                current = min(seen[seen.index(nxt) :])
                break
            seen.append(nxt)
            current = nxt
        ch = current
    return VARIANT_TABLE.get(ch, ch)


def fold_variants(text: str) -> str:
    """Old/variant kanji reduced to one representative; IVS and other variation selectors dropped."""
    text = _VARIATION_SELECTORS.sub("", text)
    if "\u3099" in text or "\u309a" in text:  # a voiced mark that a selector kept from its kana
        text = safe_nfkc(text)
    return "".join(_fold_char(c) if ord(c) >= 0x3400 else c for c in text)


def name_key_folded(text: str) -> str:
    """Rank 2 key: :func:`name_key_width` plus variant-kanji and kana-spelling folding."""
    return fold_variants(name_key_width(text)).translate(_KANA_FOLD)


@dataclass(frozen=True, slots=True)
class NameKeys:
    """The three match keys of a name, for indexing."""

    exact: str
    width: str
    folded: str


@lru_cache(maxsize=_CACHE)
def name_keys(text: str) -> NameKeys:
    width = name_key_width(text)
    return NameKeys(name_key_exact(text), width, fold_variants(width).translate(_KANA_FOLD))


# The search key columns of a person's current row, in the order :func:`search_keys` gives them.
SEARCH_KEY_COLUMNS: tuple[str, ...] = (
    "name_key_exact",
    "name_key_width",
    "name_key_folded",
    "kana_key_width",
    "kana_key_folded",
    "other_name_key_exact",
    "other_name_key_width",
    "other_name_key_folded",
    "other_kana_key_width",
    "other_kana_key_folded",
)


def other_name(
    name: str,
    name_kana: str,
    alias: str | None,
    alias_kana: str | None,
    former_surname: str | None = None,
    former_surname_kana: str | None = None,
) -> tuple[str | None, str | None]:
    """The other name a person is known by, and its reading (``None`` when there is none).

    A foreign resident's 通称, or a Japanese resident's 旧氏 with their 名 (旧氏 「鈴木」 of 「山田　花子」
    is 「鈴木　花子」): the name used at work or in daily life. The two never meet on one person
    (a 通称 is a foreign resident's, a 旧氏 a Japanese national's).
    """
    if alias:
        return alias, alias_kana
    if not former_surname:
        return None, None

    def with_given(surname: str, full: str) -> str:
        _surname, space, given = full.partition("\u3000")
        return f"{surname}\u3000{given}" if space and given else surname

    return with_given(former_surname, name), (
        with_given(former_surname_kana, name_kana) if former_surname_kana else None
    )


def search_keys(
    name: str,
    name_kana: str,
    alias: str | None,
    alias_kana: str | None,
    former_surname: str | None = None,
    former_surname_kana: str | None = None,
) -> tuple[str | None, ...]:
    """The keys a person is found by, in the order of :data:`SEARCH_KEY_COLUMNS`.

    The :func:`other_name` (通称, or 旧氏 with the 名) is searched like the 氏名; a person without one
    has ``None`` there, which keeps its indexes to the few who have one. The kana is stored
    normalized, so its width key is also its exact key.
    """
    keys, kana = name_keys(name), name_keys(name_kana)
    other, other_kana = other_name(name, name_kana, alias, alias_kana, former_surname, former_surname_kana)
    a = name_keys(other) if other else None
    ak = name_keys(other_kana) if other_kana else None
    return (
        keys.exact,
        keys.width,
        keys.folded,
        kana.width,
        kana.folded,
        *((a.exact, a.width, a.folded) if a else (None, None, None)),
        *((ak.width, ak.folded) if ak else (None, None)),
    )


def match_rank(query: str, candidate: str) -> int | None:
    """0 exact, 1 width/kana-insensitive, 2 variant-kanji match, ``None`` when the names differ.

    Lower is better: search results sort exact matches before looser ones.
    """
    if name_key_exact(query) == name_key_exact(candidate):
        return 0
    qw, cw = name_key_width(query), name_key_width(candidate)
    if qw == cw:
        return 1
    if fold_variants(qw).translate(_KANA_FOLD) == fold_variants(cw).translate(_KANA_FOLD):
        return 2
    return None


# --- allowed characters ---------------------------------------------------------------------------

_KANA_EXTRA = frozenset("々〆〻ー・ヽヾゝゞ")
_COMMON_CHARS = (
    "\u3041-\u3096\u30a1-\u30fa\u30fc\u30fb\u30fd\u30fe\u309d\u309e\u3005\u3006\u4e00-\u9fff\u3400-\u4dbf"
)
_COMMON_NAME = re.compile(f"^(?=.*\\S)[{_COMMON_CHARS} \u3000A-Za-z'.,-]+$")
_COMMON_NAME_NO_LATIN = re.compile(f"^(?=.*\\S)[{_COMMON_CHARS} \u3000]+$")
_FOREIGN_PUNCT = frozenset("-'.,’．，－")


def _is_ideograph(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF  # CJK Unified Ideographs
        or 0x3400 <= cp <= 0x4DBF  # Extension A
        or 0x20000 <= cp <= 0x323AF  # Extensions B–H (plane 2 and 3)
        or 0xF900 <= cp <= 0xFAFF  # CJK Compatibility Ideographs
        or 0x2F800 <= cp <= 0x2FA1F  # Compatibility Supplement
    )


def _is_kana(cp: int) -> bool:
    return (
        0x3041 <= cp <= 0x3096  # hiragana
        or 0x30A1 <= cp <= 0x30FA  # katakana
        or 0x31F0 <= cp <= 0x31FF  # small katakana extension (ㇰ ...) used in Ainu names
        or 0xFF66 <= cp <= 0xFF9F  # half-width katakana, dakuten and ｰ
        or cp in (0x3099, 0x309A, 0x309B, 0x309C)  # (combining) voiced sound marks
    )


def _is_latin_letter(ch: str) -> bool:
    if ch.isascii():
        return ch.isalpha()
    if 0xFF21 <= ord(ch) <= 0xFF3A or 0xFF41 <= ord(ch) <= 0xFF5A:
        return True
    # accented letters of foreign names: é, ñ, ø, ş ... (Latin-1 Supplement to Latin Extended-B)
    return 0x00C0 <= ord(ch) <= 0x024F and ch.isalpha()


def _describe(ch: str) -> str:
    return f"「{ch}」(U+{ord(ch):04X})" if ch.isprintable() else f"U+{ord(ch):04X}"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_control_characters(text: str) -> str | None:
    """The reason a raw name with a control character (C0/C1: tab, line break, U+001F ...) is
    refused, before normalization would quietly turn the white-space ones into a space."""
    m = _CONTROL.search(text)
    return None if m is None else _control_reason(ord(m.group()))


def _control_reason(cp: int) -> str:
    return f"制御文字 (U+{cp:04X}) は使用できません"


@lru_cache(maxsize=_CACHE)
def check_name_characters(text: str, *, allow_latin: bool = True) -> str | None:
    """``None`` when every character may appear in a name, else the reason in Japanese.

    Allowed: kanji (unified, extensions, compatibility), kana, 々 〆 ー ・, spaces, latin letters and
    ``- ' . ,`` for foreign names (unless ``allow_latin`` is false), and an ideographic variation
    selector right after a kanji. Refused: control characters, private-use characters (外字 that
    were not mapped), emoji, digits, symbols.
    """
    if (_COMMON_NAME if allow_latin else _COMMON_NAME_NO_LATIN).match(text):
        return None  # the usual case, decided by one regex; the loop below finds the reason otherwise
    if not text.strip():
        return "氏名が空です"
    previous_ideograph = False
    for ch in text:
        cp = ord(ch)
        if _is_ideograph(cp):
            previous_ideograph = True
            continue
        if 0xE0100 <= cp <= 0xE01EF or 0xFE00 <= cp <= 0xFE0F:
            if not previous_ideograph:
                return f"異体字セレクタ (U+{cp:04X}) が漢字の直後にありません"
            previous_ideograph = False
            continue
        previous_ideograph = False
        if ch in " \u3000" or _is_kana(cp) or ch in _KANA_EXTRA:
            continue
        if allow_latin and (_is_latin_letter(ch) or ch in _FOREIGN_PUNCT):
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Zl", "Zp") or (ch.isspace() and ch not in " \u3000"):
            return _control_reason(cp)
        if _is_pua(cp):
            return f"外字 (U+{cp:04X}) が変換されていません。外字対応表に登録してください"
        if category == "Cn":
            return f"未定義の文字 (U+{cp:04X}) は使用できません"
        if category == "So" or 0x1F000 <= cp <= 0x1FAFF:
            return f"絵文字・記号 {_describe(ch)} は使用できません"
        return f"氏名に使用できない文字 {_describe(ch)} が含まれています"
    return None


_KATAKANA_ALLOWED = frozenset("ー・ヽヾ \u3000ｰ･")


@lru_cache(maxsize=_CACHE)
def check_katakana(text: str) -> str | None:
    """``None`` when ``text`` is a katakana reading (full- or half-width), else the reason in Japanese."""
    if not text.strip():
        return "フリガナが空です"
    for ch in text:
        cp = ord(ch)
        if (
            0x30A1 <= cp <= 0x30FA
            or 0x31F0 <= cp <= 0x31FF
            or 0xFF66 <= cp <= 0xFF9F
            or ch in _KATAKANA_ALLOWED
        ):
            continue
        if cp in (0x3099, 0x309A):
            continue
        if 0x3041 <= cp <= 0x309F:
            return f"フリガナはカタカナで入力してください（ひらがな {_describe(ch)} があります）"
        return f"フリガナにカタカナ以外の文字 {_describe(ch)} が含まれています"
    return None


# --- 外字 (legacy in-house characters) ------------------------------------------------------------


class UnmappedGaiji(ValidationError):
    """A private-use character with no entry in the municipality's 外字 mapping."""

    def __init__(self, code_point: int) -> None:
        self.code_point = code_point
        super().__init__(
            f"legacy character U+{code_point:04X} has no entry in the gaiji mapping file",
            hint=f"add a line 'U+{code_point:04X},<MJ character>' to the mapping file",
            message_ja=f"外字 U+{code_point:04X} の対応が外字対応表にありません",
        )


_CODE_TEXT = re.compile(r"^(?:U\+|0x)?([0-9A-Fa-f]{4,6})$")


def _parse_code(field: str) -> int | None:
    m = _CODE_TEXT.match(field.strip())
    return int(m.group(1), 16) if m else None


def _parse_target(field: str) -> str:
    """``𠮷``, ``U+20BB7`` or ``U+845B U+E0100`` (a kanji with its IVS) → the text."""
    tokens = field.split()
    if tokens and all(t.upper().startswith("U+") and _parse_code(t) is not None for t in tokens):
        return "".join(chr(_parse_code(t) or 0) for t in tokens)
    return field.strip()


@dataclass(frozen=True)
class GaijiMap:
    """A municipality's 外字 mapping: private-use code point → MJ character (with IVS where needed).

    The file is CSV, UTF-8, ``legacy_code,mj_character``: the code as ``U+E000``, ``E000`` or the
    character itself; the target as the character(s) or space-separated ``U+`` codes. A header line
    ``legacy_code,mj_character`` and lines starting with ``#`` are skipped.
    """

    mapping: Mapping[int, str]

    @classmethod
    def empty(cls) -> GaijiMap:
        return cls({})

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, list[str]]]) -> GaijiMap:
        mapping: dict[int, str] = {}
        for line, row in rows:
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if line == 1 and row[0].strip().lower() == "legacy_code":
                continue
            if len(row) < 2:
                raise ValidationError(
                    f"gaiji mapping line {line}: expected 'legacy_code,mj_character'",
                    message_ja=f"外字対応表 {line}行目: 「外字コード,MJ文字」の2項目が必要です",
                )
            raw = row[0].strip()
            code = ord(raw) if len(raw) == 1 else _parse_code(raw)
            if code is None or not _is_pua(code):
                raise ValidationError(
                    f"gaiji mapping line {line}: {raw!r} is not a private-use code point",
                    message_ja=f"外字対応表 {line}行目: 「{raw}」は外字領域のコードではありません",
                )
            target = _parse_target(row[1])
            problem = check_name_characters(target, allow_latin=False) if target else "対応文字が空です"
            if problem is not None:
                raise ValidationError(
                    f"gaiji mapping line {line}: target of U+{code:04X} is not a usable character",
                    message_ja=f"外字対応表 {line}行目: {problem}",
                )
            if code in mapping and mapping[code] != target:
                raise ValidationError(
                    f"gaiji mapping line {line}: U+{code:04X} is mapped twice to different characters",
                    message_ja=f"外字対応表 {line}行目: U+{code:04X} が重複して異なる文字に対応しています",
                )
            mapping[code] = target
        return cls(mapping)

    @classmethod
    def from_csv_text(cls, text: str) -> GaijiMap:
        reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
        return cls.from_rows((reader.line_num, row) for row in reader)

    @classmethod
    def load(cls, path: str | Path) -> GaijiMap:
        return cls.from_csv_text(Path(path).read_text(encoding="utf-8-sig"))

    def unmapped(self, text: str) -> list[int]:
        """Private-use code points in ``text`` that this map does not cover, in order of appearance."""
        if not _PUA.search(text):
            return []
        return [ord(c) for c in _PUA.findall(text) if ord(c) not in self.mapping]

    def apply(self, text: str) -> str:
        """``text`` with every mapped 外字 replaced; :class:`UnmappedGaiji` names the first one missing."""
        if not _PUA.search(text):
            return text
        return _PUA.sub(self._replace, text)

    def _replace(self, m: re.Match[str]) -> str:
        target = self.mapping.get(ord(m.group(0)))
        if target is None:
            raise UnmappedGaiji(ord(m.group(0)))
        return target
