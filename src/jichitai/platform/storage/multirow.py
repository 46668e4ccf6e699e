"""Multi-row ``INSERT`` on the embedded (SQLite) backend: many rows in one statement.

``executemany`` runs one ``sqlite3_step`` per row, and Python's sqlite3 module gives up the
interpreter lock around every step. In a server process whose event loop is busy, each of those
hand-overs is a pair of thread switches (the loop takes the lock, the writer waits up to the switch
interval to get it back). One ``INSERT ... VALUES (...), (...)`` per batch is one step, so the
group commit's writer (:mod:`jichitai.internet.submissions.writes`) and the audit log hand the lock
over once per table instead of once per row.

The values must already be what SQLite stores (text, integers, bytes, None): no SQLAlchemy type
processing happens here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from sqlalchemy import Connection

# SQLite's SQLITE_MAX_VARIABLE_NUMBER is 32,766 since 3.32 (999 before); a statement stays well
# below both its limit and the size where building its text would cost more than the steps saved.
MAX_PARAMETERS = 999


@lru_cache(maxsize=256)
def _insert_sql(table: str, columns: tuple[str, ...], rows: int) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    group = "(" + ", ".join("?" * len(columns)) + ")"
    return f'INSERT INTO "{table}" ({names}) VALUES ' + ", ".join([group] * rows)


def insert_rows(connection: Connection, table: str, rows: Sequence[Mapping[str, object]]) -> None:
    """Insert ``rows`` (all with the keys of the first, in any order) into ``table`` with as few
    statements as the parameter limit allows. Raises ``KeyError`` when a row lacks a column."""
    if not rows:
        return
    columns = tuple(rows[0])
    per_statement = max(1, MAX_PARAMETERS // len(columns))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        params = tuple([row[c] for row in chunk for c in columns])
        connection.exec_driver_sql(_insert_sql(table, columns, len(chunk)), params)


__all__ = ["MAX_PARAMETERS", "insert_rows"]
