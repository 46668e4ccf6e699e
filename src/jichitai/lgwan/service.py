"""The staff back office's use cases (申請管理): inbox, application page, actions, bulk, CSV.

Every function takes the signed-in :class:`StaffPrincipal`, checks the permission for the act,
opens the unit of work under the act's purpose (so the audit entry names actor, role, purpose and
legal basis), and restricts every query to the businesses the staff member's roles may see
(:func:`visible`): a clerk of 児童手当 never learns that a 介護保険 application exists.
Status changes are reported to the resident by a signed status event queued in the same
transaction; a hand-over puts the ACCEPTED_APPLICATION message in the outbox in that transaction.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import defer

from jichitai.contracts.submission import STATUS_LABELS, SubmissionStatus
from jichitai.contracts.transfer import AcceptedApplication, MessageType
from jichitai.lgwan import sealing
from jichitai.lgwan.events import queue_status_event
from jichitai.lgwan.formview import FormLine, render_form
from jichitai.lgwan.models import LgwanApplication, LgwanAttachment, LgwanHistory, PortalEvent
from jichitai.lgwan.pull import NAME_INDEX
from jichitai.lgwan.purposes import APPLICANT_IDENTIFY, APPLICATION_HANDOVER, APPLICATION_REVIEW
from jichitai.lgwan.rules import (
    ACTION_LABELS,
    JST,
    OPEN_STATUSES,
    Match,
    Verification,
    is_overdue,
    normalize_name,
    refusal,
    today_jst,
)
from jichitai.platform.errors import NotFound, PermissionDenied, ValidationError
from jichitai.platform.identity.principal import StaffPrincipal
from jichitai.platform.identity.roles import Business, Permission
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.zones import Zone
from jichitai.procedures.store import tenant_procedures

MAX_MESSAGE = 2000
MAX_BULK = 1000
S = SubmissionStatus


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")


def visible(query: Q, staff: StaffPrincipal) -> Q:
    """Restrict ``query`` to the applications of businesses ``staff`` may see (the one place)."""
    return query.where(LgwanApplication.business.in_(sorted(b.value for b in staff.businesses)))


# -- the inbox --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxFilter:
    status: str = ""  # a SubmissionStatus value, or "open" for everything still with the back office
    procedure: str = ""
    business: str = ""
    verification: str = ""
    overdue: bool = False
    q: str = ""  # 受付番号 (or part of it) or the applicant's name
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class InboxRow:
    id: str
    receipt_number: str
    procedure_id: str
    procedure_name: str
    business: str
    business_label: str
    received_at: datetime
    due_date: date
    overdue: bool
    status: SubmissionStatus
    verification: Verification
    match: Match
    assignee: str

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class ProcedureCount:
    business: str
    business_label: str
    procedure_id: str
    procedure_name: str
    total: int
    open: int
    overdue: int


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int
    page: int
    per_page: int
    counts: list[ProcedureCount]
    status_counts: dict[str, int]
    today: date

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


_RECEIPT_TEXT = re.compile(r"^[0-9A-Za-z-]{4,40}$")


def _conditions(uow: UnitOfWork, flt: InboxFilter, today: date) -> list[Any]:
    conds: list[Any] = []
    if flt.status == "open":
        conds.append(LgwanApplication.status.in_([s.value for s in OPEN_STATUSES]))
    elif flt.status:
        conds.append(LgwanApplication.status == S(flt.status).value)
    if flt.procedure:
        conds.append(LgwanApplication.procedure_id == flt.procedure)
    if flt.business:
        conds.append(LgwanApplication.business == Business(flt.business).value)
    if flt.verification:
        conds.append(LgwanApplication.verification == Verification(flt.verification).value)
    if flt.overdue:
        conds.append(
            and_(
                LgwanApplication.due_date < today,
                LgwanApplication.status.in_([s.value for s in OPEN_STATUSES]),
            )
        )
    q = flt.q.strip()
    if q:
        name_index = uow.keyring.blind_index(NAME_INDEX, normalize_name(q))
        by_name = LgwanApplication.applicant_name_index == name_index
        if _RECEIPT_TEXT.match(q):
            pattern = "%" + q.upper().replace("%", "").replace("_", "") + "%"
            conds.append(or_(LgwanApplication.receipt_number.like(pattern), by_name))
        else:
            conds.append(by_name)
    return conds


def _row(app: LgwanApplication, today: date) -> InboxRow:
    status = S(app.status)
    return InboxRow(
        id=app.id,
        receipt_number=app.receipt_number,
        procedure_id=app.procedure_id,
        procedure_name=app.procedure_name,
        business=app.business,
        business_label=Business(app.business).label_ja,
        received_at=_aware(app.received_at),
        due_date=app.due_date,
        overdue=is_overdue(app.due_date, status, today),
        status=status,
        verification=Verification(app.verification),
        match=Match(app.match),
        assignee=app.assignee or "",
    )


def _check_filter(flt: InboxFilter) -> None:
    try:
        if flt.status and flt.status != "open":
            S(flt.status)
        if flt.business:
            Business(flt.business)
        if flt.verification:
            Verification(flt.verification)
    except ValueError:
        raise ValidationError(
            f"unknown filter value in {flt}", message_ja="絞り込みの指定が正しくありません"
        ) from None
    if not 1 <= flt.per_page <= 500 or flt.page < 1:
        raise ValidationError("page ≥ 1 and per_page 1–500", message_ja="ページの指定が正しくありません")


def inbox(
    storage: Storage, staff: StaffPrincipal, flt: InboxFilter, *, now: datetime | None = None
) -> InboxPage:
    """The applications ``staff`` may see, filtered, a page at a time, with counts per procedure."""
    _check_filter(flt)
    ctx = staff.context(APPLICATION_REVIEW.code, Permission.APPLICATIONS_INBOX_READ)
    today = today_jst(now or datetime.now(UTC))
    with storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        conds = _conditions(uow, flt, today)
        total = uow.session.scalar(
            visible(select(func.count()).select_from(LgwanApplication), staff).where(*conds)
        )
        apps = uow.session.scalars(
            visible(select(LgwanApplication), staff)
            .where(*conds)
            .order_by(
                LgwanApplication.due_date, LgwanApplication.received_at, LgwanApplication.receipt_number
            )
            .offset((flt.page - 1) * flt.per_page)
            .limit(flt.per_page)
        ).all()
        rows = [_row(a, today) for a in apps]
        open_values = [s.value for s in OPEN_STATUSES]
        is_open = LgwanApplication.status.in_(open_values)
        grouped = uow.session.execute(
            visible(
                select(
                    LgwanApplication.business,
                    LgwanApplication.procedure_id,
                    LgwanApplication.procedure_name,
                    func.count(),
                    func.sum(func.cast(is_open, _int())),
                    func.sum(func.cast(and_(is_open, LgwanApplication.due_date < today), _int())),
                ),
                staff,
            )
            .group_by(
                LgwanApplication.business, LgwanApplication.procedure_id, LgwanApplication.procedure_name
            )
            .order_by(LgwanApplication.business, LgwanApplication.procedure_id)
        ).all()
        counts = [
            ProcedureCount(b, Business(b).label_ja, p, n, int(t), int(o or 0), int(d or 0))
            for b, p, n, t, o, d in grouped
        ]
        by_status = dict(
            uow.session.execute(
                visible(select(LgwanApplication.status, func.count()), staff).group_by(
                    LgwanApplication.status
                )
            ).all()
        )
        if rows:
            # a list of names is not read here (only receipt numbers): one entry per page viewed
            uow.record("list", "lgwan_applications", rows[0].receipt_number, count=len(rows))
    return InboxPage(
        rows,
        int(total or 0),
        flt.page,
        flt.per_page,
        counts,
        {str(k): int(v) for k, v in by_status.items()},
        today,
    )


def _int() -> Any:
    from sqlalchemy import Integer

    return Integer()


# -- one application ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentView:
    id: str
    attachment_id: str
    kind: str
    kind_label: str
    filename: str
    declared_type: str
    size: int
    sha256: str
    hash_ok: bool
    sanitized_available: bool
    sanitized_name: str
    sanitized_type: str
    sanitize_method: str
    sanitize_removed: list[str]
    sanitize_reason_ja: str


@dataclass(frozen=True)
class HistoryView:
    at: datetime
    actor: str
    action: str
    action_label: str
    status_label: str
    note: str


@dataclass
class ApplicationView:
    row: InboxRow
    procedure_version: str
    submitted_at: datetime | None
    pulled_at: datetime
    verification_notes: list[str]
    signer: dict[str, Any] | None
    signer_serial: str
    signer_not_before: datetime | None
    signer_not_after: datetime | None
    atena_number: str | None
    candidates: list[dict[str, str]]
    form_lines: list[FormLine]
    form_title: str
    attachments: list[AttachmentView]
    history: list[HistoryView]
    decision_note: str
    allowed: dict[str, bool] = field(default_factory=dict)
    portal_events_waiting: int = 0


def _load(uow: UnitOfWork, staff: StaffPrincipal, app_id: str) -> LgwanApplication:
    app = uow.session.scalars(
        visible(select(LgwanApplication), staff).where(LgwanApplication.id == app_id)
    ).first()
    if app is None:
        # the same answer whether it does not exist or belongs to a business the staff may not see
        raise NotFound(
            f"no application {app_id} visible to {staff.login_id}", message_ja="該当する申請はありません"
        )
    return app


def _decrypt_json(uow: UnitOfWork, column: str, app: LgwanApplication, blob: bytes | None) -> Any:
    if blob is None:
        return None
    return json.loads(uow.keyring.field_decrypt("lgwan_applications", column, app.id, blob))


_HISTORY_LABELS = {
    **ACTION_LABELS,
    "pulled": "取込み・検証",
    "case_result": "担当業務の結果",
    "reply": "申請者の回答",
}


def get_application(
    storage: Storage, staff: StaffPrincipal, app_id: str, *, now: datetime | None = None
) -> ApplicationView:
    """Everything the application page shows; reading it is audited with the person concerned."""
    ctx = staff.context(APPLICATION_REVIEW.code, Permission.APPLICATIONS_APPLICATION_READ)
    today = today_jst(now or datetime.now(UTC))
    with storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        app = _load(uow, staff, app_id)
        key = sealing.unwrap_key(uow, app.id, app.data_key)
        form_lines: list[FormLine] = []
        form_title = app.procedure_name
        if app.form is not None:
            form = json.loads(sealing.unseal(key, f"{app.id}|form", app.form))
            try:
                effective = tenant_procedures(uow).resolve(uow.tenant.code, app.procedure_version)
                schema = effective.definition.form
                form_title = str(schema.get("title") or form_title)
                attachment_names = {a.kind: a.name for a in effective.definition.attachments}
            except Exception:  # an unknown version (a failed application): show the answers as they are
                schema, attachment_names = {"properties": {}}, {}
            form_lines = render_form(schema, form)
        else:
            attachment_names = {}
        atts = uow.session.scalars(
            select(LgwanAttachment)
            .where(LgwanAttachment.application_id == app.id)
            .order_by(LgwanAttachment.attachment_id)
        ).all()
        history = uow.session.scalars(
            select(LgwanHistory)
            .where(LgwanHistory.application_id == app.id)
            .order_by(LgwanHistory.at, LgwanHistory.id)
        ).all()
        waiting = uow.session.scalar(
            select(func.count())
            .select_from(PortalEvent)
            .where(PortalEvent.receipt_number == app.receipt_number, PortalEvent.posted_at.is_(None))
        )
        view = ApplicationView(
            row=_row(app, today),
            procedure_version=app.procedure_version,
            submitted_at=_aware(app.submitted_at) if app.submitted_at else None,
            pulled_at=_aware(app.pulled_at),
            verification_notes=list(json.loads(app.verification_notes or "[]")),
            signer=_decrypt_json(uow, "signer_facts", app, app.signer_facts),
            signer_serial=app.signer_serial,
            signer_not_before=_aware(app.signer_not_before) if app.signer_not_before else None,
            signer_not_after=_aware(app.signer_not_after) if app.signer_not_after else None,
            atena_number=app.atena_number,
            candidates=list(_decrypt_json(uow, "candidates", app, app.candidates) or []),
            form_lines=form_lines,
            form_title=form_title,
            attachments=[
                AttachmentView(
                    id=a.id,
                    attachment_id=a.attachment_id,
                    kind=a.kind,
                    kind_label=attachment_names.get(a.kind, a.kind),
                    filename=a.filename,
                    declared_type=a.declared_type,
                    size=a.size,
                    sha256=a.sha256,
                    hash_ok=a.hash_ok,
                    sanitized_available=a.sanitized is not None,
                    sanitized_name=a.sanitized_name or "",
                    sanitized_type=a.sanitized_type or "",
                    sanitize_method=a.sanitize_method,
                    sanitize_removed=[r for r in a.sanitize_removed.split(",") if r],
                    sanitize_reason_ja=a.sanitize_reason_ja or "",
                )
                for a in atts
            ],
            history=[
                HistoryView(
                    _aware(h.at),
                    h.actor,
                    h.action,
                    _HISTORY_LABELS.get(h.action, h.action),
                    STATUS_LABELS.get(S(h.status), h.status)
                    if h.status in S._value2member_map_
                    else h.status,
                    h.note,
                )
                for h in history
            ],
            decision_note=app.decision_note,
            portal_events_waiting=int(waiting or 0),
        )
        status, verification = S(app.status), Verification(app.verification)
        view.allowed = {
            action: refusal(action, status, verification) is None and staff.has(_PERMISSION[action])
            for action in ACTION_LABELS
        }
        if not staff.has(Permission.APPLICATIONS_MESSAGE_SEND):
            view.allowed["correction"] = False
        uow.record("read", "lgwan_applications", app.receipt_number, person=app.atena_number or "")
    return view


def attachment_copy(
    storage: Storage, staff: StaffPrincipal, app_id: str, attachment_row_id: str
) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of an attachment's sanitized copy; the original never leaves."""
    ctx = staff.context(APPLICATION_REVIEW.code, Permission.APPLICATIONS_APPLICATION_READ)
    with storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        app = _load(uow, staff, app_id)
        att = uow.session.get(LgwanAttachment, attachment_row_id)
        if att is None or att.application_id != app.id:
            raise NotFound("no such attachment", message_ja="該当する添付書類はありません")
        if att.sanitized is None:
            raise NotFound(
                "no sanitized copy",
                message_ja="この添付書類は無害化済みの写しがないため開けません"
                f"({att.sanitize_reason_ja or ''})",
            )
        key = sealing.unwrap_key(uow, app.id, app.data_key)
        data = sealing.unseal(key, f"{app.id}|{att.attachment_id}|sanitized", att.sanitized)
        uow.record(
            "download",
            "lgwan_attachments",
            att.id,
            person=app.atena_number or "",
            receipt=app.receipt_number,
            copy="sanitized",
        )
        return att.sanitized_name or att.filename, att.sanitized_type or "application/octet-stream", data


