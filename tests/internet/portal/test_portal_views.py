"""The portal's screens over the real internet-zone app: browse, log in, fill, review, sign, submit,
receipt, history and replies; without JavaScript wherever the card is not involved."""

from __future__ import annotations

import asyncio
import base64
import re
import subprocess
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from fastapi.testclient import TestClient
from sqlalchemy import select

from jichitai.contracts.submission import SubmissionStatus
from jichitai.internet.portal import formfields as ff
from jichitai.internet.portal.models import PortalDraft
from jichitai.internet.portal.sessions import active_sessions
from jichitai.internet.purposes import STATUS_POST
from jichitai.internet.submissions import list_for_resident, post_event
from jichitai.platform.context import Actor, ActorKind, TenantContext
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone
from jichitai.procedures import default_catalog, sample_application
from tests.conftest import ctx
from tests.internet.api_support import publish_lgwan_signing_key, signed_event
from tests.internet.conftest import Pki, pem
from tests.internet.factories import PDF
from tests.internet.portal.conftest import BASE, CLAIM, TENANT, csrf_of, log_in

SCHEMA = default_catalog().get(CLAIM).form
FORM = f"{BASE}/procedures/{CLAIM}/form"


def fill(client: TestClient, data: dict[str, Any], action: str = "next", files: Any = None) -> Any:
    page = client.get(FORM)
    fields = [*ff.to_post(SCHEMA, data), ("csrf_token", csrf_of(page.text)), ("action", action)]
    return client.post(FORM, data=_multi(fields), files=files, follow_redirects=False)


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


def sign_and_submit(client: TestClient, pki: Pki) -> Any:
    review = client.get(f"{BASE}/procedures/{CLAIM}/review")
    assert review.status_code == 200, review.text
    data = base64.b64decode(re.search(r'data-sign-data="([^"]+)"', review.text).group(1))  # type: ignore[union-attr]
    form = {
        name: re.search(rf'name="{name}" value="([^"]*)"', review.text).group(1)  # type: ignore[union-attr]
        for name in ("csrf_token", "form_sha256", "idempotency_key")
    }
    signature = pki.sign_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    form |= {"signature": base64.b64encode(signature).decode(), "certificate": pem(pki.sign_cert)}
    return client.post(f"{BASE}/procedures/{CLAIM}/submit", data=form, follow_redirects=False)


def test_a_resident_finds_the_municipality_and_its_procedures_without_logging_in(client: TestClient) -> None:
    found = client.get("/", params={"q": "102-0082"})
    assert found.status_code == 200 and f'href="/m/{TENANT}/"' in found.text
    assert '<html lang="ja">' in found.text and "本文へスキップ" in found.text
    home = client.get(f"{BASE}/", params={"event": "出産"})
    assert "児童手当等の受給資格及び児童手当の額についての認定請求" in home.text
    assert "要介護・要支援認定の申請" not in home.text  # filtered to the life event
    page = client.get(f"{BASE}/procedures/{CLAIM}")
    assert "児童手当法第7条" in page.text and f"{FORM}" in page.text
    assert client.get("/m/999999/").status_code == 404
    assert client.get(f"{BASE}/procedures/vehicle_tax_address_change").status_code == 404  # prefectural


def test_the_form_asks_for_login_and_comes_back(client: TestClient) -> None:
    answer = client.get(FORM, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"{BASE}/login?next=")
    login = client.get(answer.headers["location"])
    assert "利用者証明用暗証番号" in login.text
    csp = login.headers["content-security-policy"]
    assert "connect-src 'self' http://127.0.0.1:8765" in csp and "script-src 'self'" in csp


def test_login_refuses_other_bytes_a_foreign_ca_and_a_reused_challenge(client: TestClient, pki: Pki) -> None:
    got = client.post(f"{BASE}/login/challenge", json={}).json()
    wrong = pki.auth_key.sign(b"not the challenge", padding.PKCS1v15(), hashes.SHA256())
    body = {
        "challenge_id": got["challenge_id"],
        "signature": base64.b64encode(wrong).decode(),
        "certificate": pem(pki.auth_cert),
    }
    refused = client.post(f"{BASE}/login", json=body)
    assert refused.status_code == 403 and refused.json()["error"] == "bad_signature"
    again = client.post(f"{BASE}/login", json=body)
    assert again.status_code == 403 and "有効期限" in again.json()["message_ja"]  # one try per challenge
    got = client.post(f"{BASE}/login/challenge", json={}).json()
    challenge = base64.b64decode(got["challenge"])
    foreign = client.post(
        f"{BASE}/login",
        json={
            "challenge_id": got["challenge_id"],
            "signature": base64.b64encode(
                pki.foreign_key.sign(challenge, padding.PKCS1v15(), hashes.SHA256())
            ).decode(),
            "certificate": pem(pki.foreign_cert),
        },
    )
    assert foreign.status_code == 403
    assert client.post(f"{BASE}/login/challenge", data={"x": "1"}).status_code == 415
    # a lone surrogate (failed at the database lookup) and deep nesting (RecursionError): 400, not 500
    for crafted in (b'{"challenge_id":"\\udc80","signature":"AA==","certificate":"x"}', b"[" * 1000):
        answer = client.post(f"{BASE}/login", content=crafted, headers={"content-type": "application/json"})
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert "jt_resident" not in client.cookies


