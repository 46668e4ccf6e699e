"""Fixtures for the audit log: a migrated database (SQLite file or PostgreSQL schema) and a signer.

PostgreSQL: one throwaway database ``jt_audit_test_<random>`` per test session, one schema per test.
In CI (CI=true) a missing server fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.platform.audit.audit_support import AuditDb, EcdsaSigner, pg_db_in, sqlite_db_in

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture
def signer() -> EcdsaSigner:
    return EcdsaSigner()


# -- databases -------------------------------------------------------------------------------------


def _pg_reachable() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL, poolclass=NullPool)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway database for this test session; dropped at the end."""
    if not _pg_reachable():
        if IN_CI:
            pytest.fail("PostgreSQL is required in CI but 127.0.0.1:5432 does not answer")
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
    name = f"jt_audit_test_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditDb]:
    """A migrated audit log in a SQLite file, or in a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        with sqlite_db_in(tmp_path) as d:
            yield d
    else:
        with pg_db_in(request.getfixturevalue("pg_database")) as d:
            yield d


@pytest.fixture
def pg_db(pg_database: str) -> Iterator[AuditDb]:
    """PostgreSQL only (mark the test ``postgres``)."""
    with pg_db_in(pg_database) as d:
        yield d
