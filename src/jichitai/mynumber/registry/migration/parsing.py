"""The CPU-heavy half of an import: validate, normalize, key and encrypt whole households.

:func:`parse_chunk` takes a chunk of records (``(line, record)`` as the interchange readers yield
them) that holds whole households (the importer cuts chunks only where 世帯番号 changes) and
returns, in file order, the households accepted (as value lists for the bulk writer) and the rows
rejected with every problem found. It runs in the importer's process or in worker processes
forked from it; :class:`ParseSetup` (keys included) is installed in a module global before the
fork, so the tenant's unwrapped keys never travel through a pipe.

A household is accepted or rejected as a whole: if one member's row is refused, or a cross-row
rule fails (one 世帯主, one address, 世帯主氏名), the other members are refused too with a reason
naming the line at fault, so that no household is half-imported.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import chain
from typing import IO, Any, cast

from jichitai.mynumber.atena.service import INDIVIDUAL_NUMBER_COLUMN
from jichitai.mynumber.registry.interchange import (
    COLUMN_NAMES,
    HouseholdChecker,
    ParseContext,
    Record,
    ResidentRow,
    RowError,
    csv_records,
    parse_row,
)
from jichitai.mynumber.registry.migration.copyrows import PLACEHOLDER, Formatters, MemberKeys
from jichitai.mynumber.registry.migration.fastrow import FastRowParser
from jichitai.mynumber.registry.migration.rows import (
    ATENA_ATENA,
    PERSON_ATENA,
    VERSION_ATENA,
    VERSION_CHANGE,
    MemberValues,
    address_values,
    household_values,
    member_values,
    person_facts,
    version_spans,
)
from jichitai.platform.crypto.fields import BlindIndexer, FieldCipher

PERSON_TABLE = "registry_persons"
ATENA_TABLE = "atena_persons"
HOUSEHOLD_COLUMN = "世帯番号"
_HOUSEHOLD_AT = COLUMN_NAMES.index(HOUSEHOLD_COLUMN)

# A record arrives as a dict (JSON Lines, or CSV read in this process) or packed (CSV read by the
# importer for the workers, see :func:`packed_csv`): one string, 世帯番号 first, then the values in
# the header's order, joined by PACK_SEP. A worker unpacks it into a tuple of the values in
# ``COLUMN_NAMES`` order (:func:`_unpacked`).
Item = tuple[int, Record | list[RowError] | str | tuple[str, ...]]
PACK_SEP = "\x1f"  # ASCII unit separator: a control character, which no valid value holds


@dataclass(frozen=True)
class ParseSetup:
    """What parsing needs besides the rows: validation context, keys, and the import's clock."""

    parse: ParseContext
    cipher: FieldCipher  # the tenant's field cipher (AES-256-GCM, row id bound)
    indexer: BlindIndexer  # the tenant's blind indexer (HMAC-SHA256)
    now: datetime
    # PostgreSQL: the accepted rows come back encoded for a binary COPY (see :mod:`.copyrows`)
    formatters: Formatters | None = None


@dataclass(slots=True)
class HouseholdValues:
    """An accepted household: its row and its members, in file order.

    Encoded (``ChunkResult.blocks``): ``household`` is the byte spans of its rows in the chunk's
    blocks (households, persons, versions, atena: start and end of each) and ``members`` are
    :class:`~.copyrows.MemberKeys`.
    """

    number: str
    first_line: int
    household: list[Any]
    members: list[MemberValues] | list[MemberKeys]

    def __reduce__(self) -> tuple[Any, ...]:
        # by constructor: unpickling a batch's households in the importer costs half as much as
        # the default (slot by slot)
        return HouseholdValues, (self.number, self.first_line, self.household, self.members)


@dataclass(slots=True)
class ChunkResult:
    """What a chunk gave: rows read, households accepted, rejected rows' problems (by line)."""

    rows: int = 0
    last_line: int = 0
    households: list[HouseholdValues] = field(default_factory=list)
    rejected: dict[int, list[RowError]] = field(default_factory=dict)
    # (raw 世帯番号, first line) of each household refused here: the importer also tells when the
    # number was met before (members not on consecutive rows), which a chunk alone cannot know
    rejected_households: list[tuple[str, int]] = field(default_factory=list)
    change_id: str = ""  # the change the versions point to (chosen for the chunk's batch)
    # the accepted rows in binary COPY format: households, persons, versions, atena
    blocks: tuple[bytes, bytes, bytes, bytes] | None = None


_setup: ParseSetup | None = None
_fast: FastRowParser | None = None


def install(setup: ParseSetup) -> None:
    """Make ``setup`` the one :func:`parse_chunk` uses (call before forking workers)."""
    global _setup, _fast
    _setup = setup
    _fast = FastRowParser(setup.parse)


