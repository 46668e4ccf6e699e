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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from jichitai.mynumber.atena.service import INDIVIDUAL_NUMBER_COLUMN
from jichitai.mynumber.registry.interchange import (
    HouseholdChecker,
    ParseContext,
    Record,
    ResidentRow,
    RowError,
    parse_row,
)
from jichitai.mynumber.registry.migration.fastrow import FastRowParser
from jichitai.mynumber.registry.migration.rows import (
    MemberValues,
    household_values,
    member_values,
    person_facts,
    version_spans,
)
from jichitai.platform.crypto.fields import BlindIndexer, FieldCipher

PERSON_TABLE = "registry_persons"
ATENA_TABLE = "atena_persons"
HOUSEHOLD_COLUMN = "世帯番号"

Item = tuple[int, Record | list[RowError]]


@dataclass(frozen=True)
class ParseSetup:
    """What parsing needs besides the rows: validation context, keys, and the import's clock."""

    parse: ParseContext
    cipher: FieldCipher  # the tenant's field cipher (AES-256-GCM, row id bound)
    indexer: BlindIndexer  # the tenant's blind indexer (HMAC-SHA256)
    now: datetime


@dataclass(slots=True)
class HouseholdValues:
    """An accepted household: its row and its members, in file order."""

    number: str
    first_line: int
    household: list[object]
    members: list[MemberValues]


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
    if isinstance(record, list):
        return None
    return record.get(HOUSEHOLD_COLUMN, "").strip()


def parse_chunk(items: Sequence[Item]) -> ChunkResult:
    """Parse a chunk of whole households (see the module docstring)."""
    setup = _setup
    if setup is None:
        raise RuntimeError("parsing.install() was not called")
    result = ChunkResult(rows=len(items), last_line=items[-1][0] if items else 0)
    group: list[Item] = []
    key: str | None = None
    for item in items:
        k = household_key(item)
        if group and (k is None or k != key):
            _household(group, setup, result)
            group = []
        if k is None:  # an unreadable line stands alone
            _household([item], setup, result)
            continue
        key = k
        group.append(item)
    if group:
        _household(group, setup, result)
    return result


def _household(group: list[Item], setup: ParseSetup, result: ChunkResult) -> None:
    errors: dict[int, list[RowError]] = {}
    rows: list[ResidentRow] = []
    fast = _fast
    assert fast is not None
    for line, record in group:
        if isinstance(record, list):
            errors[line] = record
            continue
        # the cached fast path for valid rows; the reference parser for the rest (and its reasons)
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
    result.households.append(_values(rows, setup))


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


def _new_id() -> str:
    # 32 hex digits like uuid4().hex, but time-ordered as UUIDv7 lays them out (48-bit milliseconds,
    # then 80 random bits): the ids of one import are inserted near the end of the primary-key
    # indexes (those of atena_persons stay in place during a load) instead of all over them.
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"


def _values(rows: list[ResidentRow], setup: ParseSetup) -> HouseholdValues:
    today = setup.parse.today
    now = setup.now
    household_id = _new_id()
    members = []
    cipher, indexer = setup.cipher, setup.indexer
    for row in rows:
        facts = person_facts(row, today=today)
        person_id, atena_id = _new_id(), _new_id()
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
                version_ids=[_new_id() for _ in version_spans(facts)],
                now=now,
            )
        )
    number = rows[0].household_number
    return HouseholdValues(number, rows[0].line, household_values(household_id, number, rows, now), members)
