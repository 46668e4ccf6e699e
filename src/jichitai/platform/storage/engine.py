"""The only way to the data: a unit of work opened for a tenant context.

``Storage.unit_of_work(ctx, zone)`` is the single door to a tenant's database. It checks the tenant
(exists, active or the purpose allows a disabled tenant), that the database is migrated, opens one
transaction, and at the end appends the audit entries recorded during the use case *in that same
transaction* before committing once. Inserts, updates and deletes of tables marked ``__audited__``
are recorded automatically.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from jichitai.platform.audit.entry import PendingEntry
from jichitai.platform.config import Settings
from jichitai.platform.context import TenantContext
from jichitai.platform.crypto.keystore import Keystore
from jichitai.platform.errors import PermissionDenied
from jichitai.platform.storage import migrate
from jichitai.platform.storage.backends import Backend, PostgresBackend, SQLiteBackend
from jichitai.platform.storage.base import Base
from jichitai.platform.storage.catalog import Catalog
from jichitai.platform.storage.components import migration_dirs
from jichitai.platform.tenants import Tenant
from jichitai.platform.zones import Zone

if TYPE_CHECKING:
    from jichitai.platform.crypto.keyring import TenantKeyring


# A tenant disabled in the catalog is refused by other processes within this many seconds.
TENANT_CACHE_SECONDS = 5.0


class UnitOfWork:
    """One use case's transaction for one tenant in one zone, with its audit entries."""

    def __init__(
        self, storage: Storage, ctx: TenantContext, zone: Zone, tenant: Tenant, session: Session
    ) -> None:
        self.storage = storage
        self.ctx = ctx
        self.zone = zone
        self.tenant = tenant
        self.session = session
        self._entries: list[PendingEntry] = []
        self._keyring: TenantKeyring | None = None

    # -- audit ---------------------------------------------------------------------------------
    def audit(self, entry: PendingEntry) -> None:
        self._entries.append(entry)

    def record(
        self, action: str, object_type: str, object_id: str = "", person: str = "", **detail: Any
    ) -> None:
        """Record an audit entry for this use case (stored at commit, in the same transaction)."""
        self._entries.append(PendingEntry(action, object_type, str(object_id), str(person), detail))

    @property
    def pending_audit(self) -> list[PendingEntry]:
        return list(self._entries)

    # -- keys ----------------------------------------------------------------------------------
    @property
    def keystore(self) -> Keystore:
        return self.storage.keystore(self.zone)

    @property
    def keyring(self) -> TenantKeyring:
        if self._keyring is None:
            from jichitai.platform.crypto.keyring import TenantKeyring

            self._keyring = TenantKeyring(self.keystore, self.session, self.tenant.code, self.zone)
        return self._keyring

    # -- commit --------------------------------------------------------------------------------
    def _finish(self) -> None:
        self.session.flush()
        if self._entries:
            from jichitai.platform.audit import log

            actor = self.ctx.actor
            log.append(
                self.session,
                zone=self.zone.value,
                tenant=self.tenant.code,
                actor=actor.id,
                actor_kind=actor.kind.value,
                role=actor.role,
                purpose=self.ctx.purpose.code,
                legal_basis=self.ctx.purpose.legal_basis,
                entries=self._entries,
                signer=self.keyring,
                checkpoint_every=self.storage.settings.audit_checkpoint_every,
            )
            self._entries = []
        self.session.commit()


def _auto_audit(session: Session, _flush_context: Any) -> None:
    uow: UnitOfWork | None = session.info.get("uow")
    if uow is None:
        return
    for action, objs in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objs:
            if isinstance(obj, Base) and obj.__audited__:
                if action == "update" and not session.is_modified(obj):
                    continue
                uow.audit(
                    PendingEntry(action, obj.__table__.name, obj.audit_object_id(), obj.audit_person())  # type: ignore[attr-defined]
                )


