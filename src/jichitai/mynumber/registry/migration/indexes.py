"""The registry's secondary indexes during an initial load: dropped while loading, built at the end.

A first full load of millions of residents into an empty registry spends much of its database time
updating the search and history indexes row by row (random insertions into large B-trees). Built
once at the end they cost a sort each. The non-unique indexes of ``registry_persons`` and
``registry_person_versions`` are deferred on both backends.

On PostgreSQL the primary keys and unique constraints of the registry's own tables
(``registry_persons``, ``registry_person_versions``, ``registry_households``) are deferred too: kept
row by row they cost about as much server time as writing the rows (random B-tree insertions into
indexes larger than the buffer cache). While they are dropped the importer checks 住民票コード and
世帯番号 against sets it keeps in memory (filled from the table when a load resumes); 個人番号 and
統合宛名番号 are still checked through ``atena_persons``, whose constraints stay (it is not the
registry's table, and every person has its 宛名 row with the same numbers); ids are 128-bit and
fresh.
Rebuilding a constraint that the data violates would fail the load's last step rather than let a
duplicate in. SQLite cannot drop a table's constraints; they stay there.

On PostgreSQL the tenant's role does not own the tables, so the DDL runs through the backend's
administrative engine with ``search_path`` set to the tenant's schema; on SQLite the tenant's own
database file is used. Both operations are idempotent (``IF EXISTS`` / ``IF NOT EXISTS``), so an
interrupted load can repeat them. At the end PostgreSQL's tables are vacuumed as well as analyzed
(index-only scans need the visibility map that VACUUM sets).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from sqlalchemy import Connection, Constraint, Index, PrimaryKeyConstraint, Table, UniqueConstraint
from sqlalchemy.schema import CreateIndex, DropIndex

from jichitai.mynumber.registry.models import Household, Person, PersonVersion
from jichitai.platform.storage import Storage
from jichitai.platform.storage.backends import PostgresBackend
from jichitai.platform.tenants import Tenant
from jichitai.platform.zones import Zone

_TABLES: tuple[Table, ...] = (Person.__table__, PersonVersion.__table__)  # type: ignore[assignment]
_CONSTRAINED: tuple[Table, ...] = (*_TABLES, Household.__table__)  # type: ignore[arg-type]


def deferred_indexes() -> list[Index]:
    """The indexes an initial load drops and rebuilds (sorted by name, for a stable order)."""
    return sorted((ix for t in _TABLES for ix in t.indexes if not ix.unique), key=lambda ix: str(ix.name))


def deferred_constraints() -> list[Constraint]:
    """The primary keys and unique constraints an initial load on PostgreSQL drops and rebuilds."""
    return sorted(
        (
            c
            for t in _CONSTRAINED
            for c in t.constraints
            if isinstance(c, PrimaryKeyConstraint | UniqueConstraint)
        ),
        key=lambda c: str(c.name),
    )


def defers_constraints(storage: Storage) -> bool:
    """Whether an initial load drops the unique constraints (PostgreSQL) or keeps them (SQLite)."""
    return isinstance(storage.backend, PostgresBackend)


@contextmanager
def _ddl(storage: Storage, tenant: Tenant) -> Iterator[Connection]:
    backend = storage.backend
    if isinstance(backend, PostgresBackend):
        engine = backend.admin_engine(tenant.server, backend.database(Zone.MYNUMBER))
        with engine.begin() as conn:
            schema = _q(backend.schema(tenant))
            conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
            # index builds sort: give them memory (this transaction only)
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
            yield conn
    else:
        with storage.tenant_engine(Zone.MYNUMBER, tenant).connect() as conn:
            # index builds sort: a large page cache and in-memory temporary storage for this
            # connection while they run, its settings restored afterwards (it returns to the pool).
            # Set through the driver, outside any transaction: SQLite refuses to change temp_store
            # inside one, and the engine opens one (BEGIN IMMEDIATE) on first use.
            raw = conn.connection.driver_connection
            assert raw is not None
            cache = raw.execute("PRAGMA cache_size").fetchone()[0]
            temp = raw.execute("PRAGMA temp_store").fetchone()[0]
            raw.execute("PRAGMA cache_size = -262144")
            raw.execute("PRAGMA temp_store = MEMORY")
            try:
                with conn.begin():
                    yield conn
            finally:
                raw.execute(f"PRAGMA cache_size = {int(cache or -2000)}")
                raw.execute(f"PRAGMA temp_store = {int(temp or 0)}")


def drop_deferred_indexes(storage: Storage, tenant: Tenant) -> None:
    with _ddl(storage, tenant) as conn:
        for ix in deferred_indexes():
            conn.execute(DropIndex(ix, if_exists=True))
        if defers_constraints(storage):
            for c in deferred_constraints():
                table = _q(c.table.name)
                conn.exec_driver_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{c.name}"')


def build_deferred_indexes(storage: Storage, tenant: Tenant, *, connections: int = 2) -> None:
    """Create the deferred indexes (those missing) and refresh the planner's statistics.

    On PostgreSQL the builds run over ``connections`` sessions at once: a build is a scan and a
    sort, and one alone leaves cores idle between its parallel phases. The primary keys and unique
    constraints are built as unique indexes first (several can be built on one table at once, which
    ``ADD CONSTRAINT`` would not allow) and then attached with ``ADD CONSTRAINT ... USING INDEX``,
    which only records them.
    """
    if not defers_constraints(storage):
        with _ddl(storage, tenant) as conn:
            for ix in deferred_indexes():
                conn.execute(CreateIndex(ix, if_not_exists=True))
            for table in _CONSTRAINED:
                conn.exec_driver_sql(f'ANALYZE "{table.name}"')
        return
    with _ddl(storage, tenant) as conn:
        present = {
            str(name)
            for (name,) in conn.exec_driver_sql(
                "SELECT c.conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
                " WHERE n.nspname = current_schema()"
            )
        }
        missing = [c for c in deferred_constraints() if str(c.name) not in present]
        builds = [_unique_index_sql(c) for c in missing]
        builds += [
            str(CreateIndex(ix, if_not_exists=True).compile(dialect=conn.dialect))
            for ix in deferred_indexes()
        ]

    def build(sql: str) -> None:
        with _ddl(storage, tenant) as conn:
            conn.exec_driver_sql(sql)

    with ThreadPoolExecutor(max_workers=max(1, connections)) as pool:
        for future in [pool.submit(build, sql) for sql in builds]:
            future.result()  # the first failure (a duplicate the load let in) is raised here
    with _ddl(storage, tenant) as conn:
        for c in missing:
            kind = "PRIMARY KEY" if isinstance(c, PrimaryKeyConstraint) else "UNIQUE"
            conn.exec_driver_sql(
                f'ALTER TABLE "{_q(c.table.name)}" ADD CONSTRAINT "{_q(str(c.name))}" {kind}'
                f' USING INDEX "{_q(str(c.name))}"'
            )
    vacuum_analyze(storage, tenant)


def _q(name: str) -> str:
    return name.replace('"', '""')


def _unique_index_sql(c: Constraint) -> str:
    """The unique index a deferred constraint is built as (it takes the constraint's name)."""
    assert isinstance(c, PrimaryKeyConstraint | UniqueConstraint)
    columns = ", ".join(f'"{_q(col.name)}"' for col in c.columns)
    return f'CREATE UNIQUE INDEX IF NOT EXISTS "{_q(str(c.name))}" ON "{_q(c.table.name)}" ({columns})'


def vacuum_analyze(storage: Storage, tenant: Tenant, *, connections: int = 2) -> None:
    """PostgreSQL: VACUUM (ANALYZE) the loaded tables, outside a transaction as VACUUM requires,
    over ``connections`` sessions at once.

    Besides the statistics, it sets the visibility map of the freshly written pages, without which
    an index-only scan (the name searches, see models.Person) still visits the table for each
    match until autovacuum comes round.
    """
    backend = storage.backend
    assert isinstance(backend, PostgresBackend)
    engine = backend.admin_engine(tenant.server, backend.database(Zone.MYNUMBER))
    schema = _q(backend.schema(tenant))

    def vacuum(table: Table) -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'VACUUM (ANALYZE) "{schema}"."{_q(table.name)}"')

    with ThreadPoolExecutor(max_workers=max(1, connections)) as pool:
        for future in [pool.submit(vacuum, t) for t in _CONSTRAINED]:
            future.result()
