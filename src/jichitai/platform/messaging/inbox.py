"""The idempotent inbox (受信): each message's handler runs once, however often it is delivered.

``receive`` records the message id with its payload hash and runs the handler in the caller's unit
of work, so the record and the handler's effects commit (or roll back) together. A message id seen
before with the same hash is a re-delivery: nothing runs. The same id with another hash is refused
and logged: a message id never changes meaning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from jichitai.contracts.transfer import TransferEnvelope
from jichitai.platform.context import TenantContext
from jichitai.platform.errors import ValidationError
from jichitai.platform.messaging.envelope import check_hash
from jichitai.platform.messaging.models import InboxMessage
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.zones import Zone

log = logging.getLogger(__name__)


class Handler(Protocol):
    """Applies one received message inside the receiving unit of work (never commits)."""

    def __call__(self, uow: UnitOfWork, envelope: TransferEnvelope, /) -> None: ...


class ReceiveOutcome(StrEnum):
    RECEIVED = "received"  # new: recorded and handled
    DUPLICATE = "duplicate"  # received before with the same payload: nothing done
    CONFLICT = "conflict"  # received before with another payload: refused


def receive(uow: UnitOfWork, envelope: TransferEnvelope, handler: Handler) -> ReceiveOutcome:
    """Record ``envelope`` and run ``handler`` once, in ``uow``'s transaction."""
    _check_addressing(uow, envelope)
    check_hash(envelope)
    seen = uow.session.get(InboxMessage, envelope.message_id)
    if seen is not None:
        return _seen_before(uow, envelope, seen)
    uow.session.add(_inbox_row(envelope))
    # flush now: a concurrent delivery of the same id waits here on the primary key, not after the handler ran
    uow.session.flush()
    handler(uow, envelope)
    _record_received(uow, envelope)
    return ReceiveOutcome.RECEIVED


def _inbox_row(envelope: TransferEnvelope) -> InboxMessage:
    return InboxMessage(
        message_id=envelope.message_id,
        message_type=envelope.message_type.value,
        source=envelope.source,
        payload_sha256=envelope.payload_sha256,
        created_at=envelope.created_at,
    )


def _record_received(uow: UnitOfWork, envelope: TransferEnvelope) -> None:
    uow.record(
        "receive",
        "inbox_messages",
        envelope.message_id,
        message_type=envelope.message_type.value,
        source=envelope.source,
        sha256=envelope.payload_sha256,
    )


def _check_addressing(uow: UnitOfWork, envelope: TransferEnvelope) -> None:
    if envelope.destination != uow.zone.value:
        raise ValidationError(
            f"message {envelope.message_id} is for the {envelope.destination} zone, not {uow.zone.value}",
            message_ja="宛先の系が異なる連携データです",
        )
    if envelope.tenant != uow.tenant.code:
        raise ValidationError(
            f"message {envelope.message_id} is for tenant {envelope.tenant}, not {uow.tenant.code}",
            message_ja="宛先の団体が異なる連携データです",
        )


def _seen_before(uow: UnitOfWork, envelope: TransferEnvelope, seen: InboxMessage) -> ReceiveOutcome:
    if seen.payload_sha256 == envelope.payload_sha256 and seen.message_type == envelope.message_type.value:
        return ReceiveOutcome.DUPLICATE
    log.warning(
        "message %s refused: received before with hash %s, now %s",
        envelope.message_id,
        seen.payload_sha256,
        envelope.payload_sha256,
    )
    uow.record(
        "refuse",
        "inbox_messages",
        envelope.message_id,
        reason="same message id with a different payload",
        sha256_before=seen.payload_sha256,
        sha256_now=envelope.payload_sha256,
        message_type=envelope.message_type.value,
    )
    return ReceiveOutcome.CONFLICT


def deliver(
    storage: Storage,
    ctx: TenantContext,
    zone: Zone,
    envelope: TransferEnvelope,
    handler: Handler,
) -> ReceiveOutcome:
    """``receive`` in a unit of work of its own, safe against two deliveries of one id at once.

    When a concurrent delivery of the same id commits first, this one fails on the primary key,
    rolls back, and looks again: it then finds a duplicate (or a conflict).
    """
    try:
        with storage.unit_of_work(ctx, zone) as uow:
            return receive(uow, envelope, handler)
    except IntegrityError:
        with storage.unit_of_work(ctx, zone) as uow:
            seen = uow.session.get(InboxMessage, envelope.message_id)
            if seen is None:
                raise
            return _seen_before(uow, envelope, seen)


def deliver_many(
    storage: Storage,
    ctx: TenantContext,
    zone: Zone,
    envelopes: Sequence[TransferEnvelope],
    handler_of: Callable[[TransferEnvelope], Handler],
) -> list[ReceiveOutcome]:
    """``receive`` for several messages in one unit of work, in order; the same result as one by one.

    The new messages' records go to the database in one statement, before their handlers run
    (in order).

    ``handler_of`` gives each message's handler (or raises, e.g. ``ValidationError`` for a type the
    zone does not take). When any message fails (a handler or a check raises, or a concurrent
    delivery of one id commits first), nothing of the batch is kept and the caller handles the
    messages one by one with :func:`deliver`: a bad message never takes the others down with it.
    Raises what the batch raised, after the rollback.
    """
    with storage.unit_of_work(ctx, zone) as uow:
        handlers = [handler_of(envelope) for envelope in envelopes]
        for envelope in envelopes:
            _check_addressing(uow, envelope)
            check_hash(envelope)
        # the ids received before, in one query; an id twice in the batch is a re-delivery of the
        # first (or a conflict with it), as if delivered one after the other
        seen: dict[str, InboxMessage] = {
            row.message_id: row
            for row in uow.session.scalars(
                select(InboxMessage).where(InboxMessage.message_id.in_([e.message_id for e in envelopes]))
            )
        }
        outcomes: list[ReceiveOutcome] = []
        for envelope in envelopes:
            before = seen.get(envelope.message_id)
            if before is not None:
                outcomes.append(_seen_before(uow, envelope, before))
                continue
            row = _inbox_row(envelope)
            uow.session.add(row)
            seen[envelope.message_id] = row
            outcomes.append(ReceiveOutcome.RECEIVED)
        # one INSERT for the batch, before any handler runs: a concurrent delivery of one of these
        # ids waits here on the primary key (or fails, and the caller goes one by one)
        uow.session.flush()
        for envelope, handler, outcome in zip(envelopes, handlers, outcomes, strict=True):
            if outcome is ReceiveOutcome.RECEIVED:
                handler(uow, envelope)
                _record_received(uow, envelope)
        return outcomes
