"""Fixtures of the registry service tests: one installation per module and backend.

Adding a tenant takes about two seconds, so each test module builds its installation once per
backend (SQLite and PostgreSQL, like the ``storage`` fixture, from the same conftest helpers) and
every test uses its own persons, keys and addresses, so tests do not depend on each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jichitai.mynumber.registry.service import RegistryService
from jichitai.platform.storage import Storage
from tests.conftest import BACKENDS, add_demo_tenant, close_storage, make_settings, make_storage
from tests.mynumber.registry.core.support import NOW


@pytest.fixture(scope="module", params=BACKENDS)
def reg_storage(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Storage]:
    home: Path = tmp_path_factory.mktemp("registry") / "home"
    st = make_storage(make_settings(home, str(request.param)))
    try:
        add_demo_tenant(st)
        yield st
    finally:
        close_storage(st)


@pytest.fixture
def svc(reg_storage: Storage) -> RegistryService:
    return RegistryService(reg_storage, clock=lambda: NOW)
