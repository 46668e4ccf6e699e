"""The resident interchange file (住民記録 移行ファイル): columns, row validation, reading and writing.

One row per person, current residents and removed records (除票) alike, with Japanese column
headers in the style of the standard's 基本データリスト. CSV (UTF-8, header line) and JSON Lines
carry the same columns; ``docs/registry-interchange.md`` documents each one.

Parsing is pure: :func:`parse_row` takes a record (column → text) and its line number and returns
either a validated :class:`ResidentRow` or the list of :class:`RowError` found, every one of them
(not just the first) with a Japanese reason. Cross-row rules (one 世帯主 per household, the same
address within a household, duplicate numbers) are checked by :class:`HouseholdChecker`. Writing a
parsed row and parsing it again gives the same row, so import → export → import round-trips.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import lru_cache
from itertools import chain
from typing import IO, Any, cast

from jichitai.mynumber.registry.addresses import Address, normalize_address_text, parse_address
from jichitai.mynumber.registry.names import (
    GaijiMap,
    check_control_characters,
    check_katakana,
    check_name_characters,
    name_keys,
    normalize_kana,
    normalize_name,
)
from jichitai.platform.errors import ValidationError
from jichitai.platform.identifiers import individual_number_check_digit
from jichitai.platform.wareki import parse_wareki

FORMAT_VERSION = "1"
MAX_AGE_YEARS = 130
# Longest values accepted, in characters. Names stay within the search-key columns (200, which
# PostgreSQL enforces and SQLite does not) and within what a 住民票 can print; the 番地 part of an
# address within its column (60). Foreign residents' names in Latin letters are the longest.
NAME_MAX_CHARS = 100  # 氏名, 通称, 世帯主氏名, 筆頭者 and their カナ
TEXT_MAX_CHARS = 200  # 住所, 方書, 本籍, 国籍 and every other text
BLOCK_MAX_CHARS = 60  # 番地・住居表示 of a resident's 住所
_NAME_COLUMNS = frozenset(
    {"氏名", "氏名カナ", "通称", "通称カナ", "世帯主氏名", "筆頭者", "旧氏", "旧氏カナ"}
)


def max_chars(column: str) -> int:
    """The longest value, in characters, the interchange file may give in ``column``."""
    return NAME_MAX_CHARS if column in _NAME_COLUMNS else TEXT_MAX_CHARS


def too_long(value: str, limit: int) -> str:
    """The reason a value is too long (the import's and the change rules' wording)."""
    return f"{limit}文字以内で記載してください（{len(value)}文字です）"


def block_too_long(block: str) -> str:
    return f"番地・住居表示は{too_long(block, BLOCK_MAX_CHARS)}"


class Sex(StrEnum):
    """性別 as coded in the file: 1 男, 2 女."""

    MALE = "1"
    FEMALE = "2"

    @property
    def label_ja(self) -> str:
        return "男" if self is Sex.MALE else "女"


class ResidentKind(StrEnum):
    """住民種別: Japanese national (日本人住民) or foreign resident (外国人住民, 住基法第30条の45)."""

    JAPANESE = "日本人"
    FOREIGN = "外国人"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the file: its Japanese header, type, whether required, and an example."""

    name: str
    kind: str  # digits / text / kana / date / code / address
    required: bool
    example: str
    note: str


