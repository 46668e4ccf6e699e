"""The My Number zone's web application: back-office screens and certificate verification.

``register(app, storage)`` (called by :mod:`jichitai.apps`) mounts:

- staff login (unless the app already has it), the registry screens under ``/staff/registry``
  and, when present in this build, the screens of child allowance and of the intake of online
  applications (``jichitai.mynumber.child_allowance.views`` / ``jichitai.mynumber.intake.views``);
- the public certificate verification: ``GET /verify?t=<tenant>&s=<serial>&h=<digest prefix>``
  (what the QR code on a certificate opens: whether that serial with that content digest was
  issued, without any personal data) and ``POST /verify`` (upload a PDF: seal, trust root and
  issuance record are checked).

In production the verification endpoint is not reached in the My Number zone: the operator
publishes it on the internet side, answering from a list of (serial, content digest, issue date)
exported from the issuance records — no personal data leaves the zone, and the internet side
cannot reach the register. Here the zone's own app serves it so that development and tests need
one process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import jinja2
from fastapi import FastAPI, File, Form, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from jichitai.mynumber.registry import api, issuance, views
from jichitai.platform.errors import JichitaiError, ValidationError
from jichitai.platform.identity.roles import Permission
from jichitai.platform.plugins import optional_module
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.wareki import format_wareki
from jichitai.platform.web.app import render
from jichitai.platform.web.staff_auth import HomeLink, StaffAuth, install_staff_auth
from jichitai.platform.zones import Zone

TEMPLATES_DIR = Path(__file__).parent / "registry" / "templates"
MAX_PDF_BYTES = 10 * 1024 * 1024
OPTIONAL_SCREENS = ("jichitai.mynumber.child_allowance.views", "jichitai.mynumber.intake.views")


def add_templates(app: FastAPI, directory: Path) -> None:
    """Let the app's template loader find ``directory`` too (searched first)."""
    env: jinja2.Environment = app.state.templates.env
    loader = env.loader
    if isinstance(loader, jinja2.FileSystemLoader):
        if str(directory) not in loader.searchpath:
            loader.searchpath.insert(0, str(directory))
    else:
        env.loader = jinja2.ChoiceLoader(
            [jinja2.FileSystemLoader(str(directory)), *([loader] if loader else [])]
        )
    env.filters.setdefault("wareki", format_wareki)


def _staff_auth(app: FastAPI, storage: Storage) -> StaffAuth:
    auth = getattr(app.state, "staff_auth", None)
    if isinstance(auth, StaffAuth):
        return auth
    return install_staff_auth(app, lambda: storage, Zone.MYNUMBER)


def _tenant(text: str) -> str | None:
    try:
        return str(TenantCode(text.strip()))
    except (ValidationError, ValueError):
        return None


def register_verification(app: FastAPI, storage: Storage) -> None:
    """The public verification page (see the module docstring)."""

    def page(
        request: Request,
        *,
        tenant: str = "",
        serial_check: issuance.SerialCheck | None = None,
        check: object | None = None,
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        return render(
            request,
            "registry/verify.html",
            {"tenant": tenant, "serial_check": serial_check, "check": check, "errors": errors or {}},
            status_code=status,
        )

    @app.get("/verify", name="certificate_verify")
    def verify_serial(request: Request, t: str = "", s: str = "", h: str = "") -> Response:
        if not s:
            return page(request, tenant=t)
        tenant = _tenant(t)
        if tenant is None or storage.catalog.find(tenant) is None:
            return page(request, tenant=t, serial_check=issuance.SerialCheck(False, s[:32]), status=404)
        result = issuance.check_serial(storage, tenant, s, h)
        return page(request, tenant=tenant, serial_check=result, status=200 if result.found else 404)

    @app.post("/verify")
    async def verify_upload(
        request: Request,
        t: Annotated[str, Form()] = "",
        file: Annotated[UploadFile | None, File()] = None,
    ) -> Response:
        errors: dict[str, str] = {}
        tenant = _tenant(t)
        if tenant is None or storage.catalog.find(tenant) is None:
            errors["t"] = "団体コードを正しく入力してください（6桁）"
        data = await file.read(MAX_PDF_BYTES + 1) if file is not None else b""
        if not data:
            errors["file"] = "確認するPDFファイルを選んでください"
        elif len(data) > MAX_PDF_BYTES:
            errors["file"] = "ファイルが大きすぎます（10MBまで）"
        if errors or tenant is None:
            return page(request, tenant=t, errors=errors, status=400)
        try:
            check = await run_in_threadpool(issuance.verify, storage, tenant, data)
        except JichitaiError as exc:
            return page(
                request, tenant=tenant, errors={"file": exc.message_ja or "確認できませんでした"}, status=400
            )
        return page(request, tenant=tenant, check=check, status=200 if check.valid else 422)


def register(app: FastAPI, storage: Storage) -> None:
    """Mount the My Number zone's screens and endpoints on ``app`` (see the module docstring)."""
    auth = _staff_auth(app, storage)
    add_templates(app, TEMPLATES_DIR)
    app.include_router(views.build_router(storage))
    api.install_api(app, storage)
    register_verification(app, storage)
    for link in (
        HomeLink(views.PREFIX, "住民記録（検索・照会）", Permission.REGISTRY_PERSON_READ),
        HomeLink(f"{views.PREFIX}/changes", "住民記録（異動の登録）", Permission.REGISTRY_PERSON_WRITE),
        HomeLink(
            f"{views.PREFIX}/certificates/new", "住民票の写し等の交付", Permission.REGISTRY_CERTIFICATE_ISSUE
        ),
    ):
        if link.href not in {existing.href for existing in auth.home_links}:
            auth.home_links.append(link)
    for name in OPTIONAL_SCREENS:
        module = optional_module(name)
        if module is not None:
            module.register(app, storage)
