"""The generic case inbox screens: view the form, record the outcome by hand → CaseResult."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from jichitai.mynumber.intake import views
from jichitai.platform.context import STAFF_ADMIN, Actor, ActorKind, TenantContext
from jichitai.platform.identity.service import IdentityService
from jichitai.platform.identity.testing import TEST_PASSWORD, fast_hasher
from jichitai.platform.tenants import TenantCode
from jichitai.platform.web.app import create_base_app
from jichitai.platform.web.staff_auth import install_staff_auth
from jichitai.platform.zones import Zone
from tests.conftest import add_demo_tenant, close_storage, make_settings, make_storage
from tests.mynumber.child_allowance.support import application, case_results, deliver_application

ADMIN = TenantContext(TenantCode("131016"), Actor("cli", ActorKind.OPERATOR, "operator"), STAFF_ADMIN)


def login(client: TestClient, login_id: str) -> None:
    page = client.get("/staff/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {
        "tenant_code": "131016",
        "login_id": login_id,
        "password": TEST_PASSWORD,
        "csrf_token": token.group(1),
    }
    assert client.post("/staff/login", data=form).status_code == 303


def test_generic_inbox_screens(tmp_path: Path) -> None:
    storage = make_storage(make_settings(tmp_path / "home", "sqlite"))
    try:
        add_demo_tenant(storage)
        with storage.unit_of_work(ADMIN, Zone.MYNUMBER) as uow:
            svc = IdentityService.of(uow, hasher=fast_hasher())
            svc.create_staff("sato", "佐藤 次郎", ["generic_clerk"], TEST_PASSWORD)
            svc.create_staff("tanaka", "田中 一郎", ["child_allowance_clerk"], TEST_PASSWORD)
        app_form = {"applicant": {"name": "高橋　三郎"}, "reason": "自宅の一部損壊"}
        app = application(
            app_form, None, procedure_id="disaster_victim_certificate", receiving_system="disaster_support"
        )
        deliver_application(storage, app)
        web = create_base_app("マイナンバー利用事務系")
        install_staff_auth(web, lambda: storage, Zone.MYNUMBER, hasher=fast_hasher())
        views.register(web, storage)
        with TestClient(web, base_url="https://testserver", follow_redirects=False) as client:
            login(client, "sato")
            inbox = client.get("/intake/cases")
            assert inbox.status_code == 200 and "罹災証明書の発行申請" in inbox.text
            link = re.search(r'href="(/intake/cases/[0-9a-f]+)"', inbox.text)
            assert link is not None
            page = client.get(link.group(1))
            assert "高橋　三郎" in page.text and "自宅の一部損壊" in page.text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token is not None
            empty = client.post(
                f"{link.group(1)}/outcome",
                data={"csrf_token": token.group(1), "outcome": "completed", "message": ""},
            )
            assert empty.status_code == 400 and "お知らせを入力" in empty.text
            done = client.post(
                f"{link.group(1)}/outcome",
                data={
                    "csrf_token": token.group(1),
                    "outcome": "completed",
                    "message": "証明書を交付しました。",
                },
            )
            assert done.status_code == 303
            assert "結果登録済み" in client.get("/intake/cases?status=done").text
        with TestClient(web, base_url="https://testserver", follow_redirects=False) as other:
            login(other, "tanaka")  # child allowance clerk: not the general business
            assert other.get("/intake/cases").status_code == 403
        (result,) = case_results(storage, app.receipt_number)
        assert result.status == "completed" and result.message_ja == "証明書を交付しました。"
    finally:
        close_storage(storage)
