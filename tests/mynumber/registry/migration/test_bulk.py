"""The bulk writer on SQLite stores dates and timestamps as the ORM does, also through its memo."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Column, Date, DateTime, Integer, MetaData, Table, create_engine, insert, select
from sqlalchemy.orm import Session

from jichitai.mynumber.registry.migration.bulk import BulkWriter


def test_memoized_values_are_stored_as_the_orm_stores_each_one(tmp_path: Path) -> None:
    table = Table(
        "bulk_memo_probe",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("day", Date),
        Column("at", DateTime(timezone=True)),
    )
    engine = create_engine(f"sqlite:///{tmp_path / 'probe.db'}")
    table.metadata.create_all(engine)
    utc = datetime(2025, 1, 1, 0, 0, tzinfo=UTC)
    tokyo = utc.astimezone(timezone(timedelta(hours=9)))  # equal to utc, another wall clock
    assert utc == tokyo
    rows = [
        [1, date(1980, 4, 1), utc],
        [2, date(1980, 4, 1), tokyo],
        [3, None, utc],
        [4, date(2001, 2, 3), None],
    ]
    with Session(engine) as s, s.begin():
        BulkWriter(s).insert(table, ["id", "day", "at"], rows)
        # the reference: the same values through the ORM's own insert
        s.execute(insert(table), [{"id": 10 + r[0], "day": r[1], "at": r[2]} for r in rows])
    with engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT id, day, at FROM bulk_memo_probe ORDER BY id").all()
        back = conn.execute(select(table.c.id, table.c.at).order_by(table.c.id)).all()
    bulk, orm = raw[:4], raw[4:]
    assert [r[1:] for r in bulk] == [r[1:] for r in orm]
    assert bulk[0][2] != bulk[1][2]  # not the memo's first answer for an equal key
    assert [a for _, a in back[:4]] == [a for _, a in back[4:]]