COLUMNS: tuple[Column, ...] = (
    Column("住民票コード", "digits", True, "12345678901", "11桁の数字"),
    Column("個人番号", "digits", False, "123456789018", "12桁、検査用数字を含む。未付番は空欄"),
    Column("統合宛名番号", "digits", False, "1000000001", "最大15桁。空欄なら移行時に付番"),
    Column("世帯番号", "digits", True, "0000123456", "最大15桁。同じ世帯の者は同じ番号"),
    Column("続柄", "code", True, "世帯主", "世帯主、妻、子、妻の子、同居人 など"),
    Column("世帯主氏名", "text", False, "山田　太郎", "記載があれば世帯主の氏名と照合"),
    Column("氏名", "text", True, "山田　太郎", "氏と名の間は空白。外字は外字対応表で変換"),
    Column("氏名カナ", "kana", True, "ヤマダ　タロウ", "カタカナ（半角可）"),
    Column("通称", "text", False, "山田　花子", "外国人住民のみ"),
    Column("通称カナ", "kana", False, "ヤマダ　ハナコ", "外国人住民のみ"),
    Column("生年月日", "date", True, "1980-04-01", "未来日・130歳超は不可"),
    Column("性別", "code", True, "1", "1 男、2 女（「男」「女」も可）"),
    Column("住民種別", "code", True, "日本人", "日本人 / 外国人"),
    Column("住民となった年月日", "date", True, "2005-10-01", "生年月日以後、未来日不可"),
    Column("住所", "address", True, "神奈川県横浜市中区本町1丁目2番3号", "都道府県から"),
    Column("方書", "text", False, "サンハイツ101号室", "建物名・部屋番号"),
    Column("住所を定めた年月日", "date", True, "2010-03-15", "住民となった年月日以後、未来日不可"),
    Column("前住所", "address", False, "神奈川県横浜市西区高島2丁目1-1", "市内転居前の住所"),
    Column("転入前住所", "address", False, "東京都千代田区一番町5", "転入前の住所（国外は国名）"),
    Column("本籍", "text", False, "東京都千代田区千代田1番", "日本人住民のみ"),
    Column("筆頭者", "text", False, "山田　一郎", "本籍を記載するときは必須。日本人住民のみ"),
    Column("国籍", "text", False, "ベトナム", "外国人住民は必須（国籍・地域）"),
    Column(
        "在留資格", "code", False, "技術・人文知識・国際業務", "外国人住民は必須。特別永住者等の区分を含む"
    ),
    Column("在留期間満了日", "date", False, "2027-03-31", "期間のある在留資格では必須"),
    Column("在留カード等番号", "code", False, "AB12345678CD", "英字2桁＋数字8桁＋英字2桁"),
    Column("異動事由", "code", False, "転入", "最後の異動の事由"),
    Column("異動日", "date", False, "2010-03-15", "異動事由があれば必須"),
    Column("届出日", "date", False, "2010-03-20", "未来日不可"),
    Column("消除事由", "code", False, "転出", "消除日があれば必須（除票）"),
    Column("消除日", "date", False, "2024-03-31", "除票の消除日"),
    Column("転出先住所", "address", False, "大阪府大阪市北区梅田3-1-1", "転出・国外転出のとき"),
    Column(
        "異動前続柄",
        "code",
        False,
        "妻",
        "異動日が未来の世帯主変更・続柄変更（世帯主の転出予定日から）のとき必須。その前日までの続柄",
    ),
    Column(
        "転出確定",
        "code",
        False,
        "未確定",
        "消除事由が転出のとき。確定／未確定（転入通知が未着）。空欄なら消除日が基準日以前で確定",
    ),
    Column("旧氏", "text", False, "鈴木", "日本人住民のみ。請求により記載した旧氏（氏のみ）"),
    Column("旧氏カナ", "kana", False, "スズキ", "旧氏の振り仮名。旧氏のないときは記載不可"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
REQUIRED_COLUMNS: frozenset[str] = frozenset(c.name for c in COLUMNS if c.required)

# 続柄 as written on the 住民票: a few standalone terms, or kin terms chained with の (妻の子, 子の妻).
HEAD = "世帯主"  # the 続柄 of the head of household (世帯主); rules.py and the service use this one
_STANDALONE_RELATIONSHIPS = frozenset({HEAD, "同居人", "縁故者", "妻（未届）", "夫（未届）"})
KIN_TERMS: frozenset[str] = frozenset(
    {"妻", "夫", "子", "父", "母", "孫", "兄", "姉", "弟", "妹", "祖父", "祖母", "曾孫", "伯父", "叔父",
     "伯母", "叔母", "甥", "姪", "養父", "養母", "曾祖父", "曾祖母"}
)  # fmt: skip

CHANGE_REASONS: frozenset[str] = frozenset(
    {"移行", "転入", "国外転入", "転居", "転出", "国外転出", "転出取消", "出生", "死亡", "世帯変更",
     "世帯分離", "世帯合併", "世帯主変更", "氏名変更", "続柄変更", "転籍", "帰化", "国籍取得", "国籍喪失",
     "職権記載", "職権修正", "職権消除", "在留資格変更", "在留期間更新", "通称記載", "通称削除",
     "旧氏記載", "旧氏削除"}
)  # fmt: skip
REMOVAL_REASONS: frozenset[str] = frozenset({"転出", "国外転出", "死亡", "職権消除", "国籍取得", "国籍喪失"})
FUTURE_ALLOWED_REMOVALS: frozenset[str] = frozenset({"転出", "国外転出"})  # 転出予定日 may lie ahead
# A 世帯主 whose 転出 is pending names who heads the household from the 転出予定日 and restates the
# 続柄 of those who stay from that day: their rows carry that change ahead, with 異動前続柄 (required).
RELATIONSHIP_CHANGES: frozenset[str] = frozenset({"世帯主変更", "続柄変更"})
# A member whose own 転出 on that day is cancelled (転出取消) may become 世帯主 from it too: 異動前続柄
# then says what they were until the day before (optional: a 転出取消 need not change the 続柄).
CHANGES_WITH_RELATIONSHIP_BEFORE: frozenset[str] = RELATIONSHIP_CHANGES | {"転出取消"}
# a 転出取消 is dated on the 転出予定日 it cancels, which may lie ahead too
FUTURE_ALLOWED_CHANGES: frozenset[str] = FUTURE_ALLOWED_REMOVALS | {"転出取消"} | RELATIONSHIP_CHANGES

# 在留資格 in the order of 入管法 別表, then the other 区分 of 住基法第30条の45 (order kept for screens)
RESIDENCE_STATUS_ORDER: tuple[str, ...] = (
    "外交", "公用", "教授", "芸術", "宗教", "報道", "高度専門職1号", "高度専門職2号", "経営・管理",
    "法律・会計業務", "医療", "研究", "教育", "技術・人文知識・国際業務", "企業内転勤", "介護", "興行",
    "技能", "特定技能1号", "特定技能2号", "技能実習1号", "技能実習2号", "技能実習3号", "文化活動",
    "短期滞在", "留学", "研修", "家族滞在", "特定活動", "永住者", "日本人の配偶者等", "永住者の配偶者等",
    "定住者", "特別永住者", "一時庇護許可者", "仮滞在許可者", "出生による経過滞在者",
    "国籍喪失による経過滞在者",
)  # fmt: skip
RESIDENCE_STATUSES: frozenset[str] = frozenset(RESIDENCE_STATUS_ORDER)
# Statuses without a period of stay (or whose end date is not a 在留期間): no 在留期間満了日 required.
STATUSES_WITHOUT_PERIOD: frozenset[str] = frozenset(
    {"永住者", "高度専門職2号", "特別永住者", "一時庇護許可者", "仮滞在許可者", "出生による経過滞在者",
     "国籍喪失による経過滞在者"}
)  # fmt: skip

# Free-text columns (field, column, normalization): earlier and later addresses may lie abroad, and
# 本籍 keeps its 番/番地 as registered, so they are normalized as text (width, dashes, numerals) but
# not split into components; 方書 as a name. The register keeps the same items the same way.
FREE_TEXT: dict[str, tuple[str, Callable[[str], str]]] = {
    "address_note": ("方書", normalize_name),
    "previous_address": ("前住所", normalize_address_text),
    "address_before_move_in": ("転入前住所", normalize_address_text),
    "moved_out_to": ("転出先住所", normalize_address_text),
    "honseki": ("本籍", normalize_address_text),
}


def is_printable_text(value: str) -> bool:
    """No control or other unprintable character (the ideographic space is fine)."""
    return value.replace("\u3000", " ").isprintable()


_DIGITS = re.compile(r"^\d+$")
_ISO_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
RESIDENCE_CARD = re.compile(r"^[A-Z]{2}\d{8}[A-Z]{2}$")
# how the file may write 性別 and 住民種別 (read here and by the fast validator, migration/fastrow.py)
SEX_CODES: dict[str, Sex] = {"1": Sex.MALE, "2": Sex.FEMALE, "男": Sex.MALE, "女": Sex.FEMALE}
KIND_CODES: dict[str, ResidentKind] = {"日本人": ResidentKind.JAPANESE, "外国人": ResidentKind.FOREIGN}


# --- 個人番号 ------------------------------------------------------------------------------------


# the platform's rule (番号法施行令第8条), under the name the interchange format's code uses
my_number_check_digit = individual_number_check_digit


def is_valid_my_number(text: str) -> bool:
    """12 ASCII digits whose last is the check digit of the first eleven."""
    return (
        len(text) == 12
        and text.isascii()
        and text.isdigit()
        and my_number_check_digit(text[:11]) == int(text[11])
    )


def is_valid_relationship(text: str) -> bool:
    """A 続柄 as the 住民票 writes it: 世帯主, 同居人, 縁故者, 妻（未届）, or kin terms joined by の."""
    if text in _STANDALONE_RELATIONSHIPS:
        return True
    parts = text.split("の")
    return 1 <= len(parts) <= 4 and all(p in KIN_TERMS for p in parts)


# --- rows ----------------------------------------------------------------------------------------


# Characters a report cannot carry as they are: control characters (PostgreSQL text refuses NUL)
# and lone surrogates (a JSON "\ud800" escape; no UTF-8 form). A reason quotes the bad value.
_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
COLUMN_NAME_MAX = 40  # registry_import_errors.column_name


def showable(text: str) -> str:
    """``text`` with each control character or lone surrogate written as its code point (U+0000)."""
    return _UNSHOWABLE.sub(lambda m: f"U+{ord(m.group()):04X}", text)


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of one row: the line in the file, the column (None: the whole row), the reason.

    Column and reason are made showable on creation: they quote what the file holds (an unknown
    column name, a refused value), and the report is stored and written as text.
    """

    line: int
    column: str | None
    reason_ja: str

    def __post_init__(self) -> None:
        if self.column is not None:
            column = showable(self.column)
            if len(column) > COLUMN_NAME_MAX:
                column = column[: COLUMN_NAME_MAX - 1] + "…"
            object.__setattr__(self, "column", column)
        object.__setattr__(self, "reason_ja", showable(self.reason_ja))

    def __str__(self) -> str:
        where = f"{self.line}行目" + (f" {self.column}" if self.column else "")
        return f"{where}: {self.reason_ja}"


@dataclass(slots=True)
class ResidentRow:
    """One validated, normalized person of the interchange file.

    Names are normalized (:func:`names.normalize_name`), kana is full-width katakana, dates are
    dates, and the address is split into components. Japanese item names are in the field comments.
    Treat it as a value: it is not frozen only because a frozen dataclass of 34 fields costs three
    times as much to build, which counts when millions of rows are imported or generated.
    """

    line: int
    juminhyo_code: str  # 住民票コード
    my_number: str | None  # 個人番号
    atena_number: str | None  # 統合宛名番号
    household_number: str  # 世帯番号
    relationship: str  # 続柄
    head_name: str | None  # 世帯主氏名
    name: str  # 氏名
    name_kana: str  # 氏名カナ
    alias: str | None  # 通称
    alias_kana: str | None  # 通称カナ
    birth_date: date  # 生年月日
    sex: Sex  # 性別
    kind: ResidentKind  # 住民種別
    became_resident_on: date  # 住民となった年月日
    address: Address  # 住所
    address_note: str | None  # 方書
    address_since: date  # 住所を定めた年月日
    previous_address: str | None  # 前住所
    address_before_move_in: str | None  # 転入前住所
    honseki: str | None  # 本籍
    hittosha: str | None  # 筆頭者
    nationality: str | None  # 国籍
    residence_status: str | None  # 在留資格
    stay_expires_on: date | None  # 在留期間満了日
    residence_card_number: str | None  # 在留カード等番号
    change_reason: str | None  # 異動事由
    change_date: date | None  # 異動日
    notified_on: date | None  # 届出日
    removal_reason: str | None  # 消除事由
    removed_on: date | None  # 消除日
    moved_out_to: str | None  # 転出先住所
    # 異動前続柄: the 続柄 until a 世帯主変更/続柄変更 dated ahead (see RELATIONSHIP_CHANGES)
    relationship_before: str | None = None
    # 転出確定: whether a 転出 was confirmed (転入通知 received); None when the file does not say
    move_out_confirmed: bool | None = None
    former_surname: str | None = None  # 旧氏
    former_surname_kana: str | None = None  # 旧氏カナ

    @property
    def is_removed(self) -> bool:
        """A 除票: removed by move-out, death or ex-officio removal."""
        return self.removed_on is not None

    @property
    def is_head(self) -> bool:
        return self.relationship == HEAD

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))


@dataclass(frozen=True)
class ParseContext:
    """What row validation needs from outside, passed in so that parsing stays pure.

    ``today`` bounds dates; ``gaiji`` maps legacy characters; ``known_cities`` help split
    addresses; ``municipality_prefix`` (e.g. ``神奈川県横浜市``), when given, is where every
    current address must lie.
    """

    today: date
    gaiji: GaijiMap = field(default_factory=GaijiMap.empty)
    known_cities: tuple[str, ...] = ()
    municipality_prefix: str | None = None


class _Row:
    """Collects errors while reading the fields of one record."""

    __slots__ = ("errors", "line", "values")

    def __init__(self, record: Mapping[str, object], line: int) -> None:
        self.values = {
            k: (v if isinstance(v, str) else str(v)).strip() for k, v in record.items() if v is not None
        }
        self.line = line
        self.errors: list[RowError] = []

    def error(self, column: str | None, reason: str) -> None:
        self.errors.append(RowError(self.line, column, reason))

    def raw(self, column: str) -> str:
        return self.values.get(column, "")

    def text(self, column: str, *, required: bool = False) -> str | None:
        value = self.values.get(column, "")
        if not value:
            if required:
                self.error(column, "必須項目が空です")
            return None
        if len(value) > (limit := max_chars(column)):
            self.error(column, too_long(value, limit))
            return None
        return value

    def digits(
        self, column: str, *, length: int | None = None, max_length: int = 15, required: bool = False
    ) -> str | None:
        value = self.text(column, required=required)
        if value is None:
            return None
        if not (_DIGITS.match(value) and value.isascii()):
            self.error(column, f"数字以外の文字が含まれています: 「{value}」")
            return None
        if length is not None and len(value) != length:
            self.error(column, f"{length}桁の数字で入力してください（{len(value)}桁です）")
            return None
        if len(value) > max_length:
            self.error(column, f"{max_length}桁以内で入力してください（{len(value)}桁です）")
            return None
        return value

    def date(self, column: str, *, required: bool = False) -> date | None:
        value = self.text(column, required=required)
        if value is None:
            return None
        parsed = parse_date(value)
        if isinstance(parsed, str):
            self.error(column, parsed)
            return None
        return parsed

    def name(
        self, column: str, gaiji: GaijiMap, *, required: bool = False, allow_latin: bool = True
    ) -> str | None:
        value = self.text(column, required=required)
        if value is None:
            return None
        unmapped = gaiji.unmapped(value)
        if unmapped:
            codes = "、".join(f"U+{cp:04X}" for cp in dict.fromkeys(unmapped))
            self.error(column, f"外字 {codes} の対応が外字対応表にありません")
            return None
        problem = check_control_characters(value)
        if problem is not None:
            self.error(column, problem)
            return None
        value = normalize_name(gaiji.apply(value))
        problem = check_name_characters(value, allow_latin=allow_latin)
        if problem is not None:
            self.error(column, problem)
            return None
        return value

    def kana(self, column: str, *, required: bool = False) -> str | None:
        value = self.text(column, required=required)
        if value is None:
            return None
        problem = check_katakana(value)
        if problem is not None:
            self.error(column, problem)
            return None
        return normalize_kana(value)

    def free_item(self, field: str, ctx: ParseContext) -> str | None:
        """A :data:`FREE_TEXT` column, normalized as that table says."""
        column, normalize = FREE_TEXT[field]
        return self.free_text(column, ctx, normalize)

    def free_text(
        self, column: str, ctx: ParseContext, normalize: Callable[[str], str], *, required: bool = False
    ) -> str | None:
        """Text where digits and symbols are normal (addresses, 方書): 外字 mapped, no control chars."""
        value = self.text(column, required=required)
        if value is None:
            return None
        unmapped = ctx.gaiji.unmapped(value)
        if unmapped:
            codes = "、".join(f"U+{cp:04X}" for cp in dict.fromkeys(unmapped))
            self.error(column, f"外字 {codes} の対応が外字対応表にありません")
            return None
        value = ctx.gaiji.apply(value)
        if not is_printable_text(value):
            self.error(column, "制御文字が含まれています")
            return None
        return normalize(value)

    def address(self, column: str, ctx: ParseContext, *, required: bool = False) -> Address | None:
        value = self.free_text(column, ctx, lambda text: text, required=required)
        if value is None:
            return None
        address = parse_address(value, known_cities=ctx.known_cities)
        if len(address.block) > BLOCK_MAX_CHARS:
            self.error(column, block_too_long(address.block))
            return None
        return address

    def choice(
        self, column: str, allowed: Iterable[str], *, required: bool = False, label: str
    ) -> str | None:
        value = self.text(column, required=required)
        if value is None:
            return None
        if value not in allowed:
            self.error(column, f"{label}として認められない値です: 「{value}」")
            return None
        return value


@lru_cache(maxsize=1 << 16)  # dates repeat a lot in a city's file (a few tens of thousands of days)
def parse_date(value: str) -> date | str:
    """The date written in ``value``, or the reason it is not one."""
    m = _ISO_DATE.match(value) or _COMPACT_DATE.match(value)
    try:
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if value[0] in "令平昭大明RHSTMrhstm":
            return parse_wareki(value)
    except ValueError:
        return f"存在しない日付です: 「{value}」"
    except ValidationError as exc:
        return exc.message_ja or f"和暦の日付が正しくありません: 「{value}」"
    return f"日付の形式が正しくありません（YYYY-MM-DD）: 「{value}」"


def _age(birth: date, day: date) -> int:
    years = day.year - birth.year
    return years - ((day.month, day.day) < (birth.month, birth.day))


def parse_row(record: Mapping[str, object], line: int, ctx: ParseContext) -> ResidentRow | list[RowError]:
    """Validate and normalize one record; all problems are reported, each with its column."""
    r = _Row(record, line)
    today = ctx.today

    juminhyo_code = r.digits("住民票コード", length=11, required=True)
    my_number = r.digits("個人番号", length=12)
    if my_number is not None and not is_valid_my_number(my_number):
        r.error("個人番号", "個人番号の検査用数字が一致しません")
        my_number = None
    atena_number = r.digits("統合宛名番号")
    household_number = r.digits("世帯番号", required=True)

    relationship = r.text("続柄", required=True)
    if relationship is not None and not is_valid_relationship(relationship):
        r.error("続柄", f"続柄として認められない値です: 「{relationship}」")
        relationship = None

    kind_text = r.text("住民種別", required=True)
    kind = KIND_CODES.get(kind_text) if kind_text else None
    if kind_text and kind is None:
        r.error("住民種別", f"住民種別は「日本人」か「外国人」です: 「{kind_text}」")
    foreign = kind is ResidentKind.FOREIGN

    head_name = r.name("世帯主氏名", ctx.gaiji)
    name = r.name("氏名", ctx.gaiji, required=True, allow_latin=foreign or kind is None)
    name_kana = r.kana("氏名カナ", required=True)
    alias = r.name("通称", ctx.gaiji)
    alias_kana = r.kana("通称カナ")
    if not foreign and kind is not None and (alias or alias_kana):
        r.error("通称", "通称は外国人住民のみ記載できます")
    if r.raw("通称カナ") and not r.raw("通称"):
        r.error("通称カナ", "通称のない通称カナは記載できません")
    former = r.name("旧氏", ctx.gaiji, allow_latin=False)
    former_kana = r.kana("旧氏カナ")
    if foreign and (former or former_kana):
        r.error("旧氏", "旧氏は日本人住民のみ記載できます")
    if former is not None and (problem := former_surname_problem(former)) is not None:
        r.error("旧氏", problem)
    if r.raw("旧氏カナ") and not r.raw("旧氏"):
        r.error("旧氏カナ", "旧氏のない旧氏カナは記載できません")

    sex_text = r.text("性別", required=True)
    sex = SEX_CODES.get(sex_text) if sex_text else None
    if sex_text and sex is None:
        r.error("性別", f"性別は 1（男）か 2（女）です: 「{sex_text}」")

    birth = r.date("生年月日", required=True)
    if birth is not None:
        if birth > today:
            r.error("生年月日", f"生年月日が未来の日付です: {birth.isoformat()}")
            birth = None
        elif _age(birth, today) > MAX_AGE_YEARS:
            r.error("生年月日", f"年齢が{MAX_AGE_YEARS}歳を超えています: {birth.isoformat()}")
            birth = None

    became = r.date("住民となった年月日", required=True)
    address = r.address("住所", ctx, required=True)
    address_note = r.free_item("address_note", ctx)
    since = r.date("住所を定めた年月日", required=True)
    # (see FREE_TEXT: normalized as text, not split into components)
    previous = r.free_item("previous_address", ctx)
    before_move_in = r.free_item("address_before_move_in", ctx)
    moved_out_to = r.free_item("moved_out_to", ctx)
    honseki = r.free_item("honseki", ctx)
    hittosha = r.name("筆頭者", ctx.gaiji, allow_latin=False)
    nationality = r.text("国籍")
    if nationality is not None and (problem := check_name_characters(nationality)) is not None:
        r.error("国籍", problem.replace("氏名", "国籍"))
        nationality = None
    status = r.choice("在留資格", RESIDENCE_STATUSES, label="在留資格")
    stay_until = r.date("在留期間満了日")
    card = r.text("在留カード等番号")
    if card is not None and not RESIDENCE_CARD.match(card):
        r.error("在留カード等番号", f"在留カード等番号は英字2桁・数字8桁・英字2桁です: 「{card}」")
        card = None

    if kind is ResidentKind.JAPANESE:
        for column in ("国籍", "在留資格", "在留期間満了日", "在留カード等番号"):
            if r.raw(column):
                r.error(column, "日本人住民には記載できません")
        if r.raw("本籍") and not r.raw("筆頭者"):
            r.error("筆頭者", "本籍を記載するときは筆頭者も必要です")
        if r.raw("筆頭者") and not r.raw("本籍"):
            r.error("本籍", "筆頭者を記載するときは本籍も必要です")
    elif foreign:
        for column in ("本籍", "筆頭者"):
            if r.raw(column):
                r.error(column, "外国人住民には記載できません")
        if not r.raw("国籍"):
            r.error("国籍", "外国人住民は国籍・地域が必須です")
        if not r.raw("在留資格"):
            r.error("在留資格", "外国人住民は在留資格（区分）が必須です")
        elif status is not None and status not in STATUSES_WITHOUT_PERIOD and not r.raw("在留期間満了日"):
            r.error("在留期間満了日", f"在留資格「{status}」には在留期間満了日が必要です")
        if stay_until is not None and birth is not None and stay_until < birth:
            r.error("在留期間満了日", "在留期間満了日が生年月日より前です")  # (the register's rule too)

    change_reason = r.choice("異動事由", CHANGE_REASONS, label="異動事由")
    change_date = r.date("異動日")
    if r.raw("異動事由") and not r.raw("異動日"):
        r.error("異動日", "異動事由があるときは異動日が必要です")
    notified = r.date("届出日")
    removal_reason = r.choice("消除事由", REMOVAL_REASONS, label="消除事由")
    removed_on = r.date("消除日")
    if r.raw("消除日") and not r.raw("消除事由"):
        r.error("消除事由", "消除日があるときは消除事由が必要です")
    if r.raw("消除事由") and not r.raw("消除日"):
        r.error("消除日", "消除事由があるときは消除日が必要です")
    relationship_before = r.text("異動前続柄")
    problem = relationship_before_problem(
        relationship_before, change_reason, change_date, removed=bool(r.raw("消除日")), today=today
    )
    if problem is not None:
        r.error("異動前続柄", problem)
        relationship_before = None
    move_out_confirmed, problem = parse_move_out_confirmed(
        r.text("転出確定"), removal_reason, removed_on, today=today
    )
    if problem is not None:
        r.error("転出確定", problem)

    # Date order: nothing before birth; registration dates not in the future.
    for column, value in (
        ("住民となった年月日", became),
        ("住所を定めた年月日", since),
        ("異動日", change_date),
        ("届出日", notified),
        ("消除日", removed_on),
    ):
        if value is None:
            continue
        if birth is not None and value < birth:
            r.error(column, f"生年月日（{birth.isoformat()}）より前の日付です: {value.isoformat()}")
        elif value > today and not (
            column in ("異動日", "消除日") and (removal_reason or change_reason) in FUTURE_ALLOWED_CHANGES
        ):
            r.error(column, f"未来の日付です: {value.isoformat()}")
    if became is not None and since is not None and since < became:
        r.error("住所を定めた年月日", "住民となった年月日より前です")
    if became is not None and removed_on is not None and removed_on < became:
        r.error("消除日", "住民となった年月日より前です")
    if change_reason == "出生" and change_date is not None and birth is not None and change_date != birth:
        r.error("異動日", "出生の異動日は生年月日と同じ日です")
    if (
        address is not None
        and ctx.municipality_prefix
        and removed_on is None
        and not address.text.startswith(ctx.municipality_prefix)
    ):
        r.error("住所", f"住所が{ctx.municipality_prefix}の区域外です: 「{address.text}」")
    if address is not None and (not address.prefecture or not address.city):
        r.error("住所", f"住所は都道府県・市区町村から記載してください: 「{address.text}」")

    if r.errors:
        return r.errors
    if (
        juminhyo_code is None
        or household_number is None
        or relationship is None
        or name is None
        or name_kana is None
        or birth is None
        or sex is None
        or kind is None
        or became is None
        or address is None
        or since is None
    ):  # pragma: no cover - a missing required value always records an error above
        raise RuntimeError(f"line {line}: required value missing without an error")
    return ResidentRow(
        line=line,
        juminhyo_code=juminhyo_code,
        my_number=my_number,
        atena_number=atena_number,
        household_number=household_number,
        relationship=relationship,
        head_name=head_name,
        name=name,
        name_kana=name_kana,
        alias=alias,
        alias_kana=alias_kana,
        birth_date=birth,
        sex=sex,
        kind=kind,
        became_resident_on=became,
        address=address,
        address_note=address_note,
        address_since=since,
        previous_address=previous,
        address_before_move_in=before_move_in,
        honseki=honseki,
        hittosha=hittosha,
        nationality=nationality,
        residence_status=status,
        stay_expires_on=stay_until,
        residence_card_number=card,
        change_reason=change_reason,
        change_date=change_date,
        notified_on=notified,
        removal_reason=removal_reason,
        removed_on=removed_on,
        moved_out_to=moved_out_to,
        relationship_before=relationship_before,
        move_out_confirmed=move_out_confirmed,
        former_surname=former,
        former_surname_kana=former_kana,
    )


def former_surname_problem(former: str) -> str | None:
    """Why a (normalized) 旧氏 cannot be recorded: it is one 氏, without a 名."""
    if "\u3000" in former:
        return f"旧氏は氏のみを記載してください（名を含めない）: 「{former}」"
    return None


MOVE_OUT_CONFIRMED = {"確定": True, "未確定": False}


def parse_move_out_confirmed(
    value: str | None, removal_reason: str | None, removed_on: date | None, *, today: date
) -> tuple[bool | None, str | None]:
    """The row's 転出確定 (None: not stated) and why it is refused, or None; ``parse_row`` and the
    import's fast path share it. Not stated, a 転出 is confirmed once its 消除日 has come; 未確定
    keeps one whose 転入通知 has not arrived (it may still be confirmed or cancelled), and a 転出
    dated ahead cannot be 確定."""
    if value is None:
        return None, None
    confirmed = MOVE_OUT_CONFIRMED.get(value)
    if confirmed is None:
        return None, f"転出確定は「確定」か「未確定」です: 「{value}」"
    if removal_reason != "転出":
        return None, "転出確定は消除事由が転出のときに記載します"
    if confirmed and removed_on is not None and removed_on > today:
        return None, f"転出予定日（消除日 {removed_on.isoformat()}）が未来の転出は確定できません"
    return confirmed, None


def relationship_before_problem(
    value: str | None, change_reason: str | None, change_date: date | None, *, removed: bool, today: date
) -> str | None:
    """Why the row's 異動前続柄 ``value`` (None: empty) is refused, or None: the row-level rules,
    which ``parse_row`` and the import's fast path share (whether the 異動日 is the 転出予定日 of the
    household's 世帯主 is checked across rows)."""
    ahead = change_date is not None and change_date > today
    if value is None:
        if ahead and change_reason in RELATIONSHIP_CHANGES:
            return f"異動日が未来の{change_reason}には異動前続柄（その前日までの続柄）が必要です"
        return None
    if not is_valid_relationship(value):
        return f"続柄として認められない値です: 「{value}」"
    if not ahead or change_reason not in CHANGES_WITH_RELATIONSHIP_BEFORE:
        return "異動前続柄は、異動日が未来の世帯主変更・続柄変更・転出取消のときに記載します"
    if value == HEAD:
        return "異動前続柄に世帯主は記載できません（異動日の前日までは転出予定の世帯主が世帯主です）"
    if removed:
        return "除票には記載できません"
    return None


# --- cross-row rules -----------------------------------------------------------------------------


@dataclass
class _Household:
    first_line: int
    heads: list[int] = field(default_factory=list)
    head_name_key: str | None = None
    address_key: str | None = None
    address_line: int = 0
    stated_head_names: list[tuple[int, str]] = field(default_factory=list)


class HouseholdChecker:
    """Cross-row rules over parsed rows, fed one at a time so that a large file streams through.

    Among current (not removed) persons: each household has exactly one 世帯主, its members live at
    the same address, and a 世帯主氏名 given on a member's row is the head's name. A 続柄 that
    changes ahead (異動前続柄) changes on the 転出予定日 (消除日) of a member of the household: of
    its 世帯主 for a 世帯主変更 or 転出取消, of anyone leaving for a 続柄変更 (a 転出 may restate
    the 続柄 of those who stay, whoever leaves). Across all rows:
    no 住民票コード or 個人番号 twice (``check_duplicates``; keeps every number in memory, about
    150 bytes a row — an importer at city scale may rely on its database's unique indexes instead).
    """

    def __init__(self, *, check_duplicates: bool = True) -> None:
        self._check_duplicates = check_duplicates
        self._households: dict[str, _Household] = {}
        self._codes: dict[int, int] = {}
        self._numbers: dict[int, int] = {}
        # 世帯番号 -> 消除日 of its removed rows, by whose: every member's (世帯員), the 世帯主's
        self._leaving: dict[str, dict[str, set[date]]] = {"世帯員": {}, HEAD: {}}
        # rows with 異動前続柄: line, 世帯番号, 異動日, whose 消除日 it must be
        self._changes_ahead: list[tuple[int, str, date, str]] = []
        self.errors: list[RowError] = []

    def add(self, row: ResidentRow) -> list[RowError]:
        """Record ``row``; returns the problems that can already be told (duplicates, address)."""
        found: list[RowError] = []
        if self._check_duplicates:
            first = self._codes.setdefault(int(row.juminhyo_code), row.line)
            if first != row.line:
                found.append(RowError(row.line, "住民票コード", f"住民票コードが{first}行目と重複しています"))
            if row.my_number is not None:
                first = self._numbers.setdefault(int(row.my_number), row.line)
                if first != row.line:
                    found.append(RowError(row.line, "個人番号", f"個人番号が{first}行目と重複しています"))
        if row.removed_on is not None:
            for whose in ("世帯員", HEAD) if row.relationship == HEAD else ("世帯員",):
                self._leaving[whose].setdefault(row.household_number, set()).add(row.removed_on)
        if row.relationship_before is not None and row.change_date is not None:
            whose = "世帯員" if row.change_reason == "続柄変更" else HEAD
            self._changes_ahead.append((row.line, row.household_number, row.change_date, whose))
        if not row.is_removed:
            h = self._households.get(row.household_number)
            if h is None:
                h = self._households[row.household_number] = _Household(first_line=row.line)
            key = row.address.match_key
            if h.address_key is None:
                h.address_key, h.address_line = key, row.line
            elif h.address_key != key:
                found.append(
                    RowError(
                        row.line,
                        "住所",
                        f"世帯番号{row.household_number}の住所が{h.address_line}行目の世帯員と異なります",
                    )
                )
            if row.is_head:
                h.heads.append(row.line)
                if h.head_name_key is None:
                    h.head_name_key = name_keys(row.name).width  # cached: names repeat
            if row.head_name is not None:
                h.stated_head_names.append((row.line, name_keys(row.head_name).width))
        self.errors.extend(found)
        return found

    def finish(self) -> list[RowError]:
        """The household-level problems, once every row was added; also appended to :attr:`errors`."""
        found: list[RowError] = []
        for number, h in self._households.items():
            if not h.heads:
                found.append(RowError(h.first_line, "続柄", f"世帯番号{number}に世帯主がいません"))
            for line in h.heads[1:]:
                found.append(
                    RowError(line, "続柄", f"世帯番号{number}に世帯主が複数います（{h.heads[0]}行目）")
                )
            if h.head_name_key is not None:
                for line, key in h.stated_head_names:
                    if key != h.head_name_key:
                        found.append(
                            RowError(
                                line,
                                "世帯主氏名",
                                f"世帯番号{number}の世帯主（{h.heads[0]}行目）の氏名と一致しません",
                            )
                        )
        for line, number, day, whose in self._changes_ahead:
            if day not in self._leaving[whose].get(number, ()):
                found.append(
                    RowError(
                        line,
                        "異動日",
                        f"異動前続柄のある行の異動日（{day.isoformat()}）が、世帯番号{number}の"
                        f"{whose}の転出予定日（消除日）と一致しません",
                    )
                )
        found.sort(key=lambda e: e.line)
        self.errors.extend(found)
        return found


def validate_households(rows: Iterable[ResidentRow], *, check_duplicates: bool = True) -> list[RowError]:
    """All cross-row problems of ``rows`` (see :class:`HouseholdChecker`), ordered by line."""
    checker = HouseholdChecker(check_duplicates=check_duplicates)
    for row in rows:
        checker.add(row)
    checker.finish()
    return sorted(checker.errors, key=lambda e: (e.line, e.column or ""))


# --- reading -------------------------------------------------------------------------------------


def check_header(columns: Sequence[str]) -> list[RowError]:
    """Header problems (line 1): unknown or repeated columns, required columns missing."""
    errors: list[RowError] = []
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            errors.append(RowError(1, name, "列名が重複しています"))
        elif name not in COLUMN_NAMES:
            errors.append(RowError(1, name, "未知の列名です"))
        seen.add(name)
    for name in COLUMN_NAMES:
        if name in REQUIRED_COLUMNS and name not in seen:
            errors.append(RowError(1, name, "必須の列がありません"))
    return errors


Record = dict[str, str]


def csv_records(stream: IO[str], header: list[str]) -> Iterator[tuple[int, str | list[str] | list[RowError]]]:
    """What :func:`csv_rows` yields, with a record that is one line without quotes left as that
    line's text (line break removed, its values separated by commas, the right number of them).

    Such lines are most of a file, and splitting them is several times cheaper than the CSV parser
    (an import reads millions); a line with a quote goes through the CSV parser, which may read on
    over the line breaks inside a quoted value. The stream must be opened with ``newline=""``.
    """
    lines = iter(stream)
    reader = csv.reader(lines)
    try:
        columns = next(reader)
    except StopIteration:
        yield 1, [RowError(1, None, "ファイルが空です（見出し行がありません）")]
        return
    if columns and columns[0].startswith("\ufeff"):
        columns[0] = columns[0][1:]
    columns = [h.strip() for h in columns]
    problems = check_header(columns)
    if problems:
        yield 1, problems
        return
    header[:] = columns
    line = reader.line_num + 1
    width = len(columns)
    commas = width - 1
    for text in lines:
        if '"' not in text:
            at, line = line, line + 1
            body = text.rstrip("\r\n")
            if body.count(",") == commas:
                yield at, body
                continue
            row = body.split(",")
        else:  # quoted values: the CSV parser, from this line on, for this one record
            quoted = csv.reader(chain((text,), lines))
            row = next(quoted)
            at, line = line, line + quoted.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            reason = f"項目数が見出しと一致しません（{len(row)}項目、見出しは{width}項目）"
            yield at, [RowError(at, None, reason)]
            continue
        yield at, row


def csv_rows(stream: IO[str], header: list[str]) -> Iterator[tuple[int, list[str] | list[RowError]]]:
    """What :func:`iter_csv` yields, with each record as its list of values in ``header``'s order.

    ``header`` (a list given by the caller) receives the file's columns once the header is read and
    found usable. An item is ``(line, values)``, or ``(line, errors)`` (a list of
    :class:`RowError`) for a broken row or an unusable header.
    """
    for line, record in csv_records(stream, header):
        yield line, record.split(",") if type(record) is str else cast(list[str] | list[RowError], record)


def iter_csv(stream: IO[str]) -> Iterator[tuple[int, Record | list[RowError]]]:
    """``(line, record)`` for each data row of a CSV stream, or ``(line, errors)`` for a broken one.

    The first yield is the header check: ``(1, errors)`` when the header is unusable, in which case
    nothing else is read. ``line`` is the physical line where the row starts, as editors count.
    """
    header: list[str] = []
    for line, row in csv_rows(stream, header):
        if row and isinstance(row[0], str):
            yield line, dict(zip(header, row, strict=True))
        else:
            yield line, cast(list[RowError], row)


def iter_jsonl(stream: IO[str]) -> Iterator[tuple[int, Record | list[RowError]]]:
    """``(line, record)`` for each JSON object line, or ``(line, errors)`` for a line that is not one."""
    for line, text in enumerate(stream, start=1):
        if line == 1:
            text = text.lstrip("\ufeff")
        if not text.strip():
            continue
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            yield line, [RowError(line, None, f"JSONとして読めません（{exc.msg}、{exc.colno}文字目）")]
            continue
        except ValueError:  # a number of more than 4,300 digits (int's limit)
            yield line, [RowError(line, None, "JSONとして読めません（桁数の多すぎる数値があります）")]
            continue
        except RecursionError:  # arrays or objects nested thousands deep
            yield line, [RowError(line, None, "JSONとして読めません（入れ子が深すぎます）")]
            continue
        if not isinstance(value, dict):
            yield line, [RowError(line, None, "1行に1つのJSONオブジェクトが必要です")]
            continue
        unknown = [k for k in value if k not in COLUMN_NAMES]
        if unknown:
            yield line, [RowError(line, k, "未知の項目名です") for k in unknown]
            continue
        bad = [
            k
            for k, v in value.items()
            if v is not None and (isinstance(v, bool) or not isinstance(v, str | int))
        ]
        if bad:
            yield line, [RowError(line, k, "値は文字列で記載してください") for k in bad]
            continue
        yield line, {k: "" if v is None else str(v) for k, v in value.items()}


# --- writing -------------------------------------------------------------------------------------


def _d(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def row_to_record(row: ResidentRow) -> Record:
    """The file form of a row: every column, empty string where there is no value."""
    return dict(zip(COLUMN_NAMES, row_to_values(row), strict=True))


def row_to_values(row: ResidentRow) -> tuple[str, ...]:
    """The file form of a row as values in :data:`COLUMN_NAMES` order (for fast CSV writing)."""
    return (
        row.juminhyo_code,
        row.my_number or "",
        row.atena_number or "",
        row.household_number,
        row.relationship,
        row.head_name or "",
        row.name,
        row.name_kana,
        row.alias or "",
        row.alias_kana or "",
        row.birth_date.isoformat(),
        row.sex.value,
        row.kind.value,
        row.became_resident_on.isoformat(),
        row.address.text,
        row.address_note or "",
        row.address_since.isoformat(),
        row.previous_address or "",
        row.address_before_move_in or "",
        row.honseki or "",
        row.hittosha or "",
        row.nationality or "",
        row.residence_status or "",
        _d(row.stay_expires_on),
        row.residence_card_number or "",
        row.change_reason or "",
        _d(row.change_date),
        _d(row.notified_on),
        row.removal_reason or "",
        _d(row.removed_on),
        row.moved_out_to or "",
        row.relationship_before or "",
        "" if row.move_out_confirmed is None else ("確定" if row.move_out_confirmed else "未確定"),
        row.former_surname or "",
        row.former_surname_kana or "",
    )


def write_csv(rows: Iterable[ResidentRow], stream: IO[str], *, header: bool = True) -> int:
    """Write rows as CSV (header first, ``\\r\\n`` line ends as RFC 4180); returns the number of rows."""
    writer = csv.writer(stream)
    if header:
        writer.writerow(COLUMN_NAMES)
    count = 0
    for row in rows:
        writer.writerow(row_to_values(row))
        count += 1
    return count


def write_jsonl(rows: Iterable[ResidentRow], stream: IO[str]) -> int:
    """Write rows as JSON Lines, one object per person, empty values left out."""
    count = 0
    for row in rows:
        record = {k: v for k, v in zip(COLUMN_NAMES, row_to_values(row), strict=True) if v}
        stream.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        stream.write("\n")
        count += 1
    return count


def write_error_report(errors: Iterable[RowError], stream: IO[str]) -> int:
    """The rejected-rows report as CSV: 行, 項目, 理由 (one line per problem)."""
    writer = csv.writer(stream)
    writer.writerow(("行", "項目", "理由"))
    count = 0
    for e in errors:
        writer.writerow((e.line, e.column or "", e.reason_ja))
        count += 1
    return count
