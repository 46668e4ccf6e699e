"""Where tenant data physically lives: SQLite files or PostgreSQL schemas with a role per tenant.

SQLite (the embedded default): ``<home>/zones/<zone>/<code>.sqlite3`` per tenant and zone, plus
``<home>/catalog.sqlite3``. Connections refuse ``ATTACH`` so that no SQL run for one tenant can
open another tenant's file.

PostgreSQL: one database per zone (``<prefix>_<zone>``) on each server of the placement map, one
schema per tenant (``t_<code>``) and one login role per tenant and zone (``<prefix>_<zone>_<code>``)
with rights on its own schema only. The application connects *as the tenant's role* when it works
for that tenant, so even raw SQL naming another tenant's schema gets a permission error. Schemas and
tables are owned by the administrative role that runs migrations; the tenant role may read and
write rows but not change the schema, and may only insert into the audit tables.
"""

from __future__ import annotations

import re
import secrets
import shutil
import sqlite3
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from jichitai.platform.crypto.keystore import Keystore
from jichitai.platform.errors import ConfigurationError, NotFound
from jichitai.platform.storage import migrate
from jichitai.platform.storage.components import migration_dirs
from jichitai.platform.storage.write_turn import QUEUED_ZONES, WriteTurn, write_turn
from jichitai.platform.tenants import Tenant
from jichitai.platform.zones import ALL_ZONES, Zone

CATALOG_MIGRATIONS = [Path(__file__).parent / "catalog_migrations"]
APPEND_ONLY_TABLES = ("audit_entries", "audit_checkpoints")
DB_PASSWORD_SECRET = "db_password"  # noqa: S105 - the name of a keystore secret, not a secret


def _deny_attach(action: int, *_args: Any) -> int:
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def sqlite_engine(path: Path, *, tenant_guard: bool, immediate: bool = True) -> Engine:
    """An engine on one SQLite file: WAL, foreign keys, write transactions that lock up front."""
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool if not tenant_guard else None)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: in WAL mode the commit returns after the WAL is on disk (one fsync), so what was
        # answered as stored survives a power loss; NORMAL would lose the last commits. Writers
        # that commit often batch their work (group commit) to keep the fsyncs few.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
        if tenant_guard:
            dbapi_conn.set_authorizer(_deny_attach)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock at BEGIN: the audit chain head is then read and advanced
        # by one writer at a time, and no transaction fails half-way on a lock upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Backend(ABC):
    """Creates, reaches and removes the storage of tenants."""

    @abstractmethod
    def catalog_engine(self) -> Engine: ...

    @abstractmethod
    def prepare(self) -> None:
        """Create what the installation needs before any tenant (catalog, zone databases)."""

    @abstractmethod
    def tenant_engine(self, zone: Zone, tenant: Tenant, keystore: Keystore) -> Engine:
        """An engine that works for this tenant only (as its role on PostgreSQL)."""

    @abstractmethod
    def schema(self, tenant: Tenant) -> str | None: ...

    @abstractmethod
    def provision(self, zone: Zone, tenant: Tenant, keystore: Keystore) -> None:
        """Create the tenant's (empty) storage in the zone."""

    @abstractmethod
    def deprovision(self, zone: Zone, tenant: Tenant) -> None:
        """Remove the tenant's storage in the zone (only to undo a failed ``tenant add``)."""

    @abstractmethod
    def migrate(self, zone: Zone, tenant: Tenant) -> None:
        """Apply the zone's migrations to the tenant's storage."""

    def exists(self, zone: Zone, tenant: Tenant) -> bool:
        return True

    def write_turn(self, zone: Zone, tenant: Tenant) -> WriteTurn | None:
        """The turn a unit of work on the tenant's storage in ``zone`` takes first, if any."""
        return None

    def blob_dir(self, zone: Zone, tenant: Tenant | str) -> Path | None:
        """Where the tenant's large blobs in ``zone`` are kept as segment files beside the database
        (:mod:`jichitai.platform.storage.segments`), or None: the database keeps them itself."""
        return None


# -- SQLite ------------------------------------------------------------------------------------


_SEGMENT_ZONES = frozenset({Zone.INTERNET})


