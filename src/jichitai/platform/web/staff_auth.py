"""Staff login for the back-office screens of a zone: login page, logout, session dependency.

Wire it into an app made by :func:`jichitai.platform.web.app.create_base_app`::

    app = create_base_app("申請管理システム")
    install_staff_auth(app, get_storage, Zone.LGWAN)

    @app.get("/staff/inbox")
    def inbox(staff: Annotated[StaffPrincipal, Depends(require_staff(Permission.APPLICATIONS_INBOX_READ))]):
        ctx = staff.context("applications.review", Permission.APPLICATIONS_INBOX_READ)
        ...

The session cookie holds ``<tenant code>.<random token>``; only its SHA-256 digest is stored. It is
HttpOnly, SameSite=Strict, and Secure except over plain HTTP on loopback. Every POST (and other
state-changing method) behind :func:`require_staff` must carry the session's CSRF token in the
``csrf_token`` form field or the ``X-CSRF-Token`` header; the login form carries its own token in
a short-lived cookie (double submit), so that nobody can log a victim into the attacker's account.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from argon2 import PasswordHasher
from fastapi import APIRouter, Depends, FastAPI, Form, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from jichitai.platform.context import STAFF_AUTH, Actor, ActorKind, TenantContext
from jichitai.platform.errors import ConfigurationError, JichitaiError, ValidationError
from jichitai.platform.identity import credentials as cred
from jichitai.platform.identity.errors import CsrfMismatch, SessionExpired
from jichitai.platform.identity.principal import StaffPrincipal
from jichitai.platform.identity.roles import Permission, Role
from jichitai.platform.identity.service import (
    DEFAULT_POLICY,
    IdentityPolicy,
    IdentityService,
    LoginOutcome,
    LoginStatus,
    UnitOfWorkLike,
)
from jichitai.platform.storage.base import utcnow
from jichitai.platform.tenants import TenantCode
from jichitai.platform.web.app import render, wants_json
from jichitai.platform.web.deps import StorageGetter, safe_next, secure_transport
from jichitai.platform.zones import Zone

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "jichitai_staff"
LOGIN_CSRF_COOKIE = "jichitai_login_csrf"


@dataclass(frozen=True)
class HomeLink:
    """An entry of the staff home menu, shown to staff holding ``permission``."""

    href: str
    label: str
    permission: Permission | None = None


@dataclass
class StaffAuth:
    """Staff login for one zone's screens; kept on ``app.state.staff_auth``."""

    storage_getter: StorageGetter
    zone: Zone
    login_path: str = "/staff/login"
    logout_path: str = "/staff/logout"
    home_path: str = "/staff/"
    hasher: PasswordHasher | None = None
    policy: IdentityPolicy = DEFAULT_POLICY
    clock: Callable[[], datetime] = utcnow
    secure_cookies: bool | None = None  # None: Secure unless plain HTTP on loopback
    home_links: list[HomeLink] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.hasher is None:
            self.hasher = cred.default_hasher()

    # -- cookies ------------------------------------------------------------------------------
    def _secure(self, request: Request) -> bool:
        return secure_transport(request, self.secure_cookies)

    def cookie_name(self, request: Request, base: str = SESSION_COOKIE) -> str:
        # the __Host- prefix pins a cookie to this host and path / (browsers require Secure for it)
        return f"__Host-{base}" if self._secure(request) else base

    def _set_cookie(
        self, request: Request, response: Response, base: str, value: str, max_age: int | None
    ) -> None:
        response.set_cookie(
            self.cookie_name(request, base),
            value,
            max_age=max_age,
            path="/",
            secure=self._secure(request),
            httponly=True,
            samesite="strict",
        )

    def _clear_cookie(self, request: Request, response: Response, base: str) -> None:
        response.delete_cookie(
            self.cookie_name(request, base),
            path="/",
            secure=self._secure(request),
            httponly=True,
            samesite="strict",
        )

    # -- the service ----------------------------------------------------------------------------
    def service(self, uow: UnitOfWorkLike) -> IdentityService:
        return IdentityService.of(uow, clock=self.clock, hasher=self.hasher, policy=self.policy)

    def _tenant_ctx(self, tenant: TenantCode, actor_id: str) -> TenantContext:
        return TenantContext(tenant, Actor(id=actor_id, kind=ActorKind.STAFF), STAFF_AUTH)

    def resolve(self, token: str, *, csrf: str | None, check_csrf: bool) -> StaffPrincipal:
        """The principal behind a session token (blocking: run it in a thread from async code).

        A failure is raised only after the unit of work committed, so that an expired session is
        marked ended and the refusal is audited.
        """
        tenant_code = cred.tenant_of_token(token)
        storage = self.storage_getter()
        tenant = storage.catalog.find(tenant_code) if tenant_code else None
        if tenant is None or not tenant.active:
            raise SessionExpired("session of an unknown or disabled tenant", message_ja=_EXPIRED_JA)
        failure: JichitaiError | None = None
        principal: StaffPrincipal | None = None
        with storage.unit_of_work(self._tenant_ctx(tenant.code, "session"), self.zone) as uow:
            try:
                principal = self.service(uow).resolve_session(token)
            except SessionExpired as exc:
                failure = exc
            if (
                principal is not None
                and check_csrf
                and not (csrf and cred.same_secret(csrf, principal.csrf_token))
            ):
                uow.record(
                    "csrf_refused", "platform.staff_session", principal.session_id, account=principal.login_id
                )
                failure = CsrfMismatch(
                    "CSRF token missing or wrong",
                    message_ja="画面の有効期限が切れたか、正しくない送信です。画面を開き直してもう一度操作してください。",
                )
        if failure is not None:
            raise failure
        assert principal is not None
        return replace(principal, tenant_name=tenant.name)

    async def principal(self, request: Request, *, check_csrf: bool | None = None) -> StaffPrincipal:
        token = request.cookies.get(self.cookie_name(request))
        if not token:
            raise SessionExpired("no session cookie", message_ja="ログインしてください")
        must_check = request.method not in SAFE_METHODS if check_csrf is None else check_csrf
        csrf: str | None = None
        if must_check:
            csrf = request.headers.get("x-csrf-token")
            if csrf is None and _is_form(request):
                value = (await request.form()).get("csrf_token")
                csrf = value if isinstance(value, str) else None
        return await run_in_threadpool(self.resolve, token, csrf=csrf, check_csrf=must_check)

    # -- login ----------------------------------------------------------------------------------
    def _login_page(
        self,
        request: Request,
        *,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        notice: str = "",
        next_path: str = "",
        status_code: int = 200,
    ) -> Response:
        login_csrf = request.cookies.get(
            self.cookie_name(request, LOGIN_CSRF_COOKIE)
        ) or secrets.token_urlsafe(32)
        response = render(
            request,
            "staff/login.html",
            {
                "action": self.login_path,
                "values": {"tenant_code": "", "login_id": "", **(values or {})},
                "errors": errors or {},
                "notice": notice,
                "next": next_path,
                "login_csrf": login_csrf,
                "max_failures": self.policy.max_failures,
            },
            status_code=status_code,
        )
        self._set_cookie(request, response, LOGIN_CSRF_COOKIE, login_csrf, max_age=3600)
        return response

    def _attempt(self, tenant: TenantCode, login_id: str, password: str) -> LoginOutcome:
        storage = self.storage_getter()
        actor_id = cred.normalize_login_id(login_id)[:64] or "anonymous"
        with storage.unit_of_work(self._tenant_ctx(tenant, actor_id), self.zone) as uow:
            return self.service(uow).login(login_id, password)

    def _logout(self, token: str) -> None:
        tenant_code = cred.tenant_of_token(token)
        storage = self.storage_getter()
        if tenant_code is None or storage.catalog.find(tenant_code) is None:
            return
        with storage.unit_of_work(self._tenant_ctx(tenant_code, "session"), self.zone) as uow:
            self.service(uow).end_session(token)

    def router(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)

        @router.get(self.login_path, name="staff_login")
        def login_form(request: Request, next: str = "", logged_out: str = "", expired: str = "") -> Response:
            notice = "ログアウトしました。" if logged_out else ""
            if expired:
                notice = "ログインの有効期限が切れました。もう一度ログインしてください。"
            return self._login_page(request, notice=notice, next_path=safe_next(next, ""))

        @router.post(self.login_path)
        def login_submit(
            request: Request,
            tenant_code: Annotated[str, Form()] = "",
            login_id: Annotated[str, Form()] = "",
            password: Annotated[str, Form()] = "",
            csrf_token: Annotated[str, Form()] = "",
            next: Annotated[str, Form()] = "",
        ) -> Response:
            values = {"tenant_code": tenant_code, "login_id": login_id}
            next_path = safe_next(next, "")
            expected = request.cookies.get(self.cookie_name(request, LOGIN_CSRF_COOKIE), "")
            if not expected or not cred.same_secret(csrf_token, expected):
                errors = {
                    "tenant_code": "画面の有効期限が切れました。もう一度入力して「ログイン」を押してください"
                }
                return self._login_page(
                    request, values=values, errors=errors, next_path=next_path, status_code=400
                )

            errors = {}
            tenant: TenantCode | None = None
            code_text = unicodedata.normalize("NFKC", tenant_code).strip()
            if not code_text:
                errors["tenant_code"] = "団体コードを入力してください"
            else:
                try:
                    tenant = TenantCode(code_text)
                except ValidationError:
                    errors["tenant_code"] = (
                        "団体コードは検査数字を含む6桁の数字で入力してください(例: 131016)"
                    )
            if not login_id.strip():
                errors["login_id"] = "ログインIDを入力してください"
            if not password:
                errors["password"] = "パスワードを入力してください"  # noqa: S105 - a message
            if tenant is not None and not errors:
                found = self.storage_getter().catalog.find(tenant)
                if found is None:
                    errors["tenant_code"] = "この団体コードの団体はこのシステムに登録されていません"
                elif not found.active:
                    errors["tenant_code"] = "この団体は利用停止中です"
            if errors or tenant is None:
                return self._login_page(
                    request, values=values, errors=errors, next_path=next_path, status_code=400
                )

            outcome = self._attempt(tenant, login_id, password)
            if outcome.status is LoginStatus.LOCKED:
                errors = {"login_id": outcome.message_ja}
                return self._login_page(
                    request, values=values, errors=errors, next_path=next_path, status_code=429
                )
            if not outcome.ok or outcome.session is None:
                errors = {"password": outcome.message_ja}
                return self._login_page(
                    request, values=values, errors=errors, next_path=next_path, status_code=400
                )

            response = RedirectResponse(next_path or self.home_path, status_code=303)
            # no Max-Age: the cookie ends with the browser, the server ends the session anyway
            self._set_cookie(request, response, SESSION_COOKIE, outcome.session.token, max_age=None)
            self._clear_cookie(request, response, LOGIN_CSRF_COOKIE)
            return response

        @router.post(self.logout_path, name="staff_logout")
        async def logout(request: Request) -> Response:
            token = request.cookies.get(self.cookie_name(request))
            response = RedirectResponse(f"{self.login_path}?logged_out=1", status_code=303)
            if token:
                try:
                    await self.principal(request, check_csrf=True)
                except SessionExpired:
                    pass  # already over: just forget the cookie
                else:
                    await run_in_threadpool(self._logout, token)
            self._clear_cookie(request, response, SESSION_COOKIE)
            return response

        @router.get(self.home_path, name="staff_home")
        def home(request: Request, staff: Annotated[StaffPrincipal, Depends(require_staff())]) -> Response:
            roles = sorted(staff.roles, key=lambda r: list(Role).index(r))
            permissions = sorted(staff.permissions, key=lambda p: list(Permission).index(p))
            businesses = sorted(staff.businesses, key=lambda b: b.value)
            links = [
                link for link in self.home_links if link.permission is None or staff.has(link.permission)
            ]
            return render(
                request,
                "staff/home.html",
                staff_page_context(
                    staff, roles=roles, permissions=permissions, businesses=businesses, links=links
                ),
            )

        return router

    async def handle_expired(self, request: Request, exc: Exception) -> Response:
        """Send a browser whose session ended to the login page, coming back here afterwards."""
        if wants_json(request):
            from jichitai.platform.web.app import error_response

            assert isinstance(exc, JichitaiError)
            return error_response(request, 401, "login_required", exc.message, exc.message_ja)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        query = f"next={quote(target, safe='/')}"
        if request.cookies.get(self.cookie_name(request)):
            query += "&expired=1"
        response = RedirectResponse(f"{self.login_path}?{query}", status_code=303)
        self._clear_cookie(request, response, SESSION_COOKIE)
        return response


