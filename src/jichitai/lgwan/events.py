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

from sqlalchemy import select

from jichitai.contracts.status import StatusEvent
from jichitai.contracts.submission import SubmissionStatus
from jichitai.lgwan.models import PortalEvent
from jichitai.lgwan.portal import PortalClient, PortalRefused, PortalUnavailable
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
    storage: Storage, tenant: str, portal: PortalClient, limit: int = 500, *, pool: Executor | None = None
) -> PushReport:
    """Post queued events, oldest first per application; stop where the portal is unreachable.

    With ``pool``, the applications' event sequences are posted in parallel (each one in order).
    """
    events = pending_events(storage, tenant, limit)
    posted: list[str] = []
    refused: dict[str, str] = {}
    errors: list[str] = []
    by_receipt: dict[str, list[StatusEvent]] = {}
    for event in events:
        by_receipt.setdefault(event.receipt_number, []).append(event)

    def post(sequence: list[StatusEvent]) -> None:
        for event in sequence:
            if errors:
                return
            try:
                portal.post_event(event)
            except PortalUnavailable as exc:
                errors.append(exc.message)
                return
            except PortalRefused as exc:
                refused[event.event_id] = f"{exc.status}: {exc.body[:500]}"
                log.warning("portal refused status event %s: %s", event.event_id, exc.body[:200])
                return  # the later events of this application wait behind it
            posted.append(event.event_id)

    if pool is None:
        for sequence in by_receipt.values():
            post(sequence)
    else:
        list(pool.map(post, by_receipt.values()))
    error = errors[0] if errors else ""
    now = datetime.now(UTC)
    if posted or refused or error:
        with storage.unit_of_work(_ctx(tenant), Zone.LGWAN) as uow:
            for event_id in posted:
                row = uow.session.get(PortalEvent, event_id)
                if row is not None:
                    row.posted_at = now
                    row.attempts += 1
            for event_id, reason in refused.items():
                row = uow.session.get(PortalEvent, event_id)
                if row is not None:
                    row.attempts += 1
                    row.last_error = reason
            if posted:
                uow.record("status_events_posted", "lgwan_portal_events", posted[0], count=len(posted))
    pending = len(events) - len(posted)
    return PushReport(len(posted), len(refused), pending, error)
