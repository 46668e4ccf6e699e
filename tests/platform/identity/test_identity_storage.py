"""Identity through the real storage: per-tenant databases, the unit of work and the audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from jichitai.platform.context import STAFF_ADMIN, STAFF_AUTH, Actor, ActorKind, TenantContext
from jichitai.platform.identity.models import StaffAccount
from jichitai.platform.identity.service import IdentityService, LoginStatus
from jichitai.platform.identity.testing import TEST_PASSWORD, fast_hasher
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

ADMIN = TenantContext(TenantCode("131016"), Actor("cli", ActorKind.OPERATOR, "operator"), STAFF_ADMIN)
AUTH = TenantContext(TenantCode("131016"), Actor("suzuki", ActorKind.STAFF), STAFF_AUTH)


def audit_actions(storage: Storage, zone: Zone) -> list[str]:
    from jichitai.platform.audit.models import AuditEntry

    with storage.unit_of_work(ADMIN, zone) as uow:
        return [e.action for e in uow.session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


def test_login_failures_and_success_reach_the_audit_log(storage: Storage) -> None:
    with storage.unit_of_work(ADMIN, Zone.LGWAN) as uow:
        IdentityService.of(uow, hasher=fast_hasher()).create_staff(
            "suzuki", "鈴木 花子", ["registry_clerk"], TEST_PASSWORD
        )
    with storage.unit_of_work(AUTH, Zone.LGWAN) as uow:
        failed = IdentityService.of(uow, hasher=fast_hasher()).login("suzuki", "wrong password!")
    assert failed.status is LoginStatus.FAILED
    with storage.unit_of_work(AUTH, Zone.LGWAN) as uow:
        ok = IdentityService.of(uow, hasher=fast_hasher()).login("suzuki", TEST_PASSWORD)
    assert ok.ok
    actions = audit_actions(storage, Zone.LGWAN)
    assert "staff_created" in actions
    assert actions[-3:] == ["login_failed", "login_ok", "session_created"]


def test_accounts_are_per_zone(storage: Storage) -> None:
    with storage.unit_of_work(ADMIN, Zone.LGWAN) as uow:
        IdentityService.of(uow, hasher=fast_hasher()).create_staff(
            "suzuki", "鈴木 花子", ["registry_clerk"], TEST_PASSWORD
        )
    with storage.unit_of_work(ADMIN, Zone.MYNUMBER) as uow:
        assert uow.session.scalars(select(StaffAccount)).all() == []
        with pytest.raises(Exception, match="suzuki"):
            IdentityService.of(uow, hasher=fast_hasher()).get_staff("suzuki")
