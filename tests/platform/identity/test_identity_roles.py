from __future__ import annotations

import pytest

from jichitai.platform.errors import ValidationError
from jichitai.platform.identity.roles import (
    ROLE_PERMISSIONS,
    Business,
    Permission,
    Role,
    may_see_business,
    parse_roles,
    permissions_of,
    role_for,
)


def test_every_permission_is_scope_resource_action_with_a_label() -> None:
    for p in Permission:
        assert len(p.value.split(":")) == 3, p
        assert p.label_ja


def test_role_labels() -> None:
    assert Role.TENANT_ADMIN.label_ja == "団体管理者"
    assert Role.REGISTRY_CLERK.label_ja == "住民記録担当"
    assert Role.CHILD_ALLOWANCE_CLERK.label_ja == "児童手当担当"
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_permissions_of_unites_roles() -> None:
    clerk = permissions_of([Role.REGISTRY_CLERK])
    assert Permission.REGISTRY_CERTIFICATE_ISSUE in clerk
    assert Permission.CHILD_ALLOWANCE_CASE_DECIDE not in clerk
    both = permissions_of(["registry_clerk", "child_allowance_clerk"])
    assert {Permission.REGISTRY_CERTIFICATE_ISSUE, Permission.CHILD_ALLOWANCE_CASE_DECIDE} <= both


def test_separation_of_duties() -> None:
    admin = permissions_of([Role.TENANT_ADMIN])
    auditor = permissions_of([Role.AUDITOR])
    assert Permission.TENANT_STAFF_MANAGE in admin
    assert not any(p.value.startswith(("registry:", "child_allowance:")) for p in admin)
    assert auditor == {Permission.AUDIT_LOG_READ, Permission.PROCEDURES_CATALOG_READ}


def test_business_visibility() -> None:
    assert may_see_business([Role.CHILD_ALLOWANCE_CLERK], Business.CHILD_ALLOWANCE)
    assert not may_see_business([Role.CHILD_ALLOWANCE_CLERK], "registry")
    assert may_see_business([Role.APPLICATION_CLERK], "care_insurance")
    assert may_see_business([Role.GENERIC_CLERK], "some_unlisted_business")


def test_role_for_names_the_granting_role() -> None:
    roles = [Role.CHILD_ALLOWANCE_CLERK, Role.REGISTRY_CLERK]
    assert role_for(roles, Permission.REGISTRY_CERTIFICATE_ISSUE) is Role.REGISTRY_CLERK
    assert role_for(roles, Permission.CHILD_ALLOWANCE_CASE_DECIDE) is Role.CHILD_ALLOWANCE_CLERK
    assert role_for(roles, Permission.AUDIT_LOG_READ) is None


def test_unknown_role_is_refused_in_japanese_too() -> None:
    with pytest.raises(ValidationError) as exc:
        parse_roles(["mayor"])
    assert exc.value.message_ja == "役割 mayor は定義されていません"
