"""Tenant administration: add (storage, keys and audit log in every zone), list, disable, upgrade.

Adding a tenant is all or nothing: every step registers its undo, and a failure anywhere removes
whatever was created (files, schemas, roles, keys) before the error reaches the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jichitai.platform.context import PLATFORM_ADMIN, Actor, TenantContext, operator
from jichitai.platform.crypto.keystore import KeyKind
from jichitai.platform.errors import Conflict, ValidationError
from jichitai.platform.storage.engine import Storage
from jichitai.platform.tenants import Tenant, TenantCode, TenantKind, TenantStatus
from jichitai.platform.zones import Zone

# The LGWAN zone holds the submission private key; it is provisioned first so that the internet
# zone can publish the public half.
PROVISION_ORDER: tuple[Zone, ...] = (Zone.LGWAN, Zone.INTERNET, Zone.MYNUMBER, Zone.LINKAGE)
_KATAKANA = re.compile(r"^[ァ-ヶー・\u3000 ]+$")


@dataclass(frozen=True)
class NewTenant:
    code: str
    name: str
    kana: str
    kind: TenantKind
    server: str | None = None


def validate_new_tenant(new: NewTenant) -> Tenant:
    code = TenantCode(new.code)
    name = new.name.strip()
    if not name or len(name) > 64:
        raise ValidationError("tenant name must be 1–64 characters (e.g. 横浜市)")
    kana = new.kana.strip()
    if not _KATAKANA.match(kana):
        raise ValidationError(f"tenant kana {new.kana!r} must be full-width katakana (e.g. ヨコハマシ)")
    if code.is_prefecture != (new.kind is TenantKind.PREFECTURE):
        raise ValidationError(
            f"code {code} is {'a prefecture' if code.is_prefecture else 'a municipality'} code "
            f"but kind is {new.kind.value}"
        )
    return Tenant(
        code, name, kana, new.kind, code.prefecture_name, TenantStatus.ACTIVE, new.server or "default"
    )


def admin_context(code: str, actor: Actor | None = None) -> TenantContext:
    return TenantContext(TenantCode(code), actor or operator(), PLATFORM_ADMIN)


def pick_server(storage: Storage, requested: str | None) -> str:
    servers = list(storage.settings.pg_servers) if storage.settings.backend == "postgresql" else ["default"]
    if requested:
        if requested not in servers:
            raise ValidationError(f"unknown server {requested!r} (known: {', '.join(servers)})")
        return requested
    counts = storage.catalog.count_by_server()
    return min(servers, key=lambda s: (counts.get(s, 0), s))


TenantHook = Callable[[Storage, Tenant], None]


def add_tenant(
    storage: Storage,
    new: NewTenant,
    actor: Actor | None = None,
    progress: Callable[[str], None] | None = None,
    after: Sequence[TenantHook] = (),
) -> Tenant:
    """Create the tenant's storage, keys and audit log in every zone, then list it in the catalog.

    ``after`` runs once the tenant is listed (zone packages exchanging keys, given by the
    composition root); if one fails, everything is undone as for any other step.
    """
    tenant = validate_new_tenant(new)
    if storage.catalog.find(tenant.code) is not None:
        raise Conflict(f"tenant {tenant.code} already exists", hint="`jichitai tenant show` describes it")
    tenant = Tenant(**{**tenant.__dict__, "server": pick_server(storage, new.server)})
    ctx = admin_context(tenant.code, actor)
    undo: list[Callable[[], None]] = []
    try:
        for zone in PROVISION_ORDER:
            if progress:
                progress(f"{zone.value}: keys")
            ks = storage.keystore(zone)
            if ks.has_tenant(tenant.code):
                raise Conflict(f"the {zone.value} keystore already has keys for {tenant.code}")
            ks.create_tenant(tenant.code, with_submission_key=zone is Zone.LGWAN)
            undo.append(lambda ks=ks: ks.delete_tenant(tenant.code))  # type: ignore[misc]
            if progress:
                progress(f"{zone.value}: storage")
            storage.backend.provision(zone, tenant, ks)
            undo.append(lambda zone=zone: storage.backend.deprovision(zone, tenant))  # type: ignore[misc]
            storage.backend.migrate(zone, tenant)
            with storage._open(ctx, zone, tenant) as uow:
                uow.keyring.provision()
                if zone is Zone.INTERNET:
                    _publish_submission_key(storage, ctx, tenant, uow)
                uow.record(
                    "tenant_created", "platform.tenant", tenant.code, name=tenant.name, zone=zone.value
                )
            undo.append(lambda: storage.forget_engines(tenant.code))
        storage.catalog.insert(tenant)
        undo.append(lambda: storage.catalog.delete(tenant.code))
        undo.append(lambda: storage.forget_tenant(tenant.code))
        for hook in after:
            hook(storage, tenant)
    except BaseException:
        for step in reversed(undo):
            try:
                step()
            except Exception:  # noqa: S112 - undo goes on; the original error is what matters
                continue
        storage.forget_engines(tenant.code)
        raise
    return tenant


def _publish_submission_key(storage: Storage, ctx: TenantContext, tenant: Tenant, uow: object) -> None:
    """Copy the LGWAN zone's submission public key (JWK) to the internet zone, where the portal reads it."""
    from jichitai.platform.storage.engine import UnitOfWork

    assert isinstance(uow, UnitOfWork)
    with storage._open(ctx, Zone.LGWAN, tenant) as lgwan:
        jwk = lgwan.keyring.submission_public_jwk()
        version = storage.keystore(Zone.LGWAN).current_version(tenant.code, KeyKind.SUBMISSION)
    uow.keyring.publish_submission_jwk(version, jwk)


def disable_tenant(storage: Storage, code: str, actor: Actor | None = None) -> Tenant:
    """Stop serving a tenant; every byte of its data and every key stays."""
    tenant = storage.catalog.get(code)
    if tenant.status is TenantStatus.DISABLED:
        raise Conflict(f"tenant {code} is already disabled")
    tenant = storage.catalog.set_status(code, TenantStatus.DISABLED)
    storage.forget_tenant(code)
    for zone in PROVISION_ORDER:
        with storage.unit_of_work(admin_context(code, actor), zone) as uow:
            uow.record("tenant_disabled", "platform.tenant", code)
    return tenant


def enable_tenant(storage: Storage, code: str, actor: Actor | None = None) -> Tenant:
    tenant = storage.catalog.get(code)
    if tenant.status is TenantStatus.ACTIVE:
        raise Conflict(f"tenant {code} is already active")
    tenant = storage.catalog.set_status(code, TenantStatus.ACTIVE)
    storage.forget_tenant(code)
    for zone in PROVISION_ORDER:
        with storage.unit_of_work(admin_context(code, actor), zone) as uow:
            uow.record("tenant_enabled", "platform.tenant", code)
    return tenant


def upgrade_all(storage: Storage, progress: Callable[[Tenant, Zone], None] | None = None) -> int:
    """Apply pending migrations to every tenant in every zone; returns how many databases were touched."""
    n = 0
    for tenant in storage.catalog.list():
        for zone in PROVISION_ORDER:
            storage.backend.migrate(zone, tenant)
            n += 1
            if progress:
                progress(tenant, zone)
    storage.forget_engines()
    return n
