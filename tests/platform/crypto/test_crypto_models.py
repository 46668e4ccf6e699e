"""The keys_0001 migration builds exactly the tables the models describe (SQLite and PostgreSQL)."""

from __future__ import annotations

import importlib.util
import os
import secrets
from pathlib import Path
from types import ModuleType

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, MetaData, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from jichitai.platform.crypto import models
from jichitai.platform.storage.base import Base

MIGRATION = Path(models.__file__).parent / "migrations" / "0001_keys.py"


def _migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("keys_0001", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _key_metadata() -> MetaData:
    md = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in (models.DataKey.__table__, models.PublicKey.__table__):
        table.to_metadata(md)  # type: ignore[attr-defined]
    return md


def _upgrade_and_diff(conn: Connection) -> list[object]:
    migration = _migration()
    assert (migration.revision, migration.down_revision) == ("keys_0001", None)
    assert migration.branch_labels == ("platform_crypto",)
    context = MigrationContext.configure(conn)
    with Operations.context(context):
        migration.upgrade()
    return list(compare_metadata(MigrationContext.configure(conn), _key_metadata()))


def test_migration_matches_models_on_sqlite() -> None:
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        assert _upgrade_and_diff(conn) == []
        conn.execute(
            text(
                "INSERT INTO data_keys (purpose, version, kek_version, wrapped, created_at, status) "
                "VALUES ('field', 1, 1, x'00', '2026-01-01', 'active')"
            )
        )
        with pytest.raises(Exception, match="CHECK constraint"):
            conn.execute(
                text(
                    "INSERT INTO data_keys (purpose, version, kek_version, wrapped, created_at, status) "
                    "VALUES ('other', 1, 1, x'00', '2026-01-01', 'active')"
                )
            )


@pytest.mark.postgres
def test_migration_matches_models_on_postgresql() -> None:
    url = os.environ.get("JICHITAI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool)
    schema = "keys_test_" + secrets.token_hex(4)
    try:
        conn = engine.connect()
    except OperationalError:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"PostgreSQL is required in CI but {url} does not answer")
        pytest.skip(f"PostgreSQL not reachable at {url}")
    with conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        conn.exec_driver_sql(f'SET search_path TO "{schema}"')
        try:
            assert _upgrade_and_diff(conn) == []
        finally:
            conn.rollback()
    engine.dispose()
