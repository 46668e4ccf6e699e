"""A My Number zone app on a real SQLite installation, with staff who log in through the login form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jichitai.mynumber import web
from jichitai.mynumber.registry.seal import forget_sealers
from jichitai.platform.context import STAFF_ADMIN, TenantContext, operator
from jichitai.platform.identity.roles import Role
from jichitai.platform.identity.service import IdentityService
from jichitai.platform.identity.testing import TEST_PASSWORD, fast_hasher
from jichitai.platform.pdf import fonts
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.web.app import create_base_app
from jichitai.platform.web.staff_auth import install_staff_auth
from jichitai.platform.zones import Zone
from tests.conftest import add_demo_tenant, close_storage, make_settings, make_storage

STAFF = {
    "juki": [Role.REGISTRY_CLERK],
    "teate": [Role.CHILD_ALLOWANCE_CLERK],  # may read the register, not change it or issue
    "ippan": [Role.GENERIC_CLERK],  # no registry permission at all
}


@pytest.fixture(scope="session", autouse=True)
def _fonts_once() -> None:
    fonts.register_fonts()


@pytest.fixture(scope="module")
def screen_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Storage]:
    home: Path = tmp_path_factory.mktemp("screens") / "home"
    st = make_storage(make_settings(home, "sqlite"))
    try:
        add_demo_tenant(st)
        ctx = TenantContext(TenantCode("131016"), operator("test"), STAFF_ADMIN)
        with st.unit_of_work(ctx, Zone.MYNUMBER) as uow:
            service = IdentityService.of(uow, hasher=fast_hasher())
            for login, roles in STAFF.items():
                service.create_staff(login, "鈴木 花子", roles, TEST_PASSWORD)
        yield st
    finally:
        forget_sealers()
        close_storage(st)


@pytest.fixture(scope="module")
def app(screen_storage: Storage) -> FastAPI:
    application = create_base_app("住民記録システム")
    install_staff_auth(application, lambda: screen_storage, Zone.MYNUMBER, hasher=fast_hasher())
    web.register(application, screen_storage)
    return application


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def log_in(client: TestClient, login_id: str) -> None:
    page = client.get("/staff/login")
    answer = client.post(
        "/staff/login",
        data={
            "tenant_code": "131016",
            "login_id": login_id,
            "password": TEST_PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "",
        },
    )
    assert answer.status_code == 303, answer.text


@pytest.fixture
def clerk(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        log_in(c, "juki")
        yield c


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c