class SQLiteBackend(Backend):
    def __init__(self, home: Path) -> None:
        self.home = home
        self._catalog: Engine | None = None

    def path(self, zone: Zone, tenant: Tenant | str) -> Path:
        code = tenant.code if isinstance(tenant, Tenant) else tenant
        return self.home / "zones" / zone.value / f"{code}.sqlite3"

    def catalog_engine(self) -> Engine:
        if self._catalog is None:
            path = self.home / "catalog.sqlite3"
            if not path.exists():
                raise ConfigurationError(f"no catalog at {path}", hint="run `jichitai init` first")
            self._catalog = sqlite_engine(path, tenant_guard=False, immediate=False)
        return self._catalog

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        for zone in ALL_ZONES:
            (self.home / "zones" / zone.value).mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = sqlite_engine(self.home / "catalog.sqlite3", tenant_guard=False, immediate=False)
        try:
            with engine.begin() as conn:
                migrate.upgrade(conn, CATALOG_MIGRATIONS, None)
        finally:
            engine.dispose()

    def schema(self, tenant: Tenant) -> str | None:
        return None

    def exists(self, zone: Zone, tenant: Tenant) -> bool:
        return self.path(zone, tenant).exists()

    def write_turn(self, zone: Zone, tenant: Tenant) -> WriteTurn | None:
        return write_turn(self.home, zone, tenant.code) if zone in QUEUED_ZONES else None

    def blob_dir(self, zone: Zone, tenant: Tenant | str) -> Path | None:
        # Only where blobs are large and many: submissions' ciphertexts (see segments.py)
        if zone not in _SEGMENT_ZONES:
            return None
        return self.path(zone, tenant).with_suffix(".blobs")

    def tenant_engine(self, zone: Zone, tenant: Tenant, keystore: Keystore) -> Engine:
        path = self.path(zone, tenant)
        if not path.exists():
            raise NotFound(
                f"no {zone.value} storage for tenant {tenant.code} at {path}",
                hint="the tenant may not be added on this installation (`jichitai tenant list`)",
            )
        return sqlite_engine(path, tenant_guard=True)

    def provision(self, zone: Zone, tenant: Tenant, keystore: Keystore) -> None:
        path = self.path(zone, tenant)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if path.exists():
            raise ConfigurationError(
                f"{path} already exists", hint="remove the stale file or pick another code"
            )
        # SQLite's default page size everywhere. Internet-zone files made before submissions'
        # ciphertexts moved to segment files have 64 KiB pages, chosen then to keep a 280 KB row
        # to 5 pages; with small rows only, 4 KiB pages write 16 times less WAL per changed page.
        path.touch(mode=0o600)

    def deprovision(self, zone: Zone, tenant: Tenant) -> None:
        path = self.path(zone, tenant)
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            p.unlink(missing_ok=True)
        blobs = self.blob_dir(zone, tenant)
        if blobs is not None:
            shutil.rmtree(blobs, ignore_errors=True)

    def migrate(self, zone: Zone, tenant: Tenant) -> None:
        engine = sqlite_engine(self.path(zone, tenant), tenant_guard=False, immediate=False)
        try:
            with engine.begin() as conn:
                migrate.upgrade(conn, migration_dirs(zone), None)
        finally:
            engine.dispose()


# -- PostgreSQL --------------------------------------------------------------------------------

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"unsafe SQL identifier {name!r}")
    return f'"{name}"'


