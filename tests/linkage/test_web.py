"""The operators' status page and API of the linkage server."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from jichitai.linkage.config import parse_config
from jichitai.linkage.server import LinkageServer, LoopStatus
from jichitai.linkage.web import register
from jichitai.platform.storage import Storage
from jichitai.platform.web.app import create_base_app
from jichitai.platform.zones import Zone
from tests.linkage.helpers import accepted, loopback, put


def _app(storage: Storage, **cfg: object) -> FastAPI:
    app = create_base_app("連携サーバ")
    peers = {"lgwan": {"url": "http://127.0.0.1:8100"}, "mynumber": {"url": "http://127.0.0.1:8300"}}
    register(app, storage, parse_config({"peers": peers, **cfg}))
    return app


def test_status_is_for_operators_only(sqlite_storage: Storage) -> None:
    app = _app(sqlite_storage)
    outsider = TestClient(app, client=("10.9.8.7", 40000))
    assert outsider.get("/status").status_code == 403
    assert outsider.get("/api/v1/status").status_code == 403
    allowed = TestClient(_app(sqlite_storage, status_allow=["10.0.0.0/8"]), client=("10.9.8.7", 40000))
    assert allowed.get("/api/v1/health").status_code == 200


def test_status_shows_refusals_without_payloads(sqlite_storage: Storage) -> None:
    storage = sqlite_storage
    env = accepted(1)
    put(storage, env)
    with loopback(storage) as lb:
        server = LinkageServer(storage, lb.config(mynumber_peer={"tenants": ["141003"]}), status=LoopStatus())
        try:
            server.run_once()
        finally:
            server.close()
    client = TestClient(_app(storage), client=("127.0.0.1", 40000))
    api = client.get("/api/v1/status").json()
    tenant = api["tenants"][0]
    assert tenant["counts"] == {"refused": 1}
    assert tenant["refused"][0]["message_id"] == env.message_id
    assert tenant["refused"][0]["refusal"] == "tenant_not_served"
    page = client.get("/status")
    assert page.status_code == 200
    assert "拒否された連携データ" in page.text and env.message_id in page.text
    assert "宛先の系はこの団体を扱っていません" in page.text
    assert "山田" not in page.text and "123456789018" not in page.text  # no payload on the page
    assert Zone.MYNUMBER.label_ja in page.text
