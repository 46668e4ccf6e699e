"""Shared fixtures: settings and storage on SQLite and PostgreSQL, a tenant, contexts.

PostgreSQL tests run against JICHITAI_TEST_PG_URL (``make test`` sets it); in CI (CI=true) they
fail rather than skip when the server is missing.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from jichitai.platform.config import Settings
from jichitai.platform.context import Actor, ActorKind, TenantContext
from jichitai.platform.storage.engine import Storage, open_zone_keystore
from jichitai.platform.tenants import TenantCode, TenantKind
from jichitai.platform.zones import ALL_ZONES

PG_URL = os.environ.get("JICHITAI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Browser tests drive Debian's chromium through pytest-playwright (no `playwright install`, which
# cannot download here); one launch configuration for every browser test.
CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def skip_module_without_chromium() -> None:
    """Call at import time of a browser test module: outside CI a missing chromium skips it."""
    if CHROMIUM is None and not IN_CI:
        pytest.skip("Debian's chromium is not installed", allow_module_level=True)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if CHROMIUM is None:
        pytest.fail("chromium is required for the browser tests in CI")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


TEST_PASSPHRASE = "test-passphrase-0123456789"


def _pg_available() -> bool:
    try:
        engine = create_engine(
            PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool
        )
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


_PG_OK: bool | None = None


def require_pg() -> str:
    global _PG_OK
    if _PG_OK is None:
        _PG_OK = _pg_available()
    if not _PG_OK:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but {PG_URL} does not answer")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    return PG_URL


def drop_pg_prefix(url: str, prefix: str) -> None:
    """Drop every database and role whose name starts with ``prefix_`` (test clean-up)."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        like = prefix.replace("_", r"\_") + r"\_%"
        for (db,) in conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": like}):
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        for (role,) in conn.execute(text("SELECT rolname FROM pg_roles WHERE rolname LIKE :p"), {"p": like}):
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
    engine.dispose()


# PostgreSQL installations for tests come from a per-process pool: dropping a database forces a
# checkpoint (seconds each on a busy machine), so a finished test's databases are cleaned instead
# (tenant schemas, roles and catalog rows dropped) and handed to the next test.
_PG_FREE: list[str] = []
_PG_CREATED: set[str] = set()


def _take_pg_prefix() -> str:
    if _PG_FREE:
        return _PG_FREE.pop()
    prefix = "jt" + secrets.token_hex(4)
    _PG_CREATED.add(prefix)
    return prefix


def clean_pg_prefix(url: str, prefix: str) -> None:
    """Empty a pooled installation: tenant schemas, tenant roles and catalog rows go; databases stay."""
    base = url.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(base, poolclass=NullPool)
    like = prefix.replace("_", r"\_") + r"\_%"
    with admin.connect() as conn:
        roles = [
            r
            for (r,) in conn.execute(text("SELECT rolname FROM pg_roles WHERE rolname LIKE :p"), {"p": like})
        ]
        dbs = [
            d
            for (d,) in conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": like}
            )
        ]
    admin.dispose()
    for db in dbs:
        engine = create_engine(base.rsplit("/", 1)[0] + f"/{db}", poolclass=NullPool)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if db == f"{prefix}_catalog":
                conn.exec_driver_sql("DELETE FROM tenants")
                continue
            schemas = conn.execute(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%'"))
            for (schema,) in list(schemas):
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            for role in roles:
                conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
        engine.dispose()
    admin = create_engine(base, poolclass=NullPool)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for role in roles:
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
    admin.dispose()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _PG_CREATED and _PG_OK:
        for prefix in _PG_CREATED:
            drop_pg_prefix(PG_URL, prefix)


def make_settings(home: Path, backend: str = "sqlite", **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "home": home,
        "environment": "test",
        "backend": backend,
        "keystore_passphrase": TEST_PASSPHRASE,
        "audit_checkpoint_every": 10,
        "keystore_scrypt_n": 2**10,  # cheap in tests; production refuses below 2**15
    }
    if backend == "postgresql":
        values["pg_servers"] = {"default": require_pg()}
        if "pg_servers" in extra:
            values["db_prefix"] = "jt" + secrets.token_hex(4)  # other servers: not pooled
        else:
            values["db_prefix"] = _take_pg_prefix()
    values.update(extra)
    return Settings(**values)


def make_storage(settings: Settings) -> Storage:
    storage = Storage(settings)
    storage.backend.prepare()
    for zone in ALL_ZONES:
        open_zone_keystore(settings, zone, create=True)
    return storage


def close_storage(storage: Storage) -> None:
    storage.close()
    s = storage.settings
    if s.backend != "postgresql":
        return
    if s.db_prefix in _PG_CREATED and s.pg_servers == {"default": PG_URL}:
        if s.db_prefix not in _PG_FREE:
            clean_pg_prefix(PG_URL, s.db_prefix)
            _PG_FREE.append(s.db_prefix)
        return
    for url in s.pg_servers.values():
        drop_pg_prefix(url, s.db_prefix)


def add_demo_tenant(
    storage: Storage, code: str = "131016", name: str = "千代田区", kana: str = "チヨダク"
) -> None:
    from jichitai.platform.tenancy import NewTenant
    from jichitai.provisioning import add_tenant

    kind = TenantKind.SPECIAL_WARD if code.startswith("131") else TenantKind.CITY
    if code in {"141003", "011002", "271004"}:
        kind = TenantKind.DESIGNATED_CITY
    if TenantCode(code).is_prefecture:
        kind = TenantKind.PREFECTURE
    add_tenant(storage, NewTenant(code, name, kana, kind))


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def storage(tmp_path: Path, backend: str) -> Iterator[Storage]:
    """A fresh installation with tenant 131016 (千代田区), on SQLite and on PostgreSQL."""
    st = make_storage(make_settings(tmp_path / "home", backend))
    try:
        add_demo_tenant(st)
        yield st
    finally:
        close_storage(st)


@pytest.fixture
def sqlite_storage(tmp_path: Path) -> Iterator[Storage]:
    """A fresh SQLite installation with tenant 131016 (for tests that need no PostgreSQL run)."""
    st = make_storage(make_settings(tmp_path / "home", "sqlite"))
    try:
        add_demo_tenant(st)
        yield st
    finally:
        close_storage(st)


def staff(id_: str = "clerk1", role: str = "registry_clerk") -> Actor:
    return Actor(id=id_, kind=ActorKind.STAFF, role=role)


def ctx(purpose: str, tenant: str = "131016", actor: Actor | None = None) -> TenantContext:
    return TenantContext.of(tenant, actor or staff(), purpose)


__all__ = ["TenantCode", "add_demo_tenant", "ctx", "make_settings", "make_storage", "require_pg", "staff"]
