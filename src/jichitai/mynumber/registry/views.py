"""Staff screens of the resident registry (住民記録) in the My Number zone's back office.

Server-rendered, Japanese, usable without JavaScript: search, person (with its history and the
certificates issued about it), household (as of a date), a form for each change (異動), and
certificate issuance that answers with the sealed PDF. Every page needs a staff session with the
screen's permission and builds its :class:`TenantContext` from the staff member with the screen's
purpose, so each read and change is audited under the right purpose. POSTs carry the session's
CSRF token (checked by :func:`require_staff`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from contextlib import suppress
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from jichitai.mynumber.registry import issuance, screen_forms
from jichitai.mynumber.registry.certificates import (
    CertificateKind,
    CertifiedItem,
    Layout,
    OptionalItem,
    RequesterKind,
)
from jichitai.mynumber.registry.errors import RegistryRefusal
from jichitai.mynumber.registry.history_view import changes_by_version
from jichitai.mynumber.registry.purposes import CHANGE_RECORD, PERSON_READ
from jichitai.mynumber.registry.search import SearchQuery
from jichitai.mynumber.registry.service import RegistryService
from jichitai.platform.errors import NotFound, ValidationError
from jichitai.platform.identity.principal import StaffPrincipal
from jichitai.platform.identity.roles import Permission
from jichitai.platform.storage import Storage
from jichitai.platform.web.app import render
from jichitai.platform.web.staff_auth import require_staff, staff_page_context

PREFIX = "/staff/registry"
SEXES = {"1": "男", "2": "女"}
PAGE_SIZE = 20
STAY_REVIEW_DAYS = 30  # the review lists, by default, the stays ending within a month

Reader = Annotated[StaffPrincipal, Depends(require_staff(Permission.REGISTRY_PERSON_READ))]
Writer = Annotated[StaffPrincipal, Depends(require_staff(Permission.REGISTRY_PERSON_WRITE))]
Issuer = Annotated[StaffPrincipal, Depends(require_staff(Permission.REGISTRY_CERTIFICATE_ISSUE))]

KIND_OPTIONS = tuple((k.name, k.value) for k in CertificateKind)
LAYOUT_OPTIONS = (
    (Layout.PERSON.name, "個人票（1人1枚）"),
    (Layout.HOUSEHOLD.name, "世帯連記式（1枚に4人まで）"),
)
REQUESTER_OPTIONS = tuple((r.name, r.value) for r in RequesterKind)
ITEM_OPTIONS = tuple((i.name, i.value) for i in OptionalItem)
CERTIFIED_OPTIONS = tuple((i.name, i.value) for i in CertifiedItem)


def date_parts(values: Mapping[str, str], name: str) -> dict[str, str] | None:
    """What the date boxes of ``name`` held (posted as <name>_year/_month/_day), to show them again."""
    parts = {p: values.get(f"{name}_{p}", "") for p in ("year", "month", "day")}
    return parts if any(parts.values()) else None


def _page(staff: StaffPrincipal, **values: Any) -> dict[str, Any]:
    return staff_page_context(staff, prefix=PREFIX, sexes=SEXES, date_parts=date_parts, **values)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()  # already parsed (and cached) by the CSRF check
    out: dict[str, str] = {}
    for key, value in form.items():
        if isinstance(value, str):
            out[key] = value
    return out


async def _form_lists(request: Request, name: str) -> list[str]:
    form = await request.form()
    return [v for v in form.getlist(name) if isinstance(v, str)]


def _date_from(values: Mapping[str, str], name: str) -> tuple[date | None, str | None]:
    v = screen_forms.FormValues(values)
    found = v.date(name, "日付")
    return found, v.errors.get(name)


def build_router(storage: Storage) -> APIRouter:
    """The registry screens, reading and writing through ``storage``."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    service = RegistryService(storage)

    # -- search ---------------------------------------------------------------------------------
    @router.get("", name="registry_search")
    @router.get("/", include_in_schema=False)
    def search(request: Request, staff: Reader) -> Response:
        params = dict(request.query_params)
        errors: dict[str, str] = {}
        birth, birth_error = _date_from(params, "birth")
        if birth_error:
            errors["birth"] = "生年月日は正しい日付を西暦で入力してください"
        try:
            page = max(1, int(params.get("page", "1") or "1"))
        except ValueError:
            page = 1
        criteria = {
            k: params.get(k, "").strip() for k in ("name", "address", "household_number", "atena_number")
        }
        include_removed = params.get("include_removed") == "1"
        result = None
        asked = any(criteria.values()) or birth is not None
        if asked and not errors:
            query = SearchQuery(
                name=criteria["name"] or None,
                birth_date=birth,
                address=criteria["address"] or None,
                household_number=criteria["household_number"] or None,
                atena_number=criteria["atena_number"] or None,
                include_removed=include_removed,
                page=page,
                page_size=PAGE_SIZE,
            )
            ctx = staff.context(PERSON_READ.code, Permission.REGISTRY_PERSON_READ)
            try:
                result = service.search(ctx, query)
            except RegistryRefusal as exc:
                errors["name"] = "／".join(exc.reasons)
        elif "name" in params and not asked:
            errors["name"] = "検索条件を1つ以上入力してください"
        keep = {k: v for k, v in params.items() if k != "page" and v}
        return render(
            request,
            "registry/search.html",
            _page(
                staff,
                values=params,
                criteria=criteria,
                include_removed=include_removed,
                result=result,
                errors=errors,
                page_url=lambda n: f"{PREFIX}?{urlencode({**keep, 'page': n})}",
                today=service.today(),
            ),
            status_code=400 if errors else 200,
        )

    # -- 在留期間満了の確認 ---------------------------------------------------------------------------
    @router.get("/stay-review", name="registry_stay_review")
    def stay_review(request: Request, staff: Reader) -> Response:
        params = dict(request.query_params)
        today = service.today()
        until, until_error = _date_from(params, "until")
        errors = {"until": "満了日は正しい日付を西暦で入力してください"} if until_error else {}
        until = until or today + timedelta(days=STAY_REVIEW_DAYS)
        try:
            page = max(1, int(params.get("page", "1") or "1"))
        except ValueError:
            page = 1
        result = None
        if not errors:
            ctx = staff.context(PERSON_READ.code, Permission.REGISTRY_PERSON_READ)
            result = service.stay_ending(ctx, until, page=page, page_size=PAGE_SIZE)
        keep = {f"until_{p}": str(getattr(until, p)) for p in ("year", "month", "day")}
        return render(
            request,
            "registry/stay_review.html",
            _page(
                staff,
                values={**keep, **params},
                errors=errors,
                result=result,
                today=today,
                page_url=lambda n: f"{PREFIX}/stay-review?{urlencode({**keep, 'page': n})}",
                can_write=staff.has(Permission.REGISTRY_PERSON_WRITE),
            ),
            status_code=400 if errors else 200,
        )

    # -- person ---------------------------------------------------------------------------------
    @router.get("/persons/{atena_number}", name="registry_person")
    def person(request: Request, atena_number: str, staff: Reader, done: str = "") -> Response:
        ctx = staff.context(PERSON_READ.code, Permission.REGISTRY_PERSON_READ)
        record = service.person(ctx, atena_number)
        history = service.person_history(ctx, atena_number)
        issued = issuance.issuances_for(storage, ctx, atena_number)
        return render(
            request,
            "registry/person.html",
            _page(
                staff,
                record=record,
                history=history,
                changed=changes_by_version(history),
                issued=issued,
                kinds={k.name: k.value for k in CertificateKind},
                done=done,
                can_write=staff.has(Permission.REGISTRY_PERSON_WRITE),
                can_issue=staff.has(Permission.REGISTRY_CERTIFICATE_ISSUE),
                today=service.today(),
            ),
        )

    # -- household ------------------------------------------------------------------------------
    @router.get("/households/{household_number}", name="registry_household")
    def household(request: Request, household_number: str, staff: Reader, done: str = "") -> Response:
        params = dict(request.query_params)
        on, error = _date_from(params, "on")
        errors = {"on": "基準日は正しい日付を西暦で入力してください"} if error else {}
        ctx = staff.context(PERSON_READ.code, Permission.REGISTRY_PERSON_READ)
        if on is not None:
            record = service.household_as_of(ctx, household_number, on)
        else:
            record = service.household(ctx, household_number)
        return render(
            request,
            "registry/household.html",
            _page(
                staff,
                household=record,
                on=on,
                values=params,
                errors=errors,
                done=done,
                can_write=staff.has(Permission.REGISTRY_PERSON_WRITE),
                can_issue=staff.has(Permission.REGISTRY_CERTIFICATE_ISSUE),
            ),
            status_code=400 if errors else 200,
        )

    # -- changes --------------------------------------------------------------------------------
    @router.get("/changes", name="registry_changes")
    def changes(request: Request, staff: Writer) -> Response:
        return render(
            request, "registry/changes.html", _page(staff, forms=list(screen_forms.CHANGE_FORMS.values()))
        )

    def _change_form(slug: str) -> screen_forms.ChangeForm:
        form = screen_forms.CHANGE_FORMS.get(slug)
        if form is None:
            raise NotFound(f"no change form {slug}", message_ja="この異動の画面はありません")
        return form

    def _render_change(
        request: Request,
        staff: StaffPrincipal,
        form: screen_forms.ChangeForm,
        values: Mapping[str, str],
        errors: dict[str, str],
        status: int = 200,
        refused: bool = False,
    ) -> Response:
        return render(
            request,
            "registry/change_form.html",
            _page(
                staff,
                form=form,
                refused=refused,
                values=values,
                errors=errors,
                common=(screen_forms.EVENT_DATE, screen_forms.NOTIFIED_ON),
                sex_options=screen_forms.SEX_OPTIONS,
                kind_options=screen_forms.KIND_OPTIONS,
                targets={screen_forms.GENERAL: "change-form"},
            ),
            status_code=status,
        )

    @router.get("/changes/{slug}", name="registry_change_form")
    def change_form(request: Request, slug: str, staff: Writer) -> Response:
        form = _change_form(slug)
        query = request.query_params
        values = {k: v for k, v in query.items() if k in {"atena_number", "household_number", "persons"}}
        # a link may fill in the 異動日 it knows (the 転出予定日 a 転出取消 must name)
        with suppress(ValueError):
            on = date.fromisoformat(query.get("event_date", ""))
            values |= {"event_date_year": str(on.year), "event_date_month": str(on.month)}
            values["event_date_day"] = str(on.day)
        values["idempotency_key"] = uuid.uuid4().hex  # a double submission records the change once
        return _render_change(request, staff, form, values, {})

    @router.post("/changes/{slug}")
    async def change_submit(request: Request, slug: str, staff: Writer) -> Response:
        form = _change_form(slug)
        values = await _form(request)
        parsed = screen_forms.parse(form, values)
        if parsed.request is None:
            return _render_change(request, staff, form, values, parsed.errors, 400)
        ctx = staff.context(CHANGE_RECORD.code, Permission.REGISTRY_PERSON_WRITE)
        try:
            result = await run_in_threadpool(service.submit, ctx, parsed.request)
        except RegistryRefusal as exc:
            errors = screen_forms.place_reasons(form, exc.reasons, values)
            return _render_change(request, staff, form, values, errors, 400, refused=True)
        done = quote(f"{form.title}を記録しました")
        if result.atena_numbers and len(result.atena_numbers) == 1:
            target = f"{PREFIX}/persons/{result.atena_numbers[0]}?done={done}"
        elif result.household_numbers:
            target = f"{PREFIX}/households/{result.household_numbers[0]}?done={done}"
        else:
            target = f"{PREFIX}?done={done}"
        return Response(status_code=303, headers={"Location": target})

    # -- certificates ---------------------------------------------------------------------------
    def _render_certificate(
        request: Request,
        staff: StaffPrincipal,
        values: Mapping[str, Any],
        errors: dict[str, str],
        status: int = 200,
    ) -> Response:
        return render(
            request,
            "registry/certificate_form.html",
            _page(
                staff,
                values=values,
                errors=errors,
                kind_options=KIND_OPTIONS,
                layout_options=LAYOUT_OPTIONS,
                requester_options=REQUESTER_OPTIONS,
                item_options=ITEM_OPTIONS,
                certified_options=CERTIFIED_OPTIONS,
                targets={screen_forms.GENERAL: "certificate-form"},
            ),
            status_code=status,
        )

    @router.get("/certificates/new", name="registry_certificate_form")
    def certificate_form(request: Request, staff: Issuer) -> Response:
        values: dict[str, Any] = {
            "atena_numbers": request.query_params.get("atena", ""),
            "household_number": request.query_params.get("household", ""),
            "kind": CertificateKind.JUMINHYO.name,
            "layout": Layout.HOUSEHOLD.name if request.query_params.get("household") else Layout.PERSON.name,
            "requester": RequesterKind.SELF.name,
            "items": [],
            "certified": [],
        }
        return _render_certificate(request, staff, values, {})

    @router.post("/certificates", name="registry_certificate_issue")
    async def certificate_issue(request: Request, staff: Issuer) -> Response:
        data = await _form(request)
        items = await _form_lists(request, "items")
        certified = await _form_lists(request, "certified")
        values: dict[str, Any] = {**data, "items": items, "certified": certified}
        errors: dict[str, str] = {}
        kind = CertificateKind.__members__.get(data.get("kind", ""))
        layout = Layout.__members__.get(data.get("layout", ""))
        requester = RequesterKind.__members__.get(data.get("requester", ""))
        if kind is None:
            errors["kind"] = "証明書の種類を選んでください"
        if layout is None:
            errors["layout"] = "様式を選んでください"
        if requester is None:
            errors["requester"] = "請求者の区分を選んでください"
        atena = screen_forms.FormValues(data).numbers("atena_numbers")
        household_number = data.get("household_number", "").strip()
        if not atena and not household_number:
            errors["atena_numbers"] = "統合宛名番号又は世帯番号を入力してください"
        if errors or kind is None or layout is None or requester is None:
            return _render_certificate(request, staff, values, errors, 400)
        issue_request = issuance.IssueRequest(
            kind=kind,
            layout=layout,
            atena_numbers=atena,
            household_number=household_number or None,
            requester=requester,
            requested_items=frozenset(OptionalItem[i] for i in items if i in OptionalItem.__members__),
            certified_items=frozenset(CertifiedItem[i] for i in certified if i in CertifiedItem.__members__),
            deliver_to_registered_address=data.get("by_mail") == "1",
            mayor_name=data.get("mayor_name", "").strip(),
        )
        ctx = staff.context(issuance.ISSUE.code, Permission.REGISTRY_CERTIFICATE_ISSUE)
        try:
            doc = await run_in_threadpool(issuance.issue, storage, ctx, issue_request)
        except (RegistryRefusal, ValidationError, NotFound) as exc:
            reasons = exc.reasons if isinstance(exc, RegistryRefusal) else (exc.message_ja or exc.message,)
            return _render_certificate(
                request, staff, values, {screen_forms.GENERAL: "／".join(reasons)}, 400
            )
        headers = {
            "Content-Disposition": f'attachment; filename="{doc.filename}"',
            "X-Certificate-Serial": doc.serial,
        }
        if doc.refused:
            # the counter must tell the requester which items were left out and why
            headers["X-Certificate-Items-Refused"] = ",".join(sorted(i.name for i in doc.refused))
        return Response(doc.pdf, media_type="application/pdf", headers=headers)

    return router