# -- actions -------------------------------------------------------------------------------------------


_PERMISSION: dict[str, Permission] = {
    "assign": Permission.APPLICATIONS_APPLICATION_DECIDE,
    "accept": Permission.APPLICATIONS_APPLICATION_DECIDE,
    "correction": Permission.APPLICATIONS_APPLICATION_DECIDE,
    "reject": Permission.APPLICATIONS_APPLICATION_DECIDE,
    "handover": Permission.APPLICATIONS_APPLICATION_DECIDE,
    "choose_resident": Permission.APPLICATIONS_APPLICATION_DECIDE,
}


@dataclass
class ActionResult:
    """What a (bulk) action did: receipts done, and receipts skipped with the Japanese reason."""

    action: str
    done: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def single(self) -> None:
        """For a one-application action: raise the reason it was not done."""
        if self.skipped:
            raise ValidationError(
                f"{self.action} not done: {self.skipped}", message_ja=next(iter(self.skipped.values()))
            )


def _history(
    uow: UnitOfWork, app: LgwanApplication, action: str, actor: str, note: str, purpose: str, at: datetime
) -> None:
    uow.session.add(
        LgwanHistory(
            id=uuid.uuid4().hex,
            application_id=app.id,
            at=at,
            actor=actor,
            action=action,
            status=app.status,
            note=note,
            purpose=purpose,
        )
    )