def test_login_sets_an_httponly_cookie_for_this_municipality_only(client: TestClient, pki: Pki) -> None:
    log_in(client, pki)
    cookie = next(c for c in client.cookies.jar if c.name == "jt_resident")
    assert cookie.path == BASE and cookie.has_nonstandard_attr("HttpOnly")
    history = client.get(f"{BASE}/applications")
    assert history.status_code == 200 and "まだ申請はありません" in history.text
    token = csrf_of(history.text)
    client.post(f"{BASE}/logout", data={"csrf_token": token})
    assert client.get(FORM, follow_redirects=False).status_code == 303


def test_a_claim_is_filled_reviewed_signed_and_submitted(
    logged_in: TestClient, internet_sqlite: Storage, pki: Pki
) -> None:
    data = sample_application(default_catalog().get(CLAIM))
    data["payee"]["use_public_fund_account"] = False  # so the passbook copy is required
    missing = fill(logged_in, data)
    assert missing.status_code == 422 and "振込先口座の通帳等の写しを添付してください" in missing.text
    answer = fill(logged_in, data, files={"attachments.passbook_copy": ("通帳.pdf", PDF, "application/pdf")})
    assert answer.status_code == 303 and answer.headers["location"].endswith("/review")
    review = logged_in.get(answer.headers["location"])
    assert data["claimant"]["name"] in review.text and "通帳.pdf" in review.text
    assert "署名用電子証明書のパスワード" in review.text

    done = sign_and_submit(logged_in, pki)
    assert done.status_code == 303, done.text
    page = logged_in.get(done.headers["location"])
    number = re.search(r'id="receipt-number">([^<]+)<', page.text).group(1)  # type: ignore[union-attr]
    assert f"-{TENANT}-" in number
    assert "申請を受け付けました" in page.text and "令和" in page.text

    pdf = logged_in.get(f"{BASE}/applications/{number}/receipt.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf.content, capture_output=True, check=True
    ).stdout.decode()
    assert number in text and "千代田区" in text and "申請受付票" in text
    assert data["claimant"]["individual_number"] not in text
    assert data["claimant"]["individual_number"][-4:] in text

    history = logged_in.get(f"{BASE}/applications")
    assert number in history.text and "受付済み" in history.text
    assert logged_in.get(FORM).text.count('value="山田') == 0  # the draft went with the submission
    assert len(list_for_resident(internet_sqlite, TENANT, _resident_key(internet_sqlite))) == 1


def _resident_key(storage: Storage) -> str:
    from jichitai.internet.portal.models import PortalSession

    with storage.unit_of_work(ctx("internet.portal.login"), Zone.INTERNET) as uow:
        row = uow.session.scalars(select(PortalSession)).first()
        assert row is not None
        return uow.keyring.field_decrypt("portal_sessions", "resident_key", row.id, row.resident_key)


def test_errors_sit_next_to_their_fields_with_a_summary_that_links_to_them(logged_in: TestClient) -> None:
    data = sample_application(default_catalog().get(CLAIM))
    data["claimant"]["postal_code"] = "12-345"
    answer = fill(logged_in, data)
    assert answer.status_code == 422
    html = answer.text
    assert 'class="error-summary"' in html and "autofocus" in html
    assert 'href="#f-claimant-postal_code"' in html
    assert "<title>エラー: " in html
    field = re.search(r'<input[^>]*id="f-claimant-postal_code"[^>]*>', html).group(0)  # type: ignore[union-attr]
    assert 'aria-invalid="true"' in field and "f-claimant-postal_code-error" in field
    assert 'id="f-claimant-postal_code-error"' in html and "郵便番号は7桁の数字で入力してください" in html
    assert 'value="12-345"' in html  # what was typed stays


def test_rows_are_added_and_removed_without_javascript(logged_in: TestClient) -> None:
    answer = fill(logged_in, {"children": [{"name": "山田 一郎"}]}, action="add:children")
    assert answer.status_code == 303 and answer.headers["location"].endswith("#f-children-1")
    page = logged_in.get(FORM)
    assert 'id="f-children-1"' in page.text and "児童2を削除" in page.text
    assert 'value="山田 一郎"' in page.text
    fields = [("children.0.name", "山田 一郎"), ("__rows.children", "2"), ("children.1.name", "山田 二郎")]
    logged_in.post(
        FORM,
        data=_multi([*fields, ("csrf_token", csrf_of(page.text)), ("action", "remove:children.0")]),
    )
    page = logged_in.get(FORM)
    assert 'value="山田 二郎"' in page.text and 'value="山田 一郎"' not in page.text
    assert 'id="f-children-1"' not in page.text
    # crafted posts: "²" is a digit to str.isdigit but not to int(), and int() refuses 5,000 digits;
    # both used to answer 500. They are now no row index (or no rows) at all.
    # a text field posted as a file part (AttributeError in the form reader) is absent
    as_file = logged_in.post(
        FORM,
        data={"csrf_token": csrf_of(page.text), "action": "save"},
        files={
            "claimant.name": ("a.txt", b"x", "text/plain"),
            "__rows.children": ("b.txt", b"1", "text/plain"),
        },
        follow_redirects=False,
    )
    assert as_file.status_code == 303
    for action, rows in (
        ("remove:children.²", "1"),
        ("add:children", "9" * 5000),
        ("remove:children.²²", "²"),
    ):
        answer = logged_in.post(
            FORM,
            data=_multi([("children.0.name", "山田 二郎"), ("__rows.children", rows),
                         ("csrf_token", csrf_of(page.text)), ("action", action)]),
            follow_redirects=False,
        )  # fmt: skip
        assert answer.status_code == 303, (action, answer.status_code)
        assert logged_in.get(FORM).status_code == 200


