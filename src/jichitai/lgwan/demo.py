"""Demo wiring of the LGWAN zone: an API client at the portal and the tenant's pull configuration."""

from __future__ import annotations

from rich.console import Console

from jichitai.lgwan.config import configure
from jichitai.platform.context import STAFF_ADMIN, TenantContext, operator
from jichitai.platform.identity.service import IdentityService
from jichitai.platform.storage.engine import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

DEMO_TENANT = "131016"
PULL_SCOPES = ("applications:submission:pull", "applications:status:post")


def seed_demo(storage: Storage, console: Console, residents: int) -> list[tuple[str, str]]:
    """Create the LGWAN worker's client credentials at the portal and configure the pull."""
    del residents
    ctx = TenantContext(TenantCode(DEMO_TENANT), operator("demo"), STAFF_ADMIN)
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        new = IdentityService.of(uow).create_client("申請管理(LGWAN)取込", PULL_SCOPES)
    s = storage.settings
    portal = f"http://{s.bind_host}:{s.ports['internet']}"
    configure(
        storage, DEMO_TENANT, portal_url=portal, client_id=new.client.client_id,
        client_secret=new.client_secret, interval_seconds=10,
    )  # fmt: skip
    console.print("LGWAN pull worker configured against the demo portal")
    return [("申請管理の取込", f"LGWAN pulls new applications from {portal} every 10 s")]