def household_key(item: Item) -> str | None:
    """The raw 世帯番号 of a record (None for a line that could not be read as a record)."""
    record = item[1]
    if type(record) is str:
        return record[: record.index(PACK_SEP)]
    if type(record) is tuple:
        return record[_HOUSEHOLD_AT].strip()
    if isinstance(record, list):
        return None
    return cast(Record, record).get(HOUSEHOLD_COLUMN, "").strip()


def packed_csv(stream: IO[str], header: list[str]) -> Iterator[Item]:
    """The items of :func:`~jichitai.mynumber.registry.interchange.iter_csv`, each record packed.

    Pickling a record for a worker costs a string per column both ways (31 with the standard's
    columns), and building the dict here another; a packed record is one string, unpacked by the
    worker (:func:`parse_chunk`, given ``header``). A record with PACK_SEP inside a value (never
    valid) stays a dict, so the parser reports it as it is.
    """
    records = csv_records(stream, header)
    first = next(records, None)
    if first is None:
        return
    key_at = header.index(HOUSEHOLD_COLUMN) if header else 0
    seps = len(header)
    for line, record in chain((first,), records):
        if type(record) is str:  # one line's values, separated by commas
            if PACK_SEP not in record:
                key = record.split(",", key_at + 1)[key_at].strip()
                yield line, key + PACK_SEP + record.replace(",", PACK_SEP)
                continue
            record = record.split(",")
        row = cast(list[str] | list[RowError], record)
        if not row or not isinstance(row[0], str):
            yield line, cast(list[RowError], row)
            continue
        packed = PACK_SEP.join((row[key_at].strip(), *row))
        if packed.count(PACK_SEP) == seps:
            yield line, packed
        else:
            yield line, dict(zip(header, row, strict=True))


def _unpacked(items: Sequence[Item], header: Sequence[str]) -> Sequence[Item]:
    """Packed records as their values in ``COLUMN_NAMES`` order (a tuple; a column missing from
    the file is an empty string), which the fast parser reads by position."""
    if not any(type(record) is str for _, record in items):
        return items
    order = _column_order(tuple(header))
    out: list[Item] = []
    for line, record in items:
        if type(record) is str:
            values = record.split(PACK_SEP)
            if order is None:  # the file's columns are the standard's, in its order
                out.append((line, tuple(values[1:])))
            else:
                values.append("")
                out.append((line, tuple([values[i] for i in order])))
        else:
            out.append((line, record))
    return out


@lru_cache(maxsize=8)
def _column_order(header: tuple[str, ...]) -> tuple[int, ...] | None:
    """Where each of ``COLUMN_NAMES`` is in a packed record of ``header`` (after the key; a missing
    column points past the values, where an empty string is appended); None when in place."""
    if header == COLUMN_NAMES:
        return None
    return tuple(header.index(c) + 1 if c in header else len(header) + 1 for c in COLUMN_NAMES)


def parse_chunk(items: Sequence[Item], change_id: str = "", header: Sequence[str] = ()) -> ChunkResult:
    """Parse a chunk of whole households (see the module docstring); ``header`` unpacks packed
    records (:func:`packed_csv`)."""
    setup = _setup
    if setup is None:
        raise RuntimeError("parsing.install() was not called")
    items = _unpacked(items, header)
    result = ChunkResult(rows=len(items), last_line=items[-1][0] if items else 0, change_id=change_id)
    group: list[Item] = []
    key: str | None = None
    ids = _new_ids()
    for item in items:
        k = household_key(item)
        if group and (k is None or k != key):
            _household(group, setup, result, ids)
            group = []
        if k is None:  # an unreadable line stands alone
            _household([item], setup, result, ids)
            continue
        key = k
        group.append(item)
    if group:
        _household(group, setup, result, ids)
    for h in result.households:
        for m in h.members:
            for v in m.versions:  # type: ignore[union-attr]  # not encoded yet
                v[VERSION_CHANGE] = change_id
    if setup.formatters is not None:
        _encode(result, setup.formatters)
    return result


