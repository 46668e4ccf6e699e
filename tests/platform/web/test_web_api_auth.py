from __future__ import annotations

import base64
from collections.abc import Callable

from fastapi.testclient import TestClient

from jichitai.platform.identity.testing import Clock, MemoryStorage

MakeClient = Callable[..., tuple[str, str]]
PULL = "applications:submission:pull"


def get_token(client: TestClient, client_id: str, secret: str, **extra: str) -> str:
    answer = client.post(
        "/api/v1/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, **extra},
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_token_flow_with_form_json_and_basic(
    client: TestClient, new_api_client: MakeClient, mem_storage: MemoryStorage
) -> None:
    client_id, secret = new_api_client([PULL, "applications:status:post"])
    answer = client.post(
        "/api/v1/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "applications:status:post applications:submission:pull"
    assert answer.headers["cache-control"] == "no-store"

    as_json = client.post(
        "/api/v1/token",
        json={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": PULL,
        },
    )
    assert as_json.status_code == 200
    assert as_json.json()["scope"] == PULL

    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    via_basic = client.post(
        "/api/v1/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert via_basic.status_code == 200

    ping = client.get("/api/v1/131016/ping", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert ping.status_code == 200
    assert ping.json() == {"tenant": "131016", "client": client_id}
    assert mem_storage.actions().count("token_issued") == 3


def test_token_refusals(client: TestClient, new_api_client: MakeClient, mem_storage: MemoryStorage) -> None:
    client_id, secret = new_api_client([PULL])
    wrong = client.post(
        "/api/v1/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "nope"},
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.json()["message_ja"] == "クライアントIDまたはシークレットが正しくありません"
    assert "token_refused" in mem_storage.actions()  # audited although refused

    grant = client.post(
        "/api/v1/token", data={"grant_type": "password", "client_id": client_id, "client_secret": secret}
    )
    assert grant.json()["error"] == "unsupported_grant_type"
    scope = client.post(
        "/api/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": "audit:log:read",
        },
    )
    assert scope.status_code == 400
    assert scope.json()["error"] == "invalid_scope"
    other_tenant = client.post(
        "/api/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "tenant": "141003",
        },
    )
    assert other_tenant.status_code == 401
    garbage = client.post("/api/v1/token", content=b"{not json", headers={"content-type": "application/json"})
    assert garbage.status_code == 400
    assert garbage.json()["error"] == "invalid_request"


def test_bearer_checks(client: TestClient, new_api_client: MakeClient, clock: Clock) -> None:
    client_id, secret = new_api_client([PULL])
    token = get_token(client, client_id, secret)
    auth = {"Authorization": f"Bearer {token}"}

    missing = client.get("/api/v1/131016/ping")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.json()["message_ja"] == "アクセストークンを指定してください"

    # a token of 千代田区 used on 横浜市's path
    foreign = client.get("/api/v1/141003/ping", headers=auth)
    assert foreign.status_code == 403
    assert foreign.json()["message_ja"] == "このアクセストークンでは他の団体のデータを扱えません"

    forged = client.get(
        "/api/v1/141003/ping", headers={"Authorization": "Bearer 141003." + token.split(".", 1)[1]}
    )
    assert forged.status_code == 401

    clock.advance(minutes=16)
    expired = client.get("/api/v1/131016/ping", headers=auth)
    assert expired.status_code == 401
    assert expired.json()["error"] == "invalid_token"


def test_scope_is_enforced(client: TestClient, new_api_client: MakeClient) -> None:
    client_id, secret = new_api_client(["applications:status:post"])
    token = get_token(client, client_id, secret)
    answer = client.get("/api/v1/131016/ping", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403
    assert answer.json()["error"] == "insufficient_scope"
