"""A delivery batch into an idempotent inbox: one INSERT for its new ids, the outcomes as one by one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from jichitai.contracts.transfer import TransferEnvelope
from jichitai.platform.errors import ValidationError
from jichitai.platform.messaging.envelope import payload_sha256
from jichitai.platform.messaging.inbox import ReceiveOutcome, deliver_many
from jichitai.platform.messaging.models import InboxMessage
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.zones import Zone
from tests.conftest import ctx
from tests.platform.messaging.test_outbox_inbox import PURPOSE, _applied, _result


def _apply(uow: UnitOfWork, envelope: TransferEnvelope) -> None:
    if envelope.payload.get("amount") == -1:
        raise ValidationError("amount must not be negative", message_ja="金額が不正です")
    uow.record("apply", "test.case_result", envelope.message_id)


def _inbox(storage: Storage) -> dict[str, str]:
    with storage.unit_of_work(ctx(PURPOSE), Zone.LGWAN) as uow:
        return {m.message_id: m.payload_sha256 for m in uow.session.scalars(select(InboxMessage))}


def _changed(envelope: TransferEnvelope, amount: int) -> TransferEnvelope:
    payload = {**envelope.payload, "amount": amount}
    return envelope.model_copy(update={"payload": payload, "payload_sha256": payload_sha256(payload)})


def test_a_batch_with_an_id_twice_receives_it_once_and_refuses_another_payload(storage: Storage) -> None:
    a, b = _result(1), _result(2)
    a_other = _changed(a, 424242)  # the same id, another content
    outcomes = deliver_many(storage, ctx(PURPOSE), Zone.LGWAN, [a, b, a, a_other], lambda _e: _apply)
    assert outcomes == [
        ReceiveOutcome.RECEIVED,
        ReceiveOutcome.RECEIVED,
        ReceiveOutcome.DUPLICATE,
        ReceiveOutcome.CONFLICT,
    ]
    assert sorted(_applied(storage)) == sorted([a.message_id, b.message_id])
    assert _inbox(storage) == {a.message_id: a.payload_sha256, b.message_id: b.payload_sha256}
    # delivered again (a lost answer): nothing runs twice
    again = deliver_many(storage, ctx(PURPOSE), Zone.LGWAN, [b, a], lambda _e: _apply)
    assert again == [ReceiveOutcome.DUPLICATE, ReceiveOutcome.DUPLICATE]
    assert sorted(_applied(storage)) == sorted([a.message_id, b.message_id])


def test_a_failing_handler_keeps_nothing_of_the_batch(storage: Storage) -> None:
    good, bad = _result(1), _changed(_result(2), -1)
    with pytest.raises(ValidationError):
        deliver_many(storage, ctx(PURPOSE), Zone.LGWAN, [good, bad], lambda _e: _apply)
    assert _inbox(storage) == {} and _applied(storage) == []  # the caller goes one by one from here
    assert deliver_many(storage, ctx(PURPOSE), Zone.LGWAN, [good], lambda _e: _apply) == [
        ReceiveOutcome.RECEIVED
    ]
