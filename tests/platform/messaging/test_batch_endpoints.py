"""The batch endpoints (bulk ack, batch intake) answer each message as the single ones would."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from jichitai.contracts.transfer import MessageType, TransferEnvelope
from jichitai.platform.errors import ValidationError
from jichitai.platform.messaging import enqueue
from jichitai.platform.messaging.http import messaging_router
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.zones import Zone
from tests.conftest import ctx
from tests.platform.messaging.test_outbox_inbox import PURPOSE, _applied, _result

TOKEN = "batch-endpoint-test-token-" + "0123456789abcdef" * 2
URL = "/linkage/v1/tenants/131016"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _client(storage: Storage) -> TestClient:
    def apply(uow: UnitOfWork, envelope: TransferEnvelope) -> None:
        if envelope.payload.get("amount") == -1:
            raise ValidationError("amount must not be negative", message_ja="金額が不正です")
        uow.record("apply", "test.case_result", envelope.message_id)

    app = FastAPI()
    app.include_router(
        messaging_router(lambda: storage, Zone.LGWAN, {MessageType.CASE_RESULT: apply}, token=TOKEN)
    )
    return TestClient(app)


def _body(*envelopes: TransferEnvelope) -> dict[str, object]:
    return {"envelopes": [e.model_dump(mode="json") for e in envelopes]}


def test_batch_intake_applies_each_once_and_answers_in_order(sqlite_storage: Storage) -> None:
    a, b = _result(1), _result(2)
    with _client(sqlite_storage) as http:
        assert http.post(URL + "/intake/batch", json=_body(a)).status_code == 401
        first = http.post(URL + "/intake/batch", json=_body(a, b, a), headers=AUTH)
        again = http.post(URL + "/intake/batch", json=_body(b, a), headers=AUTH)
    assert first.status_code == 200
    assert [(r["message_id"], r["status"], r["outcome"]) for r in first.json()["results"]] == [
        (a.message_id, 200, "received"),
        (b.message_id, 200, "received"),
        (a.message_id, 200, "duplicate"),
    ]
    assert [r["outcome"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert sorted(_applied(sqlite_storage)) == sorted([a.message_id, b.message_id])


def test_a_bad_message_gets_its_own_answer_and_the_others_go_through(storage: Storage) -> None:
    good, bad = _result(1), _result(2)
    bad = bad.model_copy(update={"payload": {**bad.payload, "amount": -1}})
    bad = bad.model_copy(update={"payload_sha256": _rehash(bad)})
    other_tenant = _result(3, tenant="131024")
    with _client(storage) as http:
        answer = http.post(URL + "/intake/batch", json=_body(good, bad, other_tenant), headers=AUTH)
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [200, 400, 400]
    assert results[0]["outcome"] == "received"
    assert results[1]["error"] == "validation_error" and "amount" in results[1]["message"]
    assert "131024" in results[2]["message"]
    assert _applied(storage) == [good.message_id]


def _rehash(envelope: TransferEnvelope) -> str:
    from jichitai.platform.messaging.envelope import payload_sha256

    return payload_sha256(envelope.payload)


def test_bulk_ack_answers_each_message(storage: Storage) -> None:
    a, b = _result(1), _result(2)
    # messages leaving the LGWAN zone: re-addressed from there to My Number
    a, b = (m.model_copy(update={"source": "lgwan", "destination": "mynumber"}) for m in (a, b))
    with storage.unit_of_work(ctx(PURPOSE), Zone.LGWAN) as uow:
        enqueue(uow, a)
        enqueue(uow, b)
    acks = {
        "acks": [
            {"message_id": a.message_id, "outcome": "delivered"},
            {"message_id": b.message_id, "outcome": "refused", "reason": "宛先が拒否"},
            {"message_id": "nonexistent", "outcome": "delivered"},
        ]
    }
    with _client(storage) as http:
        first = http.post(URL + "/outbox/ack", json=acks, headers=AUTH).json()["results"]
        flipped = {"acks": [{"message_id": a.message_id, "outcome": "refused"}, acks["acks"][1]]}
        second = http.post(URL + "/outbox/ack", json=flipped, headers=AUTH).json()["results"]
        listed = http.get(URL + "/outbox", headers=AUTH).json()["messages"]
    assert [(r["status"], r.get("state"), r.get("already")) for r in first] == [
        (200, "delivered", False),
        (200, "refused", False),
        (404, None, None),
    ]
    assert [(r["status"], r.get("already")) for r in second] == [(409, None), (200, True)]
    assert listed == []