def _set_status(app: LgwanApplication, status: SubmissionStatus, at: datetime) -> None:
    app.status = status.value
    app.status_at = at


def _run(
    storage: Storage,
    staff: StaffPrincipal,
    app_ids: Sequence[str],
    action: str,
    purpose_code: str,
    apply: Any,
    *,
    extra_permission: Permission | None = None,
    now: datetime | None = None,
) -> ActionResult:
    if not app_ids:
        raise ValidationError("no applications chosen", message_ja="申請を選んでください")
    if len(app_ids) > MAX_BULK:
        raise ValidationError(
            f"at most {MAX_BULK} at once", message_ja=f"一度に処理できるのは{MAX_BULK}件までです"
        )
    if extra_permission is not None:
        staff.require(extra_permission)
    at = now or datetime.now(UTC)
    result = ActionResult(action)
    ctx = staff.context(purpose_code, _PERMISSION[action], reason=action)
    with storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        apps = uow.session.scalars(
            visible(select(LgwanApplication), staff).where(
                LgwanApplication.id.in_(list(dict.fromkeys(app_ids)))
            )
        ).all()
        found = {a.id for a in apps}
        for missing in dict.fromkeys(i for i in app_ids if i not in found):
            result.skipped[missing] = "該当する申請はありません"
        for app in sorted(apps, key=lambda a: a.receipt_number):
            reason = refusal(action, S(app.status), Verification(app.verification))
            if reason is None:
                reason = apply(uow, app, at)
            if reason:
                result.skipped[app.receipt_number] = reason
                continue
            result.done.append(app.receipt_number)
        if result.done:
            uow.record(
                action,
                "lgwan_applications",
                result.done[0],
                count=len(result.done),
                receipts=result.done[:50],
            )
    return result


