"""Screens of the generic case inbox (汎用案件), under ``/intake``; no JavaScript.

For procedures whose core system is not built on this platform: staff read the application as the
resident filled it and record the outcome by hand, which goes back to the resident as a case
result. Reading needs ``applications:application:read``; recording the outcome too, and the staff
member must work in the business of the case (業務 ``general``, or the case's own business).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from jichitai.mynumber.intake import purposes
from jichitai.mynumber.intake.formview import form_rows
from jichitai.mynumber.intake.service import OUTCOMES, IntakeService
from jichitai.platform.errors import Conflict, PermissionDenied, ValidationError
from jichitai.platform.identity.principal import StaffPrincipal
from jichitai.platform.identity.roles import Business, Permission
from jichitai.platform.storage import Storage
from jichitai.platform.web.app import TEMPLATES_DIR, make_templates
from jichitai.platform.web.staff_auth import require_staff, staff_page_context

PREFIX = "/intake"
TEMPLATE_DIR = Path(__file__).parent / "templates"
READ = Permission.APPLICATIONS_APPLICATION_READ
Staff = Annotated[StaffPrincipal, Depends(require_staff(READ))]

_templates: Jinja2Templates | None = None


def _render(
    request: Request, staff: StaffPrincipal, name: str, status_code: int = 200, **values: Any
) -> Response:
    global _templates
    if _templates is None:
        _templates = make_templates([TEMPLATE_DIR, TEMPLATES_DIR])
    root = request.scope.get("root_path", "")
    context: dict[str, Any] = {
        "site_title": getattr(request.app.state, "site_title", "マイナンバー利用事務系"),
        "home_url": getattr(request.app.state, "home_url", "/"),
        "errors": {},
        "static_url": lambda path: f"{root}/static/{path}",
        "prefix": PREFIX,
        **staff_page_context(staff),
        **values,
    }
    return _templates.TemplateResponse(request, name, context, status_code=status_code)


def _require_general(staff: StaffPrincipal) -> None:
    if Business.GENERAL not in staff.businesses:
        raise PermissionDenied(
            f"staff {staff.login_id} does not work in the general business",
            message_ja="汎用案件を扱う権限がありません（業務担当の役割が必要です）",
        )


def build_router(storage_getter: Callable[[], Storage]) -> APIRouter:
    router = APIRouter(prefix=PREFIX)

    def ctx(staff: StaffPrincipal) -> Any:
        return staff.context(purposes.GENERIC_CASE.code, READ)

    @router.get("/cases", name="intake_inbox")
    def inbox(request: Request, staff: Staff, status: str = "open", procedure: str = "") -> Response:
        _require_general(staff)
        result = IntakeService(storage_getter()).inbox(
            ctx(staff), status=status or None, procedure_id=procedure or None
        )
        return _render(request, staff, "intake/inbox.html", title="汎用案件一覧", inbox=result, status=status)

    def _page(
        request: Request, staff: StaffPrincipal, case_id: str, errors: list[str], code: int
    ) -> Response:
        detail = IntakeService(storage_getter()).case(ctx(staff), case_id)
        return _render(
            request,
            staff,
            "intake/case.html",
            status_code=code,
            title=f"汎用案件 {detail.row.receipt_number}",
            detail=detail,
            rows=form_rows(detail.row.procedure_id, detail.procedure_version, detail.form),
            outcomes={k: v[1] for k, v in OUTCOMES.items()},
            refusals=errors,
        )

    @router.get("/cases/{case_id}", name="intake_case")
    def case(request: Request, staff: Staff, case_id: str) -> Response:
        _require_general(staff)
        return _page(request, staff, case_id, [], 200)

    @router.post("/cases/{case_id}/outcome")
    async def outcome(request: Request, staff: Staff, case_id: str) -> Response:
        _require_general(staff)
        form = await request.form()
        return await run_in_threadpool(_outcome_sync, request, staff, case_id, form)

    def _outcome_sync(request: Request, staff: StaffPrincipal, case_id: str, form: FormData) -> Response:
        try:
            IntakeService(storage_getter()).record_outcome(
                ctx(staff), case_id, str(form.get("outcome", "")), str(form.get("message", ""))
            )
        except (ValidationError, Conflict) as error:
            return _page(request, staff, case_id, [error.message_ja or error.message], 400)
        return RedirectResponse(f"{PREFIX}/cases/{case_id}", status_code=303)

    return router


def register(app: FastAPI, storage: Storage | Callable[[], Storage]) -> None:
    """Mount the generic case inbox on ``app`` (which has staff login installed)."""
    getter: Callable[[], Storage] = (
        storage
        if callable(storage) and not isinstance(storage, Storage)
        else (
            lambda: storage  # type: ignore[return-value]
        )
    )
    app.include_router(build_router(getter))
