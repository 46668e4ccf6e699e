"""The issuance migration creates exactly the table the model describes, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, create_engine, text
from sqlalchemy.pool import NullPool

from jichitai.mynumber.registry.issuance_models import CertificateIssuance
from jichitai.platform.storage import migrate
from jichitai.platform.storage.base import NAMING_CONVENTION
from tests.conftest import require_pg

SRC = Path(__file__).parents[4] / "src/jichitai/mynumber"
MIGRATIONS = [SRC / "atena/migrations", SRC / "registry/migrations"]
TABLE = CertificateIssuance.__tablename__


def _metadata() -> MetaData:
    md = MetaData(naming_convention=NAMING_CONVENTION)
    CertificateIssuance.__table__.to_metadata(md)  # type: ignore[attr-defined]
    return md


def _diff(engine: Engine, schema: str | None) -> list[object]:
    with engine.begin() as conn:
        if schema:
            conn.execute(text(f'SET search_path TO "{schema}"'))
        migrate.upgrade(conn, MIGRATIONS, schema)
    with engine.connect() as conn:
        if schema:
            conn.execute(text(f'SET search_path TO "{schema}"'))
        heads = migrate.current_heads(conn, schema)
        script = migrate.script_directory(MIGRATIONS)
        # applied: the issuance revision is an ancestor of (or is) the registry branch's head
        applied = {r.revision for h in heads for r in script.walk_revisions(base="base", head=h)}
        assert "registry_0200_issuances" in applied
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "version_table_schema": schema})
        return [d for d in compare_metadata(ctx, _metadata()) if _table_of(d) == TABLE]


def _table_of(diff: object) -> str:
    """The table a diff entry is about (other components' tables are not this test's business)."""
    item = diff[0] if isinstance(diff, list) else diff
    if not isinstance(item, tuple):
        return ""
    for part in item[1:]:
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None and getattr(table, "name", None):
            return str(table.name)
        if item[0].endswith("_table") and name:
            return str(name)
        if isinstance(part, str) and part == TABLE:
            return part
    return ""


def test_no_drift_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'registry.db'}", poolclass=NullPool)
    assert _diff(engine, None) == []
    engine.dispose()


@pytest.mark.postgres
def test_no_drift_on_postgresql() -> None:
    url = require_pg()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool)
    schema = "iss_" + secrets.token_hex(4)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        assert _diff(engine, schema) == []
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
