"""The municipal side's use cases (受付側): list, fetch, acknowledge, post status, read replies.

Application management in the LGWAN zone pulls; nothing here reaches out. Every function takes the
caller's :class:`TenantContext` (the API client's tenant, actor and purpose): there is no way to
name another tenant's application, since each tenant's rows live in its own database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from jichitai.contracts.status import StatusEvent
from jichitai.contracts.submission import SubmissionEnvelope, SubmissionStatus
from jichitai.internet.models import Application, ResidentReply, StatusEventRow
from jichitai.internet.submissions import ciphertexts
from jichitai.internet.submissions.errors import ApplicationNotFound, EventConflict, EventRejected
from jichitai.internet.submissions.status_events import require_valid_signature
from jichitai.platform.context import TenantContext
from jichitai.platform.errors import JichitaiError, ValidationError
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.zones import Zone

MAX_PER_PAGE = 200
MAX_BATCH = 100  # applications or events in one batch request
_EVENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def as_utc(value: datetime) -> datetime:
    """SQLite gives back naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class ApplicationInfo:
    """Routing metadata of one application, as the receiving side sees it."""

    envelope: SubmissionEnvelope
    status_at: datetime
    acknowledged_at: datetime | None
    purged_at: datetime | None


@dataclass(frozen=True)
class ApplicationPage:
    items: list[ApplicationInfo]
    page: int
    per_page: int
    total: int

    @property
    def has_next(self) -> bool:
        return self.page * self.per_page < self.total


@dataclass(frozen=True)
class ReplyInfo:
    """A resident's encrypted reply (an ``amendment`` JWE to the same submission key)."""

    reply_id: str
    receipt_number: str
    in_reply_to: str
    created_at: datetime
    kid: str
    size: int
    jwe: str | None  # None once purged


def info_of(tenant: str, row: Application) -> ApplicationInfo:
    return ApplicationInfo(
        SubmissionEnvelope(
            receipt_number=row.receipt_number,
            tenant=tenant,
            procedure_id=row.procedure_id,
            procedure_version=row.procedure_version,
            received_at=as_utc(row.received_at),
            status=SubmissionStatus(row.status),
            kid=row.kid,
            size=row.size,
        ),
        as_utc(row.status_at),
        as_utc(row.acknowledged_at) if row.acknowledged_at else None,
        as_utc(row.purged_at) if row.purged_at else None,
    )


def application_row(uow: UnitOfWork, receipt_number: str, *, for_update: bool = False) -> Application:
    query = select(Application).where(Application.receipt_number == receipt_number)
    if for_update:
        query = query.with_for_update()
    row = uow.session.scalars(query).one_or_none()
    if row is None:
        raise ApplicationNotFound(receipt_number)
    return row


