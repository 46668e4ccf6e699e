"""Finding the municipality (申請先) by name, kana or postcode; pure over the tenant list.

Postcodes: a full 郵便番号→市区町村 table is Japan Post's KEN_ALL (about 120,000 rows), which an
installation would load from its own copy. Until then :data:`POSTCODE_PREFIXES` maps the first
three digits of the postcodes of the demo and test municipalities (the 3-digit 郵便区番号 areas
that lie wholly inside one municipality) to their 団体コード. A prefix of a municipality the
installation does not serve finds nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

import jaconv

from jichitai.platform.tenants import Tenant

# 3-digit postcode areas → 全国地方公共団体コード. Sources: 日本郵便「郵便番号一覧」; each range
# below lies inside the one municipality named.
POSTCODE_PREFIXES: dict[str, str] = {
    # 千代田区 (100-0000 … 102-0094)
    "100": "131016",
    "101": "131016",
    "102": "131016",
    # 中央区 (103-0000 … 104-0061)
    "103": "131024",
    "104": "131024",
    # 港区 (105-0000 … 108-0075)
    "105": "131032",
    "106": "131032",
    "107": "131032",
    "108": "131032",
    # 横浜市 (220 西区, 221 神奈川区, 222 港北区, 231 中区, 232 南区, …)
    "220": "141003",
    "221": "141003",
    "222": "141003",
    "231": "141003",
    "232": "141003",
}


def normalize_query(text: str) -> str:
    """Full-width digits and letters to half-width, hiragana to katakana, no spaces or hyphens."""
    t = unicodedata.normalize("NFKC", text).strip()
    t = jaconv.hira2kata(t)
    for ch in " 　-‐－ー〒":
        if ch == "ー" and not t.replace("ー", "").isdigit():
            continue  # a long vowel mark in a kana name stays
        t = t.replace(ch, "")
    return t


def postcode_of(text: str) -> str | None:
    """The 7 (or leading 3) digits of a postcode in the query, or None when it is not one."""
    t = normalize_query(text)
    if t.isdigit() and len(t) in (3, 7):
        return t
    return None


def search(tenants: Iterable[Tenant], query: str) -> list[Tenant]:
    """Active tenants matching a name, kana or postcode; all of them (sorted by code) for an empty query."""
    active = sorted((t for t in tenants if t.active), key=lambda t: str(t.code))
    q = normalize_query(query)
    if not q:
        return active
    postcode = postcode_of(query)
    if postcode is not None:
        code = POSTCODE_PREFIXES.get(postcode[:3])
        return [t for t in active if str(t.code) == code]
    if q.isdigit() and len(q) == 6:
        return [t for t in active if str(t.code) == q]
    found: list[Tenant] = []
    for t in active:
        names: Sequence[str] = (t.name, t.kana, t.prefecture + t.name)
        if any(q in unicodedata.normalize("NFKC", n).replace(" ", "") for n in names):
            found.append(t)
    return found


__all__ = ["POSTCODE_PREFIXES", "normalize_query", "postcode_of", "search"]
