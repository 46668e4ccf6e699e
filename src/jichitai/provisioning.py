"""Adding a tenant across the zones: the platform's all-or-nothing add plus what zones exchange.

A composition root (like :mod:`jichitai.cli` and :mod:`jichitai.apps`): it knows the zone packages,
so the platform does not have to. The internet zone must know the LGWAN zone's signing public key
to check the status events it receives; it is published when a tenant is added and when the LGWAN
signing key rotates.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives import serialization

from jichitai.platform.context import Actor
from jichitai.platform.crypto.keystore import KeyKind
from jichitai.platform.plugins import optional_module
from jichitai.platform.storage.engine import Storage
from jichitai.platform.tenancy import NewTenant, TenantHook
from jichitai.platform.tenancy import add_tenant as platform_add_tenant
from jichitai.platform.tenants import Tenant
from jichitai.platform.zones import Zone


def publish_status_signing_key(storage: Storage, tenant: Tenant | str) -> None:
    """Give the internet zone every version of the tenant's LGWAN signing public key."""
    status_events = optional_module("jichitai.internet.submissions.status_events")
    if status_events is None:
        return
    code = tenant.code if isinstance(tenant, Tenant) else tenant
    keystore = storage.keystore(Zone.LGWAN)
    for version in keystore.versions(code, KeyKind.SIGNING):
        pem = (
            keystore.signing_public_key(code, version)
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        status_events.publish_status_signing_key(storage, code, version, pem)


HOOKS: tuple[TenantHook, ...] = (publish_status_signing_key,)


def add_tenant(
    storage: Storage,
    new: NewTenant,
    actor: Actor | None = None,
    progress: Callable[[str], None] | None = None,
) -> Tenant:
    """Add a tenant in every zone and exchange what the zones need from one another."""
    return platform_add_tenant(storage, new, actor, progress, after=HOOKS)
