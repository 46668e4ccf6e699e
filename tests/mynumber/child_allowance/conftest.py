"""Fixtures of the child allowance service tests: one installation per module and backend.

Adding a tenant takes about two seconds, so each module builds its installation once per backend
(SQLite and PostgreSQL) and every test moves in its own family, so tests do not depend on each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jichitai.mynumber.child_allowance.service import ChildAllowanceService
from jichitai.mynumber.registry.service import RegistryService
from jichitai.platform.storage import Storage
from tests.conftest import BACKENDS, add_demo_tenant, close_storage, make_settings, make_storage
from tests.mynumber.child_allowance.support import NOW


@pytest.fixture(scope="module", params=BACKENDS)
def ca_storage(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Storage]:
    home: Path = tmp_path_factory.mktemp("child_allowance") / "home"
    st = make_storage(make_settings(home, str(request.param)))
    try:
        add_demo_tenant(st)
        yield st
    finally:
        close_storage(st)


@pytest.fixture
def registry(ca_storage: Storage) -> RegistryService:
    return RegistryService(ca_storage, clock=lambda: NOW)


@pytest.fixture
def ca(ca_storage: Storage, registry: RegistryService) -> ChildAllowanceService:
    return ChildAllowanceService(ca_storage, clock=lambda: NOW, registry=registry)
