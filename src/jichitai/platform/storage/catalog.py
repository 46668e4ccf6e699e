"""The catalog of tenants (地方公共団体) and where each one's data is placed.

The catalog holds no personal data: codes, names, kinds, status and the PostgreSQL server a
tenant is placed on (the placement map).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from jichitai.platform.errors import Conflict, NotFound
from jichitai.platform.storage.base import Base, utcnow
from jichitai.platform.tenants import Tenant, TenantCode, TenantKind, TenantStatus


class TenantRow(Base):
    __tablename__ = "tenants"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kana: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(20))
    prefecture: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(10), default=TenantStatus.ACTIVE.value)
    server: Mapped[str] = mapped_column(String(40), default="default")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)

    def to_tenant(self) -> Tenant:
        return Tenant(
            code=TenantCode(self.code),
            name=self.name,
            kana=self.kana,
            kind=TenantKind(self.kind),
            prefecture=self.prefecture,
            status=TenantStatus(self.status),
            server=self.server,
        )


class Catalog:
    """Reads and writes the tenant catalog."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, code: str) -> Tenant:
        with Session(self.engine) as s:
            row = s.get(TenantRow, str(code))
            if row is None:
                raise NotFound(f"no tenant {code} in the catalog", hint="`jichitai tenant list` shows them")
            return row.to_tenant()

    def find(self, code: str) -> Tenant | None:
        with Session(self.engine) as s:
            row = s.get(TenantRow, str(code))
            return None if row is None else row.to_tenant()

    def list(self) -> list[Tenant]:
        with Session(self.engine) as s:
            return [r.to_tenant() for r in s.scalars(select(TenantRow).order_by(TenantRow.code))]

    def insert(self, tenant: Tenant) -> None:
        with Session(self.engine) as s, s.begin():
            if s.get(TenantRow, tenant.code) is not None:
                raise Conflict(f"tenant {tenant.code} already exists")
            s.add(
                TenantRow(
                    code=tenant.code,
                    name=tenant.name,
                    kana=tenant.kana,
                    kind=tenant.kind.value,
                    prefecture=tenant.prefecture,
                    status=tenant.status.value,
                    server=tenant.server,
                )
            )

    def delete(self, code: str) -> None:
        """Remove a tenant's row; only to undo a ``tenant add`` that failed after listing it."""
        with Session(self.engine) as s, s.begin():
            row = s.get(TenantRow, str(code))
            if row is not None:
                s.delete(row)

    def set_status(self, code: str, status: TenantStatus) -> Tenant:
        with Session(self.engine) as s, s.begin():
            row = s.get(TenantRow, str(code))
            if row is None:
                raise NotFound(f"no tenant {code} in the catalog")
            row.status = status.value
            row.disabled_at = utcnow() if status is TenantStatus.DISABLED else None
            return row.to_tenant()

    def count_by_server(self) -> dict[str, int]:
        with Session(self.engine) as s:
            rows = s.execute(select(TenantRow.server, func.count()).group_by(TenantRow.server))
            return {str(server): int(n) for server, n in rows}
