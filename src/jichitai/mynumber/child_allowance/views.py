"""Screens of the child allowance clerk (児童手当担当), under ``/child-allowance``; no JavaScript.

HTTP only: each handler reads the request, calls the service, and renders. Reading needs
``child_allowance:case:read``, keying in ``…:write``, deciding and payment runs ``…:decide``.
Refusals (:class:`CertificationRefused`, :class:`PaymentRunRefused`) come back on the same page
with every reason listed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from jichitai.mynumber.child_allowance import purposes
from jichitai.mynumber.child_allowance.claims import ACCOUNT_TYPES, KIND_LABELS, Account
from jichitai.mynumber.child_allowance.errors import CertificationRefused, PaymentRunRefused
from jichitai.mynumber.child_allowance.events import TaskService
from jichitai.mynumber.child_allowance.payment_run import (
    EXCEPTION_LABELS,
    PaymentRunService,
    TransferSettings,
)
from jichitai.mynumber.child_allowance.rules import YearMonth
from jichitai.mynumber.child_allowance.service import CertifyOptions, ChildAllowanceService
from jichitai.mynumber.child_allowance.service.cases import STATUS_LABELS
from jichitai.mynumber.intake.formview import form_rows
from jichitai.platform.errors import JichitaiError, ValidationError
from jichitai.platform.identity.principal import StaffPrincipal
from jichitai.platform.identity.roles import Permission
from jichitai.platform.storage import Storage
from jichitai.platform.web.app import TEMPLATES_DIR, make_templates
from jichitai.platform.web.deps import posted_index
from jichitai.platform.web.staff_auth import require_staff, staff_page_context

PREFIX = "/child-allowance"
TEMPLATE_DIR = Path(__file__).parent / "templates"
READ = Permission.CHILD_ALLOWANCE_CASE_READ
WRITE = Permission.CHILD_ALLOWANCE_CASE_WRITE
DECIDE = Permission.CHILD_ALLOWANCE_CASE_DECIDE

Reader = Annotated[StaffPrincipal, Depends(require_staff(READ))]
Writer = Annotated[StaffPrincipal, Depends(require_staff(WRITE))]
Decider = Annotated[StaffPrincipal, Depends(require_staff(DECIDE))]

_templates: Jinja2Templates | None = None


def templates() -> Jinja2Templates:
    global _templates
    if _templates is None:
        _templates = make_templates([TEMPLATE_DIR, TEMPLATES_DIR])
    return _templates


def render(
    request: Request, staff: StaffPrincipal, name: str, status_code: int = 200, **values: Any
) -> Response:
    """Like the platform's ``render`` with this package's templates first."""
    root = request.scope.get("root_path", "")
    context: dict[str, Any] = {
        "site_title": getattr(request.app.state, "site_title", "児童手当システム"),
        "home_url": getattr(request.app.state, "home_url", "/"),
        "errors": {},
        "static_url": lambda path: f"{root}/static/{path}",
        "prefix": PREFIX,
        **staff_page_context(staff),
        **values,
    }
    return templates().TemplateResponse(request, name, context, status_code=status_code)


def _indexes(form: FormData, name: str) -> frozenset[int]:
    """The small numbers posted under ``name`` (checkbox values); anything else is ignored."""
    return frozenset(i for v in form.getlist(name) if (i := posted_index(str(v))) is not None)


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}{path}", status_code=303)


def _date(form: FormData, name: str, *, required: bool = True) -> date | None:
    parts = [str(form.get(f"{name}_{p}", "")).strip() for p in ("year", "month", "day")]
    if not any(parts):
        if required:
            raise ValidationError(f"{name} missing", message_ja="日付を入力してください")
        return None
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except (ValueError, OverflowError):  # a year of 20 digits overflows before date() checks it
        raise ValidationError(f"bad date {parts}", message_ja="日付が正しくありません") from None


def _account(form: FormData) -> Account | None:
    number = str(form.get("account_number", "")).strip()
    if not number:
        return None
    return Account(
        bank_code=str(form.get("bank_code", "")).strip(),
        bank_name=str(form.get("bank_name", "")).strip(),
        branch_code=str(form.get("branch_code", "")).strip(),
        branch_name=str(form.get("branch_name", "")).strip(),
        account_type=ACCOUNT_TYPES.get(str(form.get("account_type", "普通")), 0),
        account_number=number,
        holder_kana=str(form.get("account_holder_kana", "")).strip(),
    )


def build_router(storage_getter: Callable[[], Storage]) -> APIRouter:
    router = APIRouter(prefix=PREFIX)

    def service() -> ChildAllowanceService:
        return ChildAllowanceService(storage_getter())

    def case_ctx(staff: StaffPrincipal, permission: Permission) -> Any:
        return staff.context(purposes.CASE_PROCESS.code, permission)

    def run_ctx(staff: StaffPrincipal) -> Any:
        return staff.context(purposes.PAYMENT_RUN.code, DECIDE)

    # -- inbox and cases ---------------------------------------------------------------------
    @router.get("/", name="ca_inbox")
    def inbox(
        request: Request,
        staff: Reader,
        status: str = "open",
        kind: str = "",
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,  # an offset past SQLite's integers was a 500
    ) -> Response:
        result = service().inbox(case_ctx(staff, READ), status=status or None, kind=kind or None, page=page)
        return render(
            request,
            staff,
            "child_allowance/inbox.html",
            title="児童手当 案件一覧",
            inbox=result,
            status=status,
            kind=kind,
            status_labels=STATUS_LABELS,
            kind_labels=KIND_LABELS,
        )

    def _case_page(
        request: Request, staff: StaffPrincipal, case_id: str, errors: list[str], code: int
    ) -> Response:
        svc = service()
        ctx = case_ctx(staff, READ)
        detail = svc.case(ctx, case_id)
        facts = svc.registry_facts(ctx, case_id)
        return render(
            request,
            staff,
            "child_allowance/case.html",
            status_code=code,
            title=f"案件 {detail.case.receipt_number}",
            detail=detail,
            facts=facts,
            rows=form_rows(detail.procedure_id, detail.procedure_version, detail.form),
            refusals=errors,
            can_decide=staff.has(DECIDE),
        )

    @router.get("/cases/{case_id}", name="ca_case")
    def case(request: Request, staff: Reader, case_id: str) -> Response:
        return _case_page(request, staff, case_id, [], 200)

    async def _decide(request: Request, staff: StaffPrincipal, case_id: str, action: str) -> Response:
        form = await request.form()
        return await run_in_threadpool(_decide_sync, request, staff, case_id, action, form)

    def _decide_sync(
        request: Request, staff: StaffPrincipal, case_id: str, action: str, form: FormData
    ) -> Response:
        svc = service()
        ctx = case_ctx(staff, DECIDE)
        try:
            if action == "certify":
                apart = _indexes(form, "apart_statement")
                filed = _date(form, "filed_on", required=False)
                svc.certify(ctx, case_id, CertifyOptions(apart_statements=apart, filed_on=filed))
            elif action == "reject":
                svc.reject(ctx, case_id, str(form.get("reason", "")))
            elif action == "revision":
                apart = _indexes(form, "apart_statement")
                svc.decide_revision(ctx, case_id, CertifyOptions(apart_statements=apart))
            elif action == "end":
                svc.end_from_case(ctx, case_id)
            else:
                svc.close_case(ctx, case_id, str(form.get("message", "")))
        except CertificationRefused as refused:
            return _case_page(request, staff, case_id, list(refused.reasons), 400)
        except ValidationError as error:
            return _case_page(request, staff, case_id, [error.message_ja or error.message], 400)
        return _redirect(f"/cases/{case_id}")

    @router.post("/cases/{case_id}/certify")
    async def certify(request: Request, staff: Decider, case_id: str) -> Response:
        return await _decide(request, staff, case_id, "certify")

    @router.post("/cases/{case_id}/reject")
    async def reject(request: Request, staff: Decider, case_id: str) -> Response:
        return await _decide(request, staff, case_id, "reject")

    @router.post("/cases/{case_id}/revision")
    async def revision(request: Request, staff: Decider, case_id: str) -> Response:
        return await _decide(request, staff, case_id, "revision")

    @router.post("/cases/{case_id}/end")
    async def end(request: Request, staff: Decider, case_id: str) -> Response:
        return await _decide(request, staff, case_id, "end")

    @router.post("/cases/{case_id}/close")
    async def close(request: Request, staff: Decider, case_id: str) -> Response:
        return await _decide(request, staff, case_id, "close")

    @router.get("/notices/{notice_id}.pdf", name="ca_notice")
    def notice(staff: Reader, notice_id: str) -> Response:
        name, pdf = service().notice_pdf(case_ctx(staff, READ), notice_id)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}"},
        )

    # -- recipients --------------------------------------------------------------------------
    @router.get("/recipients/{recipient_id}", name="ca_recipient")
    def recipient(request: Request, staff: Reader, recipient_id: str) -> Response:
        detail = service().recipient(case_ctx(staff, READ), recipient_id)
        return render(
            request,
            staff,
            "child_allowance/recipient.html",
            title=f"受給者 {detail.recipient_number}",
            r=detail,
        )

    @router.post("/recipients/{recipient_id}/account")
    async def account(request: Request, staff: Writer, recipient_id: str) -> Response:
        form = await request.form()
        return await run_in_threadpool(_account_sync, request, staff, recipient_id, form)

    def _account_sync(request: Request, staff: StaffPrincipal, recipient_id: str, form: FormData) -> Response:
        svc = service()
        try:
            svc.change_account(
                case_ctx(staff, WRITE),
                recipient_id,
                _account(form),
                public_fund=form.get("public_fund") == "1",
            )
        except CertificationRefused as refused:
            detail = svc.recipient(case_ctx(staff, READ), recipient_id)
            return render(
                request,
                staff,
                "child_allowance/recipient.html",
                status_code=400,
                title=f"受給者 {detail.recipient_number}",
                r=detail,
                refusals=list(refused.reasons),
            )
        return _redirect(f"/recipients/{recipient_id}")

    # -- tasks from registry events ----------------------------------------------------------
    @router.get("/tasks", name="ca_tasks")
    def tasks(request: Request, staff: Reader) -> Response:
        rows = TaskService(service()).tasks(case_ctx(staff, READ))
        return render(
            request, staff, "child_allowance/tasks.html", title="異動情報による確認事項", tasks=rows
        )

    @router.post("/tasks/{task_id}/resolve")
    async def resolve(request: Request, staff: Decider, task_id: str) -> Response:
        form = await request.form()
        return await run_in_threadpool(_resolve_sync, request, staff, task_id, form)

    def _resolve_sync(request: Request, staff: StaffPrincipal, task_id: str, form: FormData) -> Response:
        svc = TaskService(service())
        ctx = case_ctx(staff, DECIDE)
        try:
            svc.resolve(
                ctx,
                task_id,
                apply=form.get("apply") == "1",
                note=str(form.get("note", "")),
                filed_on=_date(form, "filed_on", required=False),
            )
        except (CertificationRefused, ValidationError) as error:
            reasons = (
                list(error.reasons) if isinstance(error, CertificationRefused) else [error.message_ja or ""]
            )
            rows = svc.tasks(case_ctx(staff, READ))
            return render(
                request,
                staff,
                "child_allowance/tasks.html",
                status_code=400,
                title="異動情報による確認事項",
                tasks=rows,
                refusals=reasons,
            )
        return _redirect("/tasks")

    # -- paper claims ------------------------------------------------------------------------
    @router.get("/paper", name="ca_paper")
    def paper(request: Request, staff: Writer, atena: str = "") -> Response:
        prefill: dict[str, Any] | None = None
        errors: list[str] = []
        if atena:
            try:
                prefill = service().prefill(case_ctx(staff, WRITE), atena.strip())
            except JichitaiError as error:
                errors = [error.message_ja or error.message]
        return render(
            request,
            staff,
            "child_allowance/paper.html",
            title="紙の認定請求の入力",
            atena=atena,
            prefill=prefill,
            refusals=errors,
            account_types=list(ACCOUNT_TYPES),
        )

    @router.post("/paper")
    async def paper_submit(request: Request, staff: Writer) -> Response:
        form = await request.form()
        return await run_in_threadpool(_paper_sync, request, staff, form)

    def _paper_sync(request: Request, staff: StaffPrincipal, form: FormData) -> Response:
        atena = str(form.get("atena", "")).strip()
        svc = service()
        try:
            filed_on = _date(form, "filed_on")
            assert filed_on is not None
            prefill = svc.prefill(case_ctx(staff, WRITE), atena)
            chosen = set(_indexes(form, "child"))
            children = [
                {**c, "living_arrangement": str(form.get(f"apart_{i}", "同居"))}
                for i, c in enumerate(prefill["children"])
                if i in chosen
            ]
            account = _account(form)
            payee: dict[str, Any] = {"use_public_fund_account": form.get("public_fund") == "1"}
            if account is not None:
                payee["bank_account"] = {
                    "bank_code": account.bank_code,
                    "bank_name": account.bank_name,
                    "branch_code": account.branch_code,
                    "branch_name": account.branch_name,
                    "account_type": str(form.get("account_type", "普通")),
                    "account_number": account.account_number,
                    "account_holder_kana": account.holder_kana,
                }
            claim_form = {
                **prefill,
                "claimant": {**prefill["claimant"], "is_public_servant": form.get("public_servant") == "1"},
                "claim": {"reason": str(form.get("reason", "その他"))},
                "children": children,
                "payee": payee,
            }
            event = _date(form, "event_date", required=False)
            if event is not None:
                claim_form["claim"]["event_date"] = event.isoformat()
            case_id = svc.enter_paper_claim(
                case_ctx(staff, WRITE),
                procedure_id="child_allowance_claim",
                form=claim_form,
                applicant_atena_number=atena,
                filed_on=filed_on,
            )
        except JichitaiError as error:
            return render(
                request,
                staff,
                "child_allowance/paper.html",
                status_code=400,
                title="紙の認定請求の入力",
                atena=atena,
                prefill=None,
                refusals=[error.message_ja or error.message],
                account_types=list(ACCOUNT_TYPES),
            )
        return _redirect(f"/cases/{case_id}")

    # -- payment runs ------------------------------------------------------------------------
    def _payments_page(request: Request, staff: StaffPrincipal, errors: list[str], code: int) -> Response:
        svc = PaymentRunService(storage_getter())
        ctx = run_ctx(staff)
        return render(
            request,
            staff,
            "child_allowance/payments.html",
            status_code=code,
            title="支払処理",
            runs=svc.runs(ctx),
            settings=svc.settings(ctx),
            refusals=errors,
        )

    @router.get("/payments", name="ca_payments")
    def payments(request: Request, staff: Decider) -> Response:
        return _payments_page(request, staff, [], 200)

    @router.post("/payments/settings")
    async def settings(request: Request, staff: Decider) -> Response:
        form = await request.form()
        return await run_in_threadpool(_settings_sync, request, staff, form)

    def _settings_sync(request: Request, staff: StaffPrincipal, form: FormData) -> Response:
        try:
            PaymentRunService(storage_getter()).configure(
                run_ctx(staff),
                TransferSettings(
                    requester_code=str(form.get("requester_code", "")).strip(),
                    requester_name=str(form.get("requester_name", "")).strip(),
                    bank_code=str(form.get("bank_code", "")).strip(),
                    bank_name=str(form.get("bank_name", "")).strip(),
                    branch_code=str(form.get("branch_code", "")).strip(),
                    branch_name=str(form.get("branch_name", "")).strip(),
                    account_type=ACCOUNT_TYPES.get(str(form.get("account_type", "普通")), 1),
                    account_number=str(form.get("account_number", "")).strip(),
                    payment_day=int(str(form.get("payment_day", "10")) or 10),
                ),
            )
        except (JichitaiError, ValueError) as error:
            message = getattr(error, "message_ja", None) or "設定内容が正しくありません"
            return _payments_page(request, staff, [message], 400)
        return _redirect("/payments")

    @router.post("/payments/start")
    async def start(request: Request, staff: Decider) -> Response:
        form = await request.form()
        return await run_in_threadpool(_start_sync, request, staff, form)

    def _start_sync(request: Request, staff: StaffPrincipal, form: FormData) -> Response:
        try:
            month = YearMonth(int(str(form.get("year", "0"))), int(str(form.get("month", "0"))))
            summary = PaymentRunService(storage_getter()).start(run_ctx(staff), month)
        except (JichitaiError, ValueError) as error:
            message = getattr(error, "message_ja", None) or "支払期月が正しくありません"
            return _payments_page(request, staff, [message], 400)
        return _redirect(f"/payments/{summary.id}")

    def _run_page(
        request: Request, staff: StaffPrincipal, run_id: str, errors: list[str], code: int
    ) -> Response:
        svc = PaymentRunService(storage_getter())
        ctx = run_ctx(staff)
        return render(
            request,
            staff,
            "child_allowance/payment_run.html",
            status_code=code,
            title="支払処理の確認",
            run=svc.summary(ctx, run_id),
            exceptions=svc.exceptions(ctx, run_id),
            exception_labels=EXCEPTION_LABELS,
            refusals=errors,
        )

    @router.get("/payments/{run_id}", name="ca_payment_run")
    def run(request: Request, staff: Decider, run_id: str) -> Response:
        return _run_page(request, staff, run_id, [], 200)

    @router.post("/payments/{run_id}/rerun")
    def rerun(request: Request, staff: Decider, run_id: str) -> Response:
        try:
            PaymentRunService(storage_getter()).rerun(run_ctx(staff), run_id)
        except PaymentRunRefused as error:
            return _run_page(request, staff, run_id, [error.message_ja or error.message], 409)
        return _redirect(f"/payments/{run_id}")

    @router.post("/payments/{run_id}/approve")
    def approve(request: Request, staff: Decider, run_id: str) -> Response:
        try:
            PaymentRunService(storage_getter()).approve(run_ctx(staff), run_id)
        except PaymentRunRefused as error:
            return _run_page(request, staff, run_id, [error.message_ja or error.message], 409)
        return _redirect(f"/payments/{run_id}")

    @router.get("/payments/{run_id}/files/{kind}")
    def download(staff: Decider, run_id: str, kind: str) -> Response:
        svc = PaymentRunService(storage_getter())
        ctx = run_ctx(staff)
        summary = svc.summary(ctx, run_id)
        stem = f"jidouteate-{summary.payment_month}"
        if kind == "zengin":
            data, media, name = svc.transfer_file(ctx, run_id), "application/octet-stream", f"{stem}.txt"
        elif kind == "csv":
            data, media, name = svc.payment_list_csv(ctx, run_id), "text/csv; charset=utf-8", f"{stem}.csv"
        elif kind == "pdf":
            data, media, name = svc.payment_list_pdf(ctx, run_id), "application/pdf", f"{stem}.pdf"
        else:
            raise ValidationError(f"unknown file {kind}", message_ja="ファイルの種類が正しくありません")
        return Response(
            data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    return router


def register(app: FastAPI, storage: Storage | Callable[[], Storage]) -> None:
    """Mount the child allowance screens on ``app`` (which has staff login installed)."""
    getter: Callable[[], Storage] = (
        storage
        if callable(storage) and not isinstance(storage, Storage)
        else (
            lambda: storage  # type: ignore[return-value]
        )
    )
    app.include_router(build_router(getter))
