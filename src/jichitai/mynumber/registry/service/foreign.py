"""The changes of a foreign resident (外国人住民): 在留資格変更, 在留期間更新, 通称記載, 通称削除; of
nationality: 帰化 and 国籍取得 (a foreign resident becomes Japanese), 国籍喪失 (the reverse); and of
a Japanese resident's 本籍 (転籍).

Each is recorded under its own 異動事由, so the history, the events and the exported rows say
what happened (the 法務大臣's notice of a new status, the resident's 申出 of a 通称) instead of
calling it a 職権修正. The facts they set are checked with the same rules as a person entering the
register (:func:`rules.check_person`), so what they leave behind the import would accept.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from jichitai.mynumber.registry import rules
from jichitai.mynumber.registry.events import EventType
from jichitai.mynumber.registry.interchange import STATUSES_WITHOUT_PERIOD, ResidentKind
from jichitai.mynumber.registry.models import Person
from jichitai.mynumber.registry.service.requests import (
    AliasEntry,
    AliasRemoval,
    DomicileTransfer,
    NationalityLoss,
    Naturalization,
    ResidenceStatusChange,
    StayExtension,
)
from jichitai.mynumber.registry.service.state import ChangeTx

# A foreign resident's items, which end when the person becomes a Japanese national
FOREIGN_ITEMS: dict[str, Any] = dict.fromkeys(
    ("nationality", "residence_status", "stay_expires_on", "residence_card_number", "alias", "alias_kana")
)


def _foreign_resident(tx: ChangeTx, atena_number: str, action: str) -> Person:
    """The person named, who must be a foreign resident still living here, at a valid 異動日."""
    return tx.resident_of(atena_number, action, ResidentKind.FOREIGN.value)


def _check_new_card(tx: ChangeTx, p: Person, card_number: str) -> None:
    """A new status or period comes with a new 在留カード."""
    if not card_number:
        tx.refuse(f"{rules.who(p.name)}新しい在留カード等番号を入力してください")


def _check_period(tx: ChangeTx, p: Person, status: str | None, expires_on: date | None) -> None:
    """A new 在留期間満了日 lies after the 異動日, and a status without a period has none."""
    if status in STATUSES_WITHOUT_PERIOD and expires_on is not None:
        tx.refuse(f"{rules.who(p.name)}在留資格「{status}」には在留期間満了日を記載できません")
    if expires_on is not None and expires_on <= tx.effective:
        tx.refuse(f"{rules.who(p.name)}在留期間満了日が異動日より後ではありません")


def residence_status_change(tx: ChangeTx, req: ResidenceStatusChange) -> None:
    """在留資格変更: the new status, its period and card replace the old ones from the 異動日."""
    p = _foreign_resident(tx, req.atena_number, "在留資格変更")
    status = req.residence_status.strip()
    if not status:
        tx.refuse(f"{rules.who(p.name)}新しい在留資格を入力してください")
    elif status == p.residence_status:
        tx.refuse(f"{rules.who(p.name)}在留資格が変わっていません（{status}）。期間の更新は在留期間更新です")
    _check_period(tx, p, status, req.stay_expires_on)
    _check_new_card(tx, p, req.residence_card_number)
    tx.check()
    changes = {
        "residence_status": status,
        "stay_expires_on": req.stay_expires_on,
        "residence_card_number": req.residence_card_number.strip(),
    }
    previous = p.residence_status
    tx.set_checked(p, changes)
    tx.event(
        EventType.FOREIGN_RESIDENT,
        p,
        kind="在留資格変更",
        residence_status=status,
        previous_residence_status=previous,
        stay_expires_on=req.stay_expires_on,
    )


def stay_extension(tx: ChangeTx, req: StayExtension) -> None:
    """在留期間更新: the same status until a later 在留期間満了日, on a new card."""
    p = _foreign_resident(tx, req.atena_number, "在留期間更新")
    current = tx.facts(p)["stay_expires_on"]
    if current is None:
        tx.refuse(f"{rules.who(p.name)}在留資格「{p.residence_status}」には更新する在留期間がありません")
    elif req.stay_expires_on is None:
        tx.refuse(f"{rules.who(p.name)}新しい在留期間満了日を入力してください")
    elif req.stay_expires_on <= current:
        tx.refuse(
            f"{rules.who(p.name)}新しい在留期間満了日が現在の満了日（{current.isoformat()}）より後ではありません"
        )
    _check_period(tx, p, None, req.stay_expires_on)
    _check_new_card(tx, p, req.residence_card_number)
    tx.check()
    tx.set_checked(
        p,
        {"stay_expires_on": req.stay_expires_on, "residence_card_number": req.residence_card_number.strip()},
    )
    tx.event(
        EventType.FOREIGN_RESIDENT,
        p,
        kind="在留期間更新",
        stay_expires_on=req.stay_expires_on,
        previous_stay_expires_on=current,
    )


def alias_entry(tx: ChangeTx, req: AliasEntry) -> None:
    """通称記載: a foreign resident without a 通称 has one entered; a different 通称 needs a
    通称削除 first, so that the history shows each 通称 with the days it was held."""
    p = _foreign_resident(tx, req.atena_number, "通称記載")
    items = rules.normalize_person_items(
        {"alias": req.alias.strip() or None, "alias_kana": (req.alias_kana or "").strip() or None}
    )  # a bad reading is reported by check_person
    alias, kana = items["alias"], items["alias_kana"]
    if not alias:
        tx.refuse(f"{rules.who(p.name)}通称を入力してください")
    elif p.alias:
        tx.refuse(
            f"{rules.who(p.name)}既に通称（{p.alias}）が記載されています。改めるときは先に通称削除を記録してください"
        )
    tx.check()
    tx.set_checked(p, items)
    tx.event(EventType.FOREIGN_RESIDENT, p, kind="通称記載", alias=alias, alias_kana=kana)


def alias_removal(tx: ChangeTx, req: AliasRemoval) -> None:
    """通称削除: the 通称 and its reading end the day before the 異動日."""
    p = _foreign_resident(tx, req.atena_number, "通称削除")
    if not p.alias:
        tx.refuse(f"{rules.who(p.name)}通称が記載されていません")
    tx.check()
    previous = p.alias
    tx.set_checked(p, {"alias": None, "alias_kana": None})
    tx.event(EventType.FOREIGN_RESIDENT, p, kind="通称削除", previous_alias=previous)


def naturalization(tx: ChangeTx, req: Naturalization) -> None:
    """帰化・国籍取得: the record turns Japanese; the foreign items end, 本籍・筆頭者 begin."""
    action = req.change_type
    p = _foreign_resident(tx, req.atena_number, action)
    honseki, hittosha = req.honseki.strip(), req.hittosha.strip()
    if not honseki or not hittosha:
        tx.refuse(f"{rules.who(p.name)}{action}後の本籍と筆頭者を入力してください")
    changes: dict[str, Any] = {
        **FOREIGN_ITEMS,
        "kind": ResidentKind.JAPANESE.value,
        **rules.normalize_person_items({"honseki": honseki or None, "hittosha": hittosha or None}),
    }
    new_name = bool(req.name.strip() or req.name_kana.strip())
    if new_name:
        tx.refuse(*rules.check_name(req.name, req.name_kana, label=p.name))
    tx.check()
    if new_name:
        changes |= rules.normalize_person_items({"name": req.name, "name_kana": req.name_kana})
    previous = {"nationality": p.nationality, "name": p.name}
    tx.set_checked(
        p, changes
    )  # a Latin 氏名 kept is refused here: a Japanese national's 氏名 is in kanji or kana
    tx.event(
        EventType.FOREIGN_RESIDENT,
        p,
        kind=action,
        name=changes.get("name", p.name),
        previous_name=previous["name"],
        previous_nationality=previous["nationality"],
    )


def nationality_loss(tx: ChangeTx, req: NationalityLoss) -> None:
    """国籍喪失: the record turns foreign; 本籍・筆頭者 end, the foreign resident's items begin."""
    p = tx.resident_of(req.atena_number, "国籍喪失", ResidentKind.JAPANESE.value)
    nationality = req.nationality.strip()
    status = req.residence_status.strip()
    if not nationality:
        tx.refuse(f"{rules.who(p.name)}国籍喪失後の国籍・地域を入力してください")
    _check_period(tx, p, status, req.stay_expires_on)
    tx.check()
    card = (req.residence_card_number or "").strip() or None
    tx.set_checked(
        p,
        {
            "kind": ResidentKind.FOREIGN.value,
            "honseki": None,
            "hittosha": None,
            "nationality": nationality,
            "residence_status": status or None,
            "stay_expires_on": req.stay_expires_on,
            "residence_card_number": card,
            "former_surname": None,  # a 旧氏 is a Japanese national's (from the 戸籍)
            "former_surname_kana": None,
        },
    )
    tx.event(EventType.FOREIGN_RESIDENT, p, kind="国籍喪失", nationality=nationality, residence_status=status)


