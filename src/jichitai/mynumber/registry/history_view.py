"""What each version of a person's history changed (変更内容), as the staff screens show it.

The history lists versions by the day they took effect; next to each, the items whose value
differs from the version before, with both values, so that a clerk sees what a 職権修正 or a
在留期間更新 changed without comparing rows by eye. Pure: versions in, labelled text out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from jichitai.mynumber.registry.rules import SEXES
from jichitai.mynumber.registry.service.queries import PersonRecord, VersionRecord
from jichitai.platform.wareki import format_wareki

# The items a clerk reads on the person page, in its order (the 異動 itself has its own column).
ITEMS: tuple[tuple[str, str], ...] = (
    ("name", "氏名"),
    ("name_kana", "氏名カナ"),
    ("alias", "通称"),
    ("alias_kana", "通称カナ"),
    ("former_surname", "旧氏"),
    ("former_surname_kana", "旧氏カナ"),
    ("birth_date", "生年月日"),
    ("sex", "性別"),
    ("kind", "住民種別"),
    ("household_number", "世帯番号"),
    ("relationship", "続柄"),
    ("address", "住所"),
    ("address_note", "方書"),
    ("address_since", "住所を定めた日"),
    ("became_resident_on", "住民となった日"),
    ("previous_address", "前住所"),
    ("address_before_move_in", "転入前住所"),
    ("honseki", "本籍"),
    ("hittosha", "筆頭者"),
    ("nationality", "国籍・地域"),
    ("residence_status", "在留資格"),
    ("stay_expires_on", "在留期間満了日"),
    ("residence_card_number", "在留カード等番号"),
    ("removal_reason", "消除事由"),
    ("removed_on", "消除日"),
    ("moved_out_to", "転出先"),
)
NONE = "（なし）"


@dataclass(frozen=True)
class ItemChange:
    label: str  # 在留期間満了日
    before: str
    after: str


def shown(key: str, value: object) -> str:
    """An item's value as the screen prints it (dates in 和暦, 性別 in words)."""
    if value is None or value == "":
        return NONE
    if isinstance(value, date):
        return format_wareki(value)
    if key == "sex":
        return SEXES.get(str(value), str(value))
    return str(value)


def item_changes(before: PersonRecord, after: PersonRecord) -> list[ItemChange]:
    """The items whose value differs between two versions of one person."""
    return [
        ItemChange(label, shown(key, getattr(before, key)), shown(key, getattr(after, key)))
        for key, label in ITEMS
        if getattr(before, key) != getattr(after, key)
    ]


def changes_by_version(history: Sequence[VersionRecord]) -> list[list[ItemChange]]:
    """For each version of ``history`` (oldest first), what differs from the one before it; the
    first version, where the record begins, has nothing to compare with."""
    if not history:
        return []
    return [[]] + [item_changes(a.record, b.record) for a, b in pairwise(history)]
