"""Fixtures of the issuance tests: one installation per module and backend, a family registered.

Adding a tenant takes about two seconds, so the installation is built once per module (SQLite and
PostgreSQL, like ``tests/mynumber/registry/core``); tests register their own households.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jichitai.mynumber.registry.seal import forget_sealers
from jichitai.mynumber.registry.service import RegistryService
from jichitai.platform.pdf import fonts
from jichitai.platform.storage import Storage
from tests.conftest import BACKENDS, add_demo_tenant, close_storage, make_settings, make_storage
from tests.mynumber.registry.issuance.support import NOW


@pytest.fixture(scope="session", autouse=True)
def _fonts_once() -> None:
    fonts.register_fonts()


@pytest.fixture(scope="package", params=BACKENDS)
def iss_storage(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Storage]:
    home: Path = tmp_path_factory.mktemp("issuance") / "home"
    st = make_storage(make_settings(home, str(request.param)))
    try:
        add_demo_tenant(st)
        yield st
    finally:
        forget_sealers()
        close_storage(st)


@pytest.fixture
def svc(iss_storage: Storage) -> RegistryService:
    return RegistryService(iss_storage, clock=lambda: NOW)


@pytest.fixture(scope="session")
def text_of() -> Callable[[bytes], str]:
    def extract(pdf: bytes) -> str:
        out = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
        )
        return out.stdout.decode()

    return extract


@pytest.fixture(scope="session")
def page_count() -> Callable[[bytes], int]:
    def count(pdf: bytes) -> int:
        out = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
        return int(next(line.split()[-1] for line in out.splitlines() if line.startswith("Pages:")))

    return count
