"""Between interchange rows and registry rows: pure conversions, no I/O.

Import side: a validated :class:`~jichitai.mynumber.registry.interchange.ResidentRow` becomes the
facts of a person (the registry's ``FACT_FIELDS``) and the value lists the bulk writer inserts into
``registry_persons``, ``registry_person_versions``, ``atena_persons`` and ``registry_households``,
with the search keys computed as ``service.state.sync_current`` computes them.

How the file's single row becomes history (the file carries the current state and the last change
only, not a full history):

- the facts hold from 住所を定めた年月日 (``valid_from``); nothing is claimed before it;
- a removed person (除票) gets two versions, resident until 消除日 and removed from it, as a
  転出 or 死亡 recorded by the registry would; a 転出 is confirmed (``move_out_confirmed``) as the
  row's 転出確定 says, or, when it says nothing, once its 消除日 has come (a future one is a 転出予定);
- 異動事由 and 異動日 become the version's last change; a row without them gets ``移行`` dated
  the day of the import (and is exported so);
- a 世帯主変更 or 続柄変更 dated ahead (on the 転出予定日 of the household's 世帯主) gets two
  versions too: the 異動前続柄 until that day, the row's 続柄 from it.

Export side: :func:`export_values` writes a registry row back in the interchange columns. The core's
``転出確定`` is written as 異動事由 ``転出``, with 転出確定 ``確定``; a 転出 whose 転入通知 has not
arrived, 転出確定 ``未確定`` (so that the next system may still confirm or cancel it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jichitai.mynumber.atena.models import KIND_NON_RESIDENT, KIND_RESIDENT
from jichitai.mynumber.registry.addresses import Address
from jichitai.mynumber.registry.interchange import CHANGE_REASONS, ResidentRow
from jichitai.mynumber.registry.models import FACT_FIELDS, STATUS_REMOVED, STATUS_RESIDENT
from jichitai.mynumber.registry.names import SEARCH_KEY_COLUMNS, search_keys
from jichitai.mynumber.registry.service.state import address_facts

MIGRATION_CHANGE = "移行"
_CONFIRMABLE = frozenset({"転出"})
_EXPORTED_CHANGE = {"転出確定": "転出"}

# Column order of the value lists (names of the tables' columns). The values the importer settles
# last (統合宛名番号, the change) come first: in a binary COPY row they then sit at fixed offsets,
# where the importer writes them into rows encoded by a worker (see :mod:`.copyrows`).
PERSON_COLUMNS: tuple[str, ...] = (
    "atena_number",
    *FACT_FIELDS,
    "id",
    "juminhyo_code",
    "individual_number_enc",
    "individual_number_bidx",
    *SEARCH_KEY_COLUMNS,
    "address_key",
    "version_no",
    "updated_at",
)
VERSION_COLUMNS: tuple[str, ...] = (
    "atena_number",
    "change_id",
    *FACT_FIELDS,
    "id",
    "person_id",
    "valid_from",
    "valid_to",
    "recorded_at",
    "superseded_at",
)
ATENA_COLUMNS: tuple[str, ...] = (
    "atena_number",
    "id",
    "kind",
    "individual_number_enc",
    "individual_number_bidx",
    "name",
    "name_kana",
    "birth_date",
    "sex",
    "address",
    "registered_at",
    "updated_at",
)
HOUSEHOLD_COLUMNS: tuple[str, ...] = ("id", "household_number", "created_on", "dissolved_on", "created_at")

# Positions the importer fills once the batch's numbers are settled.
PERSON_ATENA = PERSON_COLUMNS.index("atena_number")
VERSION_ATENA = VERSION_COLUMNS.index("atena_number")
VERSION_CHANGE = VERSION_COLUMNS.index("change_id")
ATENA_ATENA = ATENA_COLUMNS.index("atena_number")


F_RELATIONSHIP = FACT_FIELDS.index("relationship")
F_HOUSEHOLD = FACT_FIELDS.index("household_id")
F_ADDRESS_TEXT = FACT_FIELDS.index("address_text")
F_ADDRESS_SINCE = FACT_FIELDS.index("address_since")
F_STATUS = FACT_FIELDS.index("status")
F_REMOVED_ON = FACT_FIELDS.index("removed_on")
F_MOVED_OUT_TO = FACT_FIELDS.index("moved_out_to")
# what a removed person's earlier, resident version has instead (see version_spans)
_RESIDENT_BEFORE_REMOVAL = {
    FACT_FIELDS.index(name): value
    for name, value in (
        ("status", STATUS_RESIDENT), ("removal_reason", None), ("removed_on", None), ("moved_out_to", None),
        ("move_out_confirmed", None), ("last_change", MIGRATION_CHANGE), ("last_notified_on", None),
    )
}  # fmt: skip
_LAST_CHANGE_ON = FACT_FIELDS.index("last_change_on")
# what the version before a 続柄 change dated ahead has instead (besides the 異動前続柄)
_BEFORE_CHANGE_AHEAD = {
    FACT_FIELDS.index("last_change"): MIGRATION_CHANGE,
    FACT_FIELDS.index("last_notified_on"): None,
}


def address_values(address: Address) -> tuple[Any, ...]:
    """The address facts of ``address`` (``address_text`` … ``address_building``, in
    ``FACT_FIELDS`` order), as ``service.state.address_facts`` gives them."""
    facts = address_facts(address, None)
    return tuple(facts[name] for name in FACT_FIELDS[F_ADDRESS_TEXT : F_ADDRESS_TEXT + 7])


def person_facts(row: ResidentRow, *, today: date, address: Sequence[Any] | None = None) -> list[Any]:
    """The current facts of the person in the registry's terms, in ``FACT_FIELDS`` order
    (``household_id`` still empty; ``test_rows.py`` checks each value's column). ``address`` is
    :func:`address_values` of ``row.address`` when the caller has it at hand (an import meets the
    same address object for a whole household)."""
    removed = row.removed_on is not None
    change = row.change_reason or (row.removal_reason if removed else None)
    change_on = row.change_date or (row.removed_on if removed else None)
    confirmed: bool | None = None
    if removed and row.removal_reason in _CONFIRMABLE:
        confirmed = row.move_out_confirmed
        if confirmed is None:  # not stated: a 消除日 that has come means confirmed
            confirmed = row.removed_on is not None and row.removed_on <= today
    elif removed and row.removal_reason == "国外転出":
        confirmed = True
    return [
        "", row.relationship, row.name, row.name_kana, row.alias, row.alias_kana, row.birth_date,
        row.sex.value, row.kind.value, row.became_resident_on,
        *(address if address is not None else address_values(row.address)),
        row.address_note or None, row.address_since, row.previous_address, row.address_before_move_in,
        row.honseki, row.hittosha, row.nationality, row.residence_status, row.stay_expires_on,
        row.residence_card_number, STATUS_REMOVED if removed else STATUS_RESIDENT, row.removal_reason,
        row.removed_on, row.moved_out_to, confirmed, change or MIGRATION_CHANGE, change_on or today,
        row.notified_on, row.former_surname, row.former_surname_kana,
    ]  # fmt: skip


def version_spans(
    facts: Sequence[Any], relationship_before: str | None = None
) -> list[tuple[Sequence[Any], date, date | None]]:
    """The versions (facts, valid_from, valid_to) the migrated facts stand for (and the row's
    異動前続柄, which a removed person's row never has)."""
    start: date = facts[F_ADDRESS_SINCE]
    if relationship_before is not None:
        changes_on: date = facts[_LAST_CHANGE_ON]
        before = _earlier(facts, _BEFORE_CHANGE_AHEAD, start)
        before[F_RELATIONSHIP] = relationship_before
        return [(before, start, changes_on), (facts, changes_on, None)]
    removed_on: date | None = facts[F_REMOVED_ON]
    if facts[F_STATUS] != STATUS_REMOVED or removed_on is None:
        return [(facts, start, None)]
    if removed_on <= start:
        return [(facts, removed_on, None)]
    return [(_earlier(facts, _RESIDENT_BEFORE_REMOVAL, start), start, removed_on), (facts, removed_on, None)]


def _earlier(facts: Sequence[Any], overlay: Mapping[int, Any], start: date) -> list[Any]:
    """The facts of the version before the row's last change: ``overlay`` laid over them, the last
    change being the migration's, from ``start``."""
    earlier = list(facts)
    for at, value in overlay.items():
        earlier[at] = value
    earlier[_LAST_CHANGE_ON] = start
    return earlier


@dataclass(slots=True)
class MemberValues:
    """One accepted person, as value lists ready for the bulk writer (atena number still open)."""

    line: int
    juminhyo_code: str
    bidx: bytes | None  # blind index of 個人番号
    atena_number: str | None  # carried over from the file, or None (drawn at commit)
    person: list[Any]
    versions: list[list[Any]]
    atena: list[Any]


def member_values(
    row: ResidentRow,
    facts: list[Any],
    *,
    person_id: str,
    atena_id: str,
    household_id: str,
    person_enc: bytes | None,
    atena_enc: bytes | None,
    bidx: bytes | None,
    version_ids: Sequence[str],
    now: datetime,
) -> MemberValues:
    """The value lists of one person (ids and 個人番号 ciphertexts made by the caller), in the
    order of ``PERSON_COLUMNS``, ``VERSION_COLUMNS`` and ``ATENA_COLUMNS``."""
    facts[F_HOUSEHOLD] = household_id
    keys = search_keys(
        row.name, row.name_kana, row.alias, row.alias_kana, row.former_surname, row.former_surname_kana
    )
    address_text = facts[F_ADDRESS_TEXT]
    person = [None, *facts, person_id, row.juminhyo_code, person_enc, bidx, *keys, address_text, 1, now]
    versions = [
        [None, None, *values, version_id, person_id, valid_from, valid_to, now, None]
        for (values, valid_from, valid_to), version_id in zip(
            version_spans(facts, row.relationship_before), version_ids, strict=False
        )
    ]
    removed = facts[F_STATUS] != STATUS_RESIDENT
    atena = [
        None, atena_id, KIND_NON_RESIDENT if removed else KIND_RESIDENT, atena_enc, bidx, row.name,
        row.name_kana, row.birth_date, row.sex.value,
        (facts[F_MOVED_OUT_TO] or address_text) if removed else address_text, now, now,
    ]  # fmt: skip
    return MemberValues(row.line, row.juminhyo_code, bidx, row.atena_number, person, versions, atena)


def household_values(
    household_id: str, number: str, members: Sequence[ResidentRow], now: datetime
) -> list[Any]:
    """``registry_households`` values: created when the first member came, dissolved when the last left."""
    created = min(m.became_resident_on for m in members)
    dissolved: date | None = None
    if all(m.removed_on is not None for m in members):
        dissolved = max(m.removed_on for m in members if m.removed_on is not None)
    return [household_id, number, created, dissolved, now]


# -- export ---------------------------------------------------------------------------------------


def _d(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def export_values(
    r: Mapping[str, Any],
    *,
    household_number: str,
    individual_number: str | None,
    head_name: str | None,
    relationship_before: str | None = None,
) -> tuple[str, ...]:
    """A registry row (``registry_persons`` columns) in interchange column order.

    ``head_name`` is the household's current 世帯主 (written on the other members' rows);
    ``relationship_before`` the 続柄 until a 世帯主変更/続柄変更 dated ahead (異動前続柄).
    """
    change = _EXPORTED_CHANGE.get(r["last_change"], r["last_change"])
    if change not in CHANGE_REASONS:  # pragma: no cover - every registry change type is a reason
        change = MIGRATION_CHANGE
    return (
        r["juminhyo_code"],
        individual_number or "",
        r["atena_number"],
        household_number,
        r["relationship"],
        head_name if head_name and r["relationship"] != "世帯主" else "",
        r["name"],
        r["name_kana"],
        r["alias"] or "",
        r["alias_kana"] or "",
        r["birth_date"].isoformat(),
        r["sex"],
        r["kind"],
        r["became_resident_on"].isoformat(),
        r["address_text"],
        r["address_note"] or "",
        r["address_since"].isoformat(),
        r["previous_address"] or "",
        r["address_before_move_in"] or "",
        r["honseki"] or "",
        r["hittosha"] or "",
        r["nationality"] or "",
        r["residence_status"] or "",
        _d(r["stay_expires_on"]),
        r["residence_card_number"] or "",
        change,
        _d(r["last_change_on"]),
        _d(r["last_notified_on"]),
        r["removal_reason"] or "",
        _d(r["removed_on"]),
        r["moved_out_to"] or "",
        relationship_before or "",
        ("確定" if r["move_out_confirmed"] else "未確定") if r["removal_reason"] in _CONFIRMABLE else "",
        r["former_surname"] or "",
        r["former_surname_kana"] or "",
    )
