"""The identity migration creates exactly the tables the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, create_engine, text
from sqlalchemy.pool import NullPool

from jichitai.platform.identity.models import IDENTITY_TABLES
from jichitai.platform.storage import migrate
from jichitai.platform.storage.base import NAMING_CONVENTION

MIGRATIONS = Path(__file__).parents[3] / "src/jichitai/platform/identity/migrations"
PG_URL = os.environ.get("JICHITAI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def identity_metadata() -> MetaData:
    md = MetaData(naming_convention=NAMING_CONVENTION)
    for table in IDENTITY_TABLES:
        table.to_metadata(md)
    return md


def assert_no_drift(engine: Engine, schema: str | None) -> None:
    with engine.begin() as conn:
        if schema:
            conn.execute(text(f'SET search_path TO "{schema}"'))
        migrate.upgrade(conn, [MIGRATIONS], schema)
    with engine.connect() as conn:
        if schema:
            conn.execute(text(f'SET search_path TO "{schema}"'))
        assert migrate.current_heads(conn, schema) == {"identity_0001"}
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "version_table_schema": schema})
        diff = [d for d in compare_metadata(ctx, identity_metadata()) if not _is_version_table(d)]
    assert diff == []


def _is_version_table(diff: object) -> bool:
    return isinstance(diff, tuple) and diff[0] == "remove_table" and diff[1].name == "alembic_version"


def test_migration_matches_models_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'identity.db'}", poolclass=NullPool)
    assert_no_drift(engine, None)
    engine.dispose()


@pytest.mark.postgres
def test_migration_matches_models_on_postgresql() -> None:
    engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    schema = "jt_identity_" + secrets.token_hex(4)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        assert_no_drift(engine, schema)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
