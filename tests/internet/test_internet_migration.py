"""The internet zone's migration creates exactly the submission store's tables as the models say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine
from sqlalchemy.pool import NullPool

from jichitai.internet.models import INTERNET_TABLES
from jichitai.platform.storage import migrate
from jichitai.platform.storage.base import NAMING_CONVENTION

MIGRATIONS = Path(__file__).parents[2] / "src/jichitai/internet/migrations"
OURS = {t.name for t in INTERNET_TABLES}


def _table_of(diff: Any) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None:
            return str(table.name)
        if isinstance(name, str) and name in OURS:
            return name
        if isinstance(part, str) and part in OURS:
            return part
    return None


def test_migration_matches_models(tmp_path: Path) -> None:
    md = MetaData(naming_convention=NAMING_CONVENTION)
    for table in INTERNET_TABLES:
        table.to_metadata(md)
    engine = create_engine(f"sqlite:///{tmp_path / 'internet.db'}", poolclass=NullPool)
    with engine.begin() as conn:
        migrate.upgrade(conn, [MIGRATIONS], None)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(ctx, md) if _table_of(d) in OURS]
    engine.dispose()
    assert diff == []
