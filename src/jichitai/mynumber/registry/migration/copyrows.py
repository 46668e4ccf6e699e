"""Rows encoded in PostgreSQL's binary ``COPY`` format by the parsing workers.

On PostgreSQL an import's main process would otherwise spend most of its time unpickling the
workers' value lists and encoding them row by row (``copy.write_row``). Instead each worker encodes
the rows of its chunk, per table, into one buffer with psycopg's own row formatter (the very code
``write_row`` runs, so the bytes are the same), and the main process streams the buffers into
``COPY ... (FORMAT BINARY)`` as they are.

What only the main process can settle is written into the encoded rows there: a 統合宛名番号 drawn
from the tenant's counter at commit. Its column comes first in the row (see :mod:`.rows`), so it
sits at a fixed offset (after the field count and the field's length); the worker writes a
placeholder of the same length (every drawn number has 15 digits) and records the offset. The
change a batch's versions point to is chosen before the chunk is sent to a worker (the importer
knows which batch a chunk will fall in).

Households refused by the main process (duplicates against the database or the batch) are cut out
of the buffers by their byte spans.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from psycopg import postgres, pq
from psycopg.adapt import AdaptersMap, Transformer
from psycopg.postgres import types as pg_types
from psycopg.types.string import BytesBinaryDumper
from sqlalchemy import Table

from jichitai.mynumber.atena.service import ATENA_NUMBER_LENGTH
from jichitai.mynumber.registry.migration.bulk import pg_type

# The row formatter ``Copy.write_row`` runs (C in psycopg's binary build). psycopg has no public name
# for it; it moved to ``_copy_base`` in 3.2. tests/.../test_encoded_copy.py checks its output.
try:
    from psycopg._copy_base import format_row_binary
except ImportError:  # pragma: no cover - psycopg 3.1
    from psycopg.copy import format_row_binary  # type: ignore[attr-defined,no-redef]

# By type OID, psycopg's own map gives bytea the DB-API ``Binary`` dumper, written in Python; the
# bytes dumper it registers for ``bytes`` values is the C one and writes the same bytes.
_ADAPTERS = AdaptersMap(postgres.adapters)
_ADAPTERS.register_dumper(bytes, BytesBinaryDumper)

FIRST_VALUE = 2 + 4  # a row: int16 field count, then each field as int32 length + bytes
PLACEHOLDER = b"0" * ATENA_NUMBER_LENGTH


class MemberKeys(NamedTuple):
    """What the importer checks and settles of one encoded person (the rows are in the buffers).

    ``offsets`` are where the drawn 統合宛名番号 goes (registry_persons, atena_persons, then each
    version), into the chunk's buffers; empty when the number came with the file.
    """

    line: int
    juminhyo_code: str
    bidx: bytes | None
    atena_number: str | None
    offsets: tuple[int, ...]


class RowFormatter:
    """Encodes value lists for one table's ``COPY`` (the columns' PostgreSQL types, in order)."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.tx = Transformer(_ADAPTERS)
        oids = [pg_types[pg_type(table.c[c])].oid for c in columns]
        self.tx.set_dumper_types(oids, pq.Format.BINARY)

    def add(self, row: Sequence[Any], out: bytearray) -> int:
        """Appends ``row`` to ``out``; returns the offset of its first value."""
        start = len(out) + FIRST_VALUE
        format_row_binary(row, self.tx, out)
        return start


@dataclass(frozen=True)
class Formatters:
    household: RowFormatter
    person: RowFormatter
    version: RowFormatter
    atena: RowFormatter
