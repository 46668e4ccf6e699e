"""The placement map: tenants spread over two PostgreSQL servers (two local clusters, two ports)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from jichitai.platform.audit.models import AuditEntry
from jichitai.platform.errors import ValidationError
from jichitai.platform.storage.engine import Storage
from jichitai.platform.tenancy import NewTenant, add_tenant
from jichitai.platform.tenants import TenantKind
from jichitai.platform.zones import Zone
from tests.conftest import close_storage, ctx, make_settings, make_storage, require_pg
from tests.pgcluster import throwaway_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def second_server() -> Iterator[str]:
    require_pg()
    with throwaway_cluster() as url:
        yield url


@pytest.fixture
def placed(tmp_path: Path, second_server: str) -> Iterator[Storage]:
    first = require_pg()
    settings = make_settings(
        tmp_path / "home", "postgresql", pg_servers={"default": first, "east": second_server}
    )
    st = make_storage(settings)
    try:
        yield st
    finally:
        close_storage(st)


def _schemas(url: str, database: str) -> set[str]:
    engine = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1).rsplit("/", 1)[0] + f"/{database}",
        poolclass=NullPool,
    )
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%'"))
        found = {r[0] for r in rows}
    engine.dispose()
    return found


def test_tenants_land_on_their_server(placed: Storage, second_server: str) -> None:
    first = placed.settings.pg_servers["default"]
    add_tenant(placed, NewTenant("131016", "千代田区", "チヨダク", TenantKind.SPECIAL_WARD, server="default"))
    add_tenant(placed, NewTenant("141003", "横浜市", "ヨコハマシ", TenantKind.DESIGNATED_CITY, server="east"))
    # without --server the least-loaded server is picked: both have one, "default" sorts first
    add_tenant(placed, NewTenant("011002", "札幌市", "サッポロシ", TenantKind.DESIGNATED_CITY))
    assert placed.catalog.get("141003").server == "east"
    assert placed.catalog.get("011002").server == "default"
    db = placed.backend.database(Zone.MYNUMBER)  # type: ignore[attr-defined]
    assert _schemas(first, db) == {"t_131016", "t_011002"}
    assert _schemas(second_server, db) == {"t_141003"}

    with placed.unit_of_work(ctx("platform.audit.review", "141003"), Zone.MYNUMBER) as uow:
        uow.record("read", "registry.person", "Y-1", person="yokohama")
        url = uow.session.get_bind().engine.url  # type: ignore[union-attr]
        assert url.port == int(second_server.rsplit(":", 1)[1].split("/")[0])
        assert url.username == f"{placed.settings.db_prefix}_mynumber_141003"
    with placed.unit_of_work(ctx("platform.audit.review", "141003"), Zone.MYNUMBER) as uow:
        people = set(uow.session.scalars(select(AuditEntry.person)))
    assert "yokohama" in people


def test_unknown_server_is_refused(placed: Storage) -> None:
    with pytest.raises(ValidationError, match="unknown server 'west'"):
        add_tenant(
            placed, NewTenant("131016", "千代田区", "チヨダク", TenantKind.SPECIAL_WARD, server="west")
        )
    assert placed.catalog.list() == []
