"""The receiving API in batches (一括): fetch, acknowledge and post status events for many at once.

A benefit-rush day brings tens of thousands of applications; one request and one transaction per
up to :data:`~jichitai.internet.submissions.receiving.MAX_BATCH` of them instead of one each. Each
item is answered as its single request would have been (the single routes stay), and one refused
item never holds up the others of its batch. Acknowledging is idempotent like the single one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from jichitai.contracts.status import StatusEvent
from jichitai.internet.api.routes import AUTH_ERRORS, Puller, StatusPoster, TenantPath, _storage, _summary
from jichitai.internet.api.schemas import ApplicationDetail, ApplicationSummary, ErrorBody
from jichitai.internet.purposes import STATUS_POST, SUBMISSION_PULL
from jichitai.internet.submissions import receiving

MAX_BATCH = receiving.MAX_BATCH
BATCH_PATH = "/tenants/{tenant}/applications-batch"
_SECURITY: dict[str, Any] = {"security": [{"bearerAuth": []}]}
_BATCH_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {"model": ErrorBody, "description": "件数の誤り"},
    413: {"model": ErrorBody, "description": "送信データが大きすぎる"},
}

ReceiptNumber = Annotated[str, Field(min_length=1, max_length=64)]


class ReceiptBatchIn(BaseModel):
    receipt_numbers: list[ReceiptNumber] = Field(
        min_length=1, max_length=MAX_BATCH, description=f"受付番号(1〜{MAX_BATCH}件)"
    )


class ApplicationBatch(BaseModel):
    items: list[ApplicationDetail] = Field(description="見つかった申請(指定の順。重複は1件にまとめる)")
    not_found: list[str] = Field(description="この団体にない受付番号")


class AckBatch(BaseModel):
    items: list[ApplicationSummary] = Field(description="受領を確認した申請(既に確認済みのものを含む)")
    not_found: list[str] = Field(description="この団体にない受付番号")


class EventBatchIn(BaseModel):
    events: list[StatusEvent] = Field(
        min_length=1, max_length=MAX_BATCH, description=f"署名付きの処理状況(1〜{MAX_BATCH}件)"
    )


class EventOutcome(BaseModel):
    event_id: str = Field(description="イベントID")
    status: int = Field(
        description="単独の通知と同じ結果: 201 登録, 200 既に登録済み, 400 署名・形式の誤り, "
        "404 申請がない, 409 同じ event_id で異なる内容"
    )
    error: str = Field(default="", description="受け付けなかったときのエラーコード")
    message: str = Field(default="", description="受け付けなかった理由(英語)")
    message_ja: str = Field(default="", description="受け付けなかった理由(日本語)")


class EventBatch(BaseModel):
    results: list[EventOutcome] = Field(description="イベントごとの結果(送った順)")


def add_bulk_routes(router: APIRouter) -> None:
    """Add the batch routes to the API's router (whose prefix is ``/api/v1``)."""

    @router.post(
        f"{BATCH_PATH}/fetch",
        tags=["受付API"],
        summary="申請の一括取得",
        description=f"受付番号を{MAX_BATCH}件まで指定し、経路情報と申請データの暗号文(JWE)をまとめて返します。"
        "取得は申請ごとに記録されます。",
        response_model=ApplicationBatch,
        responses=_BATCH_ERRORS,
        openapi_extra=_SECURITY,
    )
    def fetch_batch(
        request: Request, tenant: TenantPath, body: ReceiptBatchIn, client: Puller
    ) -> ApplicationBatch:
        found, missing = receiving.fetch_applications(
            _storage(request), client.context(SUBMISSION_PULL.code, "batch fetch"), body.receipt_numbers
        )
        return ApplicationBatch(
            items=[ApplicationDetail(**_summary(info).model_dump(), jwe=token) for info, token in found],
            not_found=missing,
        )

    @router.post(
        f"{BATCH_PATH}/ack",
        tags=["受付API"],
        summary="受領の一括確認",
        description=f"申請管理システムが取り込んだ申請を{MAX_BATCH}件までまとめて通知します。"
        "繰り返しても結果は同じです。",
        response_model=AckBatch,
        responses=_BATCH_ERRORS,
        openapi_extra=_SECURITY,
    )
    def ack_batch(request: Request, tenant: TenantPath, body: ReceiptBatchIn, client: Puller) -> AckBatch:
        done, missing = receiving.acknowledge_many(
            _storage(request), client.context(SUBMISSION_PULL.code, "batch ack"), body.receipt_numbers
        )
        return AckBatch(items=[_summary(info) for info in done], not_found=missing)

    @router.post(
        f"{BATCH_PATH}/events",
        tags=["受付API"],
        summary="処理状況の一括通知",
        description=f"署名付きの処理状況を{MAX_BATCH}件までまとめて登録します。結果はイベントごとに、"
        "単独の通知と同じ区分で返します。受け付けなかったイベントがあっても、ほかのイベントは登録されます。",
        response_model=EventBatch,
        responses=_BATCH_ERRORS,
        openapi_extra=_SECURITY,
    )
    def events_batch(
        request: Request, tenant: TenantPath, body: EventBatchIn, client: StatusPoster
    ) -> EventBatch:
        outcomes = receiving.post_events(
            _storage(request), client.context(STATUS_POST.code, "batch events"), body.events
        )
        return EventBatch(
            results=[
                EventOutcome(
                    event_id=o.key, status=o.status, error=o.error, message=o.message, message_ja=o.message_ja
                )
                for o in outcomes
            ]
        )


__all__ = ["BATCH_PATH", "MAX_BATCH", "add_bulk_routes"]
