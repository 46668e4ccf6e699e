"""Bulk inserts into the session's own transaction: binary ``COPY`` on PostgreSQL, ``executemany``
on SQLite.

ORM inserts cost tens of microseconds a row; an import of millions of residents goes through the
driver instead, inside the unit of work's transaction (so it commits, or rolls back, with the batch's
progress and audit entry). The ORM's automatic audit of ``__audited__`` tables does not see these
rows: the importer records one audit entry per batch itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Integer, LargeBinary, Table
from sqlalchemy.orm import Session

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # flags, no extension
TRAILER = b"\xff\xff"


def pg_type(column: Any) -> str:
    """The PostgreSQL type a column's values are encoded as in a binary ``COPY``."""
    t = column.type
    if isinstance(t, DateTime):
        return "timestamptz" if t.timezone else "timestamp"
    if isinstance(t, Date):
        return "date"
    if isinstance(t, Boolean):
        return "bool"
    if isinstance(t, LargeBinary):
        return "bytea"
    if isinstance(t, Integer):  # BigInteger is an Integer too
        return "int8" if t.__class__.__name__ == "BigInteger" else "int4"
    return "text"  # String, Text and VARCHAR with a collation share text's binary form


class BulkWriter:
    """Inserts lists of values (in ``columns`` order) into tables through the session's connection."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    def insert(self, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        driver = self.session.connection().connection.driver_connection
        if self.dialect == "postgresql":
            self._copy(driver, table, columns, rows)
        else:
            self._executemany(driver, table, columns, rows)

    def copy_encoded(self, table: Table, columns: Sequence[str], blocks: Iterable[bytes | bytearray]) -> None:
        """``COPY`` of rows already in binary ``COPY`` format (``columns`` order), without the
        signature and trailer, which are written here (see :mod:`.copyrows`)."""
        driver: Any = self.session.connection().connection.driver_connection
        cols = ", ".join(f'"{c}"' for c in columns)
        with (
            driver.cursor() as cur,
            cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN (FORMAT BINARY)') as copy,
        ):
            copy.write(SIGNATURE)
            for block in blocks:
                if block:
                    copy.write(block)
            copy.write(TRAILER)

    @staticmethod
    def _copy(driver: Any, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        cols = ", ".join(f'"{c}"' for c in columns)
        types = [pg_type(table.c[c]) for c in columns]
        with (
            driver.cursor() as cur,
            cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN (FORMAT BINARY)') as copy,
        ):
            copy.set_types(types)
            write = copy.write_row
            for row in rows:
                write(row)

    def _executemany(
        self, driver: Any, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        dialect = self.session.get_bind().dialect
        # Dates and timestamps stored exactly as SQLAlchemy stores them, so the ORM reads them back.
        processors: list[tuple[int, Callable[[Any], Any]]] = []
        for i, c in enumerate(columns):
            column_type = table.c[c].type
            if not isinstance(column_type, Date | DateTime | Boolean):
                continue
            # the dialect's implementation (sqlite.DATETIME …) holds the processor; the generic
            # type has none, and the driver's default adapters would write another format
            # (isoformat with "+00:00" for an aware timestamp)
            proc = column_type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                processors.append((i, proc))
        sql = f'INSERT INTO "{table.name}" ({", ".join(columns)}) VALUES ({", ".join("?" * len(columns))})'

        # A batch holds few distinct dates (birth dates repeat, every timestamp is the import's
        # ``now``): each value is formatted once per batch and looked up after.
        memos: list[tuple[int, Callable[[Any], Any], dict[Any, Any]]] = [(i, p, {}) for i, p in processors]

        def converted() -> Iterable[Sequence[Any]]:
            for row in rows:
                values = list(row)
                for i, proc, memo in memos:
                    v = values[i]
                    if v is not None:
                        # equal aware timestamps of other zones differ in the stored text
                        key = (v, v.tzinfo) if type(v) is datetime else v
                        out = memo.get(key)
                        if out is None:
                            out = memo[key] = proc(v)
                        values[i] = out
                yield values

        cur = driver.cursor()
        try:
            cur.executemany(sql, converted() if processors else rows)
        finally:
            cur.close()
