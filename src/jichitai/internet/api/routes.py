"""HTTP routes of the internet zone under ``/api/v1/``: token, submissions, the receiving API.

Handlers only translate between HTTP and the use cases in :mod:`jichitai.internet.submissions`.
Modelled on Mynaportal's receiving API: the municipality's application management logs in with
client credentials, lists new applications, fetches each one (ciphertext), acknowledges it and
posts processing status. Each route that names a tenant checks that the token is that tenant's.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any, TypeVar

import pybase64
import pydantic_core
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

from jichitai.contracts.status import StatusEvent
from jichitai.contracts.submission import STATUS_LABELS, SubmissionStatus
from jichitai.internet.api.schemas import (
    ApplicationDetail,
    ApplicationList,
    ApplicationSummary,
    ErrorBody,
    EventList,
    InvalidFormBody,
    OAuthErrorBody,
    ReceiptOut,
    ReplyList,
    ReplyOut,
    SubmissionIn,
    TokenResponse,
)
from jichitai.internet.purposes import STATUS_POST, SUBMISSION_PULL
from jichitai.internet.submissions import receiving
from jichitai.internet.submissions.receiving import ApplicationInfo
from jichitai.internet.submissions.service import (
    AttachmentUpload,
    PendingSubmission,
    Receipt,
    announce_submission,
    begin_submission,
)
from jichitai.platform.errors import ConfigurationError, ValidationError
from jichitai.platform.identity.principal import ClientPrincipal
from jichitai.platform.identity.roles import Permission
from jichitai.platform.storage import Storage
from jichitai.platform.web.api_auth import ApiAuth, require_client

TenantPath = Annotated[str, Path(description="全国地方公共団体コード(6桁)", examples=["131016"])]
ReceiptPath = Annotated[str, Path(description="受付番号", examples=["20260401-131016-7QK2M9XD"])]
Puller = Annotated[ClientPrincipal, Depends(require_client(Permission.APPLICATIONS_SUBMISSION_PULL))]
StatusPoster = Annotated[ClientPrincipal, Depends(require_client(Permission.APPLICATIONS_STATUS_POST))]

_E = {"model": ErrorBody}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {**_E, "description": "アクセストークンがない、又は無効"},
    403: {**_E, "description": "権限がない、又は他の団体のトークン"},
    422: {**_E, "description": "リクエストの形式の誤り"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {**_E, "description": "受付番号の申請がない"}}


def _storage(request: Request) -> Storage:
    storage = getattr(request.app.state, "storage", None)
    if not isinstance(storage, Storage):
        raise ConfigurationError("the internet zone app has no storage (app.state.storage)")
    return storage


def _summary(info: ApplicationInfo) -> ApplicationSummary:
    e = info.envelope
    return ApplicationSummary(
        receipt_number=e.receipt_number,
        tenant=e.tenant,
        procedure_id=e.procedure_id,
        procedure_version=e.procedure_version,
        received_at=e.received_at,
        status=e.status,
        status_at=info.status_at,
        kid=e.kid,
        size=e.size,
        acknowledged_at=info.acknowledged_at,
        purged=info.purged_at is not None,
    )


def _b64(text: str, what: str) -> bytes:
    # strict decoding with SIMD (pybase64): CPython's decoder took about 1 ms for a 200 KB
    # attachment, as much as verifying and encrypting the whole submission
    try:
        return pybase64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(
            f"{what} is not valid base64", message_ja=f"{what}の形式が正しくありません"
        ) from None


def _receipt_out(receipt: Receipt) -> JSONResponse:
    out = ReceiptOut(
        receipt_number=receipt.receipt_number,
        received_at=receipt.received_at,
        status=receipt.status,
        status_label=STATUS_LABELS[receipt.status],
        replayed=receipt.replayed,
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=200 if receipt.replayed else 201)


class _ReceiptResponse(Response):
    """The answer to a submission, sent once its commit is durable: the commit is awaited when the
    response is sent, after FastAPI's endpoint has returned, so the request's body and its parsed
    JSON (a few hundred KB each) are let go before it rather than after it (why that matters:
    :func:`~jichitai.internet.submissions.service.begin_submission`). An error of the commit is
    raised before anything is sent, so the app's error handlers answer it as before."""

    def __init__(self, pending: PendingSubmission) -> None:
        super().__init__(status_code=201, media_type="application/json")
        self._pending: PendingSubmission | None = pending

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            raise RuntimeError("a receipt response is sent once")
        answer = _receipt_out(await pending.receipt())
        answer.background = self.background
        await answer(scope, receive, send)


