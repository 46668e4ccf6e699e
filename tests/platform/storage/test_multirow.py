"""Multi-row INSERT on SQLite (:mod:`jichitai.platform.storage.multirow`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from jichitai.platform.storage.multirow import MAX_PARAMETERS, _insert_sql, insert_rows


def _engine(tmp_path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{tmp_path / 'rows.sqlite3'}")
    with engine.begin() as conn:
        conn.exec_driver_sql('CREATE TABLE "t" (a INTEGER PRIMARY KEY, b TEXT, c BLOB)')
    return engine


def test_rows_go_in_whole_and_in_order_of_their_own_keys(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    # more rows than one statement may carry, keys in another order than the first row's
    rows = [{"a": i, "b": f"値{i}", "c": bytes([i % 256])} for i in range(MAX_PARAMETERS)]
    rows[5] = {"c": b"\x00", "b": "五", "a": 5}
    with engine.begin() as conn:
        insert_rows(conn, "t", rows)
    with engine.connect() as conn:
        got = conn.execute(text("SELECT a, b, c FROM t ORDER BY a")).all()
    assert len(got) == MAX_PARAMETERS
    assert tuple(got[5]) == (5, "五", b"\x00")
    last = MAX_PARAMETERS - 1
    assert tuple(got[-1]) == (last, f"値{last}", bytes([last % 256]))


def test_a_statement_stays_within_the_parameter_limit() -> None:
    assert _insert_sql("t", ("a", "b", "c"), MAX_PARAMETERS // 3).count("?") <= MAX_PARAMETERS


def test_a_row_without_a_column_fails_and_its_transaction_stores_nothing(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with pytest.raises(KeyError), engine.begin() as conn:
        insert_rows(conn, "t", [{"a": 1, "b": "x", "c": None}, {"a": 2, "b": "y"}])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_a_failing_row_fails_the_whole_statement(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with engine.begin() as conn:
        insert_rows(conn, "t", [{"a": 1, "b": "x", "c": None}])
    with pytest.raises(Exception, match="UNIQUE"), engine.begin() as conn:
        insert_rows(conn, "t", [{"a": 2, "b": "y", "c": None}, {"a": 1, "b": "dup", "c": None}])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT a FROM t")).scalars().all() == [1]


def test_no_rows_no_statement(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with engine.begin() as conn:
        insert_rows(conn, "t", [])
