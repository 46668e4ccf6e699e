"""The registry's secondary indexes during an initial load: dropped while loading, built at the end.

A first full load of millions of residents into an empty registry spends much of its database time
updating the search and history indexes row by row (random insertions into large B-trees). Built
once at the end they cost a sort each. Only the non-unique indexes of ``registry_persons`` and
``registry_person_versions`` are deferred: the unique ones (住民票コード, 統合宛名番号, 個人番号's
blind index, 世帯番号) stay, because each batch's duplicate checks read them and they keep the data
consistent while it loads.

On PostgreSQL the tenant's role does not own the tables, so the DDL runs through the backend's
administrative engine with ``search_path`` set to the tenant's schema; on SQLite the tenant's own
database file is used. Both operations are idempotent (``IF EXISTS`` / ``IF NOT EXISTS``), so an
interrupted load can repeat them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Index, Table
from sqlalchemy.schema import CreateIndex, DropIndex

from jichitai.mynumber.registry.models import Person, PersonVersion
from jichitai.platform.storage import Storage
from jichitai.platform.storage.backends import PostgresBackend
from jichitai.platform.tenants import Tenant
from jichitai.platform.zones import Zone

_TABLES: tuple[Table, ...] = (Person.__table__, PersonVersion.__table__)  # type: ignore[assignment]


def deferred_indexes() -> list[Index]:
    """The indexes an initial load drops and rebuilds (sorted by name, for a stable order)."""
    return sorted((ix for t in _TABLES for ix in t.indexes if not ix.unique), key=lambda ix: str(ix.name))


@contextmanager
def _ddl(storage: Storage, tenant: Tenant) -> Iterator[Connection]:
    backend = storage.backend
    if isinstance(backend, PostgresBackend):
        engine = backend.admin_engine(tenant.server, backend.database(Zone.MYNUMBER))
        with engine.begin() as conn:
            schema = backend.schema(tenant).replace('"', '""')
            conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
            # index builds sort: give them memory (this transaction only)
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
            yield conn
    else:
        with storage.tenant_engine(Zone.MYNUMBER, tenant).begin() as conn:
            # index builds sort: a large page cache and in-memory temporary storage for this
            # connection while they run, its settings restored afterwards (it returns to the pool)
            cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
            temp = conn.exec_driver_sql("PRAGMA temp_store").scalar()
            conn.exec_driver_sql("PRAGMA cache_size = -262144")
            conn.exec_driver_sql("PRAGMA temp_store = MEMORY")
            try:
                yield conn
            finally:
                conn.exec_driver_sql(f"PRAGMA cache_size = {int(cache or -2000)}")
                conn.exec_driver_sql(f"PRAGMA temp_store = {int(temp or 0)}")


def drop_deferred_indexes(storage: Storage, tenant: Tenant) -> None:
    with _ddl(storage, tenant) as conn:
        for ix in deferred_indexes():
            conn.execute(DropIndex(ix, if_exists=True))


def build_deferred_indexes(storage: Storage, tenant: Tenant) -> None:
    """Create the deferred indexes (those missing) and refresh the planner's statistics."""
    with _ddl(storage, tenant) as conn:
        for ix in deferred_indexes():
            conn.execute(CreateIndex(ix, if_not_exists=True))
        for table in _TABLES:
            conn.exec_driver_sql(f'ANALYZE "{table.name}"')