def assign(
    storage: Storage,
    staff: StaffPrincipal,
    app_ids: Sequence[str],
    assignee: str | None = None,
    *,
    now: datetime | None = None,
) -> ActionResult:
    """Make ``assignee`` (default: oneself) responsible; a new application becomes 審査中."""
    who = (assignee or staff.login_id).strip()[:64]
    if not who:
        raise ValidationError("no assignee", message_ja="担当者を入力してください")

    def apply(uow: UnitOfWork, app: LgwanApplication, at: datetime) -> str | None:
        app.assignee = who
        if app.status == S.DELIVERED.value:
            _set_status(app, S.UNDER_REVIEW, at)
            queue_status_event(uow, app.receipt_number, S.UNDER_REVIEW, at=at)
        _history(uow, app, "assign", staff.login_id, f"担当者: {who}", APPLICATION_REVIEW.code, at)
        return None

    return _run(storage, staff, app_ids, "assign", APPLICATION_REVIEW.code, apply, now=now)


def accept(
    storage: Storage, staff: StaffPrincipal, app_ids: Sequence[str], *, now: datetime | None = None
) -> ActionResult:
    """受理: one or many (a benefit-rush day); each resident sees 受理."""

    def apply(uow: UnitOfWork, app: LgwanApplication, at: datetime) -> str | None:
        _set_status(app, S.ACCEPTED, at)
        app.decided_by, app.decided_at = staff.login_id, at
        app.assignee = app.assignee or staff.login_id
        queue_status_event(uow, app.receipt_number, S.ACCEPTED, at=at)
        _history(uow, app, "accept", staff.login_id, "", APPLICATION_REVIEW.code, at)
        return None

    return _run(storage, staff, app_ids, "accept", APPLICATION_REVIEW.code, apply, now=now)


