"""The resident portal's screens (HTTP only: the use cases live in sessions, drafts, receipts and
:mod:`jichitai.internet.submissions`).

::

    GET  /                                         choose the municipality (name, kana or postcode)
    GET  /m/{tenant}/                              its procedures by life event
    GET  /m/{tenant}/procedures/{id}               guidance of one procedure
    GET  /m/{tenant}/login                         log in with the card (JavaScript + card reader)
    POST /m/{tenant}/login/challenge  (JSON)       a one-time challenge for the card
    POST /m/{tenant}/login            (JSON)       the card's signature → session cookie
    POST /m/{tenant}/logout
    GET  /m/{tenant}/procedures/{id}/form          the form (draft), no JavaScript needed
    POST /m/{tenant}/procedures/{id}/form          save / add or remove a row / attach / next
    GET  /m/{tenant}/procedures/{id}/review        review and sign (署名用 through the card reader)
    POST /m/{tenant}/procedures/{id}/submit        verify, encrypt, store → 受付番号
    GET  /m/{tenant}/applications                  申請履歴
    GET  /m/{tenant}/applications/{receipt}        status, messages, reply form
    GET  /m/{tenant}/applications/{receipt}/done   受付完了 (the 受付番号)
    GET  /m/{tenant}/applications/{receipt}/receipt.pdf
    POST /m/{tenant}/applications/{receipt}/reply
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from jichitai.internet.portal import drafts, formfields, receipts, sessions
from jichitai.internet.portal.municipalities import search
from jichitai.internet.portal.pages import (
    base_path,
    check_csrf,
    clear_session_cookie,
    config_of,
    render_page,
    require_session,
    session_of,
    set_session_cookie,
    storage_of,
    tenant_of,
)
from jichitai.internet.portal.sessions import ResidentSession
from jichitai.internet.submissions import (
    ApplicationNotFound,
    AttachmentUpload,
    Receipt,
    SubmissionInvalid,
    get_for_resident,
    list_for_resident,
    reply_to_message,
    submit_async,
)
from jichitai.internet.submissions.procedures import (
    current_definition,
    definition_for_submission,
    tenant_procedures,
)
from jichitai.internet.submissions.service import attachment_errors
from jichitai.platform.errors import JichitaiError, NotFound
from jichitai.platform.tenants import Tenant
from jichitai.platform.web.deps import parse_json, posted_index
from jichitai.procedures import EffectiveDefinition, FieldError, canonical_form_bytes, validate_application
from jichitai.procedures.model import LIFE_EVENTS

JST = timezone(timedelta(hours=9), "JST")
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
_MAGIC = (("application/pdf", b"%PDF-"), ("image/jpeg", b"\xff\xd8\xff"), ("image/png", b"\x89PNG\r\n\x1a\n"))

router = APIRouter(include_in_schema=False)


def _today() -> Any:
    return datetime.now(JST).date()


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _offered(request: Request, tenant: Tenant, procedure_id: str) -> EffectiveDefinition:
    try:
        effective = current_definition(storage_of(request), tenant.code, procedure_id)
    except JichitaiError:
        raise NotFound(
            f"no procedure {procedure_id}", message_ja="お探しの手続は見つかりませんでした"
        ) from None
    if not effective.enabled:
        raise NotFound(
            f"{procedure_id} is not offered",
            message_ja="この手続はこの市区町村ではオンラインで受け付けていません",
        )
    return effective


def _procedure_name(request: Request, tenant: Tenant, procedure_id: str) -> str:
    try:
        return current_definition(storage_of(request), tenant.code, procedure_id).base.name
    except JichitaiError:
        return procedure_id


def _wareki(at: datetime) -> str:
    return receipts.wareki_time(at)


# --- choosing the municipality and the procedure --------------------------------------------------


@router.get("/")
def choose_municipality(request: Request, q: str = "") -> Response:
    tenants = storage_of(request).catalog.list()
    found = search(tenants, q[:40])
    return render_page(
        request,
        "portal/choose.html",
        {"title": "申請先の市区町村を選ぶ", "query": q[:40], "found": found, "searched": bool(q.strip())},
    )


@router.get("/m/{tenant_code}/")
def municipality_home(request: Request, tenant_code: str, event: str = "") -> Response:
    tenant = tenant_of(request, tenant_code)
    storage = storage_of(request)
    offered = tenant_procedures(storage).offered(tenant.code)
    events: list[tuple[str, list[EffectiveDefinition]]] = []
    for name in LIFE_EVENTS:
        items = [e for e in offered if name in e.base.life_events]
        if items and (not event or event == name):
            events.append((name, sorted(items, key=lambda e: e.base.number)))
    return render_page(
        request,
        "portal/home.html",
        {
            "title": "手続を探す",
            "events": events,
            "all_events": [n for n in LIFE_EVENTS if any(n in e.base.life_events for e in offered)],
            "event": event,
            "count": len(offered),
        },
        tenant=tenant,
    )


@router.get("/m/{tenant_code}/procedures/{procedure_id}")
def procedure_page(request: Request, tenant_code: str, procedure_id: str) -> Response:
    tenant = tenant_of(request, tenant_code)
    effective = _offered(request, tenant, procedure_id)
    return render_page(
        request,
        "portal/procedure.html",
        {"title": effective.base.name, "e": effective, "d": effective.definition},
        tenant=tenant,
    )


# --- login with the card --------------------------------------------------------------------------


@router.get("/m/{tenant_code}/login")
def login_page(request: Request, tenant_code: str, next: str = "") -> Response:
    tenant = tenant_of(request, tenant_code)
    target = next if next.startswith(base_path(tenant) + "/") and "//" not in next else ""
    return render_page(
        request,
        "portal/login.html",
        {
            "title": "マイナンバーカードでログイン",
            "next": target or f"{base_path(tenant)}/applications",
            "card_reader_origin": config_of(request).card_reader_origin,
        },
        tenant=tenant,
        card_reader=True,
    )


def _json_error(status: int, message_ja: str, code: str = "error") -> JSONResponse:
    return JSONResponse({"error": code, "message_ja": message_ja}, status_code=status)


def _is_json(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"


@router.post("/m/{tenant_code}/login/challenge")
def login_challenge(request: Request, tenant_code: str) -> Response:
    tenant = tenant_of(request, tenant_code)
    if not _is_json(request):  # JSON only: a cross-site form cannot post here without a preflight
        return _json_error(415, "リクエストの形式が正しくありません")
    challenge = sessions.new_challenge(storage_of(request), tenant.code)
    return JSONResponse(
        {
            "challenge_id": challenge.challenge_id,
            "challenge": base64.b64encode(challenge.challenge).decode("ascii"),
        }
    )


@router.post("/m/{tenant_code}/login")
async def login(request: Request, tenant_code: str) -> Response:
    tenant = tenant_of(request, tenant_code)
    if not _is_json(request):
        return _json_error(415, "リクエストの形式が正しくありません")
    try:
        body = parse_json(await request.body())
        challenge_id = str(body["challenge_id"])
        signature = base64.b64decode(str(body["signature"]), validate=True)
        certificate = str(body["certificate"])
        target = str(body.get("next") or "")
    except (ValueError, KeyError, TypeError, binascii.Error):
        return _json_error(400, "ログインの情報が正しくありません。もう一度お試しください", "invalid_request")
    return await run_in_threadpool(_log_in, request, tenant, challenge_id, signature, certificate, target)


def _log_in(
    request: Request, tenant: Tenant, challenge_id: str, signature: bytes, certificate: str, target: str
) -> Response:
    try:
        result = sessions.log_in(
            storage_of(request),
            tenant.code,
            challenge_id=challenge_id,
            signature=signature,
            certificate_pem=certificate,
        )
    except JichitaiError as exc:
        reason = getattr(exc, "reason", None)
        return _json_error(
            403, exc.message_ja or "ログインできませんでした", str(reason) if reason else "login_failed"
        )
    if not target.startswith(base_path(tenant) + "/") or "//" in target:
        target = f"{base_path(tenant)}/applications"
    response = JSONResponse({"redirect": target})
    set_session_cookie(request, response, tenant, result.token)
    return response


@router.post("/m/{tenant_code}/logout")
async def logout(request: Request, tenant_code: str) -> Response:
    tenant = tenant_of(request, tenant_code)
    form = await request.form()
    return await run_in_threadpool(_log_out, request, tenant, form)


def _log_out(request: Request, tenant: Tenant, form: FormData) -> Response:
    session = session_of(request, tenant)
    if session is not None:
        check_csrf(session, form.get("csrf_token"))
        sessions.log_out(storage_of(request), tenant.code, request.cookies.get("jt_resident"))
    response = _redirect(f"{base_path(tenant)}/?logged_out=1")
    clear_session_cookie(response, tenant)
    return response


# --- the form -------------------------------------------------------------------------------------


def _error_entries(schema: Mapping[str, Any], errors: list[FieldError]) -> list[dict[str, str]]:
    """For the error summary: each message with the id of the element it links to."""
    return [
        {"href": "#" + formfields.field_id(schema, e.pointer), "text": e.summary_line, "pointer": e.pointer}
        for e in errors
    ]


def _render_form(
    request: Request,
    tenant: Tenant,
    effective: EffectiveDefinition,
    draft: drafts.Draft | None,
    data: dict[str, Any],
    errors: list[FieldError],
    *,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    schema = effective.definition.form
    messages = {e.pointer: e.message for e in errors}
    root = formfields.build_form(schema, data, messages)
    attachment_errors_by_kind = {
        e.pointer.split("/")[2]: e.message for e in errors if e.pointer.startswith("/attachments/")
    }
    return render_page(
        request,
        "portal/form.html",
        {
            "title": ("エラー: " if errors else "") + effective.base.name,
            "e": effective,
            "root": root,
            "summary": _error_entries(schema, errors),
            "files": draft.files if draft else (),
            "attachment_errors": attachment_errors_by_kind,
            "notice": notice,
        },
        tenant=tenant,
        status_code=status_code,
    )


@router.get("/m/{tenant_code}/procedures/{procedure_id}/form")
def form_page(request: Request, tenant_code: str, procedure_id: str, saved: str = "") -> Response:
    tenant = tenant_of(request, tenant_code)
    session = require_session(request, tenant)
    effective = _offered(request, tenant, procedure_id)
    draft = drafts.load_draft(storage_of(request), tenant.code, session.resident_key, procedure_id)
    notice = ""
    if saved and draft is not None:
        notice = f"一時保存しました（{_wareki(draft.updated_at)}）。"
    return _render_form(request, tenant, effective, draft, draft.data if draft else {}, [], notice=notice)


def _sniff(data: bytes) -> str | None:
    return next((ctype for ctype, magic in _MAGIC if data.startswith(magic)), None)


# an uploaded file as read on the event loop: field name, file name and content type as sent, content
_Received = tuple[str, str, str, bytes]


async def _read_files(form: FormData, limit: int = MAX_UPLOAD_BYTES) -> list[_Received]:
    """The content of every file in ``form``, up to ``limit`` + 1 bytes each (one more tells that a
    file is too large), read on the event loop before the rest of the request goes to a thread."""
    found: list[_Received] = []
    for name, item in form.multi_items():
        if isinstance(item, UploadFile) and item.filename:
            declared = item.content_type or "application/octet-stream"
            found.append((name, item.filename, declared, await item.read(limit + 1)))
    return found


def _uploads(
    received: list[_Received], effective: EffectiveDefinition
) -> tuple[list[AttachmentUpload], list[FieldError]]:
    """Files chosen on this post, typed by their content (not by what the browser claims)."""
    found: list[AttachmentUpload] = []
    errors: list[FieldError] = []
    for spec in effective.definition.attachments:
        limit = min(spec.max_size_bytes, MAX_UPLOAD_BYTES)
        for field_name, filename, _declared, data in received:
            if field_name != f"attachments.{spec.kind}":
                continue
            data = data[: limit + 1]
            pointer = f"/attachments/{spec.kind}"
            name = filename.replace("\\", "/").rsplit("/", 1)[-1][:200] or "file"
            ctype = _sniff(data)
            if len(data) > limit:
                size = spec.max_size_bytes / (1024 * 1024)
                errors.append(
                    FieldError(
                        pointer, spec.name, f"{spec.name}（{name}）は{size:g}MB以下にしてください", "max_size"
                    )
                )
            elif not data:
                errors.append(
                    FieldError(pointer, spec.name, f"{spec.name}（{name}）が空のファイルです", "empty")
                )
            elif ctype is None or ctype not in spec.content_types:
                errors.append(
                    FieldError(
                        pointer,
                        spec.name,
                        f"{spec.name}（{name}）はPDF・JPEG・PNGの形式で添付してください",
                        "content_type",
                    )
                )
            else:
                found.append(AttachmentUpload(spec.kind, name, ctype, data))
    return found, errors


def _path_of(text: str) -> formfields.Path:
    return tuple(p if (i := posted_index(p)) is None else i for p in text.split(".") if p)


@router.post("/m/{tenant_code}/procedures/{procedure_id}/form")
async def form_post(request: Request, tenant_code: str, procedure_id: str) -> Response:
    # The database is touched in a worker thread only: a draft write may wait for the tenant's
    # write turn, and the event loop must go on serving everyone else meanwhile.
    tenant = tenant_of(request, tenant_code)
    session = await run_in_threadpool(require_session, request, tenant)
    form = await request.form()
    received = await _read_files(form)
    return await run_in_threadpool(_form_post, request, tenant, session, procedure_id, form, received)


def _form_post(
    request: Request,
    tenant: Tenant,
    session: ResidentSession,
    procedure_id: str,
    form: FormData,
    received: list[_Received],
) -> Response:
    effective = _offered(request, tenant, procedure_id)
    storage = storage_of(request)
    check_csrf(session, form.get("csrf_token"))
    schema = effective.definition.form
    data = formfields.parse_post(schema, form)
    action = str(form.get("action") or "save")
    here = f"{base_path(tenant)}/procedures/{procedure_id}/form"

    anchor = ""
    if action.startswith("add:"):
        data, index = formfields.add_row(schema, data, _path_of(action[4:]))
        if index is not None:
            anchor = "#" + formfields.element_id((*_path_of(action[4:]), index))
    elif action.startswith("remove:"):
        path = _path_of(action[7:])
        data = formfields.remove_row(schema, data, path)
        anchor = "#" + formfields.element_id(path[:-1])

    resident = session.resident_key
    drafts.save_draft(storage, tenant.code, resident, procedure_id, effective.effective_id, data)
    uploads, upload_errors = _uploads(received, effective)
    if uploads:
        drafts.add_files(storage, tenant.code, resident, procedure_id, uploads)
    if action.startswith("remove-file:"):
        drafts.remove_file(storage, tenant.code, resident, procedure_id, action[12:])
        anchor = "#attachments"
    draft = drafts.load_draft(storage, tenant.code, resident, procedure_id)
    if upload_errors:
        return _render_form(request, tenant, effective, draft, data, upload_errors, status_code=422)
    if action != "next":
        return _redirect(here + ("?saved=1" if action == "save" else "") + anchor)

    checked = validate_application(effective, data, today=_today())
    files = drafts.draft_attachments(storage, tenant.code, resident, procedure_id)
    errors = [*checked.errors, *attachment_errors(effective.definition, checked.data, files)]
    if errors:
        return _render_form(request, tenant, effective, draft, data, errors, status_code=422)
    drafts.save_draft(
        storage, tenant.code, resident, procedure_id, effective.effective_id, checked.data, validated=True
    )
    return _redirect(f"{base_path(tenant)}/procedures/{procedure_id}/review")


# --- review, sign, submit -------------------------------------------------------------------------


def _checked_draft(
    request: Request, tenant: Tenant, resident: str, procedure_id: str
) -> tuple[drafts.Draft, EffectiveDefinition, dict[str, Any], bytes] | None:
    """The validated draft, its definition, the normalised data and the bytes to sign; None if not ready."""
    storage = storage_of(request)
    draft = drafts.load_draft(storage, tenant.code, resident, procedure_id)
    if draft is None or not draft.validated:
        return None
    try:
        effective = definition_for_submission(storage, tenant.code, procedure_id, draft.procedure_version)
    except JichitaiError:
        return None
    checked = validate_application(effective, draft.data, today=_today())
    if not checked.ok:
        return None
    return draft, effective, checked.data, canonical_form_bytes(checked.data)


def _render_review(
    request: Request,
    tenant: Tenant,
    procedure_id: str,
    ready: tuple[drafts.Draft, EffectiveDefinition, dict[str, Any], bytes],
    *,
    error: str = "",
    status_code: int = 200,
) -> Response:
    draft, effective, data, signed = ready
    digest = hashlib.sha256(signed).hexdigest()
    return render_page(
        request,
        "portal/review.html",
        {
            "title": ("エラー: " if error else "") + "申請内容の確認",
            "e": effective,
            "groups": formfields.summary_groups(effective.definition.form, data, mask=False),
            "files": draft.files,
            "sign_data": base64.b64encode(signed).decode("ascii"),
            "form_sha256": digest,
            "idempotency_key": f"portal-{draft.draft_id}-{digest[:24]}",
            "signing": effective.definition.requires_signature,
            "card_reader_origin": config_of(request).card_reader_origin,
            "error": error,
        },
        tenant=tenant,
        status_code=status_code,
        card_reader=True,
    )


@router.get("/m/{tenant_code}/procedures/{procedure_id}/review")
def review_page(request: Request, tenant_code: str, procedure_id: str) -> Response:
    tenant = tenant_of(request, tenant_code)
    session = require_session(request, tenant)
    _offered(request, tenant, procedure_id)
    ready = _checked_draft(request, tenant, session.resident_key, procedure_id)
    if ready is None:
        return _redirect(f"{base_path(tenant)}/procedures/{procedure_id}/form")
    return _render_review(request, tenant, procedure_id, ready)


@dataclass(frozen=True)
class _Signed:
    """A submission from the review page, checked against the draft and ready to send."""

    ready: tuple[drafts.Draft, EffectiveDefinition, dict[str, Any], bytes]
    signature: bytes
    certificate: str
    attachments: list[AttachmentUpload]
    idempotency_key: str


@router.post("/m/{tenant_code}/procedures/{procedure_id}/submit")
async def submit_application(request: Request, tenant_code: str, procedure_id: str) -> Response:
    # the drafts and sessions are read and written in worker threads; the submission itself is
    # checked on the loop and committed by the tenant's writer (submit_async)
    tenant = tenant_of(request, tenant_code)
    session = await run_in_threadpool(require_session, request, tenant)
    form = await request.form()
    signed = await run_in_threadpool(_signed_submission, request, tenant, session, procedure_id, form)
    if isinstance(signed, Response):
        return signed
    draft, effective, data, signed_bytes = signed.ready
    try:
        receipt = await submit_async(
            storage_of(request),
            tenant.code,
            procedure_id=procedure_id,
            procedure_version=draft.procedure_version,
            form=data,
            signed_bytes=signed_bytes,
            signature=signed.signature,
            certificate_pem=signed.certificate,
            certificate_use="signing" if effective.definition.requires_signature else "authentication",
            attachments=signed.attachments,
            idempotency_key=signed.idempotency_key,
            resident_key=session.resident_key,
        )
    except SubmissionInvalid as exc:
        return _render_form(request, tenant, effective, draft, data, list(exc.errors), status_code=422)
    except JichitaiError as exc:
        return _render_review(
            request,
            tenant,
            procedure_id,
            signed.ready,
            status_code=400,
            error=exc.message_ja or "申請を受け付けられませんでした。",
        )
    return await run_in_threadpool(_after_submission, request, tenant, session, procedure_id, signed, receipt)


def _signed_submission(
    request: Request, tenant: Tenant, session: ResidentSession, procedure_id: str, form: FormData
) -> _Signed | Response:
    _offered(request, tenant, procedure_id)
    check_csrf(session, form.get("csrf_token"))
    ready = _checked_draft(request, tenant, session.resident_key, procedure_id)
    if ready is None:
        return _redirect(f"{base_path(tenant)}/procedures/{procedure_id}/form")
    draft, _effective, _data, signed = ready
    if form.get("form_sha256") != hashlib.sha256(signed).hexdigest():
        return _render_review(
            request,
            tenant,
            procedure_id,
            ready,
            status_code=409,
            error="確認中に申請内容が変更されました。内容をもう一度確認してから署名してください。",
        )
    try:
        signature = base64.b64decode(str(form.get("signature") or ""), validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    certificate = str(form.get("certificate") or "")
    if not signature or not certificate:
        return _render_review(
            request,
            tenant,
            procedure_id,
            ready,
            status_code=400,
            error="電子署名ができませんでした。カードリーダーソフトが起動していること、"
            "ブラウザでJavaScriptが有効になっていることを確認してください。",
        )
    storage = storage_of(request)
    return _Signed(
        ready,
        signature,
        certificate,
        drafts.draft_attachments(storage, tenant.code, session.resident_key, procedure_id),
        str(form.get("idempotency_key") or f"portal-{draft.draft_id}"),
    )


def _after_submission(
    request: Request,
    tenant: Tenant,
    session: ResidentSession,
    procedure_id: str,
    signed: _Signed,
    receipt: Receipt,
) -> Response:
    _draft, effective, data, _bytes = signed.ready
    storage = storage_of(request)
    receipts.store_summary(
        storage,
        tenant.code,
        session.resident_key,
        receipt_number=receipt.receipt_number,
        procedure_id=procedure_id,
        received_at=receipt.received_at,
        groups=formfields.summary_groups(effective.definition.form, data, mask=True),
    )
    drafts.delete_draft(storage, tenant.code, session.resident_key, procedure_id)
    return _redirect(f"{base_path(tenant)}/applications/{receipt.receipt_number}/done")


# --- after submitting -----------------------------------------------------------------------------


@router.get("/m/{tenant_code}/applications")
def history(request: Request, tenant_code: str) -> Response:
    tenant = tenant_of(request, tenant_code)
    session = require_session(request, tenant)
    storage = storage_of(request)
    apps = list_for_resident(storage, tenant.code, session.resident_key)
    pending = drafts.list_drafts(storage, tenant.code, session.resident_key)
    return render_page(
        request,
        "portal/history.html",
        {
            "title": "申請履歴",
            "applications": [(a, _procedure_name(request, tenant, a.procedure_id)) for a in apps],
            "drafts": [(pid, _procedure_name(request, tenant, pid), at) for pid, at in pending],
            "wareki": _wareki,
        },
        tenant=tenant,
    )


@router.get("/m/{tenant_code}/applications/{receipt_number}/done")
def done_page(request: Request, tenant_code: str, receipt_number: str) -> Response:
    tenant = tenant_of(request, tenant_code)
    session = require_session(request, tenant)
    summary = receipts.load_summary(storage_of(request), tenant.code, session.resident_key, receipt_number)
    return render_page(
        request,
        "portal/done.html",
        {
            "title": "申請を受け付けました",
            "summary": summary,
            "procedure_name": _procedure_name(request, tenant, summary.procedure_id),
            "received": _wareki(summary.received_at),
        },
        tenant=tenant,
    )


@router.get("/m/{tenant_code}/applications/{receipt_number}/receipt.pdf")
def receipt_pdf(request: Request, tenant_code: str, receipt_number: str) -> Response:
    tenant = tenant_of(request, tenant_code)
    session = require_session(request, tenant)
    summary = receipts.load_summary(storage_of(request), tenant.code, session.resident_key, receipt_number)
    pdf = receipts.render_receipt_pdf(
        summary,
        municipality=f"{tenant.prefecture}{tenant.name}" if tenant.prefecture != tenant.name else tenant.name,
        procedure_name=_procedure_name(request, tenant, summary.procedure_id),
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="receipt-{summary.receipt_number}.pdf"'},
    )


def _render_detail(
    request: Request,
    tenant: Tenant,
    receipt_number: str,
    *,
    errors: list[FieldError] | None = None,
    reply_to: str = "",
    message: str = "",
    notice: str = "",
    status_code: int = 200,
) -> Response:
    session = require_session(request, tenant)
    storage = storage_of(request)
    detail = get_for_resident(storage, tenant.code, session.resident_key, receipt_number)
    try:
        receipts.load_summary(storage, tenant.code, session.resident_key, receipt_number)
        has_receipt = True
    except ApplicationNotFound:
        has_receipt = False
    summary = [
        {
            "href": "#f-reply-" + reply_to + ("-files" if e.pointer.startswith("/attachments") else ""),
            "text": e.message,
        }
        for e in errors or []
    ]
    return render_page(
        request,
        "portal/application.html",
        {
            "title": ("エラー: " if errors else "") + f"申請の状況（{receipt_number}）",
            "d": detail,
            "procedure_name": _procedure_name(request, tenant, detail.application.procedure_id),
            "wareki": _wareki,
            "summary": summary,
            "reply_errors": {
                ("files" if e.pointer.startswith("/attachments") else "message"): e.message
                for e in reversed(errors or [])
            },
            "reply_to": reply_to,
            "reply_message": message,
            "notice": notice,
            "has_receipt": has_receipt,
        },
        tenant=tenant,
        status_code=status_code,
    )


@router.get("/m/{tenant_code}/applications/{receipt_number}")
def application_page(request: Request, tenant_code: str, receipt_number: str, replied: str = "") -> Response:
    tenant = tenant_of(request, tenant_code)
    return _render_detail(
        request, tenant, receipt_number[:40], notice="回答を送信しました。" if replied else ""
    )


@router.post("/m/{tenant_code}/applications/{receipt_number}/reply")
async def reply(request: Request, tenant_code: str, receipt_number: str) -> Response:
    tenant = tenant_of(request, tenant_code)
    session = await run_in_threadpool(require_session, request, tenant)
    form = await request.form()
    received = await _read_files(form)
    return await run_in_threadpool(_reply, request, tenant, session, receipt_number[:40], form, received)


def _reply(
    request: Request,
    tenant: Tenant,
    session: ResidentSession,
    receipt_number: str,
    form: FormData,
    received: list[_Received],
) -> Response:
    check_csrf(session, form.get("csrf_token"))
    in_reply_to = str(form.get("in_reply_to") or "")[:64]
    text = str(form.get("message") or "")
    files = [
        AttachmentUpload(
            "reply",
            filename.rsplit("/", 1)[-1][:200],
            _sniff(data) or declared,
            data,
        )
        for field_name, filename, declared, data in received
        if field_name == "files"
    ]
    try:
        reply_to_message(
            storage_of(request),
            tenant.code,
            session.resident_key,
            receipt_number,
            in_reply_to=in_reply_to,
            message_ja=text,
            attachments=files,
        )
    except SubmissionInvalid as exc:
        return _render_detail(
            request,
            tenant,
            receipt_number,
            errors=list(exc.errors),
            reply_to=in_reply_to,
            message=text,
            status_code=422,
        )
    return _redirect(f"{base_path(tenant)}/applications/{receipt_number}?replied=1#events")


__all__ = ["router"]
