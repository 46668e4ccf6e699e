"""HTTP only: the back-office screens of application management (申請管理), in Japanese.

Every screen works without JavaScript: filters are a GET form, actions are POST forms with the
session's CSRF token, each answered by a redirect (post/redirect/get) to a page that says what
was done. Business rules live in :mod:`jichitai.lgwan.service`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from urllib.parse import parse_qsl, quote, urlencode

import httpx
from fastapi import APIRouter, BackgroundTasks, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from jichitai.contracts.submission import STATUS_LABELS, SubmissionStatus
from jichitai.lgwan import service
from jichitai.lgwan.rules import ACTION_LABELS, JST, Verification
from jichitai.platform.errors import JichitaiError, ValidationError
from jichitai.platform.identity.principal import StaffPrincipal
from jichitai.platform.identity.roles import Business, Permission
from jichitai.platform.storage import Storage
from jichitai.platform.wareki import format_wareki
from jichitai.platform.web.app import render
from jichitai.platform.web.staff_auth import require_staff, staff_page_context

log = logging.getLogger(__name__)

BASE = "/staff/applications"
InboxReader = Annotated[StaffPrincipal, Depends(require_staff(Permission.APPLICATIONS_INBOX_READ))]
Reader = Annotated[StaffPrincipal, Depends(require_staff(Permission.APPLICATIONS_APPLICATION_READ))]
Decider = Annotated[StaffPrincipal, Depends(require_staff(Permission.APPLICATIONS_APPLICATION_DECIDE))]
HttpFactory = Callable[[], httpx.Client | None]

DONE_JA = {
    "assign": "担当者を割り当てました。",
    "accept": "受理しました。申請者に「受理」をお知らせします。",
    "correction": "補正を依頼しました。申請者に連絡内容をお知らせします。",
    "reject": "却下しました。申請者に理由をお知らせします。",
    "handover": "担当業務(基幹システム)へ引き継ぎました。",
    "choose_resident": "申請者を選択しました。",
}
FILTER_KEYS = frozenset({"status", "procedure", "business", "verification", "overdue", "q"})
FILTER_STATUSES = [
    ("open", "未処理(引継ぎ前)"),
    *[(s.value, STATUS_LABELS[s]) for s in SubmissionStatus if s is not SubmissionStatus.RECEIVED],
]


def _storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


def _jst(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(JST)
    return f"{format_wareki(local.date())} {local:%H:%M}"


def _size(n: int) -> str:
    return f"{n:,} バイト" if n < 1024 else f"{n / 1024:,.1f} KB"


def _push_later(request: Request, tasks: BackgroundTasks, staff: StaffPrincipal) -> None:
    """After the response: try to post the queued status events now (the next pull run would)."""
    storage = _storage(request)
    factory: HttpFactory | None = getattr(request.app.state, "lgwan_portal_http", None)

    def push() -> None:
        from jichitai.lgwan.pull import push_once

        try:
            push_once(storage, staff.tenant, http=factory() if factory else None)
        except JichitaiError as exc:  # unreachable or not configured: the events wait in the queue
            log.info("status events for %s stay queued: %s", staff.tenant, exc.message)

    tasks.add_task(push)


def _filter(
    status: str, procedure: str, business: str, verification: str, overdue: str, q: str, page: int
) -> service.InboxFilter:
    return service.InboxFilter(
        status=status,
        procedure=procedure,
        business=business,
        verification=verification,
        overdue=overdue in {"1", "on", "true"},
        q=q[:100],
        page=page,
    )


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get(BASE, name="lgwan_inbox")
    def inbox_page(
        request: Request,
        staff: InboxReader,
        status: str = "open",
        procedure: str = "",
        business: str = "",
        verification: str = "",
        overdue: str = "",
        q: str = "",
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        done: str = "",
        count: int = 0,
        skipped: str = "",
    ) -> Response:
        flt = _filter(status, procedure, business, verification, overdue, q, page)
        result = service.inbox(_storage(request), staff, flt)
        query = {k: v for k, v in request.query_params.items() if k in FILTER_KEYS}
        notice = ""
        if done in DONE_JA:
            notice = (
                f"{count}件を{ACTION_LABELS[done]}しました。"
                if done in {"accept", "handover", "assign"}
                else DONE_JA[done]
            )
        return render(
            request,
            "lgwan/inbox.html",
            staff_page_context(
                staff,
                title="電子申請の受付一覧",
                result=result,
                flt=flt,
                statuses=FILTER_STATUSES,
                businesses=sorted(staff.businesses, key=lambda b: b.value),
                verifications=list(Verification),
                query=urlencode(query),
                csv_url=f"{BASE}/export.csv?{urlencode(query)}",
                notice=notice,
                skipped=[s for s in skipped.split("\n") if s][:50],
                may_decide=staff.has(Permission.APPLICATIONS_APPLICATION_DECIDE),
                jst=_jst,
                page_url=lambda n: f"{BASE}?{urlencode({**query, 'page': n})}",
            ),
        )

    @router.get(BASE + "/export.csv", name="lgwan_export")
    def export(
        request: Request,
        staff: Reader,
        status: str = "open",
        procedure: str = "",
        business: str = "",
        verification: str = "",
        overdue: str = "",
        q: str = "",
    ) -> Response:
        flt = _filter(status, procedure, business, verification, overdue, q, 1)
        data = service.export_csv(_storage(request), staff, flt)
        name = quote("電子申請一覧.csv")
        return Response(
            data,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f"attachment; filename=applications.csv; filename*=UTF-8''{name}"
            },
        )

    @router.post(BASE + "/bulk", name="lgwan_bulk")
    async def bulk(request: Request, tasks: BackgroundTasks, staff: Decider) -> Response:
        form = await request.form()
        action = str(form.get("action", ""))
        ids = [str(v) for v in form.getlist("ids")]
        back = str(form.get("back", ""))
        storage = _storage(request)
        if not ids:
            raise ValidationError("nothing chosen", message_ja="処理する申請を選んでください")
        if action == "accept":
            result = service.accept(storage, staff, ids)
        elif action == "handover":
            result = service.hand_over(storage, staff, ids)
        elif action == "assign":
            result = service.assign(storage, staff, ids)
        else:
            raise ValidationError(
                f"unknown bulk action {action!r}", message_ja="一括処理の種類が正しくありません"
            )
        _push_later(request, tasks, staff)
        skipped = "\n".join(f"{k}: {v}" for k, v in result.skipped.items())
        params = {"done": action, "count": len(result.done), "skipped": skipped}
        kept = {k: v for k, v in parse_qsl(back) if k in FILTER_KEYS}
        target = f"{BASE}?{urlencode({**kept, **params})}"
        return RedirectResponse(target, status_code=303)

    @router.get(BASE + "/{app_id}", name="lgwan_application")
    def application_page(request: Request, app_id: str, staff: Reader, done: str = "") -> Response:
        view = service.get_application(_storage(request), staff, app_id)
        return render(
            request,
            "lgwan/application.html",
            staff_page_context(
                staff,
                title=f"申請 {view.row.receipt_number}",
                app=view,
                notice=DONE_JA.get(done, ""),
                jst=_jst,
                size=_size,
                base=BASE,
            ),
        )

    @router.get(BASE + "/{app_id}/attachments/{attachment_id}", name="lgwan_attachment")
    def attachment(request: Request, app_id: str, attachment_id: str, staff: Reader) -> Response:
        name, content_type, data = service.attachment_copy(_storage(request), staff, app_id, attachment_id)
        return Response(
            data,
            media_type=content_type,
            headers={
                "Content-Disposition": f"attachment; filename=sanitized; filename*=UTF-8''{quote(name)}",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @router.post(BASE + "/{app_id}/{action}", name="lgwan_action")
    def act(
        request: Request,
        tasks: BackgroundTasks,
        app_id: str,
        action: str,
        staff: Decider,
        message: Annotated[str, Form()] = "",
        assignee: Annotated[str, Form()] = "",
        atena_number: Annotated[str, Form()] = "",
    ) -> Response:
        storage = _storage(request)
        try:
            if action == "assign":
                result = service.assign(storage, staff, [app_id], assignee or None)
            elif action == "accept":
                result = service.accept(storage, staff, [app_id])
            elif action == "correction":
                result = service.request_correction(storage, staff, app_id, message)
            elif action == "reject":
                result = service.reject(storage, staff, app_id, message)
            elif action == "handover":
                result = service.hand_over(storage, staff, [app_id])
            elif action == "choose_resident":
                result = service.choose_resident(storage, staff, app_id, atena_number)
            else:
                raise ValidationError(f"unknown action {action!r}", message_ja="操作の種類が正しくありません")
            result.single()
        except ValidationError as exc:
            view = service.get_application(storage, staff, app_id)
            return render(
                request,
                "lgwan/application.html",
                staff_page_context(
                    staff,
                    title=f"申請 {view.row.receipt_number}",
                    app=view,
                    error=exc.message_ja or exc.message,
                    failed_action=action,
                    message=message,
                    jst=_jst,
                    size=_size,
                    base=BASE,
                ),
                status_code=400,
            )
        _push_later(request, tasks, staff)
        return RedirectResponse(f"{BASE}/{app_id}?done={action}", status_code=303)

    return router


def business_label(value: str) -> str:
    try:
        return Business(value).label_ja
    except ValueError:
        return value


__all__ = ["BASE", "build_router", "business_label"]
