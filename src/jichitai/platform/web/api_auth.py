"""System-to-system authentication: OAuth 2.0 client credentials and bearer tokens, per tenant.

``POST /api/v1/token`` takes ``grant_type=client_credentials`` with ``client_id`` and
``client_secret`` (form fields, a JSON body, or HTTP Basic), optionally ``scope`` (a subset of the
client's permissions) and ``tenant`` (must match the client id's tenant), and answers
``{"access_token", "token_type": "Bearer", "expires_in", "scope"}`` as RFC 6749 section 4.4 does.
Errors use RFC 6749 codes (``invalid_request``, ``invalid_client``, ``invalid_scope``,
``unsupported_grant_type``) with a Japanese ``message_ja`` next to them.

:func:`require_client` is the dependency for API routes. When the route has a ``{tenant}`` path
parameter, the token must belong to that tenant: a token of 千代田区 never reads 横浜市's data.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from argon2 import PasswordHasher
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from jichitai.platform.context import STAFF_AUTH, Actor, ActorKind, TenantContext
from jichitai.platform.errors import ConfigurationError
from jichitai.platform.identity import credentials as cred
from jichitai.platform.identity.errors import InvalidToken, MissingPermission
from jichitai.platform.identity.principal import ClientPrincipal
from jichitai.platform.identity.roles import Permission
from jichitai.platform.identity.service import DEFAULT_POLICY, IdentityPolicy, IdentityService, TokenOutcome
from jichitai.platform.storage.base import utcnow
from jichitai.platform.tenants import TenantCode
from jichitai.platform.web.deps import StorageGetter, parse_json
from jichitai.platform.zones import Zone

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_MESSAGES_JA = {
    "invalid_request": "リクエストの形式が正しくありません",
    "invalid_client": "クライアントIDまたはシークレットが正しくありません",
    "invalid_scope": "要求された権限(scope)はこのクライアントに許可されていません",
    "unsupported_grant_type": "grant_type には client_credentials を指定してください",
}


def _oauth_error(code: str, message: str, status: int = 400) -> JSONResponse:
    headers = dict(_NO_STORE)
    if code == "invalid_client":
        status = 401
        headers["WWW-Authenticate"] = 'Basic realm="jichitai", charset="UTF-8"'
    body = {"error": code, "error_description": message, "message": message, "message_ja": _MESSAGES_JA[code]}
    return JSONResponse(body, status_code=status, headers=headers)


class BearerRequired(InvalidToken):
    """No usable bearer token: answered 401 with a ``WWW-Authenticate: Bearer`` challenge."""

    error_code = "invalid_token"

    @property
    def http_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="jichitai", error="invalid_token"'}


class InsufficientScope(MissingPermission):
    error_code = "insufficient_scope"


@dataclass
class ApiAuth:
    """Client-credential authentication for one zone's APIs; kept on ``app.state.api_auth``."""

    storage_getter: StorageGetter
    zone: Zone
    token_path: str = "/api/v1/token"  # noqa: S105 - a URL path
    hasher: PasswordHasher | None = None
    policy: IdentityPolicy = DEFAULT_POLICY
    clock: Callable[[], datetime] = utcnow

    def __post_init__(self) -> None:
        if self.hasher is None:
            self.hasher = cred.default_hasher()

    def _ctx(self, tenant: TenantCode, actor_id: str) -> TenantContext:
        return TenantContext(
            tenant, Actor(id=actor_id[:64], kind=ActorKind.SYSTEM, role="api_client"), STAFF_AUTH
        )

    def _service(self, uow: Any) -> IdentityService:
        return IdentityService.of(uow, clock=self.clock, hasher=self.hasher, policy=self.policy)

    def issue(self, tenant: TenantCode, client_id: str, secret: str, scope: list[str] | None) -> TokenOutcome:
        """Blocking: one argon2 verification. Refusals are committed (audited) before returning."""
        with self.storage_getter().unit_of_work(self._ctx(tenant, client_id), self.zone) as uow:
            return self._service(uow).issue_token(client_id, secret, scope)

    def verify(self, token: str) -> ClientPrincipal:
        tenant_code = cred.tenant_of_token(token)
        storage = self.storage_getter()
        tenant = storage.catalog.find(tenant_code) if tenant_code else None
        if tenant is None or not tenant.active:
            raise BearerRequired(
                "bearer token of an unknown or disabled tenant", message_ja="アクセストークンが無効です"
            )
        try:
            with storage.unit_of_work(self._ctx(tenant.code, "bearer"), self.zone) as uow:
                return self._service(uow).verify_token(token)
        except InvalidToken as exc:
            raise BearerRequired(exc.message, message_ja=exc.message_ja) from None

    async def token_endpoint(self, request: Request) -> Response:
        try:
            fields = await _read_fields(request)
        except ValueError as exc:
            return _oauth_error("invalid_request", str(exc))
        basic = _basic_credentials(request.headers.get("authorization", ""))
        if basic is not None:
            fields.setdefault("client_id", basic[0])
            fields.setdefault("client_secret", basic[1])
        if fields.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type", "grant_type must be client_credentials")
        client_id, secret = fields.get("client_id", ""), fields.get("client_secret", "")
        if not client_id or not secret:
            return _oauth_error("invalid_request", "client_id and client_secret are required")
        tenant = cred.tenant_of_token(client_id)
        if tenant is None or (fields.get("tenant") and fields["tenant"] != tenant):
            return _oauth_error("invalid_client", "unknown client")
        found = self.storage_getter().catalog.find(tenant)
        if found is None or not found.active:
            return _oauth_error("invalid_client", "unknown client")
        scope = fields["scope"].split() if fields.get("scope") else None
        outcome = await run_in_threadpool(self.issue, tenant, client_id, secret, scope)
        if outcome.token is None:
            return _oauth_error(outcome.error or "invalid_client", f"token refused: {outcome.error}")
        token = outcome.token
        body = {
            "access_token": token.access_token,
            "token_type": "Bearer",
            "expires_in": token.expires_in,
            "scope": token.scope,
        }
        return JSONResponse(body, headers=_NO_STORE)

    def router(self) -> APIRouter:
        router = APIRouter(tags=["認証"])
        router.add_api_route(
            self.token_path,
            self.token_endpoint,
            methods=["POST"],
            name="api_token",
            summary="アクセストークンの発行(client credentials)",
            response_model=None,
        )
        return router


