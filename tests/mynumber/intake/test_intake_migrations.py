"""The intake and child allowance migrations create exactly the tables the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine
from sqlalchemy.pool import NullPool

import jichitai.mynumber.child_allowance.models
import jichitai.mynumber.intake.models  # noqa: F401
from jichitai.platform.storage import migrate
from jichitai.platform.storage.base import NAMING_CONVENTION, Base

SRC = Path(__file__).parents[3] / "src/jichitai/mynumber"
MIGRATIONS = [SRC / "intake/migrations", SRC / "child_allowance/migrations"]
COMPONENTS = {"jichitai.mynumber.intake", "jichitai.mynumber.child_allowance"}


def test_no_drift_on_sqlite(tmp_path: Path) -> None:
    md = MetaData(naming_convention=NAMING_CONVENTION)
    for table in Base.metadata.sorted_tables:
        if table.info.get("component") in COMPONENTS:
            table.to_metadata(md)
    engine = create_engine(f"sqlite:///{tmp_path / 'ca.db'}", poolclass=NullPool)
    with engine.begin() as conn:
        migrate.upgrade(conn, MIGRATIONS, None)
    with engine.connect() as conn:
        assert migrate.current_heads(conn, None) == {"intake_0001", "child_allowance_0001"}
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [
            d
            for d in compare_metadata(ctx, md)
            if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version")
        ]
    engine.dispose()
    assert diff == []