class _JSONRequest(Request):
    """A request whose JSON body is parsed by pydantic-core's parser (Rust): for a submission with
    a 200 KB attachment the standard library took ten times as long. Whatever that parser refuses
    goes to the standard library too, so that the error answers stay the same; what the standard
    library alone accepts (a lone surrogate such as "\\udc80", which fails later at the first UTF-8
    encoding) is refused the same way, as invalid JSON."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = pydantic_core.from_json(body)
            except ValueError as exc:
                json.loads(body)  # its JSONDecodeError makes FastAPI's 422
                raise json.JSONDecodeError(str(exc), body.decode("utf-8", "replace"), 0) from exc
        return self._json


class _APIRoute(APIRoute):
    """The API's routes: FastAPI's, with :class:`_JSONRequest` (FastAPI's documented way to
    customise the request of a route). An endpoint marked by :func:`_announced` has its request
    announced to the tenant's submission writer from its arrival (:func:`announce_submission`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if getattr(self.endpoint, _ANNOUNCED, False):

            async def announcing_handler(request: Request) -> Response:
                with announce_submission(_storage(request), str(request.path_params.get("tenant", ""))):
                    return await handler(_JSONRequest(request.scope, request.receive))

            return announcing_handler

        async def route_handler(request: Request) -> Response:
            return await handler(_JSONRequest(request.scope, request.receive))

        return route_handler


_ANNOUNCED = "_jichitai_announces_submission"
_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


def _announced(endpoint: _Endpoint) -> _Endpoint:
    """Marks the endpoint that receives submissions (see :class:`_APIRoute`)."""
    setattr(endpoint, _ANNOUNCED, True)
    return endpoint


