"""The internet zone's API under ``/api/v1/`` (token, submissions, receiving API) and its OpenAPI.

:func:`install_api` mounts it on an app; the OpenAPI document, with Japanese descriptions, is at
``/api/v1/openapi.json`` and describes exactly these routes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from jichitai.internet.api.bulk_routes import add_bulk_routes
from jichitai.internet.api.errors import BodyLimit, install_error_handlers
from jichitai.internet.api.routes import build_router
from jichitai.platform.storage import Storage
from jichitai.platform.web.api_auth import ApiAuth, bearer_openapi
from jichitai.platform.zones import Zone

OPENAPI_PATH = "/api/v1/openapi.json"
API_TITLE = "jichitai 電子申請 受付API"
API_VERSION = "1.0.0"
API_DESCRIPTION = """\
住民がマイナンバーカードで署名して提出した電子申請を、市区町村の申請管理システムが取り込むためのAPIです
(マイナポータルの受付APIに倣っています)。

1. `POST /api/v1/token` で団体ごとのクライアント認証情報からアクセストークンを得ます。
2. `GET /api/v1/tenants/{tenant}/applications` で新しい申請を一覧し、
   `GET …/applications/{receipt_number}` で申請データ(暗号文 JWE)を取得します。
3. 取り込んだら `POST …/ack` で受領を確認します。
4. 審査の経過は `POST …/events` で、団体の署名鍵で署名した処理状況として通知します。
5. 多数の申請は `POST /api/v1/tenants/{tenant}/applications-batch/fetch`・`…/ack`・`…/events` で
   100件ずつまとめて取得・受領確認・通知できます(結果は申請・イベントごと)。

申請データはインターネット接続系では復号できません。団体の提出用秘密鍵はLGWAN接続系にだけあります。
他の団体のアクセストークンでは、どの申請も扱えません(403)。"""

_BEARER: dict[str, list[str]] = {"bearerAuth": []}


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the routes under ``/api/v1`` (cached on the app)."""
    cached: dict[str, Any] | None = getattr(app.state, "internet_openapi", None)
    if cached is not None:
        return cached
    router: APIRouter = app.state.internet_api_router
    doc = bearer_openapi(API_TITLE, API_VERSION, API_DESCRIPTION, router.routes)
    for path, operations in doc.get("paths", {}).items():
        if "/applications" in path:
            for operation in operations.values():
                operation["security"] = [_BEARER]
    app.state.internet_openapi = doc
    return doc


def install_api(app: FastAPI, storage: Storage) -> None:
    """Mount the API on ``app`` (token endpoint, submissions, receiving API, OpenAPI, error answers)."""
    if getattr(app.state, "storage", None) is None:
        app.state.storage = storage
    if not isinstance(getattr(app.state, "api_auth", None), ApiAuth):
        app.state.api_auth = ApiAuth(lambda: storage, Zone.INTERNET)
    router = build_router()
    add_bulk_routes(router)  # the receiving API in batches, next to the single routes
    app.state.internet_api_router = router  # its routes: the OpenAPI document, tests that walk them
    app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(BodyLimit)

    @app.get(OPENAPI_PATH, include_in_schema=False)
    def openapi_json() -> JSONResponse:
        return JSONResponse(openapi_document(app))


__all__ = ["OPENAPI_PATH", "install_api", "openapi_document"]
