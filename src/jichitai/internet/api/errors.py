"""Refusals of the internet zone's API as JSON (``error``, ``message``, ``message_ja``), never a 500.

The platform's base app already turns :class:`JichitaiError` into such answers; the handlers here
add what is particular to submissions (the per-field errors of a form, the reason code of a
refused certificate) and stand in for the base handlers when the app was built without them. The
body limit refuses an oversized upload from its ``Content-Length`` before it is read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from jichitai.internet.submissions.errors import SubmissionInvalid
from jichitai.platform.errors import Conflict, JichitaiError, NotFound, PermissionDenied, ValidationError
from jichitai.platform.pki.errors import CertificateRejected

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
MAX_BODY_BYTES = 64 * 1024 * 1024  # a form plus the largest allowed attachments, base64-encoded

Handler = Callable[[Request, Exception], Awaitable[Response]]

_STATUS: list[tuple[type[JichitaiError], int, str]] = [
    (ValidationError, 400, "validation_error"),
    (PermissionDenied, 403, "permission_denied"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
]
_DEFAULT_JA = {
    400: "リクエストの内容に誤りがあります",
    401: "認証が必要です",
    403: "この操作を行う権限がありません",
    404: "指定されたデータは見つかりません",
    409: "既に処理されているか、ほかの操作と重なりました",
    413: "送信データが大きすぎます",
    422: "リクエストの形式が正しくありません",
    500: "システムでエラーが発生しました",
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _status(exc: JichitaiError) -> tuple[int, str]:
    own = getattr(exc, "http_status", None)
    code = getattr(exc, "error_code", None)
    for cls, status, default in _STATUS:
        if isinstance(exc, cls):
            return int(own or status), str(code or default)
    return int(own or 500), str(code or "error")


def _body(status: int, code: str, message: str, message_ja: str | None) -> dict[str, object]:
    return {
        "error": code,
        "message": message,
        "message_ja": message_ja or _DEFAULT_JA.get(status, _DEFAULT_JA[400]),
    }


def install_error_handlers(app: FastAPI) -> None:
    """Add the API's handlers; the app's own handlers keep serving its screens."""
    fallback_error: Handler | None = app.exception_handlers.get(JichitaiError)  # type: ignore[assignment]
    fallback_validation: Handler | None = app.exception_handlers.get(RequestValidationError)  # type: ignore[assignment]

    async def jichitai_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, JichitaiError)
        if not _is_api(request) and fallback_error is not None:
            return await fallback_error(request, exc)
        status, code = _status(exc)
        body = _body(status, code, exc.message, exc.message_ja)
        if isinstance(exc, SubmissionInvalid):
            body["errors"] = [
                {"pointer": e.pointer, "label": e.label, "message": e.message, "keyword": e.keyword}
                for e in exc.errors
            ]
        if isinstance(exc, CertificateRejected):
            body["error"] = f"certificate_{exc.reason.value}"
        if status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc.one_line())
        headers = dict(getattr(exc, "http_headers", None) or {})
        return JSONResponse(body, status_code=status, headers=headers or None)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if not _is_api(request) and fallback_validation is not None:
            return await fallback_validation(request, exc)
        body = _body(422, "invalid_request", "the request does not match the API", None)
        body["detail"] = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        return JSONResponse(body, status_code=422)

    async def client_gone(_request: Request, _exc: Exception) -> Response:
        # the client closed the connection while uploading (a load tool stopping, a phone going
        # out of coverage): nothing was stored, nobody is listening, nothing to log as an error
        return Response(status_code=499)

    app.add_exception_handler(JichitaiError, jichitai_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(ClientDisconnect, client_gone)


class BodyLimit:
    """Refuse API uploads larger than ``limit`` (413) or without a declared length (411)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        length: int | None = None
        chunked = False
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = -1
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if length is not None and (length < 0 or length > self.limit):
            status, code = (413, "payload_too_large") if length > self.limit else (400, "invalid_request")
            await _refuse(send, status, code, f"body length {length} refused (limit {self.limit})")
            return
        if chunked and length is None:
            await _refuse(send, 411, "length_required", "send the body with a Content-Length")
            return
        await self.app(scope, receive, send)


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    text = (
        "送信データの長さを指定してください" if status == 411 else _DEFAULT_JA.get(status, _DEFAULT_JA[400])
    )
    body = json.dumps(_body(status, code, message, text), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


__all__ = ["API_PREFIX", "MAX_BODY_BYTES", "BodyLimit", "install_error_handlers"]