_EXPIRED_JA = "ログインの有効期限が切れました。もう一度ログインしてください"


def _is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def staff_page_context(staff: StaffPrincipal, **extra: Any) -> dict[str, Any]:
    """Template values every signed-in staff page needs (header, logout form)."""
    return {"staff": staff, "csrf_token": staff.csrf_token, "municipality_name": staff.tenant_name, **extra}


def install_staff_auth(app: FastAPI, storage_getter: StorageGetter, zone: Zone, **options: Any) -> StaffAuth:
    """Add the login/logout/home routes to ``app`` and make :func:`require_staff` work in it."""
    auth = StaffAuth(storage_getter, zone, **options)
    app.state.staff_auth = auth
    app.include_router(auth.router())
    app.add_exception_handler(SessionExpired, auth.handle_expired)
    return auth


def staff_auth_router(storage_getter: StorageGetter, zone: Zone, **options: Any) -> APIRouter:
    """The login/logout/home routes alone; :func:`require_staff` also needs ``app.state.staff_auth``
    (prefer :func:`install_staff_auth`, which does both)."""
    return StaffAuth(storage_getter, zone, **options).router()


def _auth_of(request: Request) -> StaffAuth:
    auth = getattr(request.app.state, "staff_auth", None)
    if not isinstance(auth, StaffAuth):
        raise ConfigurationError(
            "require_staff used in an app without staff login",
            hint="call jichitai.platform.web.staff_auth.install_staff_auth(app, storage_getter, zone)",
        )
    return auth


def require_staff(permission: Permission | None = None) -> Callable[[Request], Awaitable[StaffPrincipal]]:
    """A dependency giving the signed-in staff member, who must hold ``permission`` (if given).

    No or an ended session: the browser is sent to the login page. A state-changing request without
    the session's CSRF token, or a missing permission: 403.
    """

    async def dependency(request: Request) -> StaffPrincipal:
        staff = await _auth_of(request).principal(request)
        if permission is not None:
            staff.require(permission)
        return staff

    return dependency
