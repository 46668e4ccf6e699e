"""The tenant context: who acts, for which municipality, and for what purpose (利用目的).

Every touch of personal data happens inside a :class:`TenantContext`. Purposes of use are codes in
a registry; each business package registers its own (``registry.certificate.issue`` …) with a
Japanese label and a legal basis, so an audit entry reads like a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from jichitai.platform.errors import ValidationError
from jichitai.platform.tenants import TenantCode


class ActorKind(StrEnum):
    STAFF = "staff"  # 職員
    SYSTEM = "system"  # a batch, worker or another system (API client)
    RESIDENT = "resident"  # 住民 (identified by a certificate)
    OPERATOR = "operator"  # the installation's operator at the command line


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff account, a system, a resident or an operator."""

    id: str
    kind: ActorKind
    role: str = ""  # the role under which the actor acts (e.g. registry_clerk)
    display_name: str = ""

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}"


@dataclass(frozen=True)
class Purpose:
    """A purpose of use (利用目的) with its Japanese label and legal basis (根拠法令)."""

    code: str
    label_ja: str
    legal_basis: str
    # purposes that may still run for a disabled tenant (audit, export on exit)
    allowed_when_disabled: bool = False


class PurposeRegistry:
    """All purpose codes known to the installation."""

    def __init__(self) -> None:
        self._by_code: dict[str, Purpose] = {}

    def register(self, *purposes: Purpose) -> None:
        for p in purposes:
            existing = self._by_code.get(p.code)
            if existing is not None and existing != p:
                raise ValueError(f"purpose {p.code} registered twice with different definitions")
            self._by_code[p.code] = p

    def get(self, code: str) -> Purpose:
        try:
            return self._by_code[code]
        except KeyError:
            known = ", ".join(sorted(self._by_code)[:8])
            raise ValidationError(
                f"unknown purpose code {code!r}",
                hint=f"use a registered purpose code (e.g. {known}); `jichitai purposes` lists them",
                message_ja=f"利用目的コード {code} は登録されていません",
            ) from None

    def all(self) -> list[Purpose]:
        return sorted(self._by_code.values(), key=lambda p: p.code)


PURPOSES = PurposeRegistry()

# Purposes the platform itself needs.
PLATFORM_ADMIN = Purpose("platform.tenant.admin", "団体の設定管理", "地方公共団体情報システム標準化法", True)
KEY_MANAGEMENT = Purpose("platform.keys.manage", "暗号鍵の管理", "個人情報保護法第66条(安全管理措置)", True)
AUDIT_REVIEW = Purpose("platform.audit.review", "監査ログの点検", "個人情報保護法第66条(安全管理措置)", True)
STAFF_AUTH = Purpose("platform.identity.authenticate", "職員の認証", "個人情報保護法第66条(安全管理措置)")
STAFF_ADMIN = Purpose("platform.identity.admin", "職員アカウントの管理", "個人情報保護法第66条(安全管理措置)")
DATA_EXPORT = Purpose("platform.data.export", "データ移行(移出)", "地方公共団体情報システム標準化法", True)
PURPOSES.register(PLATFORM_ADMIN, KEY_MANAGEMENT, AUDIT_REVIEW, STAFF_AUTH, STAFF_ADMIN, DATA_EXPORT)


@dataclass(frozen=True)
class TenantContext:
    """Tenant, actor and purpose of use: the three things every data access needs."""

    tenant: TenantCode
    actor: Actor
    purpose: Purpose
    # the concrete reason beyond the purpose (e.g. the 受付番号 being processed); goes into audit
    reason: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.tenant, TenantCode):
            object.__setattr__(self, "tenant", TenantCode(self.tenant))
        if not isinstance(self.purpose, Purpose):
            raise TypeError("purpose must be a registered Purpose; use PURPOSES.get(code)")

    @classmethod
    def of(cls, tenant: str, actor: Actor, purpose_code: str, reason: str = "") -> TenantContext:
        return cls(TenantCode(tenant), actor, PURPOSES.get(purpose_code), reason)


def operator(name: str = "cli") -> Actor:
    """The installation operator acting at the command line."""
    return Actor(id=name, kind=ActorKind.OPERATOR, role="operator")


def system(name: str, role: str = "system") -> Actor:
    return Actor(id=name, kind=ActorKind.SYSTEM, role=role)