def _message(text: str, what: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise ValidationError(f"{what} is empty", message_ja=f"{what}を入力してください")
    if len(cleaned) > MAX_MESSAGE:
        raise ValidationError(
            f"{what} too long", message_ja=f"{what}は{MAX_MESSAGE}文字以内で入力してください"
        )
    return cleaned


def request_correction(
    storage: Storage, staff: StaffPrincipal, app_id: str, message_ja: str, *, now: datetime | None = None
) -> ActionResult:
    """補正依頼: the message reaches the resident on the portal, who can answer there."""
    text = _message(message_ja, "補正を依頼する内容")

    def apply(uow: UnitOfWork, app: LgwanApplication, at: datetime) -> str | None:
        _set_status(app, S.CORRECTION_REQUESTED, at)
        app.decision_note = text
        queue_status_event(
            uow, app.receipt_number, S.CORRECTION_REQUESTED, message_ja=text, reply_requested=True, at=at
        )
        _history(uow, app, "correction", staff.login_id, text, APPLICATION_REVIEW.code, at)
        return None

    return _run(
        storage, staff, [app_id], "correction", APPLICATION_REVIEW.code, apply,
        extra_permission=Permission.APPLICATIONS_MESSAGE_SEND, now=now,
    )  # fmt: skip


def reject(
    storage: Storage, staff: StaffPrincipal, app_id: str, reason_ja: str, *, now: datetime | None = None
) -> ActionResult:
    """却下 with the reason, which the resident is told."""
    text = _message(reason_ja, "却下の理由")

    def apply(uow: UnitOfWork, app: LgwanApplication, at: datetime) -> str | None:
        _set_status(app, S.REJECTED, at)
        app.decided_by, app.decided_at, app.decision_note = staff.login_id, at, text
        queue_status_event(uow, app.receipt_number, S.REJECTED, message_ja=text, at=at)
        _history(uow, app, "reject", staff.login_id, text, APPLICATION_REVIEW.code, at)
        return None

    return _run(storage, staff, [app_id], "reject", APPLICATION_REVIEW.code, apply, now=now)


def choose_resident(
    storage: Storage, staff: StaffPrincipal, app_id: str, atena_number: str, *, now: datetime | None = None
) -> ActionResult:
    """Staff pick the applicant among the candidates (no serial match)."""

    def apply(uow: UnitOfWork, app: LgwanApplication, at: datetime) -> str | None:
        if app.match == Match.SERIAL.value:
            return "申請者はシリアル番号で特定済みです"
        candidates = _decrypt_json(uow, "candidates", app, app.candidates) or []
        if atena_number not in {c["atena_number"] for c in candidates}:
            return "選んだ方は候補にありません"
        app.atena_number, app.match = atena_number, Match.CHOSEN.value
        _history(
            uow,
            app,
            "choose_resident",
            staff.login_id,
            f"統合宛名番号 {atena_number}",
            APPLICANT_IDENTIFY.code,
            at,
        )
        return None

    return _run(storage, staff, [app_id], "choose_resident", APPLICANT_IDENTIFY.code, apply, now=now)


def attachments_of(
    uow: UnitOfWork, app_ids: Sequence[str], staff: StaffPrincipal | None = None
) -> dict[str, list[LgwanAttachment]]:
    """The attachments of several applications (without the originals), by application, in order.

    With ``staff``, only of the applications visible to them. Read without flushing what the
    caller has pending: a bulk action's changes go to the database together at the end.
    """
    found: dict[str, list[LgwanAttachment]] = {}
    ids = list(dict.fromkeys(app_ids))
    with uow.session.no_autoflush:
        for start in range(0, len(ids), 500):
            apps = select(LgwanApplication.id).where(LgwanApplication.id.in_(ids[start : start + 500]))
            if staff is not None:
                apps = visible(apps, staff)
            for a in uow.session.scalars(
                select(LgwanAttachment)
                .options(defer(LgwanAttachment.original))
                .where(LgwanAttachment.application_id.in_(apps))
                .order_by(LgwanAttachment.application_id, LgwanAttachment.attachment_id)
            ):
                found.setdefault(a.application_id, []).append(a)
    return found


def accepted_application(
    uow: UnitOfWork,
    app: LgwanApplication,
    accepted_by: str,
    at: datetime,
    attachments_read: Sequence[LgwanAttachment] | None = None,
) -> AcceptedApplication:
    """What the core system receives: the form, the sanitized copies with hashes, the applicant.

    ``attachments_read``: the application's attachments when read beforehand (:func:`attachments_of`).
    """
    key = sealing.unwrap_key(uow, app.id, app.data_key)
    if app.form is None:
        raise ValidationError("the application has no form", message_ja="申請内容がないため引き継げません")
    form = json.loads(sealing.unseal(key, f"{app.id}|form", app.form))
    attachments: list[dict[str, Any]] = []
    rows = attachments_read if attachments_read is not None else attachments_of(uow, [app.id]).get(app.id, [])
    for a in rows:
        if a.sanitized is None:
            continue  # never hand a file on that could not be made safe; staff saw it was withheld
        data = sealing.unseal(key, f"{app.id}|{a.attachment_id}|sanitized", a.sanitized)
        attachments.append(
            {
                "attachment_id": a.attachment_id,
                "kind": a.kind,
                "filename": a.sanitized_name or a.filename,
                "content_type": a.sanitized_type,
                "size": len(data),
                "sha256": a.sanitized_sha256,
                "original_sha256": a.sha256,
                "data_b64": base64.b64encode(data).decode("ascii"),
            }
        )
    definition = tenant_procedures(uow).catalog.get(app.procedure_id)
    return AcceptedApplication(
        receipt_number=app.receipt_number,
        tenant=uow.tenant.code,
        procedure_id=app.procedure_id,
        procedure_version=app.procedure_version,
        receiving_system=definition.handled_by.value,
        form=form,
        applicant_atena_number=app.atena_number,
        signer_serial=app.signer_serial,
        attachments=attachments,
        accepted_by=accepted_by,
        accepted_at=at,
    )


def hand_over(
    storage: Storage, staff: StaffPrincipal, app_ids: Sequence[str], *, now: datetime | None = None
) -> ActionResult:
    """引継ぎ: the accepted application goes to the core system through the outbox, same transaction."""
    from jichitai.platform.messaging import enqueue, new_envelope

    read: dict[str, list[LgwanAttachment]] | None = None

    def apply(uow: UnitOfWork, app: LgwanApplication, at: datetime) -> str | None:
        nonlocal read
        if read is None:  # the attachments of the whole batch in one query
            read = attachments_of(uow, app_ids, staff)
        payload = accepted_application(uow, app, app.decided_by or staff.login_id, at, read.get(app.id, []))
        envelope = new_envelope(
            MessageType.ACCEPTED_APPLICATION,
            source=Zone.LGWAN,
            destination=Zone.MYNUMBER,
            tenant=uow.tenant.code,
            payload=payload,
            created_at=at,
        )
        enqueue(uow, envelope)
        app.handover_message_id, app.handed_over_at = envelope.message_id, at
        _set_status(app, S.HANDED_OVER, at)
        queue_status_event(uow, app.receipt_number, S.HANDED_OVER, at=at)
        _history(
            uow, app, "handover", staff.login_id,
            f"{payload.receiving_system} へ(連携ID {envelope.message_id})", APPLICATION_HANDOVER.code, at,
        )  # fmt: skip
        return None

    return _run(storage, staff, app_ids, "handover", APPLICATION_HANDOVER.code, apply, now=now)


def require_visible_business(staff: StaffPrincipal, business: str) -> None:
    if Business(business) not in staff.businesses:
        raise PermissionDenied(
            f"{staff.login_id} may not see {business}", message_ja="この業務の申請は表示できません"
        )


# -- CSV ---------------------------------------------------------------------------------------------

CSV_HEADER = [
    "受付番号",
    "手続",
    "業務",
    "受付日時",
    "処理期限",
    "期限超過",
    "処理状況",
    "検証結果",
    "申請者の特定",
    "申請者氏名",
    "担当者",
]


def _cell(value: str) -> str:
    # a cell Excel would read as a formula is written as text (CSV injection)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def export_csv(
    storage: Storage, staff: StaffPrincipal, flt: InboxFilter, *, now: datetime | None = None
) -> bytes:
    """The filtered inbox as CSV, UTF-8 with BOM so that Excel opens it in Japanese; audited."""
    _check_filter(flt)
    ctx = staff.context(APPLICATION_REVIEW.code, Permission.APPLICATIONS_APPLICATION_READ, reason="CSV出力")
    today = today_jst(now or datetime.now(UTC))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    with storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        apps = uow.session.scalars(
            visible(select(LgwanApplication), staff)
            .where(*_conditions(uow, flt, today))
            .order_by(
                LgwanApplication.due_date, LgwanApplication.received_at, LgwanApplication.receipt_number
            )
            .limit(100_000)
        ).all()
        for app in apps:
            row = _row(app, today)
            signer = _decrypt_json(uow, "signer_facts", app, app.signer_facts) or {}
            writer.writerow(
                [
                    _cell(s)
                    for s in (
                        row.receipt_number,
                        row.procedure_name,
                        row.business_label,
                        row.received_at.astimezone(JST).strftime("%Y-%m-%d %H:%M"),
                        row.due_date.isoformat(),
                        "超過" if row.overdue else "",
                        row.status_label,
                        row.verification.label_ja,
                        row.match.label_ja,
                        str(signer.get("name") or ""),
                        row.assignee,
                    )
                ]
            )
        uow.record("export", "lgwan_applications", "csv", count=len(apps), filter=str(flt))
    return "\ufeff".encode() + out.getvalue().encode("utf-8")
