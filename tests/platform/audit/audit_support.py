"""Helpers for the audit log tests: migrating, in-memory ECDSA signers, a database with a back door."""

from __future__ import annotations

import importlib.util
import secrets
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from alembic.migration import MigrationContext
from alembic.operations import Operations
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from jichitai.platform.audit import log
from jichitai.platform.audit.entry import PendingEntry
from jichitai.platform.audit.signing import CheckpointVerifier
from jichitai.platform.errors import JichitaiError

MIGRATION = Path(log.__file__).parent / "migrations" / "0001_audit.py"
T0 = datetime(2026, 11, 26, 9, 30, 0, 123456, tzinfo=UTC)


def load_migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_0001", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def migrate(engine: Engine) -> None:
    module = load_migration()
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        module.upgrade()


# -- signers ---------------------------------------------------------------------------------------


class EcdsaSigner:
    """Real ECDSA P-256 keys kept in memory, versioned like the keystore's signing key."""

    def __init__(self) -> None:
        self.keys: dict[int, ec.EllipticCurvePrivateKey] = {1: ec.generate_private_key(ec.SECP256R1())}
        self.signed = 0

    @property
    def version(self) -> int:
        return max(self.keys)

    def rotate(self) -> int:
        self.keys[self.version + 1] = ec.generate_private_key(ec.SECP256R1())
        return self.version

    def sign(self, data: bytes) -> tuple[int, bytes]:
        self.signed += 1
        return self.version, self.keys[self.version].sign(data, ec.ECDSA(hashes.SHA256()))

    def verify(self, version: int, data: bytes, signature: bytes) -> bool:
        key = self.keys.get(version)
        if key is None:  # as the real keyring does for a version the keystore never had
            raise JichitaiError(f"no signing key version {version}")
        try:
            key.public_key().verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


@dataclass
class AuditDb:
    """A migrated audit log and a back door around its triggers."""

    kind: str  # "sqlite" | "postgresql"
    engine: Engine
    sqlite_path: Path | None = None
    filled: list[int] = field(default_factory=list)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def append(
        self,
        entries: Sequence[PendingEntry],
        signer: EcdsaSigner | None = None,
        every: int = 0,
        now: datetime | None = None,
        actor: str = "clerk1",
        purpose: str = "registry.certificate.issue",
    ) -> list[int]:
        with self.session() as s, s.begin():
            return log.append(
                s,
                zone="mynumber",
                tenant="131016",
                actor=actor,
                actor_kind="staff",
                role="registry_clerk",
                purpose=purpose,
                legal_basis="住民基本台帳法第12条",
                entries=entries,
                signer=signer,
                checkpoint_every=every,
                now=now,
            )

    def fill(self, n: int, signer: EcdsaSigner | None = None, every: int = 0) -> None:
        """n entries, one transaction each, a second apart, about two people."""
        for i in range(1, n + 1):
            person = f"P{i % 2:04d}"
            self.append(
                [PendingEntry("read", "registry.person", str(i), person, {"i": i, "note": "住民票の写し"})],
                signer,
                every,
                now=T0 + timedelta(seconds=i),
            )

    def verify(self, verifier: CheckpointVerifier, **kw: Any) -> log.VerifyReport:
        with self.session() as s:
            return log.verify(s, verifier, **kw)

    # -- the attacker's side --------------------------------------------------------------------
    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            result = conn.execute(text("SELECT * FROM audit_entries ORDER BY seq"))
            return [dict(r._mapping) for r in result]

    def tamper(self, *statements: str | tuple[str, Mapping[str, Any]]) -> None:
        """Drop the triggers and run raw SQL (straight into the SQLite file, or as the PG superuser)."""
        if self.kind == "sqlite":
            assert self.sqlite_path is not None
            raw = sqlite3.connect(self.sqlite_path)
            try:
                for trig in (
                    "entries_no_update",
                    "entries_no_delete",
                    "checkpoints_no_update",
                    "checkpoints_no_delete",
                ):
                    raw.execute(f"DROP TRIGGER IF EXISTS audit_{trig}")
                for st in statements:
                    sql, params = (st, {}) if isinstance(st, str) else st
                    raw.execute(sql, dict(params))
                raw.commit()
            finally:
                raw.close()
        else:
            with self.engine.begin() as conn:
                for table in ("audit_entries", "audit_checkpoints"):
                    conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
                    conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
                for st in statements:
                    sql, params = (st, {}) if isinstance(st, str) else st
                    conn.execute(text(sql), dict(params))


def sqlite_engine(path: Path) -> Engine:
    """Like the storage layer's: every transaction is BEGIN IMMEDIATE, so writers queue up."""
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextmanager
def sqlite_db_in(tmp_path: Path) -> Iterator[AuditDb]:
    path = tmp_path / "audit.sqlite"
    engine = sqlite_engine(path)
    migrate(engine)
    try:
        yield AuditDb("sqlite", engine, sqlite_path=path)
    finally:
        engine.dispose()


@contextmanager
def pg_db_in(url: str) -> Iterator[AuditDb]:
    schema = f"t_{secrets.token_hex(4)}"
    setup = create_engine(url, poolclass=NullPool)
    with setup.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine = create_engine(url, poolclass=NullPool, connect_args={"options": f"-csearch_path={schema}"})
    try:
        migrate(engine)
        yield AuditDb("postgresql", engine)
    finally:
        engine.dispose()
        with setup.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        setup.dispose()
