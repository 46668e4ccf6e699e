"""Japanese era dates (和暦).

Era boundaries follow the dates the eras began (元号法 and the imperial transitions): a date on or
after the first day of an era belongs to it, and the first year of an era is printed as 元年.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from jichitai.platform.errors import ValidationError


@dataclass(frozen=True)
class Era:
    name: str  # 令和
    short: str  # R
    start: date


ERAS: tuple[Era, ...] = (
    Era("令和", "R", date(2019, 5, 1)),
    Era("平成", "H", date(1989, 1, 8)),
    Era("昭和", "S", date(1926, 12, 25)),
    Era("大正", "T", date(1912, 7, 30)),
    Era("明治", "M", date(1868, 10, 23)),
)
_BY_NAME = {e.name: e for e in ERAS} | {e.short: e for e in ERAS} | {e.short.lower(): e for e in ERAS}


def era_of(d: date) -> tuple[Era, int]:
    """The era and the era year of a Gregorian date."""
    for era in ERAS:
        if d >= era.start:
            return era, d.year - era.start.year + 1
    raise ValidationError(
        f"{d.isoformat()} is before the Meiji era", message_ja="明治より前の日付は扱えません"
    )


def format_wareki(d: date, *, gannen: bool = True) -> str:
    """``date(2026, 11, 26)`` → ``令和8年11月26日``; the first year prints as 元年."""
    era, year = era_of(d)
    y = "元" if (year == 1 and gannen) else str(year)
    return f"{era.name}{y}年{d.month}月{d.day}日"


_PATTERN = re.compile(
    r"^\s*(?P<era>令和|平成|昭和|大正|明治|[RHSTMrhstm])\.?\s*(?P<year>元|\d{1,2})\s*[年.\-/]\s*"
    r"(?P<month>\d{1,2})\s*[月.\-/]\s*(?P<day>\d{1,2})\s*日?\s*$"
)


def parse_wareki(text: str) -> date:
    """Parse ``令和6年4月1日``, ``令和元年5月1日``, ``R6.4.1`` or ``H31/4/30`` into a date.

    Full-width digits are accepted. A date outside its era (平成32年, 令和元年4月30日) is refused.
    """
    normalized = text.translate(str.maketrans("０１２３４５６７８９．／－", "0123456789./-"))
    m = _PATTERN.match(normalized)
    if not m:
        raise ValidationError(f"not a Japanese era date: {text!r}", message_ja="和暦の日付として読めません")
    era = _BY_NAME[m["era"]]
    year = 1 if m["year"] == "元" else int(m["year"])
    try:
        d = date(era.start.year + year - 1, int(m["month"]), int(m["day"]))
    except ValueError as exc:
        raise ValidationError(f"no such date: {text!r}", message_ja="存在しない日付です") from exc
    found, _ = era_of(d)
    if found != era:
        raise ValidationError(
            f"{text!r} is outside the {era.name} era", message_ja=f"{era.name}の期間外の日付です"
        )
    return d