def _encode(result: ChunkResult, f: Formatters) -> None:
    """Replaces the value lists of ``result`` by the rows in binary COPY format (module docstring)."""
    hbuf, pbuf, vbuf, abuf = bytearray(), bytearray(), bytearray(), bytearray()
    add_h, add_p, add_v, add_a = f.household.add, f.person.add, f.version.add, f.atena.add
    encoded = []
    for h in result.households:
        spans = [len(hbuf), 0, len(pbuf), 0, len(vbuf), 0, len(abuf), 0]
        add_h(h.household, hbuf)
        keys = []
        for m in h.members:
            assert isinstance(m, MemberValues)
            number = m.atena_number
            m.person[PERSON_ATENA] = m.atena[ATENA_ATENA] = number or PLACEHOLDER.decode()
            for v in m.versions:
                v[VERSION_ATENA] = m.person[PERSON_ATENA]
            offsets = (add_p(m.person, pbuf), add_a(m.atena, abuf), *[add_v(v, vbuf) for v in m.versions])
            keys.append(MemberKeys(m.line, m.juminhyo_code, m.bidx, number, () if number else offsets))
        spans[1], spans[3], spans[5], spans[7] = len(hbuf), len(pbuf), len(vbuf), len(abuf)
        encoded.append(HouseholdValues(h.number, h.first_line, spans, keys))
    result.households = encoded
    result.blocks = (bytes(hbuf), bytes(pbuf), bytes(vbuf), bytes(abuf))


def _household(group: list[Item], setup: ParseSetup, result: ChunkResult, ids: Iterator[str]) -> None:
    errors: dict[int, list[RowError]] = {}
    rows: list[ResidentRow] = []
    fast = _fast
    assert fast is not None
    for line, record in group:
        if isinstance(record, list):
            errors[line] = record
            continue
        # the cached fast path for valid rows; the reference parser for the rest (and its reasons)
        if type(record) is tuple:  # unpacked by parse_chunk
            parsed = fast.parse_values(record, line) or parse_row(
                dict(zip(COLUMN_NAMES, record, strict=True)), line, setup.parse
            )
        else:
            assert isinstance(record, dict)
            parsed = fast.parse(record, line) or parse_row(record, line, setup.parse)
        if isinstance(parsed, list):
            errors[line] = parsed
        else:
            rows.append(parsed)
    if rows and not errors:
        checker = HouseholdChecker(check_duplicates=False)
        for row in rows:
            checker.add(row)
        checker.finish()
        for e in checker.errors:
            errors.setdefault(e.line, []).append(e)
    if errors:
        reject_group([line for line, _ in group], errors, result.rejected)
        key = household_key(group[0])
        if key:
            result.rejected_households.append((key, group[0][0]))
        return
    result.households.append(_values(rows, setup, ids))


def reject_group(
    lines: Sequence[int], errors: dict[int, list[RowError]], out: dict[int, list[RowError]]
) -> None:
    """Refuse every line of a household: its own problems, or the line(s) at fault for the rest."""
    at_fault = sorted(errors)
    where = "、".join(f"{n}行目" for n in at_fault[:5]) + ("ほか" if len(at_fault) > 5 else "")
    for line in lines:
        own = errors.get(line)
        out[line] = own or [
            RowError(line, None, f"同じ世帯の{where}に誤りがあるため、この行も取り込みません")
        ]


def _new_ids() -> Iterator[str]:
    """Ids of 32 hex digits like uuid4().hex, but time-ordered as UUIDv7 lays them out (48-bit
    milliseconds, then 80 random bits): the ids of one import are inserted near the end of the
    primary-key indexes (those of atena_persons stay in place during a load) instead of all over
    them. The randomness is read from the OS in blocks; a source is made per chunk, in the process
    that parses it (a block must never be shared by forked workers)."""
    while True:
        ms = f"{time.time_ns() // 1_000_000:012x}"
        block = os.urandom(10 * 256).hex()
        for i in range(0, len(block), 20):
            yield ms + block[i : i + 20]


def _values(rows: list[ResidentRow], setup: ParseSetup, ids: Iterator[str]) -> HouseholdValues:
    today = setup.parse.today
    now = setup.now
    new_id = ids.__next__
    household_id = new_id()
    members = []
    cipher, indexer = setup.cipher, setup.indexer
    addresses: dict[int, tuple[Any, ...]] = {}  # a household's members share one parsed address
    for row in rows:
        address = addresses.get(id(row.address))
        if address is None:
            address = addresses[id(row.address)] = address_values(row.address)
        facts = person_facts(row, today=today, address=address)
        person_id, atena_id = new_id(), new_id()
        bidx = person_enc = atena_enc = None
        if row.my_number is not None:
            bidx = indexer.index(INDIVIDUAL_NUMBER_COLUMN, row.my_number)
            person_enc = cipher.encrypt(PERSON_TABLE, "individual_number", person_id, row.my_number)
            atena_enc = cipher.encrypt(ATENA_TABLE, "individual_number", atena_id, row.my_number)
        members.append(
            member_values(
                row,
                facts,
                person_id=person_id,
                atena_id=atena_id,
                household_id=household_id,
                person_enc=person_enc,
                atena_enc=atena_enc,
                bidx=bidx,
                version_ids=[new_id() for _ in version_spans(facts, row.relationship_before)],
                now=now,
            )
        )
    number = rows[0].household_number
    return HouseholdValues(number, rows[0].line, household_values(household_id, number, rows, now), members)