class PostgresBackend(Backend):
    """Schemas and roles per tenant; zone databases on the servers of the placement map."""

    def __init__(self, servers: dict[str, str], prefix: str) -> None:
        if "default" not in servers:
            raise ConfigurationError("PostgreSQL needs a server named 'default' in pg_servers")
        self.servers = {
            name: make_url(url).set(drivername="postgresql+psycopg") for name, url in servers.items()
        }
        self.prefix = prefix
        self._catalog: Engine | None = None
        self._admin: dict[tuple[str, str], Engine] = {}

    # names
    def database(self, zone: Zone | str) -> str:
        return f"{self.prefix}_{zone if isinstance(zone, str) else zone.value}"

    def schema(self, tenant: Tenant) -> str:
        return f"t_{tenant.code}"

    def role(self, zone: Zone, tenant: Tenant) -> str:
        return f"{self.prefix}_{zone.value}_{tenant.code}"

    def server_url(self, server: str) -> URL:
        try:
            return self.servers[server]
        except KeyError:
            raise ConfigurationError(
                f"tenant placed on unknown PostgreSQL server {server!r}",
                hint=f"add it to pg_servers (known: {', '.join(self.servers)})",
            ) from None

    def admin_engine(self, server: str, database: str) -> Engine:
        key = (server, database)
        engine = self._admin.get(key)
        if engine is None:
            engine = create_engine(self.server_url(server).set(database=database), poolclass=NullPool)
            self._admin[key] = engine
        return engine

    def catalog_engine(self) -> Engine:
        if self._catalog is None:
            self._catalog = create_engine(self.server_url("default").set(database=self.database("catalog")))
        return self._catalog

    def _create_database(self, server: str, name: str) -> bool:
        engine = self.admin_engine(server, self.server_url(server).database or "postgres")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if found:
                return False
            conn.exec_driver_sql(f"CREATE DATABASE {_ident(name)}")
            conn.exec_driver_sql(f"REVOKE ALL ON DATABASE {_ident(name)} FROM PUBLIC")
        with self.admin_engine(server, name).connect() as conn:
            conn.exec_driver_sql("REVOKE ALL ON SCHEMA public FROM PUBLIC")
            conn.commit()
        return True

    def prepare_server(self, server: str) -> None:
        for zone in ALL_ZONES:
            self._create_database(server, self.database(zone))

    def prepare(self) -> None:
        self._create_database("default", self.database("catalog"))
        with self.catalog_engine().begin() as conn:
            migrate.upgrade(conn, CATALOG_MIGRATIONS, None)
        for server in self.servers:
            self.prepare_server(server)

    def tenant_engine(self, zone: Zone, tenant: Tenant, keystore: Keystore) -> Engine:
        password = keystore.get_secret(tenant.code, DB_PASSWORD_SECRET).decode()
        url = self.server_url(tenant.server).set(
            username=self.role(zone, tenant),
            password=password,
            database=self.database(zone),
            query={"options": f"-csearch_path={self.schema(tenant)}"},
        )
        return create_engine(url, pool_size=2, max_overflow=8, pool_recycle=1800)

    def provision(self, zone: Zone, tenant: Tenant, keystore: Keystore) -> None:
        self.prepare_server(tenant.server)
        role, schema, db = self.role(zone, tenant), self.schema(tenant), self.database(zone)
        password = secrets.token_urlsafe(24)
        keystore.put_secret(tenant.code, DB_PASSWORD_SECRET, password.encode())
        with self.admin_engine(tenant.server, db).connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
            if exists:
                raise ConfigurationError(
                    f"PostgreSQL role {role} already exists", hint="a stale tenant? drop the role first"
                )
            conn.exec_driver_sql(f"CREATE ROLE {_ident(role)} LOGIN NOINHERIT PASSWORD '{password}'")
            conn.exec_driver_sql(f"GRANT CONNECT ON DATABASE {_ident(db)} TO {_ident(role)}")
            conn.exec_driver_sql(f"CREATE SCHEMA {_ident(schema)}")
            conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {_ident(role)}")
            conn.commit()

    def deprovision(self, zone: Zone, tenant: Tenant) -> None:
        role, schema, db = self.role(zone, tenant), self.schema(tenant), self.database(zone)
        with self.admin_engine(tenant.server, db).connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {_ident(schema)} CASCADE")
            if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
                conn.exec_driver_sql(f"DROP OWNED BY {_ident(role)}")
                conn.exec_driver_sql(f"REVOKE ALL ON DATABASE {_ident(db)} FROM {_ident(role)}")
                conn.exec_driver_sql(f"DROP ROLE {_ident(role)}")
            conn.commit()

    def migrate(self, zone: Zone, tenant: Tenant) -> None:
        role, schema, db = self.role(zone, tenant), self.schema(tenant), self.database(zone)
        with self.admin_engine(tenant.server, db).begin() as conn:
            conn.exec_driver_sql(f"SET LOCAL search_path TO {_ident(schema)}")
            migrate.upgrade(conn, migration_dirs(zone), schema)
            s, r = _ident(schema), _ident(role)
            conn.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}")
            conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}")
            conn.exec_driver_sql(f"REVOKE ALL ON {s}.alembic_version FROM {r}")
            conn.exec_driver_sql(f"GRANT SELECT ON {s}.alembic_version TO {r}")
            for table in APPEND_ONLY_TABLES:
                found = conn.execute(
                    text(
                        "SELECT 1 FROM information_schema.tables WHERE table_schema = :s AND table_name = :t"
                    ),
                    {"s": schema, "t": table},
                ).first()
                if found:
                    conn.exec_driver_sql(f"REVOKE UPDATE, DELETE, TRUNCATE ON {s}.{_ident(table)} FROM {r}")