ResidentKeyResolver = Callable[[Request], str | None]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", route_class=_APIRoute)

    @router.post(
        "/token",
        tags=["認証"],
        summary="アクセストークンの発行",
        description="団体ごとに登録された連携システム(申請管理システム)が、client credentials"
        "(client_id, client_secret)でアクセストークンを得ます(RFC 6749 4.4)。",
        response_model=TokenResponse,
        responses={
            400: {"model": OAuthErrorBody, "description": "リクエストの誤り"},
            401: {"model": OAuthErrorBody, "description": "クライアント認証の失敗"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["grant_type", "client_id", "client_secret"],
                            "properties": {
                                "grant_type": {"type": "string", "enum": ["client_credentials"]},
                                "client_id": {"type": "string", "description": "クライアントID"},
                                "client_secret": {
                                    "type": "string",
                                    "description": "クライアントシークレット",
                                },
                                "scope": {"type": "string", "description": "求める権限(空白区切り、省略可)"},
                            },
                        }
                    }
                },
            }
        },
    )
    async def token(request: Request) -> Response:
        auth = getattr(request.app.state, "api_auth", None)
        if not isinstance(auth, ApiAuth):
            raise ConfigurationError("API authentication is not installed in this app")
        return await auth.token_endpoint(request)

    @router.post(
        "/tenants/{tenant}/submissions",
        tags=["電子申請"],
        status_code=201,
        summary="電子申請の提出",
        description="署名済みの申請を受け付け、受付番号を返します。電子証明書(有効期間・失効・発行元・種類)と"
        "電子署名を確認し、申請内容・添付書類・署名・証明書を団体の提出用公開鍵で暗号化(JWE)して保存します。"
        "同じ送信番号(Idempotency-Key)の再送には最初の受付番号を返します(200)。",
        response_model=ReceiptOut,
        responses={
            200: {"model": ReceiptOut, "description": "同じ送信番号の申請を既に受け付けている"},
            400: {**_E, "description": "電子証明書・電子署名・手続の誤り"},
            403: {**_E, "description": "団体が利用停止中"},
            404: {**_E, "description": "団体が見つからない"},
            409: {**_E, "description": "同じ送信番号で異なる内容"},
            411: {**_E, "description": "Content-Length がない"},
            413: {**_E, "description": "送信データが大きすぎる"},
            422: {"model": InvalidFormBody, "description": "申請内容又は添付書類の誤り(項目ごと)"},
        },
    )
    @_announced
    async def post_submission(
        request: Request,
        tenant: TenantPath,
        body: SubmissionIn,
        idempotency_header: Annotated[
            str | None, Header(alias="Idempotency-Key", description="送信番号(本文の idempotency_key と同じ)")
        ] = None,
    ) -> Response:
        key = body.idempotency_key or idempotency_header
        if not key:
            raise ValidationError(
                "an idempotency key is required", message_ja="送信番号(Idempotency-Key)を指定してください"
            )
        signature = _b64(body.signature_b64, "電子署名")
        signed = _b64(body.signed_data_b64, "署名対象データ") if body.signed_data_b64 is not None else None
        resolver: ResidentKeyResolver | None = getattr(request.app.state, "resident_key_resolver", None)
        resident_key = resolver(request) if resolver is not None else None
        # checked and sealed on the event loop (CPU work either way); the durable commit runs in
        # the tenant's writer thread while the loop serves other requests, and is awaited by the
        # response (_ReceiptResponse). The decoded files are held by the call's arguments only.
        pending = await begin_submission(
            _storage(request),
            tenant,
            procedure_id=body.procedure_id,
            procedure_version=body.procedure_version,
            form=body.form,
            signed_bytes=signed,  # None: the canonical bytes of the form, computed by submit
            signature=signature,
            certificate_pem=body.certificate_pem,
            certificate_use=body.certificate_use,
            attachments=[
                AttachmentUpload(a.kind, a.filename, a.content_type, _b64(a.data_b64, "添付書類"), a.data_b64)
                for a in body.attachments
            ],
            idempotency_key=key,
            resident_key=resident_key,
        )
        return _ReceiptResponse(pending)

    @router.get(
        "/tenants/{tenant}/applications",
        tags=["受付API"],
        summary="申請の一覧",
        description="受付日時の古い順に、受付番号・手続・受付日時・処理状況を返します。処理状況・手続・"
        "受付日時(以降)で絞り込み、ページ単位で取得します。",
        response_model=ApplicationList,
        responses={**AUTH_ERRORS, 400: {**_E, "description": "ページ指定の誤り"}},
    )
    def list_applications(
        request: Request,
        tenant: TenantPath,
        client: Puller,
        status: Annotated[SubmissionStatus | None, Query(description="処理状況で絞り込む")] = None,
        procedure: Annotated[str | None, Query(max_length=64, description="手続IDで絞り込む")] = None,
        since: Annotated[
            datetime | None, Query(description="この日時(タイムゾーン付き)以降に受け付けた申請")
        ] = None,
        page: Annotated[int, Query(ge=1, le=1_000_000, description="ページ番号(1から)")] = 1,
        per_page: Annotated[int, Query(ge=1, le=receiving.MAX_PER_PAGE, description="1ページの件数")] = 50,
    ) -> ApplicationList:
        result = receiving.list_applications(
            _storage(request),
            client.context(SUBMISSION_PULL.code),
            status=status,
            procedure_id=procedure,
            since=since,
            page=page,
            per_page=per_page,
        )
        return ApplicationList(
            items=[_summary(i) for i in result.items],
            page=result.page,
            per_page=result.per_page,
            total=result.total,
            has_next=result.has_next,
        )

    @router.get(
        "/tenants/{tenant}/applications/{receipt_number}",
        tags=["受付API"],
        summary="申請の取得",
        description="受付番号の申請の経路情報と、申請データの暗号文(JWE)を返します。復号できるのは"
        "LGWAN接続系にある団体の提出用秘密鍵だけです。",
        response_model=ApplicationDetail,
        responses={**AUTH_ERRORS, **NOT_FOUND},
    )
    def get_application(
        request: Request, tenant: TenantPath, receipt_number: ReceiptPath, client: Puller
    ) -> ApplicationDetail:
        info, token = receiving.get_application(
            _storage(request), client.context(SUBMISSION_PULL.code, receipt_number), receipt_number
        )
        return ApplicationDetail(**_summary(info).model_dump(), jwe=token)

    @router.post(
        "/tenants/{tenant}/applications/{receipt_number}/ack",
        tags=["受付API"],
        summary="受領の確認",
        description="申請管理システムが申請を取り込んだことを通知します。処理状況は「自治体へ送付済み」"
        "になります。繰り返しても結果は同じです。",
        response_model=ApplicationSummary,
        responses={**AUTH_ERRORS, **NOT_FOUND},
    )
    def acknowledge(
        request: Request, tenant: TenantPath, receipt_number: ReceiptPath, client: Puller
    ) -> ApplicationSummary:
        info = receiving.acknowledge(
            _storage(request), client.context(SUBMISSION_PULL.code, receipt_number), receipt_number
        )
        return _summary(info)

    @router.post(
        "/tenants/{tenant}/applications/{receipt_number}/events",
        tags=["受付API"],
        status_code=201,
        summary="処理状況・連絡の通知",
        description="処理状況の変更と申請者への連絡(補正依頼など)を登録します。団体の署名鍵による"
        "電子署名(ECDSA P-256, signed_bytes に対する)が必要です。同じ event_id は一度だけ登録されます(200)。",
        response_model=StatusEvent,
        responses={
            **AUTH_ERRORS,
            **NOT_FOUND,
            200: {"model": StatusEvent, "description": "同じイベントを既に登録している"},
            400: {**_E, "description": "署名・受付番号・団体の誤り"},
            409: {**_E, "description": "同じ event_id で異なる内容"},
            413: {**_E, "description": "送信データが大きすぎる"},
        },
    )
    def post_event(
        request: Request,
        tenant: TenantPath,
        receipt_number: ReceiptPath,
        event: StatusEvent,
        client: StatusPoster,
    ) -> Response:
        stored, created = receiving.post_event(
            _storage(request), client.context(STATUS_POST.code, receipt_number), receipt_number, event
        )
        return JSONResponse(stored.model_dump(mode="json"), status_code=201 if created else 200)

    @router.get(
        "/tenants/{tenant}/applications/{receipt_number}/events",
        tags=["受付API"],
        summary="処理状況の履歴",
        description="登録された処理状況と連絡を古い順に返します。",
        response_model=EventList,
        responses={**AUTH_ERRORS, **NOT_FOUND},
    )
    def list_events(
        request: Request, tenant: TenantPath, receipt_number: ReceiptPath, client: Puller
    ) -> EventList:
        events = receiving.list_events(
            _storage(request), client.context(SUBMISSION_PULL.code, receipt_number), receipt_number
        )
        return EventList(items=events)

    @router.get(
        "/tenants/{tenant}/applications/{receipt_number}/replies",
        tags=["受付API"],
        summary="申請者からの回答",
        description="補正依頼などへの申請者の回答を、申請と同じ提出用公開鍵で暗号化したJWE(種別 amendment)"
        "として古い順に返します。",
        response_model=ReplyList,
        responses={**AUTH_ERRORS, **NOT_FOUND},
    )
    def list_replies(
        request: Request, tenant: TenantPath, receipt_number: ReceiptPath, client: Puller
    ) -> ReplyList:
        replies = receiving.list_replies(
            _storage(request), client.context(SUBMISSION_PULL.code, receipt_number), receipt_number
        )
        return ReplyList(
            items=[
                ReplyOut(
                    reply_id=r.reply_id,
                    receipt_number=r.receipt_number,
                    in_reply_to=r.in_reply_to,
                    created_at=r.created_at,
                    kid=r.kid,
                    size=r.size,
                    jwe=r.jwe,
                )
                for r in replies
            ]
        )

    return router


__all__ = ["AUTH_ERRORS", "ResidentKeyResolver", "build_router"]
