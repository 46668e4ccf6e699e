"""HTTP endpoints a zone mounts for the linkage server: its outbox, acknowledgements and intake.

::

    GET  /linkage/v1/tenants/{code}/outbox?limit=100          pending messages, oldest first
    POST /linkage/v1/tenants/{code}/outbox/{message_id}/ack   {"outcome": "delivered"|"refused", "reason": ""}
    POST /linkage/v1/tenants/{code}/outbox/ack                {"acks": [{"message_id", "outcome", "reason"}]}
    POST /linkage/v1/tenants/{code}/intake                    a TransferEnvelope (JSON)
    POST /linkage/v1/tenants/{code}/intake/batch              {"envelopes": [TransferEnvelope, …]}

Only the linkage server may call them: every request must carry ``Authorization: Bearer <token>``
with the zone's linkage token (see :mod:`jichitai.platform.messaging.auth`). The zone never calls
out; it only answers. Intake answers 200 ``{"outcome": "received"|"duplicate"}``, 409 when the
message id is known with another payload, 400 when the zone takes no such message (no handler,
wrong destination, altered payload), 404 for a tenant it does not serve.

The two batch endpoints do the same per message in one transaction (a busy day moves thousands of
messages: one round trip and one commit per message would dominate). They answer 200 with
``{"results": [...]}`` in the order sent, each result carrying the ``status`` the single endpoint
would have answered and its body. Intake applies the batch in one transaction; when any message of
it fails, the batch is rolled back and taken one by one, so each message gets its own answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from jichitai.contracts.transfer import MessageType, TransferEnvelope
from jichitai.platform.context import TenantContext, system
from jichitai.platform.errors import Conflict, JichitaiError, NotFound, PermissionDenied, ValidationError
from jichitai.platform.messaging import inbox, outbox
from jichitai.platform.messaging.auth import expected_token, token_matches
from jichitai.platform.messaging.inbox import Handler, ReceiveOutcome
from jichitai.platform.messaging.outbox import MAX_LIST, AckOutcome
from jichitai.platform.messaging.purposes import MESSAGING_TRANSFER
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

log = logging.getLogger(__name__)

PREFIX = "/linkage/v1/tenants/{code}"
LINKAGE_ACTOR = system("linkage-server", "linkage")
TokenSource = str | Callable[[], str | None] | None


class AckBody(BaseModel):
    outcome: AckOutcome
    reason: str = Field(default="", max_length=2000)


class BulkAckItem(BaseModel):
    message_id: str = Field(min_length=1, max_length=64)
    outcome: AckOutcome
    reason: str = Field(default="", max_length=2000)


class BulkAckBody(BaseModel):
    acks: list[BulkAckItem] = Field(max_length=MAX_LIST)


class IntakeBatchBody(BaseModel):
    envelopes: list[TransferEnvelope] = Field(max_length=MAX_LIST)


class NotAuthenticated(JichitaiError):
    http_status = 401
    error_code = "invalid_token"
    http_headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": 'Bearer realm="jichitai-linkage"'}


class TokenNotConfigured(JichitaiError):
    http_status = 503
    error_code = "linkage_not_configured"


def _status(exc: JichitaiError) -> tuple[int, str]:
    own = getattr(exc, "http_status", None)
    code = getattr(exc, "error_code", None)
    if own:
        return int(own), str(code or "error")
    for cls, status, name in (
        (ValidationError, 400, "validation_error"),
        (PermissionDenied, 403, "permission_denied"),
        (NotFound, 404, "not_found"),
        (Conflict, 409, "conflict"),
    ):
        if isinstance(exc, cls):
            return status, name
    return 500, "error"


def _error_body(exc: JichitaiError) -> tuple[int, dict[str, Any]]:
    status, code = _status(exc)
    return status, {"error": code, "message": exc.message, "message_ja": exc.message_ja or ""}


def _error(exc: JichitaiError) -> JSONResponse:
    status, body = _error_body(exc)
    headers = dict(getattr(exc, "http_headers", None) or {})
    return JSONResponse(body, status_code=status, headers=headers or None)


def messaging_router(
    storage_getter: Callable[[], Storage],
    zone: Zone,
    handlers: Mapping[MessageType, Handler],
    *,
    token: TokenSource = None,
) -> APIRouter:
    """The linkage endpoints of ``zone``; ``handlers`` apply the message types the zone takes in.

    ``token`` is the bearer token expected from the linkage server (a value or a function giving
    it); by default it is read from the environment or ``<home>/linkage/tokens/<zone>.token``.
    """
    handlers = dict(handlers)

    def current_token() -> str | None:
        if isinstance(token, str):
            return token or None
        if token is not None:
            return token()
        home: Path = storage_getter().settings.home
        return expected_token(home, zone)

    def authenticate(request: Request) -> None:
        expected = current_token()
        if not expected:
            log.error("linkage token of the %s zone is not configured: refusing the call", zone.value)
            raise TokenNotConfigured(
                f"the {zone.value} zone has no linkage token configured",
                hint="set JICHITAI_LINKAGE_TOKEN or create <home>/linkage/tokens/<zone>.token",
                message_ja="連携サーバとの接続設定がありません",
            )
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token_matches(presented.strip(), expected):
            log.warning("refused a linkage call without a valid token from %s", request.client)
            raise NotAuthenticated(
                "a valid linkage bearer token is required", message_ja="認証に失敗しました"
            )

    def ctx_of(code: str, reason: str) -> TenantContext:
        return TenantContext(TenantCode(code), LINKAGE_ACTOR, MESSAGING_TRANSFER, reason)

    router = APIRouter(tags=["linkage"])

    def guarded(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except JichitaiError as exc:
            return _error(exc)

    def check_auth(request: Request) -> None:
        # a dependency runs before the body is read: a caller without the token learns nothing
        try:
            authenticate(request)
        except JichitaiError as exc:
            status, _code = _status(exc)
            headers = dict(getattr(exc, "http_headers", None) or {})
            raise HTTPException(status, detail=exc.message, headers=headers or None) from None

    auth = [Depends(check_auth)]

    @router.get(PREFIX + "/outbox", dependencies=auth)
    def list_outbox(code: str, limit: Annotated[int, Query(ge=1, le=outbox.MAX_LIST)] = 100) -> Any:

        def run() -> dict[str, Any]:
            with storage_getter().unit_of_work(ctx_of(code, "outbox pick-up"), zone) as uow:
                messages = outbox.pending(uow, limit)
            return {
                "tenant": code,
                "zone": zone.value,
                "messages": [m.model_dump(mode="json") for m in messages],
            }

        return guarded(run)

    @router.post(PREFIX + "/outbox/{message_id}/ack", dependencies=auth)
    def ack(code: str, message_id: str, body: AckBody) -> Any:

        def run() -> dict[str, Any]:
            with storage_getter().unit_of_work(ctx_of(code, f"ack {message_id}"), zone) as uow:
                result = outbox.acknowledge(uow, message_id, body.outcome, body.reason)
            return {"message_id": result.message_id, "state": result.state, "already": result.already}

        return guarded(run)

    @router.post(PREFIX + "/outbox/ack", dependencies=auth)
    def ack_many(code: str, body: BulkAckBody) -> Any:

        def run() -> dict[str, Any]:
            acks = [(a.message_id, a.outcome, a.reason) for a in body.acks]
            with storage_getter().unit_of_work(ctx_of(code, f"ack {len(acks)} message(s)"), zone) as uow:
                found = outbox.acknowledge_many(uow, acks)
            results: list[dict[str, Any]] = []
            for (message_id, _, _), result in zip(acks, found, strict=True):
                if isinstance(result, JichitaiError):
                    status, error = _error_body(result)
                    results.append({"message_id": message_id, "status": status, **error})
                else:
                    results.append(
                        {
                            "message_id": message_id,
                            "status": 200,
                            "state": result.state,
                            "already": result.already,
                        }
                    )
            return {"results": results}

        return guarded(run)

    def handler_of(code: str) -> Callable[[TransferEnvelope], Handler]:
        def find(envelope: TransferEnvelope) -> Handler:
            handler = handlers.get(envelope.message_type)
            if handler is None:
                raise ValidationError(
                    f"the {zone.value} zone takes no {envelope.message_type.value} messages",
                    message_ja="この系では受け付けない種類の連携データです",
                )
            if envelope.tenant != code:
                raise ValidationError(
                    f"message for tenant {envelope.tenant} posted to tenant {code}",
                    message_ja="宛先の団体が一致しません",
                )
            return handler

        return find

    def answer(envelope: TransferEnvelope, outcome: ReceiveOutcome) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"message_id": envelope.message_id, "outcome": outcome.value}
        if outcome is ReceiveOutcome.CONFLICT:
            body["message_ja"] = "同じ連携IDで内容の異なるデータは受け付けられません"
            return 409, body
        return 200, body

    def intake_one(code: str, envelope: TransferEnvelope) -> tuple[int, dict[str, Any]]:
        """The single intake's answer (status, body) for ``envelope``."""
        try:
            handler = handler_of(code)(envelope)
            ctx = ctx_of(code, f"intake {envelope.message_id}")
            outcome = inbox.deliver(storage_getter(), ctx, zone, envelope, handler)
        except JichitaiError as exc:
            return _error_body(exc)
        return answer(envelope, outcome)

    @router.post(PREFIX + "/intake", dependencies=auth)
    def intake(code: str, envelope: Annotated[TransferEnvelope, Body()]) -> Any:
        status, body = intake_one(code, envelope)
        return JSONResponse(body, status_code=status) if status != 200 else body

    @router.post(PREFIX + "/intake/batch", dependencies=auth)
    def intake_batch(code: str, body: IntakeBatchBody) -> Any:

        def run() -> dict[str, Any]:
            envelopes = body.envelopes
            if not envelopes:
                return {"results": []}
            ctx = ctx_of(code, f"intake {len(envelopes)} message(s)")
            try:
                outcomes = inbox.deliver_many(storage_getter(), ctx, zone, envelopes, handler_of(code))
            except (JichitaiError, IntegrityError) as exc:
                # rolled back as a whole: each message on its own, so each gets its own answer
                log.info("intake batch of %d taken one by one: %s", len(envelopes), exc)
                answers = [intake_one(code, e) for e in envelopes]
            else:
                answers = [answer(e, o) for e, o in zip(envelopes, outcomes, strict=True)]
            return {"results": [{"status": status, **item} for status, item in answers]}

        return guarded(run)

    return router
