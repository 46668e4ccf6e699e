from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jichitai.platform.identity.testing import TEST_PASSWORD, Clock, MemoryStorage

LOGIN = "/staff/login"


def csrf_of_page(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def login(client: TestClient, login_id: str = "suzuki", password: str = TEST_PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    page = client.get(LOGIN, params={k: v for k, v in extra.items() if k == "next"})
    data = {
        "tenant_code": extra.get("tenant_code", "131016"),
        "login_id": login_id,
        "password": password,
        "csrf_token": csrf_of_page(page.text),
        "next": extra.get("next", ""),
    }
    return client.post(LOGIN, data=data)


def test_login_page_is_japanese_accessible_and_hardened(client: TestClient) -> None:
    page = client.get(LOGIN)
    assert page.status_code == 200
    html = page.text
    assert '<html lang="ja">' in html
    assert '<a class="skip-link" href="#main">本文へスキップ</a>' in html
    assert '<main id="main"' in html
    for label in ("団体コード", "ログインID", "パスワード"):
        assert label in html
    assert '<label class="form-label" for="f-login_id">ログインID' in html
    assert 'autocomplete="current-password"' in html
    assert "<script" not in html
    assert "style=" not in html
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"


def test_wrong_password_shows_error_summary_and_is_audited(
    client: TestClient, mem_storage: MemoryStorage
) -> None:
    answer = login(client, password="not the password")
    assert answer.status_code == 400
    html = answer.text
    assert 'class="error-summary" role="alert"' in html
    assert '<a href="#f-password">団体コード、ログインIDまたはパスワードが正しくありません</a>' in html
    assert 'id="f-password-error"' in html
    assert 'aria-describedby="f-password-error"' in html
    assert 'aria-invalid="true"' in html
    assert "<title>エラー: 職員ログイン" in html
    assert 'value="suzuki"' in html  # the login id is kept, the password is not
    assert "not the password" not in html
    # the failure was committed to the audit log although the login failed
    assert mem_storage.actions() == ["login_failed"]
    assert mem_storage.audit[0].entry.detail["reason"] == "wrong_password"


def test_empty_and_malformed_fields(client: TestClient, mem_storage: MemoryStorage) -> None:
    answer = login(client, login_id="", password="", tenant_code="131017")
    assert answer.status_code == 400
    html = answer.text
    assert "団体コードは検査数字を含む6桁の数字で入力してください" in html
    assert '<a href="#f-login_id">ログインIDを入力してください</a>' in html
    assert "次の3件を確認してください" in html
    unknown = login(client, tenant_code="011002")  # valid code, not served here
    assert "この団体コードの団体はこのシステムに登録されていません" in unknown.text
    assert mem_storage.actions() == []


def test_full_width_tenant_code_is_accepted(client: TestClient) -> None:
    assert login(client, tenant_code="１３１０１６").status_code == 303


def test_login_sets_hardened_cookie_and_shows_home(client: TestClient, mem_storage: MemoryStorage) -> None:
    answer = login(client)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/staff/"
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and "jichitai_staff=" in v)
    assert cookie.startswith("__Host-jichitai_staff=131016.")
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=strict" in cookie
    assert "Max-Age" not in cookie
    home = client.get("/staff/")
    assert home.status_code == 200
    assert "千代田区" in home.text  # municipality in the header
    assert "住民記録担当" in home.text
    assert "住民票の写し等の交付" in home.text
    assert "児童手当の認定・決定" not in home.text
    assert mem_storage.actions() == ["login_ok", "session_created"]


def test_login_returns_to_next_but_never_to_another_site(client: TestClient) -> None:
    assert login(client, next="/staff/registry").headers["location"] == "/staff/registry"
    assert login(client, next="//evil.example/x").headers["location"] == "/staff/"
    assert login(client, next="https://evil.example/").headers["location"] == "/staff/"


def test_login_without_form_token_is_refused(client: TestClient, mem_storage: MemoryStorage) -> None:
    answer = client.post(
        LOGIN,
        data={
            "tenant_code": "131016",
            "login_id": "suzuki",
            "password": TEST_PASSWORD,
            "csrf_token": "forged",
        },
    )
    assert answer.status_code == 400
    assert "画面の有効期限が切れました" in answer.text
    assert mem_storage.actions() == []


def test_unauthenticated_request_goes_to_login(client: TestClient) -> None:
    answer = client.get("/staff/registry?page=2")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/staff/login?next=/staff/registry%3Fpage%3D2"
    api_style = client.get("/staff/registry", headers={"accept": "application/json"})
    assert api_style.status_code == 401


def test_missing_permission_is_403_in_japanese(client: TestClient) -> None:
    assert login(client, login_id="tanaka").status_code == 303  # child allowance clerk
    answer = client.get("/staff/registry")
    assert answer.status_code == 403
    assert "この操作(住民票の写し等の交付)を行う権限がありません" in answer.text
    assert login(client, login_id="suzuki").status_code == 303
    assert client.get("/staff/registry").status_code == 200


def test_post_needs_the_session_csrf_token(client: TestClient, mem_storage: MemoryStorage) -> None:
    login(client)
    token = csrf_of_page(client.get("/staff/").text)
    refused = client.post("/staff/registry/action", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    assert "正しくない送信です" in refused.text
    assert client.post("/staff/registry/action", data={}).status_code == 403
    assert "csrf_refused" in mem_storage.actions()
    ok = client.post("/staff/registry/action", data={"csrf_token": token})
    assert ok.status_code == 200
    assert ok.json() == {"done_by": "suzuki"}
    header = client.post("/staff/registry/action", headers={"X-CSRF-Token": token})
    assert header.status_code == 200


def test_logout_ends_the_session(client: TestClient, mem_storage: MemoryStorage) -> None:
    login(client)
    token = csrf_of_page(client.get("/staff/").text)
    assert client.post("/staff/logout", data={"csrf_token": "wrong"}).status_code == 403
    out = client.post("/staff/logout", data={"csrf_token": token})
    assert out.status_code == 303
    assert out.headers["location"] == "/staff/login?logged_out=1"
    assert "session_ended" in mem_storage.actions()
    assert "ログアウトしました" in client.get(out.headers["location"]).text
    assert client.get("/staff/").status_code == 303


def test_idle_session_expires(client: TestClient, clock: Clock, mem_storage: MemoryStorage) -> None:
    login(client)
    clock.advance(minutes=29)
    assert client.get("/staff/").status_code == 200
    clock.advance(minutes=31)
    answer = client.get("/staff/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/staff/login?next=/staff/&expired=1"
    assert "session_expired" in mem_storage.actions()


def test_lockout_message_says_when_to_retry(client: TestClient, clock: Clock) -> None:
    for _ in range(4):
        assert login(client, password="not the password").status_code == 400
    locked = login(client, password="not the password")
    assert locked.status_code == 429
    assert "令和8年11月26日 10時15分以降にもう一度お試しください" in locked.text
    assert login(client).status_code == 429
    clock.advance(minutes=16)
    assert login(client).status_code == 303


def test_session_of_one_tenant_does_not_open_another(client: TestClient, new_staff) -> None:  # type: ignore[no-untyped-def]
    new_staff("suzuki", ["registry_clerk"], tenant="141003")
    login(client)
    cookie = client.cookies.get("__Host-jichitai_staff")
    assert cookie is not None
    forged = "141003." + cookie.split(".", 1)[1]
    client.cookies.set("__Host-jichitai_staff", forged)
    assert client.get("/staff/").status_code == 303


def test_plain_http_on_loopback_uses_a_non_secure_cookie(app: FastAPI) -> None:
    with TestClient(app, base_url="http://127.0.0.1:8100", follow_redirects=False) as local:
        answer = login(local)
        cookie = next(
            v for k, v in answer.headers.multi_items() if k == "set-cookie" and "jichitai_staff=" in v
        )
        assert cookie.startswith("jichitai_staff=")
        assert "Secure" not in cookie
        assert local.get("/staff/").status_code == 200


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/staff/missing", 404, "該当する案件はありません"),
        ("/staff/conflict", 409, "既に処理されているか"),
        ("/nowhere", 404, "お探しのページ"),
    ],
)
def test_errors_become_japanese_pages(client: TestClient, path: str, status: int, text: str) -> None:
    answer = client.get(path)
    assert answer.status_code == status
    assert text in answer.text
    assert '<html lang="ja">' in answer.text
