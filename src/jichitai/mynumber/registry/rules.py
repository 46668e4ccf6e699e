"""Rules of the resident registry (住民基本台帳法) as pure functions: plain values in, reasons out.

Every check returns a list of Japanese reasons (empty when all is well), each naming the person it
concerns, so that a refused change tells the clerk everything wrong at once. The service loads the
current state, calls these, and refuses with :class:`~jichitai.mynumber.registry.errors.RegistryRefusal`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Any

from jichitai.mynumber.registry.interchange import (
    BLOCK_MAX_CHARS,
    FREE_TEXT,
    NAME_MAX_CHARS,
    RESIDENCE_CARD,
    RESIDENCE_STATUSES,
    STATUSES_WITHOUT_PERIOD,
    TEXT_MAX_CHARS,
    ResidentKind,
    former_surname_problem,
    is_printable_text,
    is_valid_relationship,
    too_long,
)
from jichitai.mynumber.registry.interchange import (
    HEAD as HEAD,  # re-exported: the service reads rules.HEAD
)
from jichitai.mynumber.registry.names import (
    check_katakana,
    check_name_characters,
    normalize_kana,
    normalize_name,
)
from jichitai.platform.identifiers import is_valid_individual_number, normalize_individual_number

CHILD = "子"
MAX_AGE_YEARS = 130
# 転出届 may be filed before the move (施行令第23条: 転出予定日を届け出る); local practice accepts it up
# to about a month ahead. Other events are facts that happened, never in the future.
MOVE_OUT_MAX_DAYS_AHEAD = 30
# 住基法第22条・第23条: 転入届・転居届 within 14 days of the move. Late notifications are still
# recorded (the 過料 is a separate matter), so this only marks them.
NOTIFICATION_PERIOD_DAYS = 14
SEXES = {"1": "男", "2": "女"}


@dataclass(frozen=True)
class PersonDraft:
    """The facts given for a person entering the register (転入, 出生, 職権記載)."""

    name: str
    name_kana: str
    birth_date: date
    sex: str
    kind: str
    relationship: str
    honseki: str | None = None
    hittosha: str | None = None
    nationality: str | None = None
    residence_status: str | None = None
    stay_expires_on: date | None = None
    residence_card_number: str | None = None
    alias: str | None = None
    alias_kana: str | None = None
    former_surname: str | None = None  # 旧氏
    former_surname_kana: str | None = None

    @classmethod
    def of(cls, facts: Mapping[str, Any]) -> PersonDraft:
        """The draft of a recorded person's facts (a version, or one with planned changes)."""
        return cls(**{f.name: facts[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class Member:
    """A household member as the household rules see it, after the change."""

    label: str  # name for messages
    relationship: str
    address: str


def who(label: str) -> str:
    if len(label) > 20:  # the label is the person's name, which may be the over-long value itself
        label = label[:19] + "…"
    return f"{label}: " if label else ""


def check_lengths(items: Iterable[tuple[str, str | None, int]], *, label: str = "") -> list[str]:
    """``(item, value, limit)``: each value longer than its limit (in characters), as a reason."""
    return [
        f"{who(label)}{item}は{too_long(value, limit)}"
        for item, value, limit in items
        if value is not None and len(value) > limit
    ]


def check_name(name: str, kana: str, *, label: str = "", foreign: bool = False) -> list[str]:
    reasons = check_lengths((("氏名", name, NAME_MAX_CHARS), ("氏名カナ", kana, NAME_MAX_CHARS)), label=label)
    problem = check_name_characters(name, allow_latin=foreign)
    if problem:
        reasons.append(f"{who(label)}氏名 — {problem}")
    problem = check_katakana(kana)
    if problem:
        reasons.append(f"{who(label)}氏名カナ — {problem}")
    return reasons


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def check_person(d: PersonDraft, *, today: date) -> list[str]:
    """The facts of one person, on their own (住基法第7条・第30条の45)."""
    label = d.name
    foreign = d.kind == ResidentKind.FOREIGN.value
    reasons = check_name(d.name, d.name_kana, label=label, foreign=foreign)
    if d.kind not in (ResidentKind.JAPANESE.value, ResidentKind.FOREIGN.value):
        reasons.append(f"{who(label)}住民種別は「日本人」または「外国人」です")
    if d.sex not in SEXES:
        reasons.append(f"{who(label)}性別は 1（男）または 2（女）です")
    if d.birth_date > today:
        reasons.append(f"{who(label)}生年月日が未来の日付です")
    elif age_on(d.birth_date, today) > MAX_AGE_YEARS:
        reasons.append(f"{who(label)}生年月日が{MAX_AGE_YEARS}歳を超えています")
    if not is_valid_relationship(d.relationship):
        reasons.append(f"{who(label)}続柄「{d.relationship}」は記載できない続柄です")
    reasons += check_lengths(
        (
            ("通称", d.alias, NAME_MAX_CHARS),
            ("通称カナ", d.alias_kana, NAME_MAX_CHARS),
            ("旧氏", d.former_surname, NAME_MAX_CHARS),
            ("旧氏カナ", d.former_surname_kana, NAME_MAX_CHARS),
            ("筆頭者", d.hittosha, NAME_MAX_CHARS),
            ("本籍", d.honseki, TEXT_MAX_CHARS),
            ("国籍・地域", d.nationality, TEXT_MAX_CHARS),
        ),
        label=label,
    )
    # The import's rules for the same columns (interchange ``name``, ``kana`` and 国籍): what the
    # register holds must leave by the exit path.
    for column, value, latin in (
        ("筆頭者", d.hittosha, False),
        ("通称", d.alias, True),
        ("旧氏", d.former_surname, False),
        ("国籍・地域", d.nationality, True),
    ):
        if value and (problem := check_name_characters(value, allow_latin=latin)) is not None:
            reasons.append(f"{who(label)}{column} — {problem.replace('氏名', column)}")
    for column, kana in (("通称カナ", d.alias_kana), ("旧氏カナ", d.former_surname_kana)):
        if kana and (problem := check_katakana(kana)) is not None:
            reasons.append(f"{who(label)}{column} — {problem}")
    if d.residence_card_number is not None and not RESIDENCE_CARD.match(d.residence_card_number):
        reasons.append(f"{who(label)}在留カード等番号は英字2桁・数字8桁・英字2桁です")
    if (d.alias or d.alias_kana) and not foreign:
        reasons.append(f"{who(label)}通称は外国人住民のみ記載できます")
    if d.alias_kana and not d.alias:
        reasons.append(f"{who(label)}通称のない通称カナは記載できません")
    if (d.former_surname or d.former_surname_kana) and foreign:
        reasons.append(f"{who(label)}旧氏は日本人住民のみ記載できます")
    if d.former_surname_kana and not d.former_surname:
        reasons.append(f"{who(label)}旧氏のない旧氏カナは記載できません")
    if d.former_surname and (problem := former_surname_problem(d.former_surname)) is not None:
        reasons.append(f"{who(label)}{problem}")
    if foreign:
        if d.honseki or d.hittosha:
            reasons.append(f"{who(label)}外国人住民には本籍・筆頭者を記載できません")
        if not d.nationality:
            reasons.append(f"{who(label)}外国人住民は国籍・地域が必要です")
        if not d.residence_status:
            reasons.append(f"{who(label)}外国人住民は在留資格等の区分が必要です")
        elif d.residence_status not in RESIDENCE_STATUSES:
            reasons.append(f"{who(label)}在留資格「{d.residence_status}」は定められた区分にありません")
        elif d.residence_status not in STATUSES_WITHOUT_PERIOD and d.stay_expires_on is None:
            reasons.append(f"{who(label)}在留資格「{d.residence_status}」には在留期間満了日が必要です")
        if d.stay_expires_on is not None and d.stay_expires_on < d.birth_date:
            reasons.append(f"{who(label)}在留期間満了日が生年月日より前です")
    else:
        if d.nationality or d.residence_status or d.stay_expires_on or d.residence_card_number:
            reasons.append(f"{who(label)}日本人住民には国籍・在留資格を記載できません")
        if bool(d.honseki) != bool(d.hittosha):
            reasons.append(f"{who(label)}本籍と筆頭者は両方記載してください")
    return reasons


# written as names: width, spaces, variant forms kept
NAME_ITEMS = ("name", "hittosha", "alias", "former_surname")
KANA_ITEMS = ("name_kana", "alias_kana", "former_surname_kana")


def normalize_person_items(items: Mapping[str, Any]) -> dict[str, Any]:
    """``items`` with the names (氏名, 筆頭者, 通称) and readings written as the register keeps
    them; a reading that is not katakana is left as given, for :func:`check_person` to report."""
    out = dict(items)
    for key, value in items.items():
        if not isinstance(value, str):
            continue
        if key in NAME_ITEMS:
            out[key] = normalize_name(value)
        elif key in KANA_ITEMS and check_katakana(value) is None:
            out[key] = normalize_kana(value)
    return out


def normalize_free_text(facts: dict[str, object], *, label: str = "") -> tuple[dict[str, object], list[str]]:
    """``facts`` with its free-text items normalized as the import normalizes the same columns
    (interchange :data:`FREE_TEXT`), an empty one as ``None``; and the reasons to refuse an item
    with a control or other unprintable character, which the import refuses as well: a record
    entered here leaves by the exit path unchanged."""
    out = dict(facts)
    reasons: list[str] = []
    for key, (column, normalize) in FREE_TEXT.items():
        value = out.get(key)
        if not isinstance(value, str):
            continue
        if not is_printable_text(value):
            reasons.append(f"{who(label)}{column}に制御文字など使用できない文字が含まれています")
            continue
        out[key] = normalize(value) or None
    return out, reasons


def check_individual_number(number: str | None, *, label: str = "") -> list[str]:
    if number is None:
        return []
    if not is_valid_individual_number(normalize_individual_number(number)):
        return [f"{who(label)}個人番号が正しくありません（12桁・検査用数字を確認してください）"]
    return []


def juminhyo_code_check_digit(first_ten: str) -> int:
    """検査数字 of a 住民票コード over its 10 random digits (modulus 11, weights 2–7 from the right)."""
    total = sum(int(ch) * (n + 1 if n <= 6 else n - 5) for n, ch in enumerate(reversed(first_ten), start=1))
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def check_juminhyo_code(code: str | None, *, label: str = "") -> list[str]:
    if code is None:
        return []
    if not (len(code) == 11 and code.isascii() and code.isdigit()):
        return [f"{who(label)}住民票コードは11桁の数字です"]
    return []


def check_event_date(
    event_date: date,
    *,
    today: date,
    birth_date: date | None = None,
    last_change_on: date | None = None,
    days_ahead: int = 0,
    label: str = "",
) -> list[str]:
    """An event date (異動日): not before birth, not before the last recorded change, not ahead."""
    reasons = []
    if event_date > today + timedelta(days=days_ahead):
        if days_ahead:
            reasons.append(f"{who(label)}予定日は届出日から{days_ahead}日以内としてください")
        else:
            reasons.append(f"{who(label)}異動日が未来の日付です")
    return reasons + check_history_order(
        event_date, birth_date=birth_date, last_change_on=last_change_on, label=label
    )


def check_history_order(
    event_date: date, *, birth_date: date | None, last_change_on: date | None, label: str = ""
) -> list[str]:
    """A change to a recorded person is dated neither before their birth nor before their last
    recorded change: it replaces what was recorded from its date on, and would otherwise erase
    a later change (only a 職権修正 restates the past, keeping what came later)."""
    reasons = []
    if birth_date is not None and event_date < birth_date:
        reasons.append(f"{who(label)}異動日（{event_date.isoformat()}）が生年月日より前です")
    if last_change_on is not None and event_date < last_change_on:
        reasons.append(
            f"{who(label)}異動日（{event_date.isoformat()}）が直前の異動日（{last_change_on.isoformat()}）より前です"
        )
    return reasons


def check_notification_date(notified_on: date | None, event_date: date, *, today: date) -> list[str]:
    """届出日: not in the future (a 転出届 may precede the move, the other notifications follow it)."""
    if notified_on is not None and notified_on > today:
        return ["届出日が未来の日付です"]
    return []


def is_late_notification(event_date: date, notified_on: date | None) -> bool:
    """転入・転居届 later than 14 days after the move (住基法第22条・第23条)."""
    return notified_on is not None and (notified_on - event_date).days > NOTIFICATION_PERIOD_DAYS


def check_address_dates(
    *,
    birth_date: date,
    became_resident_on: date,
    address_since: date,
    today: date,
    removed_on: date | None = None,
    label: str = "",
) -> list[str]:
    """住所を定めた日 follows 住民となった日, which follows birth and precedes a 除票's 消除日 (as
    the import requires); none lies ahead."""
    reasons = []
    if became_resident_on < birth_date:
        reasons.append(f"{who(label)}住民となった日が生年月日より前です")
    if removed_on is not None and removed_on < became_resident_on:
        reasons.append(f"{who(label)}住民となった日が消除日（{removed_on.isoformat()}）より後です")
    if address_since < became_resident_on:
        reasons.append(f"{who(label)}住所を定めた日が住民となった日より前です")
    if address_since > today or became_resident_on > today:
        reasons.append(f"{who(label)}住所を定めた日が未来の日付です")
    return reasons


def check_address_in_municipality(address: str, *, prefecture: str, municipality: str) -> list[str]:
    """A resident's address lies in the municipality keeping the register."""
    if not address.startswith(prefecture + municipality):
        return [f"住所「{address}」は{municipality}の区域内ではありません"]
    return []


def check_address_lengths(address: str, block: str, note: str | None) -> list[str]:
    """A resident's address, its 番地・住居表示 and its 方書 within what the register keeps."""
    return check_lengths(
        (
            ("住所", address, TEXT_MAX_CHARS),
            ("番地・住居表示", block, BLOCK_MAX_CHARS),
            ("方書", note, TEXT_MAX_CHARS),
        )
    )


def check_resident(status: str, *, label: str, action: str) -> list[str]:
    """Changes other than corrections apply to current residents only, not to a 除票."""
    if status != "resident":
        return [f"{who(label)}除票（消除された住民）のため{action}は記録できません"]
    return []


def check_household(number: str, members: Sequence[Member], *, on: date | None = None) -> list[str]:
    """A household with members has exactly one 世帯主, and all live at the same address.

    ``on``: the day checked, when it is a later day than the change (the household as a
    backdated change leaves it, next to what is recorded for that day)."""
    if not members:
        return []
    household = f"世帯{number}" if on is None else f"{on.isoformat()}時点の世帯{number}"
    heads = [m for m in members if m.relationship == HEAD]
    reasons = []
    if not heads:
        reasons.append(f"{household}に世帯主がいなくなります。新しい世帯主を指定してください")
    elif len(heads) > 1:
        names = "、".join(m.label for m in heads)
        reasons.append(f"{household}に世帯主が複数になります（{names}）")
    addresses = {m.address for m in members}
    if len(addresses) > 1:
        reasons.append(f"{household}の世帯員の住所が一致しません")
    return reasons


def check_joining(
    event_date: date, *, number: str, created_on: date, address_since: date | None
) -> list[str]:
    """A person entering an existing household (出生, 転入, 職権記載) does so on or after the day it
    was set up and the day its members took up their present address."""
    if event_date < created_on:
        return [
            f"異動日（{event_date.isoformat()}）が世帯{number}の設けられた日"
            f"（{created_on.isoformat()}）より前です"
        ]
    if address_since is not None and event_date < address_since:
        return [
            f"異動日（{event_date.isoformat()}）が世帯{number}の現住所を定めた日"
            f"（{address_since.isoformat()}）より前です"
        ]
    return []


def check_relationships(relationships: Iterable[tuple[str, str]]) -> list[str]:
    """(label, 続柄) pairs given in a change: each a relationship the 住民票 can show."""
    return [
        f"{who(label)}続柄「{rel}」は記載できない続柄です"
        for label, rel in relationships
        if not is_valid_relationship(rel)
    ]


def check_named_once(atena_numbers: Sequence[str] | None, *, action: str) -> list[str]:
    """Each person is named once in a change: a repeat would write two versions and two events."""
    if atena_numbers is None:
        return []
    repeated = sorted({a for a in atena_numbers if atena_numbers.count(a) > 1})
    return [f"{action}する者に統合宛名番号 {a} が重ねて指定されています" for a in repeated]


def dedupe(reasons: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(reasons))
