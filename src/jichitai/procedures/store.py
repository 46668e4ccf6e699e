"""Procedure settings in the tenant database, and the operations that publish them.

The municipality changes its settings in the LGWAN zone (its own copy, the source of truth); each
change is then published to the internet zone, where the portal reads it. Both writes are audited.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jichitai.platform.context import PURPOSES, Actor, Purpose, TenantContext, operator
from jichitai.platform.errors import Conflict, NotFound, PermissionDenied
from jichitai.platform.storage.engine import Storage, UnitOfWork
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone
from jichitai.procedures.catalog import default_catalog
from jichitai.procedures.models import ProcedureOverride
from jichitai.procedures.overrides import EffectiveDefinition, TenantOverride, TenantProcedures

PROCEDURE_SETTINGS = Purpose(
    "procedures.settings.manage", "電子申請手続の設定", "地方公共団体情報システム標準化法", False
)
PROCEDURE_READ = Purpose(
    "procedures.settings.read", "電子申請手続の表示", "行政手続オンライン化法(情報通信技術活用法)第6条"
)
PURPOSES.register(PROCEDURE_SETTINGS, PROCEDURE_READ)


class DbOverrideStore:
    """:class:`OverrideStore` on one tenant's database session (one zone)."""

    def __init__(self, session: Session, tenant_code: str) -> None:
        self.session = session
        self.tenant = str(TenantCode(tenant_code))

    def _check(self, tenant_code: str) -> None:
        if str(tenant_code) != self.tenant:
            raise PermissionDenied(
                f"settings of tenant {tenant_code} are not in tenant {self.tenant}'s database"
            )

    def latest(self, tenant_code: str, procedure_id: str) -> TenantOverride | None:
        self._check(tenant_code)
        row = self.session.scalars(
            select(ProcedureOverride)
            .where(ProcedureOverride.procedure_id == procedure_id)
            .order_by(ProcedureOverride.revision.desc())
            .limit(1)
        ).first()
        return None if row is None else TenantOverride.from_json(row.settings)

    def get(self, tenant_code: str, procedure_id: str, revision: int) -> TenantOverride:
        self._check(tenant_code)
        row = self.session.scalars(
            select(ProcedureOverride).where(
                ProcedureOverride.procedure_id == procedure_id, ProcedureOverride.revision == revision
            )
        ).first()
        if row is None:
            raise NotFound(f"no revision {revision} of {procedure_id} for tenant {tenant_code}")
        return TenantOverride.from_json(row.settings)

    def append(self, override: TenantOverride, *, changed_by: str = "") -> TenantOverride:
        self._check(override.tenant_code)
        last = self.session.scalar(
            select(func.max(ProcedureOverride.revision)).where(
                ProcedureOverride.procedure_id == override.procedure_id
            )
        )
        expected = (last or 0) + 1
        if override.revision != expected:
            raise Conflict(
                f"revision {override.revision} of {override.procedure_id} is stale (next is {expected})",
                hint="reload the settings and apply the change again",
            )
        self.session.add(
            ProcedureOverride(
                procedure_id=override.procedure_id,
                revision=override.revision,
                settings=override.to_json(),
                changed_by=changed_by,
            )
        )
        self.session.flush()
        return override

    def list_latest(self, tenant_code: str) -> list[TenantOverride]:
        self._check(tenant_code)
        newest = (
            select(ProcedureOverride.procedure_id, func.max(ProcedureOverride.revision).label("rev"))
            .group_by(ProcedureOverride.procedure_id)
            .subquery()
        )
        rows = self.session.scalars(
            select(ProcedureOverride).join(
                newest,
                (ProcedureOverride.procedure_id == newest.c.procedure_id)
                & (ProcedureOverride.revision == newest.c.rev),
            )
        )
        return [TenantOverride.from_json(r.settings) for r in rows]

    def replace_from(self, revisions: list[TenantOverride]) -> None:
        """Add the revisions this copy lacks (publishing LGWAN's settings to the internet zone)."""
        for rev in revisions:
            have = self.session.scalar(
                select(func.count()).where(
                    ProcedureOverride.procedure_id == rev.procedure_id,
                    ProcedureOverride.revision == rev.revision,
                )
            )
            if not have:
                self.session.add(
                    ProcedureOverride(
                        procedure_id=rev.procedure_id, revision=rev.revision, settings=rev.to_json()
                    )
                )
        self.session.flush()


def tenant_procedures(uow: UnitOfWork) -> TenantProcedures:
    """The tenant's procedures as seen from this unit of work's zone."""
    return TenantProcedures(default_catalog(), DbOverrideStore(uow.session, uow.tenant.code))


def _all_revisions(store: DbOverrideStore, procedure_id: str) -> list[TenantOverride]:
    rows = store.session.scalars(
        select(ProcedureOverride)
        .where(ProcedureOverride.procedure_id == procedure_id)
        .order_by(ProcedureOverride.revision)
    )
    return [TenantOverride.from_json(r.settings) for r in rows]


def change_settings(
    storage: Storage, tenant: str, procedure_id: str, action: str, actor: Actor | None = None, **args: Any
) -> EffectiveDefinition:
    """Apply one change (enable, disable, set_guidance, set_extra_fields) and publish it."""
    ctx = TenantContext(TenantCode(tenant), actor or operator(), PROCEDURE_SETTINGS)
    with storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        procs = tenant_procedures(uow)
        effective: EffectiveDefinition = getattr(procs, action)(tenant, procedure_id, **args)
        revisions = _all_revisions(procs.store, procedure_id)  # type: ignore[arg-type]
        uow.record("procedure_settings_changed", "procedures.settings", procedure_id, change=action,
                   effective_id=effective.effective_id)  # fmt: skip
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        DbOverrideStore(uow.session, tenant).replace_from(revisions)
        uow.record("procedure_settings_published", "procedures.settings", procedure_id,
                   effective_id=effective.effective_id)  # fmt: skip
    return effective


def show_settings(
    storage: Storage, tenant: str, procedure_id: str, actor: Actor | None = None
) -> dict[str, Any]:
    ctx = TenantContext(TenantCode(tenant), actor or operator(), PROCEDURE_READ)
    with storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        shown: dict[str, Any] = tenant_procedures(uow).show(tenant, procedure_id)
    return shown


def offered(storage: Storage, tenant: str, zone: Zone = Zone.INTERNET, actor: Actor | None = None,
            *, include_disabled: bool = False) -> list[EffectiveDefinition]:  # fmt: skip
    ctx = TenantContext(TenantCode(tenant), actor or operator(), PROCEDURE_READ)
    with storage.unit_of_work(ctx, zone) as uow:
        return tenant_procedures(uow).offered(tenant, include_disabled=include_disabled)
