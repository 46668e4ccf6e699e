"""旧氏 (a Japanese resident's former surname) entered and removed at the resident's 請求.

Since 2019 a resident may have a former surname from their 戸籍 recorded in the 住民票 (住民基本台帳法
施行令第30条の13); it is then printed with the 氏名 on certificates and on the My Number Card, and
staff find the person by it. Which former surnames the 戸籍 shows is checked by the clerk against
the 戸籍謄本 presented; the register checks what it can: a Japanese resident living here, one 氏
(no 名), in the characters a 氏名 may use, and not the present 氏. A recorded 旧氏 is removed first
before another is entered, so that the history shows each with the days it was held.
"""

from __future__ import annotations

from jichitai.mynumber.registry import rules
from jichitai.mynumber.registry.events import EventType
from jichitai.mynumber.registry.interchange import ResidentKind
from jichitai.mynumber.registry.service.requests import FormerSurnameEntry, FormerSurnameRemoval
from jichitai.mynumber.registry.service.state import ChangeTx

JAPANESE = ResidentKind.JAPANESE.value


def former_surname_entry(tx: ChangeTx, req: FormerSurnameEntry) -> None:
    """旧氏記載: the 旧氏 and its reading from the 異動日."""
    p = tx.resident_of(req.atena_number, "旧氏記載", JAPANESE)
    items = rules.normalize_person_items(
        {
            "former_surname": req.former_surname.strip() or None,
            "former_surname_kana": (req.former_surname_kana or "").strip() or None,
        }
    )  # a bad reading or a 名 included is reported by check_person
    former = items["former_surname"]
    if not former:
        tx.refuse(f"{rules.who(p.name)}旧氏を入力してください")
    elif p.former_surname:
        tx.refuse(
            f"{rules.who(p.name)}既に旧氏（{p.former_surname}）が記載されています。"
            "改めるときは先に旧氏削除を記録してください"
        )
    elif former == p.name.split("\u3000")[0]:
        tx.refuse(f"{rules.who(p.name)}旧氏（{former}）が現在の氏と同じです")
    tx.check()
    tx.set_checked(p, items)
    tx.event(
        EventType.NAME_CHANGE,
        p,
        kind="旧氏記載",
        former_surname=former,
        former_surname_kana=items["former_surname_kana"],
    )


def former_surname_removal(tx: ChangeTx, req: FormerSurnameRemoval) -> None:
    """旧氏削除: the 旧氏 and its reading end the day before the 異動日."""
    p = tx.resident_of(req.atena_number, "旧氏削除", JAPANESE)
    if not p.former_surname:
        tx.refuse(f"{rules.who(p.name)}旧氏が記載されていません")
    tx.check()
    previous = p.former_surname
    tx.set_checked(p, {"former_surname": None, "former_surname_kana": None})
    tx.event(EventType.NAME_CHANGE, p, kind="旧氏削除", previous_former_surname=previous)
