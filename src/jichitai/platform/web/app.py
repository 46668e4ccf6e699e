"""The web base every zone's screens and APIs start from.

``create_base_app`` gives a FastAPI application with:

- security headers on every answer: a Content-Security-Policy that allows no inline script or
  style and no foreign origin, ``X-Frame-Options: DENY``, ``nosniff``, no referrer, and
  ``Cache-Control: no-store`` on everything except static files, because almost every page of a
  municipality shows personal data and must not stay in a shared terminal's cache;
- the shared Jinja2 templates (``base.html``, form macros) and stylesheet under ``/static``;
- one place where :class:`JichitaiError` becomes an HTTP answer: a Japanese error page for
  screens, a JSON body (``error``, ``message``, ``message_ja``) under ``/api/``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jichitai.platform.errors import (
    ConfigurationError,
    Conflict,
    JichitaiError,
    NotFound,
    PermissionDenied,
    ValidationError,
)

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

# (status, OAuth-style error code, default Japanese message) by error class; the first match in
# the class's method resolution order wins, and an error may name its own ``http_status``.
_STATUS: list[tuple[type[JichitaiError], int, str]] = [
    (ValidationError, 400, "validation_error"),
    (PermissionDenied, 403, "permission_denied"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (ConfigurationError, 500, "configuration_error"),
]
DEFAULT_MESSAGES_JA: dict[int, str] = {
    400: "入力内容に誤りがあります。内容を確認してもう一度お試しください。",
    401: "ログインが必要です。",
    403: "この操作を行う権限がありません。",
    404: "お探しのページまたは情報は見つかりませんでした。",
    405: "この操作はこのページでは行えません。",
    409: "既に処理されているか、ほかの操作と重なりました。画面を読み込み直してください。",
    422: "入力内容に誤りがあります。内容を確認してもう一度お試しください。",
    429: "短時間に操作が繰り返されたため、しばらく受け付けを停止しています。",
    500: "システムでエラーが発生しました。時間をおいてもう一度お試しください。",
}
ERROR_TITLES_JA: dict[int, str] = {
    400: "入力内容を確認してください",
    401: "ログインしてください",
    403: "権限がありません",
    404: "ページが見つかりません",
    405: "操作できません",
    409: "処理が重なりました",
    422: "入力内容を確認してください",
    429: "しばらくお待ちください",
    500: "システムエラー",
}


def status_of(exc: JichitaiError) -> tuple[int, str]:
    """The HTTP status and error code for a platform error."""
    own = getattr(exc, "http_status", None)
    code = getattr(exc, "error_code", None)
    for cls, status, default_code in _STATUS:
        if isinstance(exc, cls):
            return (int(own) if own else status), (code or default_code)
    return (int(own) if own else 400), (code or "error")


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def make_templates(extra_dirs: Sequence[Path] = ()) -> Jinja2Templates:
    """Templates of the caller (searched first) and the shared base, always autoescaped."""
    loader = jinja2.FileSystemLoader([*map(str, extra_dirs), str(TEMPLATES_DIR)])
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return Jinja2Templates(env=env)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render ``name`` with the app's templates and the values every page needs."""
    templates: Jinja2Templates = request.app.state.templates
    root = request.scope.get("root_path", "")
    values: dict[str, Any] = {
        "site_title": request.app.state.site_title,
        "municipality_name": "",
        "staff": None,
        "csrf_token": "",
        "errors": {},
        "static_url": lambda path: f"{root}/static/{path}",
        "home_url": request.app.state.home_url,
    }
    values.update(context or {})
    return templates.TemplateResponse(request, name, values, status_code=status_code, headers=headers)


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    message_ja: str | None,
    headers: dict[str, str] | None = None,
) -> Response:
    text_ja = message_ja or DEFAULT_MESSAGES_JA.get(status, DEFAULT_MESSAGES_JA[500])
    if wants_json(request):
        body = {"error": code, "message": message, "message_ja": text_ja}
        return JSONResponse(body, status_code=status, headers=headers)
    context = {"title": ERROR_TITLES_JA.get(status, "エラー"), "message_ja": text_ja, "status": status}
    return render(request, "error.html", context, status_code=status, headers=headers)


async def _jichitai_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, JichitaiError)
    status, code = status_of(exc)
    if status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc.one_line())
    headers = dict(getattr(exc, "http_headers", None) or {})
    return error_response(request, status, code, exc.message, exc.message_ja, headers or None)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if 300 <= exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=headers)
    detail = exc.detail if isinstance(exc.detail, str) else "error"
    return error_response(request, exc.status_code, "http_error", detail, None, headers or None)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if wants_json(request):
        body = {
            "error": "invalid_request",
            "message": "the request does not match the API",
            "message_ja": DEFAULT_MESSAGES_JA[422],
            "detail": [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()],
        }
        return JSONResponse(body, status_code=422)
    return error_response(request, 400, "invalid_request", "invalid request", None)


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` and the cache rules to every HTTP answer.

    A plain ASGI middleware rather than ``@app.middleware("http")``: Starlette's
    ``BaseHTTPMiddleware`` wraps the request body and the answer in extra tasks and streams, which
    cost about a millisecond per request on a 200 KB upload — more than the headers are worth.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if static:
                    headers.setdefault("Cache-Control", "public, max-age=3600")
                else:
                    # personal data must not stay in the cache of a shared terminal or a proxy
                    headers["Cache-Control"] = "no-store"
                    headers.setdefault("Pragma", "no-cache")
                if https:
                    headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, 500, "internal_error", "internal error", None)


def create_base_app(
    title: str,
    *,
    template_dirs: Sequence[Path] = (),
    home_url: str = "/",
    docs: bool = False,
    version: str = "0.1.0",
) -> FastAPI:
    """A FastAPI application with the platform's headers, templates, stylesheet and error pages.

    ``title`` is the system's Japanese name shown in the header (e.g. 「申請管理システム」).
    ``template_dirs`` are searched before the shared templates, so a zone can add its own pages
    and still extend ``base.html``. OpenAPI pages are off unless ``docs`` (APIs turn them on).
    """
    app = FastAPI(
        title=title,
        version=version,
        docs_url="/api/docs" if docs else None,
        redoc_url=None,
        openapi_url="/api/openapi.json" if docs else None,
    )
    app.state.templates = make_templates(template_dirs)
    app.state.site_title = title
    app.state.home_url = home_url
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(JichitaiError, _jichitai_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
    return app
