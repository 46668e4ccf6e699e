"""Roles (役割) of staff and the permissions (権限) each one grants.

A permission is a ``scope:resource:action`` string, so that a check or an audit entry reads like a
sentence (``registry:person:read``). A role is a job in the municipality (住民記録担当, 児童手当担当 …)
and maps to a fixed set of permissions and to the businesses (業務) whose procedures and cases its
holders may see in the back office. API clients receive permissions directly as their scopes.

Pure data and functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from jichitai.platform.errors import ValidationError


class Permission(StrEnum):
    """What an actor may do: ``scope:resource:action``."""

    REGISTRY_PERSON_READ = "registry:person:read"
    REGISTRY_PERSON_WRITE = "registry:person:write"
    REGISTRY_CERTIFICATE_ISSUE = "registry:certificate:issue"
    REGISTRY_EVENTS_READ = "registry:events:read"
    CHILD_ALLOWANCE_CASE_READ = "child_allowance:case:read"
    CHILD_ALLOWANCE_CASE_WRITE = "child_allowance:case:write"
    CHILD_ALLOWANCE_CASE_DECIDE = "child_allowance:case:decide"
    CARE_INSURANCE_CASE_READ = "care_insurance:case:read"
    CARE_INSURANCE_CASE_WRITE = "care_insurance:case:write"
    CARE_INSURANCE_CASE_DECIDE = "care_insurance:case:decide"
    APPLICATIONS_INBOX_READ = "applications:inbox:read"
    APPLICATIONS_APPLICATION_READ = "applications:application:read"
    APPLICATIONS_APPLICATION_DECIDE = "applications:application:decide"
    APPLICATIONS_MESSAGE_SEND = "applications:message:send"
    APPLICATIONS_SUBMISSION_PULL = "applications:submission:pull"
    APPLICATIONS_STATUS_POST = "applications:status:post"
    LINKAGE_TRANSFER_SEND = "linkage:transfer:send"
    LINKAGE_TRANSFER_RECEIVE = "linkage:transfer:receive"
    PROCEDURES_CATALOG_READ = "procedures:catalog:read"
    PROCEDURES_CATALOG_MANAGE = "procedures:catalog:manage"
    AUDIT_LOG_READ = "audit:log:read"
    TENANT_STAFF_MANAGE = "tenant:staff:manage"
    TENANT_CLIENT_MANAGE = "tenant:client:manage"
    TENANT_SETTINGS_MANAGE = "tenant:settings:manage"

    @property
    def label_ja(self) -> str:
        return _PERMISSION_LABELS[self]

    @classmethod
    def parse(cls, value: str) -> Permission:
        try:
            return cls(value.strip())
        except ValueError:
            raise ValidationError(
                f"unknown permission {value!r}",
                hint="use a scope:resource:action string such as registry:person:read",
                message_ja=f"権限 {value} は定義されていません",
            ) from None


_PERMISSION_LABELS: dict[Permission, str] = {
    Permission.REGISTRY_PERSON_READ: "住民記録の閲覧",
    Permission.REGISTRY_PERSON_WRITE: "住民記録の異動処理",
    Permission.REGISTRY_CERTIFICATE_ISSUE: "住民票の写し等の交付",
    Permission.REGISTRY_EVENTS_READ: "住民異動情報の取得(システム連携)",
    Permission.CHILD_ALLOWANCE_CASE_READ: "児童手当の案件の閲覧",
    Permission.CHILD_ALLOWANCE_CASE_WRITE: "児童手当の案件の入力",
    Permission.CHILD_ALLOWANCE_CASE_DECIDE: "児童手当の認定・決定",
    Permission.CARE_INSURANCE_CASE_READ: "介護保険の案件の閲覧",
    Permission.CARE_INSURANCE_CASE_WRITE: "介護保険の案件の入力",
    Permission.CARE_INSURANCE_CASE_DECIDE: "介護保険の決定",
    Permission.APPLICATIONS_INBOX_READ: "電子申請の受付一覧の閲覧",
    Permission.APPLICATIONS_APPLICATION_READ: "電子申請の内容の閲覧",
    Permission.APPLICATIONS_APPLICATION_DECIDE: "電子申請の受理・補正依頼・却下",
    Permission.APPLICATIONS_MESSAGE_SEND: "申請者への連絡",
    Permission.APPLICATIONS_SUBMISSION_PULL: "電子申請の取込み(システム連携)",
    Permission.APPLICATIONS_STATUS_POST: "処理状況の通知(システム連携)",
    Permission.LINKAGE_TRANSFER_SEND: "連携データの送信(システム連携)",
    Permission.LINKAGE_TRANSFER_RECEIVE: "連携データの受信(システム連携)",
    Permission.PROCEDURES_CATALOG_READ: "手続一覧の閲覧",
    Permission.PROCEDURES_CATALOG_MANAGE: "手続の公開設定",
    Permission.AUDIT_LOG_READ: "アクセス記録(監査ログ)の閲覧",
    Permission.TENANT_STAFF_MANAGE: "職員アカウントの管理",
    Permission.TENANT_CLIENT_MANAGE: "連携システム(APIクライアント)の管理",
    Permission.TENANT_SETTINGS_MANAGE: "団体の設定",
}


class Business(StrEnum):
    """A business (業務) of the municipality: the unit by which procedures and cases are shown."""

    REGISTRY = "registry"  # 住民記録
    CHILD_ALLOWANCE = "child_allowance"  # 児童手当
    CARE_INSURANCE = "care_insurance"  # 介護保険
    APPLICATIONS = "applications"  # 電子申請の受付(申請管理)
    GENERAL = "general"  # その他の業務(汎用)

    @property
    def label_ja(self) -> str:
        return {
            "registry": "住民記録",
            "child_allowance": "児童手当",
            "care_insurance": "介護保険",
            "applications": "申請管理",
            "general": "その他の業務",
        }[self.value]


class Role(StrEnum):
    """A staff role (役割) within one municipality."""

    TENANT_ADMIN = "tenant_admin"  # 団体管理者
    AUDITOR = "auditor"  # 監査担当
    REGISTRY_CLERK = "registry_clerk"  # 住民記録担当
    CHILD_ALLOWANCE_CLERK = "child_allowance_clerk"  # 児童手当担当
    APPLICATION_CLERK = "application_clerk"  # 申請管理担当
    CARE_INSURANCE_CLERK = "care_insurance_clerk"  # 介護保険担当
    GENERIC_CLERK = "generic_clerk"  # 業務担当

    @property
    def label_ja(self) -> str:
        return _ROLE_LABELS[self]

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(value.strip())
        except ValueError:
            known = ", ".join(r.value for r in cls)
            raise ValidationError(
                f"unknown role {value!r}",
                hint=f"use one of: {known}",
                message_ja=f"役割 {value} は定義されていません",
            ) from None


_ROLE_LABELS: dict[Role, str] = {
    Role.TENANT_ADMIN: "団体管理者",
    Role.AUDITOR: "監査担当",
    Role.REGISTRY_CLERK: "住民記録担当",
    Role.CHILD_ALLOWANCE_CLERK: "児童手当担当",
    Role.APPLICATION_CLERK: "申請管理担当",
    Role.CARE_INSURANCE_CLERK: "介護保険担当",
    Role.GENERIC_CLERK: "業務担当",
}

P = Permission

# Separation of duties: the administrator manages accounts and settings but reads no resident
# data; the auditor reads the access log but changes nothing; clerks work in their own business.
ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.TENANT_ADMIN: frozenset(
        {
            P.TENANT_STAFF_MANAGE,
            P.TENANT_CLIENT_MANAGE,
            P.TENANT_SETTINGS_MANAGE,
            P.PROCEDURES_CATALOG_READ,
            P.PROCEDURES_CATALOG_MANAGE,
        }
    ),
    Role.AUDITOR: frozenset({P.AUDIT_LOG_READ, P.PROCEDURES_CATALOG_READ}),
    Role.REGISTRY_CLERK: frozenset(
        {
            P.REGISTRY_PERSON_READ,
            P.REGISTRY_PERSON_WRITE,
            P.REGISTRY_CERTIFICATE_ISSUE,
            P.APPLICATIONS_INBOX_READ,
            P.APPLICATIONS_APPLICATION_READ,
            P.PROCEDURES_CATALOG_READ,
        }
    ),
    Role.CHILD_ALLOWANCE_CLERK: frozenset(
        {
            P.CHILD_ALLOWANCE_CASE_READ,
            P.CHILD_ALLOWANCE_CASE_WRITE,
            P.CHILD_ALLOWANCE_CASE_DECIDE,
            # eligibility needs the household as registered (世帯の確認)
            P.REGISTRY_PERSON_READ,
            P.APPLICATIONS_INBOX_READ,
            P.APPLICATIONS_APPLICATION_READ,
            P.PROCEDURES_CATALOG_READ,
        }
    ),
    Role.APPLICATION_CLERK: frozenset(
        {
            P.APPLICATIONS_INBOX_READ,
            P.APPLICATIONS_APPLICATION_READ,
            P.APPLICATIONS_APPLICATION_DECIDE,
            P.APPLICATIONS_MESSAGE_SEND,
            P.PROCEDURES_CATALOG_READ,
        }
    ),
    Role.CARE_INSURANCE_CLERK: frozenset(
        {
            P.CARE_INSURANCE_CASE_READ,
            P.CARE_INSURANCE_CASE_WRITE,
            P.CARE_INSURANCE_CASE_DECIDE,
            P.REGISTRY_PERSON_READ,
            P.APPLICATIONS_INBOX_READ,
            P.APPLICATIONS_APPLICATION_READ,
            P.PROCEDURES_CATALOG_READ,
        }
    ),
    Role.GENERIC_CLERK: frozenset(
        {P.APPLICATIONS_INBOX_READ, P.APPLICATIONS_APPLICATION_READ, P.PROCEDURES_CATALOG_READ}
    ),
}

# Which businesses' procedures and cases each role sees in the back office.
ROLE_BUSINESSES: Mapping[Role, frozenset[Business]] = {
    Role.TENANT_ADMIN: frozenset(Business),  # sees every procedure's settings, no case contents
    Role.AUDITOR: frozenset(Business),
    Role.REGISTRY_CLERK: frozenset({Business.REGISTRY}),
    Role.CHILD_ALLOWANCE_CLERK: frozenset({Business.CHILD_ALLOWANCE}),
    Role.APPLICATION_CLERK: frozenset(Business),  # receives every online application first
    Role.CARE_INSURANCE_CLERK: frozenset({Business.CARE_INSURANCE}),
    Role.GENERIC_CLERK: frozenset({Business.GENERAL}),
}


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """Roles from their codes; unknown codes are refused."""
    return frozenset(Role.parse(v) for v in values if v.strip())


def parse_permissions(values: Iterable[str]) -> frozenset[Permission]:
    return frozenset(Permission.parse(v) for v in values if v.strip())


def permissions_of(roles: Iterable[Role | str]) -> frozenset[Permission]:
    """Every permission granted by any of ``roles``."""
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS[Role(role)]
    return frozenset(granted)


def businesses_of(roles: Iterable[Role | str]) -> frozenset[Business]:
    """The businesses whose procedures and cases the holder of ``roles`` may see."""
    seen: set[Business] = set()
    for role in roles:
        seen |= ROLE_BUSINESSES[Role(role)]
    return frozenset(seen)


def may_see_business(roles: Iterable[Role | str], business: Business | str) -> bool:
    """Whether a procedure received by ``business`` (its core system) is visible to ``roles``."""
    try:
        wanted = Business(business)
    except ValueError:
        wanted = Business.GENERAL  # a business not listed here is handled by generic clerks
    return wanted in businesses_of(roles)


def role_for(roles: Iterable[Role | str], permission: Permission) -> Role | None:
    """The role under which an actor holding ``roles`` exercises ``permission`` (for audit entries).

    Picks the first granting role in a stable order, so the same staff member's entries name the
    same role for the same kind of act.
    """
    for role in sorted({Role(r) for r in roles}, key=lambda r: list(Role).index(r)):
        if permission in ROLE_PERMISSIONS[role]:
            return role
    return None
