"""What every portal page needs: configuration, templates, the resident's session, CSRF, CSP.

The portal's pages extend the platform's ``base.html`` (skip link, header, ``lang="ja"``, Digital
Agency tokens) and add ``static/portal/portal.css``; only the login and signing pages load
``portal.js``, which talks to the local card reader, so their Content-Security-Policy lets
``connect-src`` reach that one loopback origin and nothing else.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from jichitai.internet.portal.sessions import ResidentSession, current_session
from jichitai.platform.errors import NotFound, PermissionDenied, ValidationError
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import Tenant, TenantCode
from jichitai.platform.web.app import CONTENT_SECURITY_POLICY, make_templates
from jichitai.platform.web.deps import secure_transport

PORTAL_DIR = Path(__file__).parent
TEMPLATES_DIR = PORTAL_DIR / "templates"
STATIC_DIR = PORTAL_DIR / "static" / "portal"
STATIC_PREFIX = "/static/portal"
SITE_TITLE = "電子申請サービス"
COOKIE = "jt_resident"
DEFAULT_CARD_READER_PORT = 8765


@dataclass
class PortalConfig:
    """Where the card reader listens (as the page's JavaScript reaches it) and cookie transport."""

    card_reader_origin: str
    secure_cookies: bool | None = None  # None: Secure except plain HTTP on loopback


def default_config(storage: Storage) -> PortalConfig:
    """``JICHITAI_CARD_READER_ORIGIN``, else loopback on ``ports.card_reader`` (8765 by default)."""
    origin = os.environ.get("JICHITAI_CARD_READER_ORIGIN")
    if not origin:
        port = storage.settings.ports.get("card_reader", DEFAULT_CARD_READER_PORT)
        origin = f"http://127.0.0.1:{port}"
    return PortalConfig(card_reader_origin=origin.rstrip("/"))


def storage_of(request: Request) -> Storage:
    storage: Storage = request.app.state.portal_storage
    return storage


def config_of(request: Request) -> PortalConfig:
    config: PortalConfig = request.app.state.portal_config
    return config


def templates_of(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.portal_templates
    return templates


def new_templates() -> Jinja2Templates:
    return make_templates([TEMPLATES_DIR])


def tenant_of(request: Request, code: str) -> Tenant:
    """The municipality in the URL; an unknown or malformed code is a 404, a suspended one a 403."""
    try:
        tenant = storage_of(request).catalog.find(str(TenantCode(code)))
    except ValidationError:  # not a well-formed 団体コード
        tenant = None
    if tenant is None:
        raise NotFound(f"no tenant {code!r}", message_ja="お探しの市区町村は見つかりませんでした")
    if not tenant.active:
        raise PermissionDenied(
            f"tenant {code} is suspended", message_ja="この市区町村の電子申請は現在ご利用いただけません"
        )
    return tenant


def base_path(tenant: Tenant | str) -> str:
    code = tenant.code if isinstance(tenant, Tenant) else tenant
    return f"/m/{code}"


def session_of(request: Request, tenant: Tenant) -> ResidentSession | None:
    if hasattr(request.state, "resident"):  # looked up once per request
        cached: ResidentSession | None = request.state.resident
        return cached
    session = current_session(storage_of(request), tenant.code, request.cookies.get(COOKIE))
    request.state.resident = session
    return session


def require_session(request: Request, tenant: Tenant) -> ResidentSession:
    """The logged-in resident, or a redirect to the login page that comes back here."""
    session = session_of(request, tenant)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = f"{base_path(tenant)}/login?next={quote(target, safe='')}"
        raise StarletteHTTPException(303, headers={"Location": location})
    return session


def check_csrf(session: ResidentSession, token: Any) -> None:
    if not isinstance(token, str) or not hmac.compare_digest(token.encode(), session.csrf_token.encode()):
        raise PermissionDenied(
            "bad form token",
            message_ja="画面の有効期限が切れました。前の画面に戻り、読み込み直してからもう一度操作してください",
        )


def set_session_cookie(request: Request, response: Response, tenant: Tenant, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        path=base_path(tenant),
        httponly=True,
        samesite="lax",
        secure=secure_transport(request, config_of(request).secure_cookies),
    )


def clear_session_cookie(response: Response, tenant: Tenant) -> None:
    response.delete_cookie(COOKIE, path=base_path(tenant))


def card_csp(request: Request) -> str:
    """The platform's policy with the card reader's origin added to ``connect-src``."""
    origin = config_of(request).card_reader_origin
    return CONTENT_SECURITY_POLICY.replace("connect-src 'self'", f"connect-src 'self' {origin}")


def render_page(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    tenant: Tenant | None = None,
    status_code: int = 200,
    card_reader: bool = False,
) -> Response:
    """Render a portal page with the values ``base.html`` and the portal layout need."""
    session = session_of(request, tenant) if tenant is not None else None
    root = request.scope.get("root_path", "")
    values: dict[str, Any] = {
        "site_title": SITE_TITLE,
        "municipality_name": tenant.name if tenant else "",
        "staff": None,
        "csrf_token": session.csrf_token if session else "",
        "errors": {},
        "static_url": lambda path: f"{root}/static/{path}",
        "portal_static": lambda path: f"{root}{STATIC_PREFIX}/{path}",
        "home_url": f"{root}{base_path(tenant)}/" if tenant else f"{root}/",
        "tenant": tenant,
        "base": f"{root}{base_path(tenant)}" if tenant else root,
        "resident": session,
        "card_reader": card_reader,
    }
    values.update(context)
    headers = {"Content-Security-Policy": card_csp(request)} if card_reader else None
    return templates_of(request).TemplateResponse(
        request, name, values, status_code=status_code, headers=headers
    )


__all__ = [
    "COOKIE",
    "SITE_TITLE",
    "STATIC_DIR",
    "STATIC_PREFIX",
    "TEMPLATES_DIR",
    "PortalConfig",
    "base_path",
    "card_csp",
    "check_csrf",
    "clear_session_cookie",
    "config_of",
    "default_config",
    "new_templates",
    "render_page",
    "require_session",
    "session_of",
    "set_session_cookie",
    "storage_of",
    "tenant_of",
]
