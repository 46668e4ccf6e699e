"""An in-memory stand-in for :class:`jichitai.platform.storage.Storage`, for tests of screens and APIs.

It offers only what identity and the web base use (``catalog.find``/``get`` and ``unit_of_work``),
with one in-memory SQLite database per tenant holding the identity tables. Like the real unit of
work it commits once at the end and keeps the audit entries recorded during a use case only when
the transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from jichitai.platform.audit.entry import PendingEntry
from jichitai.platform.context import TenantContext
from jichitai.platform.errors import NotFound, PermissionDenied
from jichitai.platform.identity.models import IDENTITY_TABLES
from jichitai.platform.storage.base import Base
from jichitai.platform.tenants import Tenant, TenantCode, TenantKind
from jichitai.platform.zones import Zone

TEST_PASSWORD = "correct horse battery"  # noqa: S105 - the password test accounts are given


def fast_hasher() -> PasswordHasher:
    """argon2id with the smallest parameters, so tests stay fast (production uses the defaults)."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class Clock:
    """A clock that moves only when told to (lockouts and expiry are tested without sleeping)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 26, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


class Recorder:
    """Collects audit entries like a unit of work does, without storing them."""

    def __init__(self) -> None:
        self.entries: list[PendingEntry] = []

    def record(
        self, action: str, object_type: str, object_id: str = "", person: str = "", **detail: Any
    ) -> None:
        self.entries.append(PendingEntry(action, object_type, str(object_id), str(person), detail))

    @property
    def actions(self) -> list[str]:
        return [e.action for e in self.entries]


@dataclass(frozen=True)
class StoredEntry:
    """An audit entry as the memory storage kept it, with the context it was written under."""

    zone: Zone
    actor: str
    purpose: str
    entry: PendingEntry

    @property
    def action(self) -> str:
        return self.entry.action


class MemoryUnitOfWork:
    """A unit of work over one tenant's in-memory database."""

    def __init__(self, ctx: TenantContext, zone: Zone, tenant: Tenant, session: Session) -> None:
        self.ctx = ctx
        self.zone = zone
        self.tenant = tenant
        self.session = session
        self.entries: list[PendingEntry] = []

    def record(
        self, action: str, object_type: str, object_id: str = "", person: str = "", **detail: Any
    ) -> None:
        self.entries.append(PendingEntry(action, object_type, str(object_id), str(person), detail))


class _Catalog:
    def __init__(self, tenants: dict[str, Tenant]) -> None:
        self._tenants = tenants

    def find(self, code: str) -> Tenant | None:
        return self._tenants.get(str(code))

    def get(self, code: str) -> Tenant:
        tenant = self.find(code)
        if tenant is None:
            raise NotFound(f"no tenant {code} in the catalog")
        return tenant

    def list(self) -> list[Tenant]:
        return sorted(self._tenants.values(), key=lambda t: t.code)


@dataclass
class MemoryStorage:
    """Tenants with in-memory identity databases; ``audit`` collects committed entries."""

    tenants: Iterable[Tenant] = ()
    audit: list[StoredEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._tenants: dict[str, Tenant] = {str(t.code): t for t in self.tenants}
        self.catalog = _Catalog(self._tenants)
        self._engines: dict[tuple[Zone, str], Engine] = {}

    def add_tenant(self, tenant: Tenant) -> None:
        self._tenants[tenant.code] = tenant

    def engine(self, zone: Zone, code: str) -> Engine:
        key = (zone, code)
        if key not in self._engines:
            engine = create_engine(
                "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
            Base.metadata.create_all(engine, tables=list(IDENTITY_TABLES))
            self._engines[key] = engine
        return self._engines[key]

    @contextmanager
    def unit_of_work(self, ctx: TenantContext, zone: Zone) -> Iterator[MemoryUnitOfWork]:
        tenant = self.catalog.get(ctx.tenant)
        if not tenant.active and not ctx.purpose.allowed_when_disabled:
            raise PermissionDenied(f"tenant {tenant.code} is disabled", message_ja="この団体は利用停止中です")
        session = Session(self.engine(zone, tenant.code), expire_on_commit=False)
        uow = MemoryUnitOfWork(ctx, zone, tenant, session)
        try:
            yield uow
            session.flush()
            session.commit()
            self.audit.extend(StoredEntry(zone, ctx.actor.id, ctx.purpose.code, e) for e in uow.entries)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def actions(self) -> list[str]:
        return [e.action for e in self.audit]

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()


def demo_tenant(code: str = "131016", name: str = "千代田区", kana: str = "チヨダク") -> Tenant:
    tc = TenantCode(code)
    return Tenant(tc, name, kana, TenantKind.SPECIAL_WARD, tc.prefecture_name)
