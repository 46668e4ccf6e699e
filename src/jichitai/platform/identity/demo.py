"""Demo staff accounts for ``jichitai demo`` (development installations only)."""

from __future__ import annotations

from collections.abc import Sequence

from jichitai.platform.context import STAFF_ADMIN, TenantContext, operator
from jichitai.platform.errors import Conflict, PermissionDenied
from jichitai.platform.identity.service import IdentityService
from jichitai.platform.storage.engine import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

STAFF_ZONES = (Zone.LGWAN, Zone.MYNUMBER)


def seed(
    storage: Storage, tenant: str, staff: Sequence[tuple[str, str, tuple[str, ...], str]]
) -> list[tuple[str, str]]:
    """Create each (login, password, roles, label) account in the back-office zones."""
    if storage.settings.environment == "production":
        raise PermissionDenied("demo accounts are never created in production")
    ctx = TenantContext(TenantCode(tenant), operator("demo"), STAFF_ADMIN)
    for zone in STAFF_ZONES:
        with storage.unit_of_work(ctx, zone) as uow:
            service = IdentityService.of(uow)
            for login, password, roles, label in staff:
                try:
                    service.create_staff(login, label, roles, password)
                except Conflict:
                    continue
    return [("staff login", "LGWAN and My Number back offices: /staff/login")]