def list_applications(
    storage: Storage,
    ctx: TenantContext,
    *,
    status: SubmissionStatus | None = None,
    procedure_id: str | None = None,
    since: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> ApplicationPage:
    """Applications by time of receipt (oldest first), filtered, one page at a time."""
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise ValidationError(
            f"page must be ≥ 1 and per_page 1–{MAX_PER_PAGE}",
            message_ja=f"ページ番号は1以上、件数は1〜{MAX_PER_PAGE}で指定してください",
        )
    if since is not None and since.tzinfo is None:
        raise ValidationError(
            "since must carry a time zone", message_ja="日時にはタイムゾーンを付けてください"
        )
    conditions = []
    if status is not None:
        conditions.append(Application.status == status.value)
    if procedure_id is not None:
        conditions.append(Application.procedure_id == procedure_id)
    if since is not None:
        conditions.append(Application.received_at >= since.astimezone(UTC))
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        total = uow.session.scalar(select(func.count()).select_from(Application).where(*conditions)) or 0
        rows = uow.session.scalars(
            select(Application)
            .where(*conditions)
            .order_by(Application.received_at, Application.receipt_number)
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
        return ApplicationPage([info_of(ctx.tenant, r) for r in rows], page, per_page, int(total))


def get_application(
    storage: Storage, ctx: TenantContext, receipt_number: str
) -> tuple[ApplicationInfo, str | None]:
    """Routing metadata and the JWE ciphertext (None once purged); the fetch is audited."""
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        row = application_row(uow, receipt_number)
        return _fetched(uow, ctx.tenant, row, ciphertexts.token(uow, receipt_number))


def _fetched(
    uow: UnitOfWork, tenant: str, row: Application, token: str | None
) -> tuple[ApplicationInfo, str | None]:
    """One application as fetched, the fetch audited under its resident."""
    uow.record("ciphertext_fetched", "internet_applications", row.receipt_number, person=row.audit_person())
    return info_of(tenant, row), token


def acknowledge(
    storage: Storage, ctx: TenantContext, receipt_number: str, *, now: datetime | None = None
) -> ApplicationInfo:
    """Application management has the application: status 自治体へ送付済み. Repeating changes nothing."""
    now = now or datetime.now(UTC)
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        row = application_row(uow, receipt_number, for_update=True)
        _mark_acknowledged(row, now)
        return info_of(ctx.tenant, row)


def _mark_acknowledged(row: Application, now: datetime) -> None:
    if row.acknowledged_at is None:
        row.acknowledged_at = now
        if row.status == SubmissionStatus.RECEIVED.value:
            row.status = SubmissionStatus.DELIVERED.value
            row.status_at = now


def post_event(
    storage: Storage,
    ctx: TenantContext,
    receipt_number: str,
    event: StatusEvent,
    *,
    now: datetime | None = None,
) -> tuple[StatusEvent, bool]:
    """Store a signed status event; (event, created). The same event twice is stored once."""
    now = now or datetime.now(UTC)
    if event.receipt_number != receipt_number or event.tenant != ctx.tenant:
        raise EventRejected(
            "the event names another application or tenant than the URL",
            message_ja="処理状況の受付番号又は団体がURLと一致しません",
        )
    _check_event(event)
    text = event.model_dump_json()
    try:
        with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
            row = application_row(uow, receipt_number, for_update=True)
            existing = uow.session.get(StatusEventRow, event.event_id)
            if existing is not None:
                return _same_event(existing, text, event), False
            require_valid_signature(uow.session, ctx.tenant, event)
            _store_event(uow, row, event, text, now)
            uow.session.flush()
    except IntegrityError:
        with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
            existing = uow.session.get(StatusEventRow, event.event_id)
            if existing is None:
                raise
            return _same_event(existing, text, event), False
    return event, True


def _check_event(event: StatusEvent) -> None:
    """The checks of an event that need no database (its form; the signature is checked later)."""
    if not _EVENT_ID.match(event.event_id) or len(event.signature_b64) > 200:
        raise EventRejected(
            "event_id must be 1–64 characters of A-Z a-z 0-9 . _ : - and the signature at most 200",
            message_ja="イベントID又は署名の形式が正しくありません",
        )
    if event.status is SubmissionStatus.RECEIVED:
        raise EventRejected(
            "the status 'received' is set by the portal only", message_ja="「受付済み」は通知できません"
        )
    if event.at.tzinfo is None:
        raise EventRejected(
            "the event time must carry a time zone", message_ja="日時にはタイムゾーンを付けてください"
        )


def _store_event(uow: UnitOfWork, row: Application, event: StatusEvent, text: str, now: datetime) -> None:
    uow.session.add(
        StatusEventRow(
            event_id=event.event_id,
            receipt_number=row.receipt_number,
            status=event.status.value,
            message_ja=event.message_ja,
            reply_requested=event.reply_requested,
            at=event.at.astimezone(UTC),
            key_version=event.key_version,
            signature_b64=event.signature_b64,
            event_json=text,
            posted_at=now,
        )
    )
    if event.at.astimezone(UTC) >= as_utc(row.status_at):
        row.status = event.status.value
        row.status_at = event.at.astimezone(UTC)


def _same_event(existing: StatusEventRow, text: str, event: StatusEvent) -> StatusEvent:
    if existing.event_json != text:
        raise EventConflict(
            f"event {event.event_id} was posted before with other content",
            message_ja="同じイベントIDで異なる内容が送られました",
        )
    return event


def events_of(uow: UnitOfWork, receipt_number: str) -> list[StatusEvent]:
    rows = uow.session.scalars(
        select(StatusEventRow)
        .where(StatusEventRow.receipt_number == receipt_number)
        .order_by(StatusEventRow.at, StatusEventRow.event_id)
    ).all()
    return [StatusEvent.model_validate_json(r.event_json) for r in rows]


def list_events(storage: Storage, ctx: TenantContext, receipt_number: str) -> list[StatusEvent]:
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        application_row(uow, receipt_number)
        return events_of(uow, receipt_number)


def list_replies(storage: Storage, ctx: TenantContext, receipt_number: str) -> list[ReplyInfo]:
    """The resident's encrypted replies to this application, oldest first; fetching is audited."""
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        app = application_row(uow, receipt_number)
        rows = uow.session.scalars(
            select(ResidentReply)
            .where(ResidentReply.receipt_number == receipt_number)
            .order_by(ResidentReply.created_at, ResidentReply.id)
        ).all()
        if rows:
            uow.record(
                "replies_fetched", "internet_resident_replies", receipt_number, person=app.audit_person()
            )
        return [
            ReplyInfo(
                r.id,
                r.receipt_number,
                r.in_reply_to,
                as_utc(r.created_at),
                r.kid,
                r.size,
                r.jwe.decode("ascii") if r.jwe is not None else None,
            )
            for r in rows
        ]


# -- batches: one request and one transaction for many applications ----------------------------------


@dataclass(frozen=True)
class ItemOutcome:
    """What became of one item of a batch, as the single request would have answered it."""

    key: str  # the receipt number, or the event id
    status: int  # 200 / 201 as the single request; 400, 404, 409 for a refused item
    error: str = ""
    message: str = ""
    message_ja: str = ""

    @classmethod
    def refused(cls, key: str, exc: JichitaiError, status: int) -> ItemOutcome:
        code = getattr(exc, "error_code", None) or "refused"
        return cls(key, status, str(code), exc.message, exc.message_ja or "")


def _batch_size(items: Sequence[object]) -> None:
    if not 1 <= len(items) <= MAX_BATCH:
        raise ValidationError(
            f"a batch holds 1–{MAX_BATCH} items, not {len(items)}",
            message_ja=f"一度に扱える件数は1〜{MAX_BATCH}件です",
        )


def _unique(receipts: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(receipts))


def fetch_applications(
    storage: Storage, ctx: TenantContext, receipt_numbers: Sequence[str]
) -> tuple[list[tuple[ApplicationInfo, str | None]], list[str]]:
    """Many applications with their ciphertexts at once, in the order asked; and the unknown ones.

    Each fetch is audited as :func:`get_application` audits it (one entry per application, since
    each names its resident), all in one transaction.
    """
    _batch_size(receipt_numbers)
    wanted = _unique(receipt_numbers)
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        rows = {
            r.receipt_number: r
            for r in uow.session.scalars(select(Application).where(Application.receipt_number.in_(wanted)))
        }
        blobs = ciphertexts.tokens(uow, list(rows))
        found: list[tuple[ApplicationInfo, str | None]] = []
        for receipt in wanted:
            row = rows.get(receipt)
            if row is None:
                continue
            found.append(_fetched(uow, ctx.tenant, row, blobs.get(receipt)))
        return found, [r for r in wanted if r not in rows]


def acknowledge_many(
    storage: Storage, ctx: TenantContext, receipt_numbers: Sequence[str], *, now: datetime | None = None
) -> tuple[list[ApplicationInfo], list[str]]:
    """:func:`acknowledge` for many in one transaction; (the applications, the unknown receipts).

    Repeating it changes nothing, like the single acknowledgement.
    """
    _batch_size(receipt_numbers)
    wanted = _unique(receipt_numbers)
    now = now or datetime.now(UTC)
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        rows = {
            r.receipt_number: r
            for r in uow.session.scalars(
                select(Application)
                .where(Application.receipt_number.in_(wanted))
                .order_by(Application.receipt_number)  # one lock order for concurrent batches
                .with_for_update()
            )
        }
        for row in rows.values():
            _mark_acknowledged(row, now)
        return [info_of(ctx.tenant, rows[r]) for r in wanted if r in rows], [
            r for r in wanted if r not in rows
        ]


def post_events(
    storage: Storage, ctx: TenantContext, events: Sequence[StatusEvent], *, now: datetime | None = None
) -> list[ItemOutcome]:
    """:func:`post_event` for many events in one transaction; one outcome per event, in order.

    A refused event (bad form or signature, unknown application, an id reused with other content)
    is answered with its reason and does not hold up the others. Events of one application are
    applied in the order given.
    """
    _batch_size(events)
    now = now or datetime.now(UTC)
    outcomes: dict[int, ItemOutcome] = {}
    usable: list[tuple[int, StatusEvent, str]] = []
    for index, event in enumerate(events):
        try:
            if event.tenant != ctx.tenant:
                raise EventRejected(
                    "the event names another tenant than the URL",
                    message_ja="処理状況の団体がURLと一致しません",
                )
            _check_event(event)
        except EventRejected as exc:
            outcomes[index] = ItemOutcome.refused(event.event_id, exc, 400)
            continue
        usable.append((index, event, event.model_dump_json()))
    try:
        with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
            receipts = sorted({e.receipt_number for _, e, _ in usable})
            rows = {
                r.receipt_number: r
                for r in uow.session.scalars(
                    select(Application)
                    .where(Application.receipt_number.in_(receipts))
                    .order_by(Application.receipt_number)
                    .with_for_update()
                )
            }
            known = {
                e.event_id: e.event_json
                for e in uow.session.scalars(
                    select(StatusEventRow).where(
                        StatusEventRow.event_id.in_([e.event_id for _, e, _ in usable])
                    )
                )
            }
            # without autoflush, checking each signature (a query for the key) would first write
            # every event added before it, one flush per event
            keys: dict[int, ec.EllipticCurvePublicKey | None] = {}
            with uow.session.no_autoflush:
                for index, event, text in usable:
                    outcomes[index] = _post_one(uow, ctx.tenant, rows, known, keys, event, text, now)
            uow.session.flush()
    except IntegrityError:
        # another request stored one of these events at the same moment: one by one, each of
        # which sorts out its own race
        for index, event, _ in usable:
            try:
                _, created = post_event(storage, ctx, event.receipt_number, event, now=now)
                outcomes[index] = ItemOutcome(event.event_id, 201 if created else 200)
            except EventRejected as exc:
                outcomes[index] = ItemOutcome.refused(event.event_id, exc, 400)
            except ApplicationNotFound as exc:
                outcomes[index] = ItemOutcome.refused(event.event_id, exc, 404)
            except EventConflict as exc:
                outcomes[index] = ItemOutcome.refused(event.event_id, exc, 409)
    return [outcomes[i] for i in range(len(events))]


def _post_one(
    uow: UnitOfWork,
    tenant: str,
    rows: dict[str, Application],
    known: dict[str, str],
    keys: dict[int, ec.EllipticCurvePublicKey | None],
    event: StatusEvent,
    text: str,
    now: datetime,
) -> ItemOutcome:
    row = rows.get(event.receipt_number)
    if row is None:
        return ItemOutcome.refused(event.event_id, ApplicationNotFound(event.receipt_number), 404)
    existing = known.get(event.event_id)
    if existing is not None:
        if existing != text:
            conflict = EventConflict(
                f"event {event.event_id} was posted before with other content",
                message_ja="同じイベントIDで異なる内容が送られました",
            )
            return ItemOutcome.refused(event.event_id, conflict, 409)
        return ItemOutcome(event.event_id, 200)
    try:
        require_valid_signature(uow.session, tenant, event, keys=keys)
    except EventRejected as exc:
        return ItemOutcome.refused(event.event_id, exc, 400)
    _store_event(uow, row, event, text, now)
    known[event.event_id] = text
    return ItemOutcome(event.event_id, 201)


__all__ = [
    "MAX_BATCH",
    "MAX_PER_PAGE",
    "ApplicationInfo",
    "ApplicationPage",
    "ItemOutcome",
    "ReplyInfo",
    "acknowledge",
    "acknowledge_many",
    "as_utc",
    "fetch_applications",
    "get_application",
    "list_applications",
    "list_events",
    "list_replies",
    "post_event",
    "post_events",
]
