"""The login screen and the token endpoint on the real storage (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from jichitai.platform.context import STAFF_ADMIN, Actor, ActorKind, TenantContext
from jichitai.platform.identity.service import IdentityService
from jichitai.platform.identity.testing import TEST_PASSWORD, fast_hasher
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.web.api_auth import install_api_auth
from jichitai.platform.web.app import create_base_app
from jichitai.platform.web.staff_auth import install_staff_auth
from jichitai.platform.zones import Zone

ADMIN = TenantContext(TenantCode("131016"), Actor("cli", ActorKind.OPERATOR, "operator"), STAFF_ADMIN)


def test_login_and_token_on_real_storage(storage: Storage) -> None:
    with storage.unit_of_work(ADMIN, Zone.LGWAN) as uow:
        svc = IdentityService.of(uow, hasher=fast_hasher())
        svc.create_staff("suzuki", "鈴木 花子", ["registry_clerk"], TEST_PASSWORD)
        new = svc.create_client("申請管理システム", ["applications:submission:pull"])
    app = create_base_app("申請管理システム")
    install_staff_auth(app, lambda: storage, Zone.LGWAN, hasher=fast_hasher())
    install_api_auth(app, lambda: storage, Zone.LGWAN, hasher=fast_hasher())
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        page = client.get("/staff/login")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match is not None
        form = {"tenant_code": "131016", "login_id": "suzuki", "csrf_token": match.group(1)}
        assert client.post("/staff/login", data={**form, "password": "wrong password!"}).status_code == 400
        assert client.post("/staff/login", data={**form, "password": TEST_PASSWORD}).status_code == 303
        home = client.get("/staff/")
        assert home.status_code == 200
        assert "千代田区" in home.text
        token = client.post(
            "/api/v1/token",
            data={
                "grant_type": "client_credentials",
                "client_id": new.client.client_id,
                "client_secret": new.client_secret,
            },
        )
        assert token.status_code == 200
