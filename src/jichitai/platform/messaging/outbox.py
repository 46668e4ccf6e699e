"""The transactional outbox (送信待ち): messages leave exactly when the business change commits.

``enqueue`` writes the message in the caller's unit of work, the same transaction as the change
that causes it. The linkage server lists pending messages (:func:`pending`) and acknowledges each
one (:func:`acknowledge`) after delivering or refusing it; an acknowledgement is idempotent, so a
linkage server that crashed after acknowledging can acknowledge again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import func, select

from jichitai.contracts.transfer import TransferEnvelope
from jichitai.platform.errors import Conflict, JichitaiError, NotFound, ValidationError
from jichitai.platform.messaging.envelope import check_hash
from jichitai.platform.messaging.models import OutboxMessage, OutboxState
from jichitai.platform.storage import UnitOfWork

log = logging.getLogger(__name__)

MAX_LIST = 500


class AckOutcome(StrEnum):
    DELIVERED = "delivered"
    REFUSED = "refused"


@dataclass(frozen=True)
class AckResult:
    message_id: str
    state: str
    already: bool  # True when the message had been acknowledged before


def enqueue(uow: UnitOfWork, envelope: TransferEnvelope) -> None:
    """Put ``envelope`` in this zone's outbox, inside ``uow``'s transaction."""
    if envelope.source != uow.zone.value:
        raise ValidationError(
            f"message {envelope.message_id} says it comes from {envelope.source}, "
            f"but is being sent from the {uow.zone.value} zone",
            hint="build the envelope with source=uow.zone",
        )
    if envelope.tenant != uow.tenant.code:
        raise ValidationError(
            f"message {envelope.message_id} is for tenant {envelope.tenant}, not {uow.tenant.code}",
            hint="a tenant's outbox carries only that tenant's messages",
        )
    check_hash(envelope)
    text = json.dumps(envelope.payload, ensure_ascii=False, separators=(",", ":"))
    uow.session.add(
        OutboxMessage(
            message_id=envelope.message_id,
            message_type=envelope.message_type.value,
            source=envelope.source,
            destination=envelope.destination,
            created_at=envelope.created_at,
            payload=uow.keyring.field_encrypt("outbox_messages", "payload", envelope.message_id, text),
            payload_sha256=envelope.payload_sha256,
            state=OutboxState.PENDING,
        )
    )


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _envelope(uow: UnitOfWork, row: OutboxMessage) -> TransferEnvelope:
    text = uow.keyring.field_decrypt("outbox_messages", "payload", row.message_id, row.payload)
    return TransferEnvelope(
        message_id=row.message_id,
        message_type=row.message_type,  # type: ignore[arg-type]  # validated into MessageType
        source=row.source,
        destination=row.destination,
        tenant=uow.tenant.code,
        created_at=aware(row.created_at),
        payload=json.loads(text),
        payload_sha256=row.payload_sha256,
    )


def pending(uow: UnitOfWork, limit: int = 100) -> list[TransferEnvelope]:
    """The oldest pending messages, in the order they were enqueued (at most ``limit``)."""
    limit = max(1, min(limit, MAX_LIST))
    rows = uow.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.state == OutboxState.PENDING)
        .order_by(OutboxMessage.seq)
        .limit(limit)
    ).all()
    envelopes = [_envelope(uow, r) for r in rows]
    if envelopes:
        # one entry for the batch: the payloads (personal data) leave the zone towards the linkage server
        uow.record(
            "read",
            "outbox_messages",
            f"{envelopes[0].message_id}..{envelopes[-1].message_id}",
            count=len(envelopes),
            message_ids=[e.message_id for e in envelopes],
        )
    return envelopes


def acknowledge(uow: UnitOfWork, message_id: str, outcome: AckOutcome, reason: str = "") -> AckResult:
    """Mark a message delivered or refused; acknowledging it again changes nothing."""
    row = uow.session.scalars(
        select(OutboxMessage).where(OutboxMessage.message_id == message_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no outbox message {message_id}", message_ja="該当する送信待ちデータがありません")
    return _acknowledge_row(row, outcome, reason)


def _acknowledge_row(row: OutboxMessage, outcome: AckOutcome, reason: str) -> AckResult:
    message_id = row.message_id
    if row.state != OutboxState.PENDING:
        if row.state != outcome.value:
            # the linkage server's state says otherwise than ours: keep the first word and say so
            log.warning("message %s acknowledged as %s, already %s", message_id, outcome, row.state)
            raise Conflict(
                f"message {message_id} was already acknowledged as {row.state}",
                message_ja="この送信データは既に別の結果で確認済みです",
            )
        return AckResult(message_id, row.state, True)
    row.state = outcome.value
    row.acked_at = datetime.now(UTC)
    row.reason = reason[:2000] or None
    if outcome is AckOutcome.REFUSED:
        log.warning("outbox message %s (%s) refused: %s", message_id, row.message_type, reason)
    return AckResult(message_id, row.state, False)


def acknowledge_many(
    uow: UnitOfWork, acks: list[tuple[str, AckOutcome, str]]
) -> list[AckResult | JichitaiError]:
    """:func:`acknowledge` for several messages in one transaction; each gets its own result.

    A message that cannot be acknowledged (unknown, or acknowledged before with another outcome)
    gets its error in its place and changes nothing; the others are acknowledged.
    """
    ids = [message_id for message_id, _, _ in acks]
    # one query for the batch, not one per message
    rows = {
        r.message_id: r
        for r in uow.session.scalars(select(OutboxMessage).where(OutboxMessage.message_id.in_(ids)))
    }
    results: list[AckResult | JichitaiError] = []
    for message_id, outcome, reason in acks:
        row = rows.get(message_id)
        if row is None:
            results.append(
                NotFound(f"no outbox message {message_id}", message_ja="該当する送信待ちデータがありません")
            )
            continue
        try:
            results.append(_acknowledge_row(row, outcome, reason))
        except Conflict as exc:
            results.append(exc)
    return results


def counts(uow: UnitOfWork) -> dict[str, int]:
    """Messages in the outbox by state (for status screens)."""
    rows = uow.session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all()
    return {str(state): int(n) for state, n in rows}


def refused(uow: UnitOfWork, limit: int = 50) -> list[tuple[str, str, str]]:
    """Recently refused messages: (message_id, message_type, reason), newest first."""
    rows = uow.session.execute(
        select(OutboxMessage.message_id, OutboxMessage.message_type, OutboxMessage.reason)
        .where(OutboxMessage.state == OutboxState.REFUSED)
        .order_by(OutboxMessage.seq.desc())
        .limit(limit)
    ).all()
    return [(str(a), str(b), str(c or "")) for a, b, c in rows]
