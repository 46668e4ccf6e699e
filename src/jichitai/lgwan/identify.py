"""The LGWAN copy of the serial-number link table (シリアル番号紐付情報) and applicant identification.

The resident registry (My Number zone) provides, over the linkage server, which JPKI certificate
serial belongs to which person (統合宛名番号), without 個人番号. A full table replaces the copy; a
delta applies changes (a renewed card brings a new serial; a link that ended carries ``valid_to``).

Identification: the signing certificate's serial, looked up exactly, gives the 統合宛名番号. When
there is no link (a card renewed after the last refresh), candidates with the same name and birth
date as the certificate's basic facts are offered to staff, who choose one or none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from jichitai.contracts.transfer import LinkTable, LinkTableRow
from jichitai.lgwan.models import LgwanApplication, LinkEntry
from jichitai.lgwan.rules import Match, name_birth_key
from jichitai.platform.storage import UnitOfWork

INDEX_COLUMN = "lgwan_link_entries.name_birth"
BATCH = 2000


@dataclass(frozen=True)
class Candidate:
    """A person who might be the applicant: same name and birth date, another certificate."""

    atena_number: str
    name: str
    name_kana: str
    birth_date: str
    address: str

    def as_json(self) -> dict[str, str]:
        return {
            "atena_number": self.atena_number,
            "name": self.name,
            "name_kana": self.name_kana,
            "birth_date": self.birth_date,
            "address": self.address,
        }


@dataclass(frozen=True)
class Identification:
    match: Match
    atena_number: str | None
    candidates: list[Candidate]


def entry_id(certificate_use: str, serial: str) -> str:
    return f"{certificate_use}:{serial.upper()}"


def _facts_json(row: LinkTableRow) -> str:
    return json.dumps(
        {
            "name": row.name,
            "name_kana": row.name_kana,
            "birth_date": row.birth_date.isoformat(),
            "address": row.address,
        },
        ensure_ascii=False,
    )


def _entry(uow: UnitOfWork, row: LinkTableRow, now: datetime) -> dict[str, Any]:
    ident = entry_id(row.certificate_use, row.serial)
    return {
        "id": ident,
        "serial": row.serial.upper(),
        "certificate_use": row.certificate_use,
        "atena_number": row.integrated_atena_number,
        "facts": uow.keyring.field_encrypt("lgwan_link_entries", "facts", ident, _facts_json(row)),
        "name_birth_index": uow.keyring.blind_index(INDEX_COLUMN, name_birth_key(row.name, row.birth_date)),
        "valid_from": row.valid_from,
        "valid_to": row.valid_to,
        "updated_at": now,
    }


@dataclass(frozen=True)
class LinkTableReport:
    full: bool
    rows: int
    reidentified: int


def apply_link_table(uow: UnitOfWork, table: LinkTable, now: datetime | None = None) -> LinkTableReport:
    """Replace (full) or update (delta) the copy; then identify applications that had no match."""
    now = now or datetime.now(UTC)
    session = uow.session
    if table.full:
        session.execute(delete(LinkEntry))
        rows = [_entry(uow, r, now) for r in table.rows]
        for start in range(0, len(rows), BATCH):
            session.execute(insert(LinkEntry), rows[start : start + BATCH])
    else:
        for r in table.rows:
            values = _entry(uow, r, now)
            existing = session.get(LinkEntry, values["id"])
            if existing is None:
                session.add(LinkEntry(**values))
            else:
                for key, value in values.items():
                    setattr(existing, key, value)
    session.flush()
    # bulk Core statements bypass the per-row audit: one entry for the load
    uow.record(
        "link_table_loaded",
        "lgwan_link_entries",
        table.generated_at.isoformat(),
        full=table.full,
        rows=len(table.rows),
    )
    reidentified = reidentify_unmatched(uow)
    return LinkTableReport(table.full, len(table.rows), reidentified)


def reidentify_unmatched(uow: UnitOfWork) -> int:
    """Applications without a match whose signer's serial is now linked get their 統合宛名番号."""
    rows = uow.session.execute(
        select(
            LgwanApplication.id,
            LgwanApplication.signer_serial,
            LgwanApplication.certificate_use,
            LgwanApplication.submitted_at,
        ).where(LgwanApplication.match == Match.NO_MATCH.value, LgwanApplication.signer_serial != "")
    ).all()
    found = 0
    for app_id, serial, use, submitted in rows:
        entry = _exact(uow, serial, use, submitted.date() if submitted else None)
        if entry is None:
            continue
        uow.session.execute(
            update(LgwanApplication)
            .where(LgwanApplication.id == app_id)
            .values(match=Match.SERIAL.value, atena_number=entry.atena_number, candidates=None)
        )
        uow.record(
            "applicant_identified", "lgwan_applications", app_id, person=entry.atena_number, by="serial"
        )
        found += 1
    return found


