"""Status events for the resident (処理状況), signed with the tenant's signing key and queued.

An event is written in the same transaction as the status change it reports, signed (ECDSA P-256,
the tenant's 電子公印 key in the LGWAN keystore) over :meth:`StatusEvent.signed_bytes`. The
queue is pushed to the portal by the pull worker (or right after a staff action); an event the
portal did not take stays queued, since the LGWAN side always starts the connection.
"""

from __future__ import annotations

import base64
import logging
import uuid
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from jichitai.contracts.status import StatusEvent
from jichitai.contracts.submission import SubmissionStatus
from jichitai.lgwan.models import PortalEvent
from jichitai.lgwan.portal import MAX_BATCH, PortalClient, PortalRefused, PortalUnavailable
from jichitai.lgwan.purposes import APPLICATION_STATUS
from jichitai.platform.context import TenantContext, system
from jichitai.platform.crypto.keystore import KeyKind
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

log = logging.getLogger(__name__)
WORKER = system("lgwan-pull-worker", "application_management")
MAX_ATTEMPTS = 5  # an event the portal refused this often waits for an operator (last_error says why)


def sign_event(uow: UnitOfWork, event: StatusEvent) -> StatusEvent:
    """``event`` with the tenant's current signing key version and signature."""
    version = uow.keystore.current_version(uow.tenant.code, KeyKind.SIGNING)
    unsigned = event.model_copy(update={"key_version": version, "signature_b64": ""})
    signed_version, signature = uow.keyring.sign(unsigned.signed_bytes())
    if signed_version != version:  # rotated in between: sign again under the version that signed
        unsigned = unsigned.model_copy(update={"key_version": signed_version})
        signed_version, signature = uow.keyring.sign(unsigned.signed_bytes())
    return unsigned.model_copy(update={"signature_b64": base64.b64encode(signature).decode("ascii")})


def queue_status_event(
    uow: UnitOfWork,
    receipt_number: str,
    status: SubmissionStatus,
    *,
    message_ja: str = "",
    reply_requested: bool = False,
    at: datetime | None = None,
) -> StatusEvent:
    """Sign an event and queue it for the portal, in ``uow``'s transaction."""
    event = sign_event(
        uow,
        StatusEvent(
            event_id=uuid.uuid4().hex,
            receipt_number=receipt_number,
            tenant=uow.tenant.code,
            status=status,
            message_ja=message_ja,
            reply_requested=reply_requested,
            at=at or datetime.now(UTC),
        ),
    )
    uow.session.add(
        PortalEvent(
            event_id=event.event_id,
            receipt_number=receipt_number,
            status=status.value,
            event_json=event.model_dump_json(),
            created_at=event.at,
            attempts=0,
        )
    )
    return event


@dataclass(frozen=True)
class PushReport:
    pushed: int
    refused: int
    pending: int
    error: str = ""


def _ctx(tenant: str) -> TenantContext:
    return TenantContext(TenantCode(tenant), WORKER, APPLICATION_STATUS)


def pending_events(storage: Storage, tenant: str, limit: int = 500) -> list[StatusEvent]:
    with storage.unit_of_work(_ctx(tenant), Zone.LGWAN) as uow:
        rows = uow.session.scalars(
            select(PortalEvent)
            .where(PortalEvent.posted_at.is_(None), PortalEvent.attempts < MAX_ATTEMPTS)
            .order_by(PortalEvent.created_at)
            .limit(limit)
        ).all()
        return [StatusEvent.model_validate_json(r.event_json) for r in rows]


def push_events(
    storage: Storage, tenant: str, portal: PortalClient, limit: int = 1000, *, pool: Executor | None = None
) -> PushReport:
    """Post queued events, oldest first per application; stop where the portal is unreachable.

    Events go in batches (one request per up to 100), in rounds: each round carries the next
    event of every application, so an application's events arrive in order and a refused one
    keeps the later events of its application waiting behind it. With ``pool``, the batches of a
    round are posted in parallel.
    """
    events = pending_events(storage, tenant, limit)
    posted: list[str] = []
    refused: dict[str, str] = {}
    errors: list[str] = []
    by_receipt: dict[str, list[StatusEvent]] = {}
    for event in events:
        by_receipt.setdefault(event.receipt_number, []).append(event)

    def post(batch: list[StatusEvent]) -> None:
        if errors:
            return
        try:
            try:
                results = portal.post_events(batch)
            except PortalRefused:
                # the batch as a whole (one event the portal cannot even read): one by one, so
                # only that one is refused
                results = [_post_single(portal, event) for event in batch]
        except PortalUnavailable as exc:
            errors.append(exc.message)
            return
        for event_id, status, reason in results:
            if status in (200, 201):
                posted.append(event_id)
            else:
                refused[event_id] = f"{status}: {reason[:500]}"
                log.warning("portal refused status event %s: %s", event_id, reason[:200])

    depth = max((len(sequence) for sequence in by_receipt.values()), default=0)
    for round_ in range(depth):
        wave = [
            sequence[round_]
            for sequence in by_receipt.values()
            if round_ < len(sequence) and not any(e.event_id in refused for e in sequence[:round_])
        ]
        batches = [wave[i : i + MAX_BATCH] for i in range(0, len(wave), MAX_BATCH)]
        if pool is None:
            for batch in batches:
                post(batch)
        else:
            list(pool.map(post, batches))
        if errors:
            break
    error = errors[0] if errors else ""
    now = datetime.now(UTC)
    if posted or refused or error:
        with storage.unit_of_work(_ctx(tenant), Zone.LGWAN) as uow:
            for start in range(0, len(posted), 500):
                uow.session.execute(
                    update(PortalEvent)
                    .where(PortalEvent.event_id.in_(posted[start : start + 500]))
                    .values(posted_at=now, attempts=PortalEvent.attempts + 1)
                )
            for event_id, reason in refused.items():
                row = uow.session.get(PortalEvent, event_id)
                if row is not None:
                    row.attempts += 1
                    row.last_error = reason
            if posted:
                uow.record("status_events_posted", "lgwan_portal_events", posted[0], count=len(posted))
    pending = len(events) - len(posted)
    return PushReport(len(posted), len(refused), pending, error)


def _post_single(portal: PortalClient, event: StatusEvent) -> tuple[str, int, str]:
    try:
        portal.post_event(event)
    except PortalRefused as exc:
        return event.event_id, exc.status, exc.body
    return event.event_id, 201, ""
