"""Tenant isolation at SQL, ORM and file level, on SQLite and PostgreSQL."""

from __future__ import annotations

import inspect
import sqlite3

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError, OperationalError, ProgrammingError

from jichitai.platform.audit.models import AuditEntry
from jichitai.platform.context import TenantContext
from jichitai.platform.errors import PermissionDenied
from jichitai.platform.storage.backends import SQLiteBackend
from jichitai.platform.storage.engine import Storage
from jichitai.platform.zones import Zone
from tests.conftest import add_demo_tenant, ctx


@pytest.fixture
def two_tenants(storage: Storage) -> Storage:
    add_demo_tenant(storage, "141003", "横浜市", "ヨコハマシ")
    with storage.unit_of_work(ctx("platform.audit.review", "141003"), Zone.MYNUMBER) as uow:
        uow.record("read", "registry.person", "Y-1", person="yokohama-person")
    with storage.unit_of_work(ctx("platform.audit.review", "131016"), Zone.MYNUMBER) as uow:
        uow.record("read", "registry.person", "C-1", person="chiyoda-person")
    return storage


def test_orm_sees_only_its_own_tenant(two_tenants: Storage) -> None:
    with two_tenants.unit_of_work(ctx("platform.audit.review", "131016"), Zone.MYNUMBER) as uow:
        persons = set(uow.session.scalars(select(AuditEntry.person)))
        tenants = set(uow.session.scalars(select(AuditEntry.tenant)))
    assert "chiyoda-person" in persons
    assert "yokohama-person" not in persons
    assert tenants == {"131016"}


def test_raw_sql_naming_another_tenant_is_refused(two_tenants: Storage) -> None:
    with two_tenants.unit_of_work(ctx("platform.audit.review", "131016"), Zone.MYNUMBER) as uow:
        if uow.session.get_bind().dialect.name == "postgresql":
            with pytest.raises(ProgrammingError, match="permission denied for schema t_141003"):
                uow.session.execute(text("SELECT person FROM t_141003.audit_entries"))
        else:
            backend = two_tenants.backend
            assert isinstance(backend, SQLiteBackend)
            other = backend.path(Zone.MYNUMBER, "141003")
            with pytest.raises(DatabaseError, match="not authorized"):
                uow.session.execute(text(f"ATTACH DATABASE '{other}' AS other"))
        uow.session.rollback()


def test_tenant_role_cannot_rewrite_the_audit_log(two_tenants: Storage) -> None:
    with two_tenants.unit_of_work(ctx("platform.audit.review", "131016"), Zone.MYNUMBER) as uow:
        with pytest.raises((ProgrammingError, OperationalError, DatabaseError)):
            uow.session.execute(text("UPDATE audit_entries SET person = 'x'"))
        uow.session.rollback()


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"])  # PostgreSQL roles only: no SQLite variant
def test_postgres_role_cannot_reach_other_zone_or_public(two_tenants: Storage) -> None:
    with two_tenants.unit_of_work(ctx("platform.audit.review", "131016"), Zone.MYNUMBER) as uow:
        with pytest.raises(ProgrammingError, match="permission denied"):
            uow.session.execute(text("CREATE TABLE public.leak (x int)"))
        uow.session.rollback()
        with pytest.raises(ProgrammingError, match="permission denied"):
            uow.session.execute(text("CREATE TABLE t_131016.sneaky (x int)"))
        uow.session.rollback()


def test_context_for_one_tenant_cannot_open_another(two_tenants: Storage) -> None:
    yokohama = two_tenants.catalog.get("141003")
    with (
        pytest.raises(PermissionDenied),
        two_tenants._open(ctx("platform.audit.review", "131016"), Zone.MYNUMBER, yokohama),
    ):
        pass


def test_no_session_without_a_context() -> None:
    sig = inspect.signature(Storage.unit_of_work)
    first = next(iter(p for name, p in sig.parameters.items() if name != "self"))
    assert first.annotation in ("TenantContext", TenantContext)
    with pytest.raises(TypeError):
        TenantContext("131016", None, "registry.read")  # type: ignore[arg-type]


def test_sqlite_files_are_private(sqlite_storage: Storage) -> None:
    backend = sqlite_storage.backend
    assert isinstance(backend, SQLiteBackend)
    path = backend.path(Zone.MYNUMBER, "131016")
    assert path.stat().st_mode & 0o077 == 0
    conn = sqlite3.connect(path)
    try:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    finally:
        conn.close()
    assert {"audit_entries", "data_keys", "staff_accounts"} <= tables
