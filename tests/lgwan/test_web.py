"""The back office through HTTP with signed-in staff: inbox, application page, actions, scoping, CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from jichitai.apps import create_app
from jichitai.contracts.submission import SubmissionStatus
from jichitai.lgwan.pull import pull_once
from jichitai.platform.context import TenantContext, system
from jichitai.platform.identity.roles import Role
from jichitai.platform.identity.service import IdentityService
from jichitai.platform.identity.testing import TEST_PASSWORD, fast_hasher
from jichitai.platform.messaging.models import OutboxMessage
from jichitai.platform.messaging.purposes import MESSAGING_TRANSFER
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from tests.internet.api_support import CHIYODA
from tests.internet.conftest import Pki
from tests.lgwan.conftest import Portal, admin_ctx
from tests.lgwan.test_pull import lgwan_apps

CARE = "care_certification_new"


def add_staff(storage: Storage, login: str, *roles: Role) -> None:
    with storage.unit_of_work(admin_ctx(), Zone.LGWAN) as uow:
        IdentityService.of(uow, hasher=fast_hasher()).create_staff(
            login, f"{login} 職員", [r.value for r in roles], TEST_PASSWORD
        )


def login(client: TestClient, login_id: str) -> str:
    page = client.get("/staff/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = client.post(
        "/staff/login",
        data={
            "tenant_code": CHIYODA,
            "login_id": login_id,
            "password": TEST_PASSWORD,
            "csrf_token": token.group(1),
        },
    )
    assert answer.status_code == 303, answer.text
    home = client.get("/staff/applications")
    found = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert found is not None
    return found.group(1)


@pytest.fixture
def lgwan_app(portal: Portal) -> Iterator[TestClient]:
    app = create_app(Zone.LGWAN, portal.storage)
    app.state.lgwan_portal_http = lambda: portal.http  # status events reach the test portal at once
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as client:
        yield client


def outbox(storage: Storage) -> list[OutboxMessage]:
    ctx = TenantContext.of(CHIYODA, system("linkage-server"), MESSAGING_TRANSFER.code)
    with storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        rows = list(uow.session.scalars(select(OutboxMessage)))
        uow.session.expunge_all()
        return rows


def portal_events(portal: Portal, receipt: str) -> list[tuple[str, str]]:
    from jichitai.internet.purposes import SUBMISSION_PULL
    from jichitai.internet.submissions import receiving

    ctx = TenantContext.of(CHIYODA, system("test"), SUBMISSION_PULL.code)
    return [(e.status.value, e.message_ja) for e in receiving.list_events(portal.storage, ctx, receipt)]


def test_clerk_reviews_accepts_and_hands_over(portal: Portal, pki: Pki, lgwan_app: TestClient) -> None:
    receipt = portal.submit(pki)
    care = portal.submit(pki, CARE)
    pull_once(portal.storage, CHIYODA, http=portal.http)
    apps = {a.receipt_number: a for a in lgwan_apps(portal.storage)}
    add_staff(portal.storage, "sato", Role.APPLICATION_CLERK)
    csrf = login(lgwan_app, "sato")

    inbox = lgwan_app.get("/staff/applications")
    assert inbox.status_code == 200
    assert receipt in inbox.text and care in inbox.text and "手続ごとの件数" in inbox.text
    found = lgwan_app.get("/staff/applications", params={"q": "山田　花子", "status": ""})
    assert receipt in found.text  # by the signer's name, spaces of any width ignored
    assert receipt in lgwan_app.get("/staff/applications", params={"q": receipt[-8:]}).text

    app_id = apps[receipt].id
    page = lgwan_app.get(f"/staff/applications/{app_id}")
    assert page.status_code == 200
    text = page.text
    assert "請求者" in text and "山田" in text and "署名用電子証明書" in text
    assert "********" in text  # 個人番号 masked on screen
    assert "該当なし" in text  # no link table loaded yet
    assert "ダウンロード" in text
    download = re.search(r'href="(/staff/applications/[^"]+/attachments/[^"]+)"', text)
    assert download is not None
    copy = lgwan_app.get(download.group(1))
    assert (
        copy.status_code == 200
        and copy.content.startswith(b"\xff\xd8")
        and "attachment" in copy.headers["content-disposition"]
    )

    refused = lgwan_app.post(f"/staff/applications/{app_id}/accept")  # no CSRF token
    assert refused.status_code == 403
    accepted = lgwan_app.post(f"/staff/applications/{app_id}/accept", data={"csrf_token": csrf})
    assert accepted.status_code == 303
    assert "受理しました" in lgwan_app.get(accepted.headers["location"]).text
    handed = lgwan_app.post(f"/staff/applications/{app_id}/handover", data={"csrf_token": csrf})
    assert handed.status_code == 303
    [message] = outbox(portal.storage)
    assert message.message_type == "accepted_application" and message.destination == "mynumber"
    assert lgwan_apps(portal.storage)[0].status in {"handed_over", "delivered"}
    assert {a.receipt_number: a.status for a in lgwan_apps(portal.storage)}[receipt] == "handed_over"
    statuses = [s for s, _ in portal_events(portal, receipt)]
    assert statuses == ["accepted", "handed_over"]


def test_correction_request_reaches_the_portal(portal: Portal, pki: Pki, lgwan_app: TestClient) -> None:
    receipt = portal.submit(pki)
    pull_once(portal.storage, CHIYODA, http=portal.http)
    [app] = lgwan_apps(portal.storage)
    add_staff(portal.storage, "sato", Role.APPLICATION_CLERK)
    csrf = login(lgwan_app, "sato")
    empty = lgwan_app.post(
        f"/staff/applications/{app.id}/correction", data={"csrf_token": csrf, "message": " "}
    )
    assert empty.status_code == 400 and "補正を依頼する内容を入力してください" in empty.text
    message = "通帳の写しが読み取れません。撮り直して添付してください。"
    sent = lgwan_app.post(
        f"/staff/applications/{app.id}/correction", data={"csrf_token": csrf, "message": message}
    )
    assert sent.status_code == 303
    assert portal_events(portal, receipt) == [("correction_requested", message)]


def test_clerks_see_only_their_business(portal: Portal, pki: Pki, lgwan_app: TestClient) -> None:
    claim = portal.submit(pki)
    care = portal.submit(pki, CARE)
    pull_once(portal.storage, CHIYODA, http=portal.http)
    apps = {a.receipt_number: a for a in lgwan_apps(portal.storage)}
    add_staff(portal.storage, "tanaka", Role.CHILD_ALLOWANCE_CLERK)
    csrf = login(lgwan_app, "tanaka")
    inbox = lgwan_app.get("/staff/applications")
    assert claim in inbox.text and care not in inbox.text
    assert "受理する" not in inbox.text  # reads, does not decide
    assert lgwan_app.get(f"/staff/applications/{apps[care].id}").status_code == 404
    assert lgwan_app.get(f"/staff/applications/{apps[claim].id}").status_code == 200
    denied = lgwan_app.post(f"/staff/applications/{apps[claim].id}/accept", data={"csrf_token": csrf})
    assert denied.status_code == 403
    assert lgwan_apps(portal.storage)[0].status == SubmissionStatus.DELIVERED.value
    exported = lgwan_app.get("/staff/applications/export.csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == [claim]


def test_bulk_accept_then_bulk_hand_over_and_csv(portal: Portal, pki: Pki, lgwan_app: TestClient) -> None:
    receipts = [portal.submit(pki) for _ in range(3)]
    pull_once(portal.storage, CHIYODA, http=portal.http)
    ids = [a.id for a in lgwan_apps(portal.storage)]
    add_staff(portal.storage, "sato", Role.APPLICATION_CLERK)
    csrf = login(lgwan_app, "sato")
    done = lgwan_app.post(
        "/staff/applications/bulk",
        data={"csrf_token": csrf, "action": "accept", "ids": ids, "back": "status=open"},
    )
    assert done.status_code == 303
    after = lgwan_app.get(done.headers["location"])
    assert "3件を受理しました" in after.text
    again = lgwan_app.post(
        "/staff/applications/bulk", data={"csrf_token": csrf, "action": "accept", "ids": ids[:1]}
    )
    assert "処理できなかった申請(1件)" in lgwan_app.get(again.headers["location"]).text
    handed = lgwan_app.post(
        "/staff/applications/bulk", data={"csrf_token": csrf, "action": "handover", "ids": ids}
    )
    assert handed.status_code == 303
    assert len(outbox(portal.storage)) == 3
    assert {a.status for a in lgwan_apps(portal.storage)} == {"handed_over"}

    exported = lgwan_app.get("/staff/applications/export.csv", params={"status": ""})
    assert exported.status_code == 200
    assert exported.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["受付番号", "手続", "業務"]
    assert sorted(r[0] for r in rows[1:]) == sorted(receipts)
    assert {r[6] for r in rows[1:]} == {"担当課で処理中"} and {r[9] for r in rows[1:]} == {"山田　花子"}
