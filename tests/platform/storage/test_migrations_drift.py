"""Alembic's autogenerate finds no difference between each zone's models and its migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from jichitai.platform.storage import migrate
from jichitai.platform.storage.components import metadata_for, migration_dirs
from jichitai.platform.zones import ALL_ZONES, Zone
from tests.conftest import require_pg


def _diff(url: str, zone: Zone, schema: str | None = None) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if schema:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
                conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
            migrate.upgrade(conn, migration_dirs(zone), schema)
        with engine.connect() as conn:
            if schema:
                conn.exec_driver_sql(f'SET search_path TO "{schema}"')
            ctx = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_name": lambda name, type_, _parent: (
                        not (type_ == "table" and name == "alembic_version")
                    ),
                },
            )
            return list(compare_metadata(ctx, metadata_for(zone)))
    finally:
        if schema:
            with engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


@pytest.mark.parametrize("zone", ALL_ZONES)
def test_no_drift_sqlite(zone: Zone, tmp_path: Path) -> None:
    assert _diff(f"sqlite:///{tmp_path / 'drift.sqlite3'}", zone) == []


@pytest.mark.postgres
@pytest.mark.parametrize("zone", ALL_ZONES)
def test_no_drift_postgresql(zone: Zone) -> None:
    import secrets

    url = require_pg().replace("postgresql://", "postgresql+psycopg://", 1)
    assert _diff(url, zone, schema=f"drift_{secrets.token_hex(4)}") == []
