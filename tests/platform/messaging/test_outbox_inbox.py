"""Outbox and inbox semantics on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from jichitai.contracts.transfer import MessageType, TransferEnvelope
from jichitai.platform.audit.models import AuditEntry
from jichitai.platform.errors import Conflict, NotFound, ValidationError
from jichitai.platform.messaging import (
    AckOutcome,
    ReceiveOutcome,
    acknowledge,
    enqueue,
    new_envelope,
    pending,
    receive,
)
from jichitai.platform.messaging.inbox import deliver
from jichitai.platform.messaging.models import InboxMessage, OutboxMessage
from jichitai.platform.messaging.purposes import MESSAGING_TRANSFER
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.zones import Zone
from tests.conftest import ctx

PURPOSE = MESSAGING_TRANSFER.code


def _result(n: int, tenant: str = "131016") -> TransferEnvelope:
    return new_envelope(
        MessageType.CASE_RESULT,
        source=Zone.MYNUMBER,
        destination=Zone.LGWAN,
        tenant=tenant,
        payload={
            "receipt_number": f"R-{n:04d}",
            "outcome": "certified",
            "amount": 15000,
            "name": "山田 花子",
        },
    )


def test_enqueue_is_part_of_the_business_transaction(storage: Storage) -> None:
    kept, lost = _result(1), _result(2)
    with storage.unit_of_work(ctx(PURPOSE), Zone.MYNUMBER) as uow:
        enqueue(uow, kept)

    def failing_change() -> None:
        with storage.unit_of_work(ctx(PURPOSE), Zone.MYNUMBER) as uow:
            enqueue(uow, lost)
            raise RuntimeError("the business change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    with storage.unit_of_work(ctx(PURPOSE), Zone.MYNUMBER) as uow:
        listed = pending(uow)
        raw = uow.session.scalars(select(OutboxMessage.payload)).one()
    assert [m.message_id for m in listed] == [kept.message_id]
    assert listed[0] == kept  # payload round-trips through field encryption unchanged
    assert "山田".encode() not in raw  # stored encrypted


def test_pending_keeps_order_and_ack_is_idempotent(storage: Storage) -> None:
    msgs = [_result(i) for i in range(5)]
    with storage.unit_of_work(ctx(PURPOSE), Zone.MYNUMBER) as uow:
        for m in msgs:
            enqueue(uow, m)
    with storage.unit_of_work(ctx(PURPOSE), Zone.MYNUMBER) as uow:
        assert [m.message_id for m in pending(uow, limit=3)] == [m.message_id for m in msgs[:3]]
        first = acknowledge(uow, msgs[0].message_id, AckOutcome.DELIVERED)
        again = acknowledge(uow, msgs[0].message_id, AckOutcome.DELIVERED)
        refused = acknowledge(uow, msgs[1].message_id, AckOutcome.REFUSED, "flow not allowed")
    assert (first.already, again.already, refused.state) == (False, True, "refused")
    with storage.unit_of_work(ctx(PURPOSE), Zone.MYNUMBER) as uow:
        assert [m.message_id for m in pending(uow)] == [m.message_id for m in msgs[2:]]
        with pytest.raises(Conflict):
            acknowledge(uow, msgs[0].message_id, AckOutcome.REFUSED, "changed its mind")
        with pytest.raises(NotFound):
            acknowledge(uow, "no-such-message", AckOutcome.DELIVERED)


def test_enqueue_refuses_wrong_zone_tenant_or_hash(storage: Storage) -> None:
    good = _result(1)
    with storage.unit_of_work(ctx(PURPOSE), Zone.LGWAN) as uow, pytest.raises(ValidationError):
        enqueue(uow, good)  # says it comes from mynumber
    with storage.unit_of_work(ctx(PURPOSE), Zone.MYNUMBER) as uow, pytest.raises(ValidationError):
        enqueue(uow, good.model_copy(update={"payload": {**good.payload, "amount": 999999}}))


class Recorder:
    """A handler whose effect (an audit entry) lives in the receiving transaction."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    def __call__(self, uow: UnitOfWork, envelope: TransferEnvelope) -> None:
        self.calls += 1
        uow.record("apply", "test.case_result", envelope.message_id)
        if self.fail:
            raise RuntimeError("handler failed")


def _applied(storage: Storage) -> list[str]:
    with storage.unit_of_work(ctx(PURPOSE), Zone.LGWAN) as uow:
        return list(
            uow.session.scalars(
                select(AuditEntry.object_id).where(AuditEntry.object_type == "test.case_result")
            )
        )


def test_receive_runs_the_handler_once(storage: Storage) -> None:
    msg, handler = _result(1), Recorder()
    outcomes = []
    for _ in range(3):
        with storage.unit_of_work(ctx(PURPOSE), Zone.LGWAN) as uow:
            outcomes.append(receive(uow, msg, handler))
    assert outcomes == [ReceiveOutcome.RECEIVED, ReceiveOutcome.DUPLICATE, ReceiveOutcome.DUPLICATE]
    assert handler.calls == 1
    assert _applied(storage) == [msg.message_id]


def test_failed_handler_leaves_no_trace_and_can_be_retried(storage: Storage) -> None:
    msg = _result(1)
    with pytest.raises(RuntimeError):
        deliver(storage, ctx(PURPOSE), Zone.LGWAN, msg, Recorder(fail=True))
    assert _applied(storage) == []
    assert deliver(storage, ctx(PURPOSE), Zone.LGWAN, msg, Recorder()) is ReceiveOutcome.RECEIVED
    assert _applied(storage) == [msg.message_id]


def test_same_id_with_another_payload_is_refused_and_logged(storage: Storage) -> None:
    msg = _result(1)
    altered_payload: dict[str, Any] = {**msg.payload, "amount": 30000}
    forged = new_envelope(
        MessageType.CASE_RESULT,
        source=Zone.MYNUMBER,
        destination=Zone.LGWAN,
        tenant="131016",
        payload=altered_payload,
        message_id=msg.message_id,
    )
    handler = Recorder()
    assert deliver(storage, ctx(PURPOSE), Zone.LGWAN, msg, handler) is ReceiveOutcome.RECEIVED
    assert deliver(storage, ctx(PURPOSE), Zone.LGWAN, forged, handler) is ReceiveOutcome.CONFLICT
    assert handler.calls == 1
    with storage.unit_of_work(ctx(PURPOSE), Zone.LGWAN) as uow:
        refusals = uow.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "refuse", AuditEntry.object_id == msg.message_id)
        ).all()
        kept = uow.session.get(InboxMessage, msg.message_id)
    assert len(refusals) == 1 and forged.payload_sha256 in refusals[0].detail
    assert kept is not None and kept.payload_sha256 == msg.payload_sha256


def test_receive_refuses_other_destination_or_tenant_or_tampering(storage: Storage) -> None:
    msg = _result(1)
    with storage.unit_of_work(ctx(PURPOSE), Zone.MYNUMBER) as uow, pytest.raises(ValidationError):
        receive(uow, msg, Recorder())  # destined for lgwan
    tampered = msg.model_copy(update={"payload": {**msg.payload, "outcome": "rejected"}})
    with storage.unit_of_work(ctx(PURPOSE), Zone.LGWAN) as uow, pytest.raises(ValidationError):
        receive(uow, tampered, Recorder())
    other = _result(2, tenant="141003")
    with storage.unit_of_work(ctx(PURPOSE), Zone.LGWAN) as uow, pytest.raises(ValidationError):
        receive(uow, other, Recorder())
