"""Fixtures of the import/export tests: one installation per module and backend.

Adding a tenant takes seconds, so each module builds its installation once per backend (SQLite and
PostgreSQL) and each test brings its own residents: household numbers get a per-test prefix
(:func:`support.synthetic_file`) and hand-written rows use their own numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jichitai.platform.config import write_settings
from jichitai.platform.storage import Storage
from tests.conftest import BACKENDS, add_demo_tenant, close_storage, make_settings, make_storage


@pytest.fixture(scope="module", params=BACKENDS)
def mig_storage(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Storage]:
    home: Path = tmp_path_factory.mktemp("migration") / "home"
    st = make_storage(make_settings(home, str(request.param)))
    write_settings(st.settings)  # so that a subprocess can open the same installation
    try:
        add_demo_tenant(st)
        yield st
    finally:
        close_storage(st)