def domicile_transfer(tx: ChangeTx, req: DomicileTransfer) -> None:
    """転籍: the members of one 戸籍 who live here have the new 本籍 (and 筆頭者, when given)."""
    if not req.persons:
        tx.refuse("転籍する者の統合宛名番号を入力してください")
    if len(set(req.persons)) != len(req.persons):
        tx.refuse("同じ者が重複して指定されています")
    honseki = req.honseki.strip()
    if not honseki:
        tx.refuse("転籍後の本籍を入力してください")
    tx.check()
    persons = [tx.resident_of(a, "転籍", ResidentKind.JAPANESE.value) for a in req.persons]
    tx.check()
    registers = {(p.honseki, p.hittosha) for p in persons}
    if any(h is None for h, _ in registers):
        tx.refuse(
            *(
                f"{rules.who(p.name)}本籍が記載されていません（職権修正で記載してください）"
                for p in persons
                if not p.honseki
            )
        )
    elif len(registers) > 1:
        tx.refuse("転籍する者の本籍・筆頭者が一致しません（同じ戸籍の者を指定してください）")
    tx.check()
    changes: dict[str, Any] = {"honseki": honseki}
    if req.hittosha.strip():
        changes |= rules.normalize_person_items({"hittosha": req.hittosha})
    for p in persons:
        previous = p.honseki
        tx.set_checked(p, changes)
        if tx.facts(p)["honseki"] == previous:
            tx.refuse(f"{rules.who(p.name)}本籍が変わっていません")
        tx.event(
            EventType.CORRECTION, p, kind="転籍", honseki=tx.facts(p)["honseki"], previous_honseki=previous
        )
