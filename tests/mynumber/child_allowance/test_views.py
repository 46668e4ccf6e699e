"""The clerk's screens: inbox, case page with registry facts, certify, paper claim, tasks, payment run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jichitai.mynumber.child_allowance import views
from jichitai.mynumber.child_allowance.events import TaskKind, TaskService, consume_registry_events
from jichitai.mynumber.child_allowance.service import ChildAllowanceService
from jichitai.mynumber.intake import views as intake_views
from jichitai.mynumber.registry.service import CancelMoveOut, MoveOut, RegistryService
from jichitai.platform.context import STAFF_ADMIN, Actor, ActorKind, TenantContext
from jichitai.platform.identity.service import IdentityService
from jichitai.platform.identity.testing import TEST_PASSWORD, fast_hasher
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.web.app import create_base_app
from jichitai.platform.web.staff_auth import install_staff_auth
from jichitai.platform.zones import Zone
from tests.conftest import add_demo_tenant, close_storage, make_settings, make_storage
from tests.mynumber.child_allowance.support import (
    NOW,
    application,
    case_id_of,
    case_results,
    change_ctx,
    claim_form,
    clerk_ctx,
    deliver_application,
    key,
    move_in_family,
)

ADMIN = TenantContext(TenantCode("131016"), Actor("cli", ActorKind.OPERATOR, "operator"), STAFF_ADMIN)


@pytest.fixture(scope="module")
def web_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Storage]:
    home: Path = tmp_path_factory.mktemp("ca_views") / "home"
    st = make_storage(make_settings(home, "sqlite"))
    try:
        add_demo_tenant(st)
        with st.unit_of_work(ADMIN, Zone.MYNUMBER) as uow:
            svc = IdentityService.of(uow, hasher=fast_hasher())
            svc.create_staff("tanaka", "田中 一郎", ["child_allowance_clerk"], TEST_PASSWORD)
            svc.create_staff("sato", "佐藤 次郎", ["generic_clerk"], TEST_PASSWORD)
        yield st
    finally:
        close_storage(st)


def client_for(storage: Storage, login_id: str) -> TestClient:
    app = create_base_app("マイナンバー利用事務系")
    install_staff_auth(app, lambda: storage, Zone.MYNUMBER, hasher=fast_hasher())
    views.register(app, storage)
    intake_views.register(app, storage)
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
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
    return client


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def test_claim_is_reviewed_and_certified_on_screen(web_storage: Storage) -> None:
    registry = RegistryService(web_storage, clock=lambda: NOW)
    family = move_in_family(registry, children=(date(2015, 3, 3),))
    app = application(claim_form(family), family.head)
    deliver_application(web_storage, app)
    case_id = case_id_of(web_storage, app.receipt_number)
    client = client_for(web_storage, "tanaka")

    inbox = client.get("/child-allowance/")
    assert inbox.status_code == 200 and app.receipt_number in inbox.text and "未処理" in inbox.text
    page = client.get(f"/child-allowance/cases/{case_id}")
    assert page.status_code == 200
    assert "請求の内容と住民記録" in page.text and "同一世帯" in page.text
    assert "●●●●●●●●9018" in page.text  # 個人番号 masked
    assert family.child_names[0][0] in page.text

    # a POST without the CSRF token is refused
    assert client.post(f"/child-allowance/cases/{case_id}/certify", data={}).status_code == 403
    done = client.post(f"/child-allowance/cases/{case_id}/certify", data={"csrf_token": csrf(page.text)})
    assert done.status_code == 303
    page = client.get(f"/child-allowance/cases/{case_id}")
    assert "認定しました。支給開始月: 令和7年7月分から" in page.text
    notice = re.search(r'href="(/child-allowance/notices/[0-9a-f]+\.pdf)"', page.text)
    assert notice is not None
    pdf = client.get(notice.group(1))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert case_results(web_storage, app.receipt_number)[0].status == "decided"
    # the generic clerk may not open child allowance cases
    assert client_for(web_storage, "sato").get(f"/child-allowance/cases/{case_id}").status_code == 403


def test_refusal_is_shown_with_reasons(web_storage: Storage) -> None:
    registry = RegistryService(web_storage, clock=lambda: NOW)
    family = move_in_family(registry)
    ghost = ("存在　しない子", "ソンザイ　シナイコ", date(2016, 1, 1))
    app = application(claim_form(family, children=(ghost,)), family.head)
    deliver_application(web_storage, app)
    case_id = case_id_of(web_storage, app.receipt_number)
    client = client_for(web_storage, "tanaka")
    page = client.get(f"/child-allowance/cases/{case_id}")
    refused = client.post(f"/child-allowance/cases/{case_id}/certify", data={"csrf_token": csrf(page.text)})
    assert refused.status_code == 400
    assert "処理できませんでした" in refused.text and "住民記録に見つかりません" in refused.text
    # a year too large for any date, and a checkbox value int() refuses: a message, not a 500
    odd = {"csrf_token": csrf(page.text), "filed_on_year": "9" * 20, "filed_on_month": "1",
           "filed_on_day": "1", "apart_statement": ["²", "1" * 5000]}  # fmt: skip
    refused = client.post(f"/child-allowance/cases/{case_id}/certify", data=odd)
    assert refused.status_code == 400 and "日付が正しくありません" in refused.text
    # a page number past SQLite's integers (OverflowError in the query): refused before the query
    assert client.get("/child-allowance/?page=" + "9" * 20).status_code == 400


def test_paper_claim_is_prefilled_from_the_registry(web_storage: Storage) -> None:
    registry = RegistryService(web_storage, clock=lambda: NOW)
    family = move_in_family(registry, children=(date(2016, 6, 6),))
    client = client_for(web_storage, "tanaka")
    page = client.get(f"/child-allowance/paper?atena={family.head}")
    assert page.status_code == 200 and family.child_names[0][0] in page.text
    created = client.post(
        "/child-allowance/paper",
        data={
            "csrf_token": csrf(page.text),
            "atena": family.head,
            "filed_on_year": "2025",
            "filed_on_month": "6",
            "filed_on_day": "2",
            "reason": "その他",
            "child": "0",
            "apart_0": "同居",
            "bank_code": "0001",
            "branch_code": "001",
            "account_type": "普通",
            "account_number": "2345678",
            "account_holder_kana": "ﾔﾏﾀﾞ ﾀﾛｳ",
        },
    )
    assert created.status_code == 303
    case_page = client.get(created.headers["location"])
    assert "紙の請求" in case_page.text and family.child_names[0][0] in case_page.text


def test_payment_run_screens_and_tasks(web_storage: Storage) -> None:
    client = client_for(web_storage, "tanaka")
    page = client.get("/child-allowance/payments")
    assert page.status_code == 200
    settings = {
        "csrf_token": csrf(page.text),
        "requester_code": "1234567890",
        "requester_name": "ﾁﾖﾀﾞｸ",
        "bank_code": "0005",
        "bank_name": "ﾐﾂﾋﾞｼUFJ",
        "branch_code": "123",
        "branch_name": "ｺｳｼﾞﾏﾁ",
        "account_type": "普通",
        "account_number": "7654321",
        "payment_day": "10",
    }
    assert client.post("/child-allowance/payments/settings", data=settings).status_code == 303
    bad = client.post(
        "/child-allowance/payments/start",
        data={"csrf_token": settings["csrf_token"], "year": "2025", "month": "9"},
    )
    assert bad.status_code == 400 and "支払期月" in bad.text
    started = client.post(
        "/child-allowance/payments/start",
        data={"csrf_token": settings["csrf_token"], "year": "2026", "month": "2"},
    )
    assert started.status_code == 303
    run_page = client.get(started.headers["location"])
    assert "令和8年2月期 支払処理" in run_page.text and "確認中" in run_page.text
    again = client.post(
        "/child-allowance/payments/start",
        data={"csrf_token": settings["csrf_token"], "year": "2026", "month": "2"},
    )
    assert again.status_code == 400 and "既に開始されています" in again.text
    run_url = started.headers["location"]
    approved = client.post(f"{run_url}/approve", data={"csrf_token": settings["csrf_token"]})
    assert approved.status_code == 303, approved.text[-1500:]
    zengin = client.get(f"{run_url}/files/zengin")
    assert zengin.status_code == 200 and zengin.content[:1] == b"1"
    assert client.post(f"{run_url}/rerun", data={"csrf_token": settings["csrf_token"]}).status_code == 409
    assert client.get(f"{run_url}/files/csv").text.startswith("\ufeff受給者番号")
    assert client.get("/child-allowance/tasks").status_code == 200


def test_a_cancelled_move_out_task_is_closed_with_a_note(web_storage: Storage) -> None:
    registry = RegistryService(web_storage, clock=lambda: NOW)
    family = move_in_family(registry, children=(date(2016, 5, 5),))
    app = application(claim_form(family), family.head)
    deliver_application(web_storage, app)
    ca = ChildAllowanceService(web_storage, clock=lambda: NOW)
    ca.certify(clerk_ctx(), case_id_of(web_storage, app.receipt_number))
    for request in (
        MoveOut(
            idempotency_key=key(), event_date=date(2025, 6, 20), notified_on=date(2025, 6, 2),
            persons=(family.head,), destination="大阪府大阪市北区梅田1-1-1", remaining_head=family.wife,
        ),
        CancelMoveOut(
            idempotency_key=key(), event_date=date(2025, 6, 20), notified_on=date(2025, 6, 2),
            atena_number=family.head,
        ),
    ):  # fmt: skip
        registry.submit(change_ctx(), request)
    consume_registry_events(web_storage, "131016", registry=registry)
    (task,) = [
        t
        for t in TaskService(ca).tasks(clerk_ctx())
        if t.kind == TaskKind.MOVE_OUT_CANCELLED and t.atena_number == family.head
    ]
    client = client_for(web_storage, "tanaka")
    page = client.get("/child-allowance/tasks")
    section = page.text.split(f'id="task-{task.id}"')[1].split("</section>")[0]
    assert "転出取消（転出による消滅・減額の確認）" in section and "対応した内容" in section
    assert 'name="apply"' not in section  # nothing to apply: closed with what was done
    token = csrf(page.text)
    resolve = f"/child-allowance/tasks/{task.id}/resolve"
    applied = client.post(resolve, data={"csrf_token": token, "apply": "1"})
    assert applied.status_code == 400 and "自動で反映する処理はありません" in applied.text
    closed = client.post(resolve, data={"csrf_token": token, "note": "転出なし、認定継続"})
    assert closed.status_code == 303
    assert f'id="task-{task.id}"' not in client.get("/child-allowance/tasks").text