class Storage:
    """The installation's storage: catalog, keystores and every tenant's databases."""

    def __init__(self, settings: Settings, backend: Backend | None = None) -> None:
        self.settings = settings
        self.backend = backend or make_backend(settings)
        self._catalog: Catalog | None = None
        self._keystores: dict[Zone, Keystore] = {}
        self._engines: dict[tuple[Zone, str], Engine] = {}
        self._checked: set[tuple[Zone, str]] = set()
        self._lock = threading.Lock()
        self._tenants: dict[str, tuple[float, Tenant]] = {}

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog(self.backend.catalog_engine())
        return self._catalog

    def keystore(self, zone: Zone) -> Keystore:
        ks = self._keystores.get(zone)
        if ks is None:
            ks = open_zone_keystore(self.settings, zone)
            self._keystores[zone] = ks
        return ks

    def set_keystore(self, zone: Zone, keystore: Keystore) -> None:
        self._keystores[zone] = keystore

    def tenant_engine(self, zone: Zone, tenant: Tenant) -> Engine:
        key = (zone, tenant.code)
        with self._lock:
            engine = self._engines.get(key)
            if engine is None:
                engine = self.backend.tenant_engine(zone, tenant, self.keystore(zone))
                self._engines[key] = engine
        if key not in self._checked:
            with engine.connect() as conn:
                migrate.check_migrated(
                    conn,
                    migration_dirs(zone),
                    self.backend.schema(tenant),
                    f"tenant {tenant.code} in zone {zone.value}",
                )
            self._checked.add(key)
        return engine

    def forget_engines(self, code: str | None = None) -> None:
        with self._lock:
            for key in [k for k in self._engines if code is None or k[1] == code]:
                self._engines.pop(key).dispose()
                self._checked.discard(key)

    def tenant(self, code: str) -> Tenant:
        """The tenant from the catalog, cached for a few seconds (a hot path: every unit of work)."""
        now = time.monotonic()
        hit = self._tenants.get(code)
        if hit is not None and now - hit[0] < TENANT_CACHE_SECONDS:
            return hit[1]
        tenant = self.catalog.get(code)
        self._tenants[code] = (now, tenant)
        return tenant

    def forget_tenant(self, code: str | None = None) -> None:
        if code is None:
            self._tenants.clear()
        else:
            self._tenants.pop(code, None)

    @contextmanager
    def unit_of_work(self, ctx: TenantContext, zone: Zone) -> Iterator[UnitOfWork]:
        """Open one transaction for ``ctx``'s tenant in ``zone``; commit at the end, or roll back."""
        tenant = self.tenant(ctx.tenant)
        if not tenant.active and not ctx.purpose.allowed_when_disabled:
            raise PermissionDenied(
                f"tenant {tenant.code} is disabled",
                hint="only audit, key management and export run for a disabled tenant",
                message_ja="この団体は利用停止中です",
            )
        with self._open(ctx, zone, tenant) as uow:
            yield uow

    @contextmanager
    def _open(self, ctx: TenantContext, zone: Zone, tenant: Tenant) -> Iterator[UnitOfWork]:
        """A unit of work for a tenant that may not be in the catalog yet (used while adding it)."""
        if ctx.tenant != tenant.code:
            raise PermissionDenied(f"context is for tenant {ctx.tenant}, not {tenant.code}")
        engine = self.tenant_engine(zone, tenant)
        # taken before the first statement, held until the commit or rollback (see write_turn)
        turn = self.backend.write_turn(zone, tenant)
        if turn is not None:
            turn.acquire()
        session = Session(engine, expire_on_commit=False, autoflush=True)
        uow = UnitOfWork(self, ctx, zone, tenant, session)
        session.info["uow"] = uow
        event.listen(session, "after_flush", _auto_audit)
        try:
            yield uow
            uow._finish()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            if turn is not None:
                turn.release()

    def close(self) -> None:
        self.forget_engines()
        if self._catalog is not None:
            self._catalog.engine.dispose()


def open_zone_keystore(settings: Settings, zone: Zone, *, create: bool = False) -> Keystore:
    """The zone's keystore as the settings describe it (file with passphrase, or PKCS#11 token)."""
    from jichitai.platform.crypto import factory

    passphrase = settings.passphrase() if settings.keystore == "file" else None
    pin = settings.pkcs11_pin.get_secret_value() if settings.pkcs11_pin else None
    if create:
        return factory.create_keystore(
            settings.keystore, zone, home=settings.home, passphrase=passphrase,
            pkcs11_module=settings.pkcs11_module, pkcs11_pin=pin, token_prefix=settings.pkcs11_token_prefix,
            scrypt_n=settings.keystore_scrypt_n,
        )  # fmt: skip
    return factory.open_keystore(
        settings.keystore, zone, home=settings.home, passphrase=passphrase,
        pkcs11_module=settings.pkcs11_module, pkcs11_pin=pin, token_prefix=settings.pkcs11_token_prefix,
    )  # fmt: skip


def make_backend(settings: Settings) -> Backend:
    if settings.backend == "postgresql":
        return PostgresBackend(settings.pg_servers, settings.db_prefix)
    return SQLiteBackend(settings.home)
