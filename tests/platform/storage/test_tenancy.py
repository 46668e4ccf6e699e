"""Disabling a tenant keeps its data and stops everything but audit, key management and export."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from jichitai.platform.audit.models import AuditEntry
from jichitai.platform.errors import Conflict, PermissionDenied
from jichitai.platform.storage.engine import Storage
from jichitai.platform.tenancy import disable_tenant, enable_tenant
from jichitai.platform.zones import Zone
from tests.conftest import ctx


def test_disable_keeps_data_and_refuses_work(sqlite_storage: Storage) -> None:
    with sqlite_storage.unit_of_work(ctx("platform.identity.admin"), Zone.MYNUMBER) as uow:
        uow.record("read", "registry.person", "P1", person="A1")
    disable_tenant(sqlite_storage, "131016")
    with (
        pytest.raises(PermissionDenied, match="disabled"),
        sqlite_storage.unit_of_work(ctx("platform.identity.admin"), Zone.MYNUMBER),
    ):
        pass
    # audit review still runs, and finds everything that was there
    with sqlite_storage.unit_of_work(ctx("platform.audit.review"), Zone.MYNUMBER) as uow:
        people = uow.session.scalar(select(func.count()).where(AuditEntry.person == "A1"))
    assert people == 1
    with pytest.raises(Conflict):
        disable_tenant(sqlite_storage, "131016")
    enable_tenant(sqlite_storage, "131016")
    with sqlite_storage.unit_of_work(ctx("platform.identity.admin"), Zone.MYNUMBER) as uow:
        uow.record("read", "registry.person", "P1", person="A1")


def test_a_failed_use_case_leaves_no_audit_entry_and_no_change(sqlite_storage: Storage) -> None:
    def failing_use_case() -> None:
        with sqlite_storage.unit_of_work(ctx("platform.audit.review"), Zone.LGWAN) as uow:
            uow.record("read", "registry.person", "P9", person="ghost")
            raise RuntimeError("the use case failed half-way")

    with pytest.raises(RuntimeError):
        failing_use_case()
    with sqlite_storage.unit_of_work(ctx("platform.audit.review"), Zone.LGWAN) as uow:
        ghosts = uow.session.scalar(select(func.count()).where(AuditEntry.person == "ghost"))
    assert ghosts == 0
