"""The change (異動) forms of the staff screens: which fields each change asks for, and how the
posted values become a :class:`~jichitai.mynumber.registry.service.ChangeRequest`.

Pure apart from the form values: parsing problems are collected per field (Japanese messages) so
that the screen shows them next to the fields; reasons the registry gives when it refuses a
change are placed next to the field they speak about (:func:`place_reasons`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from jichitai.mynumber.registry.interchange import RESIDENCE_STATUS_ORDER
from jichitai.mynumber.registry.service import (
    AliasEntry,
    AliasRemoval,
    Birth,
    CancelMoveOut,
    ChangeHead,
    ChangeRequest,
    ConfirmMoveOut,
    Correction,
    Death,
    DomicileTransfer,
    ExOfficioEntry,
    ExOfficioRemoval,
    FormerSurnameEntry,
    FormerSurnameRemoval,
    MergeHouseholds,
    MoveIn,
    MoveOut,
    MoveWithin,
    NameChange,
    NationalityAcquisition,
    NationalityLoss,
    Naturalization,
    NewPerson,
    ResidenceStatusChange,
    SplitHousehold,
    StayExtension,
)

GENERAL = "form"  # the key of reasons that concern no single field
SEX_OPTIONS = (("1", "男"), ("2", "女"))
KIND_OPTIONS = (("日本人", "日本人"), ("外国人", "外国人"))
DATE_FIELDS = frozenset({"birth_date", "stay_expires_on", "became_resident_on", "address_since"})
PERSON_KEYWORDS = (
    "氏名",
    "カナ",
    "生年月日",
    "性別",
    "個人番号",
    "住民票コード",
    "本籍",
    "筆頭者",
    "国籍",
    "在留",
    "住民種別",
    "通称",
    "続柄",
)


@dataclass(frozen=True)
class Field:
    """One input of a change form."""

    name: str
    label: str
    kind: str = "text"  # text | date | lines | flag | select
    required: bool = False
    hint: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    keywords: tuple[str, ...] = ()  # a refusal reason mentioning one of these is shown here


class FormValues:
    """Posted values with per-field parsing errors (Japanese)."""

    def __init__(self, data: Mapping[str, str]) -> None:
        self.data = {k: v for k, v in data.items() if isinstance(v, str)}
        self.errors: dict[str, str] = {}

    def raw(self, name: str) -> str:
        return unicodedata.normalize("NFC", self.data.get(name, "")).strip()

    def text(self, name: str, label: str = "", *, required: bool = False) -> str:
        value = self.raw(name)
        if required and not value:
            self.errors[name] = f"{label or name}を入力してください"
        return value

    def optional(self, name: str) -> str | None:
        return self.raw(name) or None

    def digits(self, name: str) -> str:
        return unicodedata.normalize("NFKC", self.raw(name)).replace("-", "").replace(" ", "")

    def flag(self, name: str) -> bool:
        return self.raw(name) in {"1", "on", "true", "yes"}

    def date(self, name: str, label: str, *, required: bool = False) -> date | None:
        parts = [unicodedata.normalize("NFKC", self.raw(f"{name}_{p}")) for p in ("year", "month", "day")]
        if not any(parts):
            if required:
                self.errors[name] = f"{label}を入力してください"
            return None
        try:
            return date(int(parts[0]), int(parts[1]), int(parts[2]))
        except (ValueError, OverflowError):  # a year of 20 digits overflows before date() checks it
            self.errors[name] = f"{label}は正しい日付を西暦で入力してください（例: 2026 11 26）"
            return None

    def numbers(self, name: str) -> tuple[str, ...]:
        """統合宛名番号 separated by spaces, commas, 、 or new lines."""
        text = unicodedata.normalize("NFKC", self.raw(name))
        return tuple(n for n in re.split(r"[\s,、]+", text) if n)

    def mapping(self, name: str, label: str) -> dict[str, str]:
        """Lines ``統合宛名番号=続柄`` (or ``:``)."""
        out: dict[str, str] = {}
        for i, line in enumerate(self.raw(name).splitlines(), start=1):
            line = unicodedata.normalize("NFKC", line).strip()
            if not line:
                continue
            key, sep, value = _split(line)
            if not sep or not key.strip() or not value.strip():
                self.errors[name] = f"{label}の{i}行目は「統合宛名番号=続柄」の形で入力してください"
                continue
            out[key.strip()] = unicodedata.normalize("NFC", value.strip())
        return out


def _split(line: str) -> tuple[str, str, str]:
    line = line.replace("＝", "=").replace("：", ":")
    for sep in ("=", ":"):
        if sep in line:
            key, value = line.split(sep, 1)
            return key, sep, value
    return line, "", ""


# -- common fields --------------------------------------------------------------------------------

EVENT_DATE = Field("event_date", "異動日", "date", True, keywords=("異動日", "修正の適用日"))
NOTIFIED_ON = Field("notified_on", "届出日", "date", hint="職権による場合は空欄", keywords=("届出日",))
ATENA = Field(
    "atena_number",
    "統合宛名番号",
    required=True,
    hint="15桁",
    keywords=("統合宛名番号", "住民記録がありません"),
)
HOUSEHOLD = Field("household_number", "世帯番号", required=True, keywords=("世帯番号", "世帯"))
ADDRESS = Field("address", "住所", required=True, hint="例: 東京都千代田区一番町10番地", keywords=("住所",))
ADDRESS_NOTE = Field("address_note", "方書", hint="建物名・部屋番号など")
PERSONS = Field("persons", "異動する者の統合宛名番号", "lines", hint="1行に1人", keywords=("異動する者",))
NEW_HEAD = Field("new_head", "新しい世帯主の統合宛名番号", keywords=("新しい世帯主", "世帯主"))
RELATIONSHIPS = Field(
    "relationships",
    "続柄",
    "lines",
    hint="1行に1人「統合宛名番号=続柄」（例: 000000000000018=妻）",
    keywords=("続柄",),
)
REMAINING_HEAD = Field(
    "remaining_head", "残る世帯の新しい世帯主の統合宛名番号", keywords=("残る", "前の世帯主")
)
REMAINING_RELATIONSHIPS = Field(
    "remaining_relationships", "残る世帯員の続柄", "lines", hint="1行に1人「統合宛名番号=続柄」"
)
REASON = Field("reason", "事由", required=True, keywords=("事由",))
CARD_NUMBER = Field(
    "residence_card_number",
    "新しい在留カード等の番号",
    required=True,
    hint="英字2桁・数字8桁・英字2桁（例: AB12345678CD）",
    keywords=("在留カード",),
)
STATUS_OPTIONS: tuple[tuple[str, str], ...] = tuple((s, s) for s in RESIDENCE_STATUS_ORDER)
NATURALIZATION_FIELDS = (
    ATENA,
    Field("honseki", "本籍", required=True, keywords=("本籍",)),
    Field("hittosha", "筆頭者", required=True, keywords=("筆頭者",)),
    Field(
        "name",
        "戸籍の氏名",
        hint="氏名が変わるとき（英字の氏名は記載できません）",
        keywords=("氏名 —", "氏名は"),
    ),
    Field("name_kana", "戸籍の氏名カナ", keywords=("カナ",)),
)


@dataclass(frozen=True)
class ChangeForm:
    slug: str
    title: str  # the change as the counter calls it (転入届)
    description: str
    fields: tuple[Field, ...]
    build: Callable[[FormValues, str, date | None, date | None], ChangeRequest]
    person_slots: int = 0  # persons entering the register (転入, 職権記載, 出生)
    notified: bool = True  # a notification date is asked


def _common(key: str, on: date | None, notified: date | None) -> dict[str, Any]:
    """What every change request takes from the form: its key, 異動日 and 届出日 (a missing 異動日
    is already an error of the form, ``date.min`` only fills the request that is not submitted)."""
    return {"idempotency_key": key, "event_date": on or date.min, "notified_on": notified}


def _atena(v: FormValues) -> str:
    return v.text("atena_number", "統合宛名番号", required=True)


def _card_number(v: FormValues, *, required: bool = True) -> str:
    """A 在留カード等番号 as printed (AB12345678CD), however wide or cased it was typed."""
    v.text("residence_card_number", "新しい在留カード等の番号", required=required)
    return v.digits("residence_card_number").upper()


def _people(v: FormValues, slots: int, *, default_relationship: str = "") -> tuple[NewPerson, ...]:
    people: list[NewPerson] = []
    for i in range(1, slots + 1):
        p = f"p{i}_"
        if not (v.raw(p + "name") or v.raw(p + "kana")):
            continue
        label = f"{i}人目の"
        name = v.text(p + "name", label + "氏名", required=True)
        kana = v.text(p + "kana", label + "氏名カナ", required=True)
        birth = v.date(p + "birth", label + "生年月日", required=True)
        sex = v.raw(p + "sex")
        if sex not in {"1", "2"}:
            v.errors[p + "sex"] = f"{label}性別を選んでください"
        relationship = v.text(p + "relationship", label + "続柄", required=not default_relationship)
        if birth is None or sex not in {"1", "2"}:
            continue
        people.append(
            NewPerson(
                name=name,
                name_kana=kana,
                birth_date=birth,
                sex=sex,
                relationship=relationship or default_relationship,
                kind=v.raw(p + "kind") or "日本人",
                juminhyo_code=v.digits(p + "juminhyo_code") or None,
                individual_number=v.digits(p + "individual_number") or None,
                honseki=v.optional(p + "honseki"),
                hittosha=v.optional(p + "hittosha"),
                nationality=v.optional(p + "nationality"),
                residence_status=v.optional(p + "residence_status"),
                stay_expires_on=v.date(p + "stay_expires", label + "在留期間満了日"),
                residence_card_number=v.optional(p + "residence_card_number"),
                alias=v.optional(p + "alias"),
                alias_kana=v.optional(p + "alias_kana"),
            )
        )
    if not people and slots and not any(k.startswith("p1_") for k in v.errors):
        v.errors["p1_name"] = "記録する者を1人以上入力してください"
    return tuple(people)


def _move_in(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return MoveIn(
        **_common(key, on, notified),
        persons=_people(v, 4),
        address=v.text("address", "住所", required=True),
        address_note=v.optional("address_note"),
        previous_address=v.text("previous_address", "転入前住所", required=True),
        from_abroad=v.flag("from_abroad"),
        household_number=v.optional("household_number"),
        moved_out_expected_on=v.date("moved_out_expected_on", "転出予定日"),
    )


def _move_within(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    persons = v.numbers("persons")
    return MoveWithin(
        **_common(key, on, notified),
        household_number=v.text("household_number", "世帯番号", required=True),
        address=v.text("address", "住所", required=True),
        address_note=v.optional("address_note"),
        persons=persons or None,
        new_head=v.optional("new_head"),
        relationships=v.mapping("relationships", "続柄"),
        remaining_head=v.optional("remaining_head"),
        remaining_relationships=v.mapping("remaining_relationships", "残る世帯員の続柄"),
    )


def _move_out(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    persons = v.numbers("persons")
    if not persons:
        v.errors["persons"] = "転出する者の統合宛名番号を入力してください"
    return MoveOut(
        **_common(key, on, notified),
        persons=persons,
        destination=v.text("destination", "転出先", required=True),
        abroad=v.flag("abroad"),
        remaining_head=v.optional("remaining_head"),
        remaining_relationships=v.mapping("remaining_relationships", "残る世帯員の続柄"),
    )


def _confirm(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return ConfirmMoveOut(
        **_common(key, on, notified),
        atena_number=v.digits("atena_number") or v.text("atena_number", "統合宛名番号", required=True),
        new_address=v.optional("new_address"),
        remaining_head=v.optional("remaining_head"),
    )


def _cancel_move_out(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return CancelMoveOut(
        **_common(key, on, notified),
        atena_number=v.digits("atena_number") or v.text("atena_number", "統合宛名番号", required=True),
    )


def _split_household(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    persons = v.numbers("persons")
    if not persons:
        v.errors["persons"] = "分離する者の統合宛名番号を入力してください"
    return SplitHousehold(
        **_common(key, on, notified),
        household_number=v.text("household_number", "世帯番号", required=True),
        persons=persons,
        new_head=v.text("new_head", "新しい世帯主の統合宛名番号", required=True),
        relationships=v.mapping("relationships", "続柄"),
        remaining_head=v.optional("remaining_head"),
        remaining_relationships=v.mapping("remaining_relationships", "残る世帯員の続柄"),
    )


def _merge(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return MergeHouseholds(
        **_common(key, on, notified),
        household_number=v.text("household_number", "世帯番号", required=True),
        other_household_number=v.text("other_household_number", "合併する世帯の世帯番号", required=True),
        relationships=v.mapping("relationships", "続柄"),
    )


def _change_head(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return ChangeHead(
        **_common(key, on, notified),
        household_number=v.text("household_number", "世帯番号", required=True),
        new_head=v.text("new_head", "新しい世帯主の統合宛名番号", required=True),
        relationships=v.mapping("relationships", "続柄"),
    )


def _name_change(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return NameChange(
        **_common(key, on, notified),
        atena_number=_atena(v),
        name=v.text("name", "新しい氏名", required=True),
        name_kana=v.text("name_kana", "新しい氏名カナ", required=True),
        reason=v.text("reason", "事由"),
    )


def _status_change(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return ResidenceStatusChange(
        **_common(key, on, notified),
        atena_number=_atena(v),
        residence_status=v.text("residence_status", "新しい在留資格", required=True),
        stay_expires_on=v.date("stay_expires_on", "新しい在留期間満了日"),
        residence_card_number=_card_number(v),
    )


def _stay_extension(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return StayExtension(
        **_common(key, on, notified),
        atena_number=_atena(v),
        stay_expires_on=v.date("stay_expires_on", "新しい在留期間満了日", required=True),
        residence_card_number=_card_number(v),
    )


def _alias_entry(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return AliasEntry(
        **_common(key, on, notified),
        atena_number=_atena(v),
        alias=v.text("alias", "通称", required=True),
        alias_kana=v.optional("alias_kana"),
    )


def _alias_removal(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return AliasRemoval(
        **_common(key, on, notified),
        atena_number=_atena(v),
    )


def _former_surname_entry(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return FormerSurnameEntry(
        **_common(key, on, notified),
        atena_number=_atena(v),
        former_surname=v.text("former_surname", "旧氏", required=True),
        former_surname_kana=v.optional("former_surname_kana"),
    )


def _former_surname_removal(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return FormerSurnameRemoval(**_common(key, on, notified), atena_number=_atena(v))


def _naturalization(kind: type[Naturalization]) -> Callable[..., ChangeRequest]:
    def build(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
        return kind(
            **_common(key, on, notified),
            atena_number=_atena(v),
            honseki=v.text("honseki", "本籍", required=True),
            hittosha=v.text("hittosha", "筆頭者", required=True),
            name=v.text("name", "戸籍の氏名"),
            name_kana=v.text("name_kana", "戸籍の氏名カナ"),
        )

    return build


def _nationality_loss(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return NationalityLoss(
        **_common(key, on, notified),
        atena_number=_atena(v),
        nationality=v.text("nationality", "国籍・地域", required=True),
        residence_status=v.text("residence_status", "在留資格", required=True),
        stay_expires_on=v.date("stay_expires_on", "在留期間満了日"),
        residence_card_number=_card_number(v, required=False) or None,
    )


def _domicile_transfer(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    persons = v.numbers("persons")
    if not persons:
        v.errors["persons"] = "転籍する者の統合宛名番号を入力してください"
    return DomicileTransfer(
        **_common(key, on, notified),
        persons=persons,
        honseki=v.text("honseki", "転籍後の本籍", required=True),
        hittosha=v.text("hittosha", "筆頭者"),
    )


def _birth(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    children = _people(v, 1, default_relationship="子")
    return Birth(
        **_common(key, on, notified),
        household_number=v.text("household_number", "世帯番号", required=True),
        child=children[0] if children else None,
    )


def _death(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return Death(
        **_common(key, on, notified),
        atena_number=_atena(v),
        new_head=v.optional("new_head"),
        relationships=v.mapping("relationships", "続柄"),
    )


def _correction_fields(v: FormValues) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, line in enumerate(v.raw("fields").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        key, sep, value = _split(line)
        key = key.strip()
        if not sep or not key:
            v.errors["fields"] = f"修正する項目の{i}行目は「項目名=正しい内容」の形で入力してください"
            continue
        value = value.strip()
        if key in DATE_FIELDS:
            try:
                out[key] = date.fromisoformat(unicodedata.normalize("NFKC", value))
            except ValueError:
                v.errors["fields"] = f"修正する項目の{i}行目: 日付は 2026-11-26 の形で入力してください"
            continue
        out[key] = value
    if not out and "fields" not in v.errors:
        v.errors["fields"] = "修正する項目を入力してください"
    return out


def _correction(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return Correction(
        **_common(key, on, notified),
        atena_number=_atena(v),
        fields=_correction_fields(v),
        reason=v.text("reason", "事由", required=True),
    )


def _entry(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return ExOfficioEntry(
        **_common(key, on, notified),
        persons=_people(v, 4),
        address=v.text("address", "住所", required=True),
        address_note=v.optional("address_note"),
        previous_address=v.text("previous_address", "前住所"),
        household_number=v.optional("household_number"),
        reason=v.text("reason", "事由", required=True),
    )


def _removal(v: FormValues, key: str, on: date | None, notified: date | None) -> ChangeRequest:
    return ExOfficioRemoval(
        **_common(key, on, notified),
        atena_number=_atena(v),
        reason=v.text("reason", "事由", required=True),
        new_head=v.optional("new_head"),
        relationships=v.mapping("relationships", "続柄"),
    )


_JOIN = Field(
    "household_number",
    "加わる世帯の世帯番号",
    hint="新しい世帯を作るときは空欄",
    keywords=("世帯番号", "世帯"),
)
_PREVIOUS = Field(
    "previous_address", "転入前住所", required=True, hint="国外からは国・地域名", keywords=("転入前", "国外")
)

CHANGE_FORMS: dict[str, ChangeForm] = {
    f.slug: f
    for f in (
        ChangeForm(
            "move-in",
            "転入届",
            "他の市区町村又は国外から転入した者を記録します（住民基本台帳法第22条）。",
            (
                ADDRESS,
                ADDRESS_NOTE,
                _PREVIOUS,
                Field("from_abroad", "国外からの転入", "flag"),
                _JOIN,
                Field("moved_out_expected_on", "転出証明書の転出予定日", "date"),
            ),
            _move_in,
            person_slots=4,
        ),
        ChangeForm(
            "move-within",
            "転居届",
            "市区町村内で住所を変更します（第23条）。異動する者を空欄にすると世帯全員の転居です。",
            (
                HOUSEHOLD,
                ADDRESS,
                ADDRESS_NOTE,
                PERSONS,
                NEW_HEAD,
                RELATIONSHIPS,
                REMAINING_HEAD,
                REMAINING_RELATIONSHIPS,
            ),
            _move_within,
        ),
        ChangeForm(
            "move-out",
            "転出届",
            "転出予定日を異動日として記録します（第24条）。国外転出は直ちに確定します。",
            (
                Field("persons", "転出する者の統合宛名番号", "lines", True, "1行に1人", keywords=("転出",)),
                Field(
                    "destination", "転出先", required=True, hint="住所又は国・地域名", keywords=("転出先",)
                ),
                Field("abroad", "国外への転出", "flag"),
                REMAINING_HEAD,
                REMAINING_RELATIONSHIPS,
            ),
            _move_out,
        ),
        ChangeForm(
            "confirm-move-out",
            "転出確定",
            "転入通知により、転出を確定します（施行令第11条）。異動日は実際の転出日です。",
            (
                ATENA,
                Field("new_address", "転入通知の住所"),
                Field(
                    "remaining_head",
                    "残る世帯の新しい世帯主の統合宛名番号",
                    hint="世帯主が他の世帯員より先に転出していた場合",
                    keywords=("残る", "世帯主のいない"),
                ),
            ),
            _confirm,
            notified=False,
        ),
        ChangeForm(
            "cancel-move-out",
            "転出取消",
            "転出の届出をした者が転出しないことになったときに、転出を取り消します。"
            "異動日には取り消す転出の転出予定日を入力します。",
            (ATENA,),
            _cancel_move_out,
        ),
        ChangeForm(
            "split-household",
            "世帯分離",
            "世帯の一部の者が同じ住所で新しい世帯を作ります。",
            (
                HOUSEHOLD,
                Field("persons", "分離する者の統合宛名番号", "lines", True, "1行に1人", keywords=("分離",)),
                Field(
                    "new_head", "新しい世帯の世帯主の統合宛名番号", required=True, keywords=("新しい世帯",)
                ),
                RELATIONSHIPS,
                REMAINING_HEAD,
                REMAINING_RELATIONSHIPS,
            ),
            _split_household,
        ),
        ChangeForm(
            "merge-households",
            "世帯合併",
            "同じ住所の別の世帯の全員がこの世帯に加わります。",
            (
                HOUSEHOLD,
                Field("other_household_number", "合併する世帯の世帯番号", required=True, keywords=("合併",)),
                RELATIONSHIPS,
            ),
            _merge,
        ),
        ChangeForm(
            "change-head",
            "世帯主変更",
            "世帯主を変更し、世帯員の続柄を改めます。",
            (
                HOUSEHOLD,
                Field("new_head", "新しい世帯主の統合宛名番号", required=True, keywords=("世帯主",)),
                RELATIONSHIPS,
            ),
            _change_head,
        ),
        ChangeForm(
            "name-change",
            "氏名変更",
            "婚姻・離婚・養子縁組などによる氏名の変更を記録します。",
            (
                ATENA,
                Field("name", "新しい氏名", required=True, keywords=("氏名 —", "氏名が")),
                Field("name_kana", "新しい氏名カナ", required=True, keywords=("カナ",)),
                Field("reason", "事由", hint="例: 婚姻"),
            ),
            _name_change,
        ),
        ChangeForm(
            "residence-status-change",
            "在留資格変更",
            "法務大臣からの通知（第30条の50）または新しい在留カードにより、外国人住民の在留資格の変更を"
            "記録します。異動日は許可の日です。",
            (
                ATENA,
                Field(
                    "residence_status",
                    "新しい在留資格",
                    "select",
                    True,
                    options=STATUS_OPTIONS,
                    keywords=("在留資格",),
                ),
                Field(
                    "stay_expires_on",
                    "新しい在留期間満了日",
                    "date",
                    hint="永住者など期間のない在留資格は空欄",
                    keywords=("満了日",),
                ),
                CARD_NUMBER,
            ),
            _status_change,
            notified=False,
        ),
        ChangeForm(
            "stay-extension",
            "在留期間更新",
            "法務大臣からの通知または新しい在留カードにより、在留期間の更新を記録します。"
            "異動日は許可の日です。",
            (
                ATENA,
                Field("stay_expires_on", "新しい在留期間満了日", "date", True, keywords=("満了日",)),
                CARD_NUMBER,
            ),
            _stay_extension,
            notified=False,
        ),
        ChangeForm(
            "alias-entry",
            "通称記載",
            "外国人住民の申出により通称を記載します（施行令第30条の26）。届出日は申出の日です。",
            (
                ATENA,
                Field("alias", "通称", required=True, keywords=("通称 —", "通称を", "既に通称", "通称は")),
                Field("alias_kana", "通称カナ", hint="カタカナ", keywords=("通称カナ",)),
            ),
            _alias_entry,
        ),
        ChangeForm(
            "alias-removal",
            "通称削除",
            "外国人住民の申出により通称を削除します。削除した通称は履歴に残ります。",
            (ATENA,),
            _alias_removal,
        ),
        ChangeForm(
            "former-surname-entry",
            "旧氏記載",
            "日本人住民の請求により、戸籍に記載されている旧氏を記載します（施行令第30条の13）。"
            "戸籍謄本等で旧氏を確認してください。届出日は請求の日です。",
            (
                ATENA,
                Field(
                    "former_surname",
                    "旧氏",
                    required=True,
                    hint="氏のみ（名は含めません）",
                    keywords=("旧氏 —", "旧氏を", "既に旧氏", "旧氏は", "旧氏（"),
                ),
                Field("former_surname_kana", "旧氏カナ", hint="カタカナ", keywords=("旧氏カナ",)),
            ),
            _former_surname_entry,
        ),
        ChangeForm(
            "former-surname-removal",
            "旧氏削除",
            "日本人住民の請求により旧氏を削除します。削除した旧氏は履歴に残ります。",
            (ATENA,),
            _former_surname_removal,
        ),
        ChangeForm(
            "naturalization",
            "帰化",
            "帰化の届出（戸籍）により、外国人住民を日本人住民として記録します。異動日は官報告示の日です。"
            "統合宛名番号と住民票コードは変わりません。",
            NATURALIZATION_FIELDS,
            _naturalization(Naturalization),
        ),
        ChangeForm(
            "nationality-acquisition",
            "国籍取得",
            "国籍取得の届出（戸籍）により、外国人住民を日本人住民として記録します。異動日は取得の日です。",
            NATURALIZATION_FIELDS,
            _naturalization(NationalityAcquisition),
        ),
        ChangeForm(
            "nationality-loss",
            "国籍喪失",
            "日本の国籍を失った住民を外国人住民として記録します（本籍・筆頭者は記載されなくなります）。",
            (
                ATENA,
                Field("nationality", "国籍・地域", required=True, keywords=("国籍",)),
                Field(
                    "residence_status",
                    "在留資格",
                    "select",
                    True,
                    hint="在留資格を取得するまでは「国籍喪失による経過滞在者」",
                    options=tuple(o for o in STATUS_OPTIONS if o[0] == "国籍喪失による経過滞在者")
                    + tuple(o for o in STATUS_OPTIONS if o[0] != "国籍喪失による経過滞在者"),
                    keywords=("在留資格",),
                ),
                Field("stay_expires_on", "在留期間満了日", "date", keywords=("満了日",)),
                Field("residence_card_number", "在留カード等の番号", keywords=("在留カード",)),
            ),
            _nationality_loss,
        ),
        ChangeForm(
            "domicile-transfer",
            "転籍",
            "転籍の届出（戸籍）により、同じ戸籍の住民の本籍を改めます。異動日は転籍届の日です。",
            (
                Field(
                    "persons",
                    "転籍する者の統合宛名番号",
                    "lines",
                    True,
                    "1行に1人（同じ戸籍の者）",
                    keywords=("転籍する者", "本籍が記載されていません"),
                ),
                Field("honseki", "転籍後の本籍", required=True, keywords=("本籍",)),
                Field("hittosha", "筆頭者", hint="変わるときのみ", keywords=("筆頭者",)),
            ),
            _domicile_transfer,
        ),
        ChangeForm(
            "birth",
            "出生",
            "戸籍の届出による出生を記録します。異動日は生年月日と同じ日です。",
            (HOUSEHOLD,),
            _birth,
            person_slots=1,
        ),
        ChangeForm(
            "death",
            "死亡",
            "死亡により住民票を消除します（除票になります）。",
            (ATENA, NEW_HEAD, RELATIONSHIPS),
            _death,
        ),
        ChangeForm(
            "correction",
            "職権修正",
            "誤って記録された事項を異動日から正しい内容に修正します（施行令第12条）。",
            (
                ATENA,
                Field(
                    "fields",
                    "修正する項目",
                    "lines",
                    True,
                    "1行に1項目「項目名=正しい内容」（例: name_kana=ヤマダ　タロウ、birth_date=1980-05-01）",
                    keywords=("項目",),
                ),
                REASON,
            ),
            _correction,
            notified=False,
        ),
        ChangeForm(
            "ex-officio-entry",
            "職権記載",
            "届出のない居住者を職権で記録します。",
            (ADDRESS, ADDRESS_NOTE, Field("previous_address", "前住所"), _JOIN, REASON),
            _entry,
            person_slots=4,
            notified=False,
        ),
        ChangeForm(
            "ex-officio-removal",
            "職権消除",
            "実態調査により居住していない者を職権で消除します。",
            (ATENA, REASON, NEW_HEAD, RELATIONSHIPS),
            _removal,
            notified=False,
        ),
    )
}


@dataclass
class Parsed:
    request: ChangeRequest | None
    errors: dict[str, str] = field(default_factory=dict)


def parse(form: ChangeForm, data: Mapping[str, str]) -> Parsed:
    """The change request of a posted form, or the problems with it (per field)."""
    v = FormValues(data)
    key = v.raw("idempotency_key")
    if not key:
        v.errors[GENERAL] = "画面を開き直してから入力してください（受付キーがありません）"
    on = v.date("event_date", "異動日", required=True)
    notified = v.date("notified_on", "届出日") if form.notified else None
    request = form.build(v, key, on, notified)
    if v.errors:
        return Parsed(None, v.errors)
    return Parsed(request)


def place_reasons(form: ChangeForm, reasons: tuple[str, ...], data: Mapping[str, str]) -> dict[str, str]:
    """Put each refusal reason next to the field it speaks about (else at the top of the form)."""
    placed: dict[str, list[str]] = {}
    slot_names = {
        i: unicodedata.normalize("NFC", data.get(f"p{i}_name", "")).strip()
        for i in range(1, form.person_slots + 1)
    }
    fields = (EVENT_DATE, NOTIFIED_ON, *form.fields)
    for reason in reasons:
        target = GENERAL
        slot = next((i for i, n in slot_names.items() if n and reason.startswith(n)), None)
        if slot is not None or (form.person_slots and any(k in reason for k in PERSON_KEYWORDS)):
            target = f"p{slot or 1}_name"
        else:
            for f in fields:
                if any(k in reason for k in f.keywords):
                    target = f.name
                    break
        placed.setdefault(target, []).append(reason)
    return {k: "／".join(v) for k, v in placed.items()}