async def _read_fields(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            data = parse_json(await request.body() or b"{}")
        except ValueError as exc:
            raise ValueError("the body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise ValueError("the JSON body must be an object")
        return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int)}
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    if not content_type and not await request.body():
        return {}
    raise ValueError("send application/x-www-form-urlencoded or application/json")


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    # RFC 6749 2.3.1: both parts are form-urlencoded before Basic encoding
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


def bearer_openapi(title: str, version: str, description: str, routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document of ``routes``, with the bearer scheme of the tokens this module issues
    (``bearerAuth``, for the operations that name it in their ``security``)."""
    doc = get_openapi(title=title, version=version, description=description, routes=routes)
    doc.setdefault("components", {}).setdefault("securitySchemes", {})["bearerAuth"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "POST /api/v1/token で得たアクセストークン",
    }
    return doc


def install_api_auth(app: FastAPI, storage_getter: StorageGetter, zone: Zone, **options: Any) -> ApiAuth:
    """Add the token endpoint to ``app`` and make :func:`require_client` work in it."""
    auth = ApiAuth(storage_getter, zone, **options)
    app.state.api_auth = auth
    app.include_router(auth.router())
    return auth


def api_auth_router(storage_getter: StorageGetter, zone: Zone, **options: Any) -> APIRouter:
    """The token endpoint alone; :func:`require_client` also needs ``app.state.api_auth``."""
    return ApiAuth(storage_getter, zone, **options).router()


def _auth_of(request: Request) -> ApiAuth:
    auth = getattr(request.app.state, "api_auth", None)
    if not isinstance(auth, ApiAuth):
        raise ConfigurationError(
            "require_client used in an app without API authentication",
            hint="call jichitai.platform.web.api_auth.install_api_auth(app, storage_getter, zone)",
        )
    return auth


def bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BearerRequired("a bearer token is required", message_ja="アクセストークンを指定してください")
    return token.strip()


def require_client(permission: Permission | None = None) -> Callable[[Request], Awaitable[ClientPrincipal]]:
    """A dependency giving the calling system, whose token must carry ``permission`` (if given)
    and belong to the route's ``{tenant}`` (if the route has one)."""

    async def dependency(request: Request) -> ClientPrincipal:
        auth = _auth_of(request)
        principal = await run_in_threadpool(auth.verify, bearer_token(request))
        wanted = request.path_params.get("tenant")
        if wanted is not None and str(wanted) != principal.tenant:
            raise InsufficientScope(
                f"token of tenant {principal.tenant} used for tenant {wanted}",
                message_ja="このアクセストークンでは他の団体のデータを扱えません",
            )
        if permission is not None and not principal.has(permission):
            raise InsufficientScope(
                f"token lacks scope {permission.value}",
                message_ja=f"このアクセストークンには権限({permission.label_ja})がありません",
            )
        return principal

    return dependency


__all__ = [
    "ApiAuth",
    "BearerRequired",
    "InsufficientScope",
    "api_auth_router",
    "bearer_openapi",
    "bearer_token",
    "install_api_auth",
    "require_client",
]