def test_drafts_are_kept_encrypted_and_forms_need_the_session_token(
    logged_in: TestClient, internet_sqlite: Storage
) -> None:
    answer = fill(logged_in, {"claimant": {"name": "暗号 太郎"}}, action="save")
    assert answer.status_code == 303 and "saved=1" in answer.headers["location"]
    assert "一時保存しました" in logged_in.get(answer.headers["location"]).text
    with internet_sqlite.unit_of_work(ctx("internet.portal.draft"), Zone.INTERNET) as uow:
        row = uow.session.scalars(select(PortalDraft)).one()
        assert "暗号 太郎".encode() not in row.data and b"claimant" not in row.data
    forged = logged_in.post(FORM, data={"claimant.name": "x", "action": "save"}, follow_redirects=False)
    assert forged.status_code == 403
    history = logged_in.get(f"{BASE}/applications")
    assert "作成中の申請" in history.text and "児童手当" in history.text


def test_a_request_for_correction_is_shown_and_answered(
    logged_in: TestClient, internet_sqlite: Storage, pki: Pki
) -> None:
    data = sample_application(default_catalog().get(CLAIM))
    data["payee"]["use_public_fund_account"] = True
    data["payee"].pop("bank_account", None)
    assert fill(logged_in, data).status_code == 303
    done = sign_and_submit(logged_in, pki)
    number = done.headers["location"].split("/")[-2]
    publish_lgwan_signing_key(internet_sqlite, TENANT)
    event = signed_event(
        internet_sqlite,
        TENANT,
        number,
        SubmissionStatus.CORRECTION_REQUESTED,
        event_id="ev-1",
        message_ja="児童の生年月日を確認できる書類を添付してください。",
        reply_requested=True,
    )
    lgwan = TenantContext(
        TenantCode(TENANT), Actor("lgwan", ActorKind.SYSTEM, "application_management"), STATUS_POST
    )
    post_event(internet_sqlite, lgwan, number, event)

    history = logged_in.get(f"{BASE}/applications")
    assert "回答が必要です" in history.text
    page = logged_in.get(f"{BASE}/applications/{number}")
    assert "児童の生年月日を確認できる書類を添付してください。" in page.text
    token = csrf_of(page.text)
    empty = logged_in.post(
        f"{BASE}/applications/{number}/reply",
        data={"csrf_token": token, "in_reply_to": "ev-1", "message": " "},
    )
    assert empty.status_code == 422 and 'href="#f-reply-ev-1"' in empty.text
    assert "回答を入力してください" in empty.text
    sent = logged_in.post(
        f"{BASE}/applications/{number}/reply",
        data={"csrf_token": token, "in_reply_to": "ev-1", "message": "母子手帳の写しを添付します。"},
        files={"files": ("母子手帳.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    page = logged_in.get(sent.headers["location"])
    assert "回答を送信しました" in page.text and "回答済み" in page.text


def test_someone_elses_receipt_is_not_found(logged_in: TestClient, internet_sqlite: Storage) -> None:
    assert logged_in.get(f"{BASE}/applications/20260101-{TENANT}-AAAAAAAA/receipt.pdf").status_code == 404
    assert active_sessions(internet_sqlite, TENANT) == 1


def test_the_portal_touches_the_database_in_worker_threads_only(
    client: TestClient, internet_sqlite: Storage, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A database write may wait for the tenant's write turn (the submission writer holds it for
    # a batch): on the event loop that wait would stall every request of the process.
    on_loop: list[str] = []
    original = Storage.unit_of_work

    def guarded(self: Storage, ctx_: TenantContext, zone: Zone) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            on_loop.append(ctx_.purpose.code)
        return original(self, ctx_, zone)

    monkeypatch.setattr(Storage, "unit_of_work", guarded)
    log_in(client, pki)
    data = sample_application(default_catalog().get(CLAIM))
    data["payee"]["use_public_fund_account"] = False
    answer = fill(client, data, files={"attachments.passbook_copy": ("通帳.pdf", PDF, "application/pdf")})
    assert answer.status_code == 303, answer.text
    done = sign_and_submit(client, pki)
    assert done.status_code == 303, done.text
    number = done.headers["location"].split("/")[-2]
    page = client.get(f"{BASE}/applications/{number}")
    assert page.status_code == 200
    out = client.post(f"{BASE}/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert on_loop == []
