"""Who is calling, once authenticated: a staff member (web session) or a system (bearer token).

A principal knows its tenant and what it may do, and builds the :class:`TenantContext` a use case
needs, choosing the role under which the act is done so that the audit entry names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from jichitai.platform.context import PURPOSES, Actor, ActorKind, TenantContext
from jichitai.platform.identity.errors import MissingPermission
from jichitai.platform.identity.roles import (
    Business,
    Permission,
    Role,
    businesses_of,
    permissions_of,
    role_for,
)
from jichitai.platform.tenants import TenantCode


@dataclass(frozen=True)
class StaffPrincipal:
    """A signed-in staff member (職員) of one tenant."""

    tenant: TenantCode
    account_id: str
    login_id: str
    display_name: str
    roles: frozenset[Role]
    session_id: str = ""
    csrf_token: str = field(default="", repr=False)
    tenant_name: str = ""

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_of(self.roles)

    @property
    def businesses(self) -> frozenset[Business]:
        return businesses_of(self.roles)

    def has(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission) -> Role:
        """The role under which ``permission`` is exercised; refuses when no role grants it."""
        role = role_for(self.roles, permission)
        if role is None:
            raise MissingPermission(
                f"staff {self.login_id} of tenant {self.tenant} lacks {permission.value}",
                message_ja=f"この操作({permission.label_ja})を行う権限がありません",
            )
        return role

    def actor(self, permission: Permission | None = None) -> Actor:
        if permission is not None:
            role = self.require(permission).value
        else:
            role = " ".join(sorted(r.value for r in self.roles))
        return Actor(id=self.login_id, kind=ActorKind.STAFF, role=role, display_name=self.display_name)

    def context(
        self, purpose_code: str, permission: Permission | None = None, reason: str = ""
    ) -> TenantContext:
        """The tenant context for a use case done by this staff member for ``purpose_code``."""
        return TenantContext(self.tenant, self.actor(permission), PURPOSES.get(purpose_code), reason)


@dataclass(frozen=True)
class ClientPrincipal:
    """A system calling with a bearer token (連携システム) of one tenant."""

    tenant: TenantCode
    client_id: str
    name: str
    scopes: frozenset[Permission]
    token_id: str = ""
    expires_at: datetime | None = None

    def has(self, permission: Permission) -> bool:
        return permission in self.scopes

    def require(self, permission: Permission) -> None:
        if permission not in self.scopes:
            raise MissingPermission(
                f"client {self.client_id} lacks scope {permission.value}",
                message_ja=f"このクライアントには権限({permission.label_ja})がありません",
            )

    def actor(self) -> Actor:
        return Actor(id=self.client_id, kind=ActorKind.SYSTEM, role="api_client", display_name=self.name)

    def context(self, purpose_code: str, reason: str = "") -> TenantContext:
        return TenantContext(self.tenant, self.actor(), PURPOSES.get(purpose_code), reason)
