"""Tenants: local public bodies (地方公共団体), identified by the 全国地方公共団体コード.

The code has six digits: two for the prefecture, three for the body, and a check digit computed
under JIS X 0401/0402: weights 6, 5, 4, 3, 2 over the first five digits, check = 11 − (sum mod 11),
where 10 becomes 0 and 11 becomes 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from jichitai.platform.errors import ValidationError

PREFECTURES: tuple[str, ...] = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
    "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
    "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)  # fmt: skip

_WEIGHTS = (6, 5, 4, 3, 2)
_CODE = re.compile(r"^\d{6}$")


class TenantKind(StrEnum):
    """The kind of local public body."""

    PREFECTURE = "prefecture"  # 都道府県
    DESIGNATED_CITY = "designated_city"  # 政令指定都市
    CITY = "city"  # 市
    SPECIAL_WARD = "special_ward"  # 特別区
    TOWN = "town"  # 町
    VILLAGE = "village"  # 村

    @property
    def label_ja(self) -> str:
        return {
            "prefecture": "都道府県",
            "designated_city": "政令指定都市",
            "city": "市",
            "special_ward": "特別区",
            "town": "町",
            "village": "村",
        }[self.value]


class TenantStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


def check_digit(first_five: str) -> int:
    """The JIS X 0401/0402 check digit of the first five digits of a 地方公共団体コード."""
    if len(first_five) != 5 or not first_five.isdigit():
        raise ValidationError(f"expected five digits, got {first_five!r}")
    remainder = sum(int(c) * w for c, w in zip(first_five, _WEIGHTS, strict=True)) % 11
    value = 11 - remainder
    return {10: 0, 11: 1}.get(value, value)


class TenantCode(str):
    """A validated 6-digit 全国地方公共団体コード (e.g. ``141003`` for 横浜市)."""

    __slots__ = ()

    def __new__(cls, value: str) -> TenantCode:
        text = str(value).strip()
        if not _CODE.match(text):
            raise ValidationError(
                f"tenant code {value!r} must be six digits (全国地方公共団体コード, e.g. 141003)",
                hint="give the 6-digit code including its check digit",
            )
        expected = check_digit(text[:5])
        if int(text[5]) != expected:
            raise ValidationError(
                f"tenant code {text} has a wrong check digit (expected {text[:5]}{expected})",
                hint="check the code against the list of local public body codes",
            )
        pref = int(text[:2])
        if not 1 <= pref <= 47:
            raise ValidationError(f"tenant code {text}: prefecture part {text[:2]} is not 01–47")
        return super().__new__(cls, text)

    @property
    def prefecture_code(self) -> str:
        return self[:2]

    @property
    def prefecture_name(self) -> str:
        return PREFECTURES[int(self[:2]) - 1]

    @property
    def is_prefecture(self) -> bool:
        return self[2:5] == "000"


@dataclass(frozen=True)
class Tenant:
    """A local public body served by this installation."""

    code: TenantCode
    name: str  # 横浜市
    kana: str  # ヨコハマシ
    kind: TenantKind
    prefecture: str  # 神奈川県
    status: TenantStatus = TenantStatus.ACTIVE
    server: str = "default"  # PostgreSQL placement; "default" on SQLite

    @property
    def active(self) -> bool:
        return self.status is TenantStatus.ACTIVE