def read_links(uow: UnitOfWork, wanted: Iterable[tuple[str, str]]) -> dict[str, LinkEntry | None]:
    """The link-table entries of several (certificate use, serial) pairs, read in one query.

    Every pair asked for is in the result, ``None`` when it has no entry: :func:`identify` with
    the result as ``links`` then needs no query for the serial.
    """
    ids = {entry_id(use, serial) for use, serial in wanted}
    found: dict[str, LinkEntry | None] = dict.fromkeys(ids)
    listed = sorted(ids)
    with uow.session.no_autoflush:
        for start in range(0, len(listed), BATCH):
            for entry in uow.session.scalars(
                select(LinkEntry).where(LinkEntry.id.in_(listed[start : start + BATCH]))
            ):
                found[entry.id] = entry
    return found


def _exact(
    uow: UnitOfWork,
    serial: str,
    use: str,
    on: date | None,
    links: Mapping[str, LinkEntry | None] | None = None,
) -> LinkEntry | None:
    ident = entry_id(use, serial)
    entry = links[ident] if links is not None and ident in links else uow.session.get(LinkEntry, ident)
    if entry is None:
        return None
    if on is not None and (on < entry.valid_from or (entry.valid_to is not None and on > entry.valid_to)):
        return None
    return entry


def identify(
    uow: UnitOfWork,
    serial: str,
    certificate_use: str,
    *,
    name: str | None,
    birth_date: date | None,
    on: date | None,
    links: Mapping[str, LinkEntry | None] | None = None,
) -> Identification:
    """By serial (exact); else the candidates with the certificate's name and birth date.

    Reads the link table only, so the rows the caller has pending (a batch of pulled applications)
    are not flushed for it: they go to the database together, at the end of the batch. ``links``
    (:func:`read_links`) answers for the serials it holds without a query.
    """
    with uow.session.no_autoflush:
        return _identify(uow, serial, certificate_use, name=name, birth_date=birth_date, on=on, links=links)


def _identify(
    uow: UnitOfWork,
    serial: str,
    certificate_use: str,
    *,
    name: str | None,
    birth_date: date | None,
    on: date | None,
    links: Mapping[str, LinkEntry | None] | None = None,
) -> Identification:
    if serial:
        entry = _exact(uow, serial, certificate_use, on, links)
        if entry is not None:
            return Identification(Match.SERIAL, entry.atena_number, [])
    if not name or birth_date is None:
        return Identification(Match.NO_MATCH, None, [])  # 利用者証明用: no facts to search with
    index = uow.keyring.blind_index(INDEX_COLUMN, name_birth_key(name, birth_date))
    entries = uow.session.scalars(select(LinkEntry).where(LinkEntry.name_birth_index == index)).all()
    seen: dict[str, Candidate] = {}
    for e in entries:
        if e.valid_to is not None:
            continue  # an ended link names a person through an old card only
        facts = json.loads(uow.keyring.field_decrypt("lgwan_link_entries", "facts", e.id, e.facts))
        seen.setdefault(
            e.atena_number,
            Candidate(
                e.atena_number, facts["name"], facts["name_kana"], facts["birth_date"], facts["address"]
            ),
        )
    return Identification(Match.NO_MATCH, None, sorted(seen.values(), key=lambda c: c.atena_number))


def link_entry_count(uow: UnitOfWork) -> int:
    from sqlalchemy import func

    return int(uow.session.scalar(select(func.count()).select_from(LinkEntry)) or 0)
