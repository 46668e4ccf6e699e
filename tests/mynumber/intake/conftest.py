"""One installation per module and backend for the intake tests (adding a tenant takes ~2 s)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jichitai.platform.storage import Storage
from tests.conftest import BACKENDS, add_demo_tenant, close_storage, make_settings, make_storage


@pytest.fixture(scope="module", params=BACKENDS)
def intake_storage(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Storage]:
    home: Path = tmp_path_factory.mktemp("intake") / "home"
    st = make_storage(make_settings(home, str(request.param)))
    try:
        add_demo_tenant(st)
        yield st
    finally:
        close_storage(st)
