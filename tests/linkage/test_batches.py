"""Batches: one bad message among good ones, and zones without the batch endpoints."""

from __future__ import annotations

import json
import secrets

from fastapi import FastAPI
from sqlalchemy import select

from jichitai.contracts.transfer import TransferEnvelope
from jichitai.linkage.models import Transfer, TransferState
from jichitai.linkage.purposes import LINKAGE_MONITOR
from jichitai.linkage.server import LinkageServer, LoopStatus
from jichitai.platform.errors import ValidationError
from jichitai.platform.messaging.http import messaging_router
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.zones import Zone
from tests.conftest import ctx
from tests.linkage.helpers import TENANT, Loopback, accepted, applied, inbox_count, outbox_states, put
from tests.linkage.zone_apps import APPLIED, HANDLERS, ThreadServer


def _app(storage: Storage, zone: Zone, token: str, *, batch: bool, refuse: str = "") -> FastAPI:
    def apply(uow: UnitOfWork, envelope: TransferEnvelope) -> None:
        if envelope.message_id == refuse:
            raise ValidationError("this core system does not take it", message_ja="受け付けられません")
        uow.record("apply", APPLIED, envelope.message_id, sha256=envelope.payload_sha256)

    handlers = dict.fromkeys(HANDLERS[zone], apply)
    router = messaging_router(lambda: storage, zone, handlers, token=token)
    if not batch:  # a zone of an older version: only the single endpoints
        router.routes = [
            r for r in router.routes if not getattr(r, "path", "").endswith(("/intake/batch", "/outbox/ack"))
        ]
    app = FastAPI()
    app.include_router(router)
    return app


def _run(storage: Storage, *, batch: bool, refuse: str = "") -> LoopStatus:
    tokens = {z: secrets.token_urlsafe(32) for z in (Zone.LGWAN, Zone.MYNUMBER)}
    apps = {z: _app(storage, z, tokens[z], batch=batch, refuse=refuse) for z in tokens}
    with ThreadServer(apps[Zone.LGWAN]) as lgwan, ThreadServer(apps[Zone.MYNUMBER]) as mynumber:
        lb = Loopback(storage, tokens, {Zone.LGWAN: lgwan, Zone.MYNUMBER: mynumber})
        status = LoopStatus()
        server = LinkageServer(storage, lb.config(batch_size=4), status=status)
        try:
            for _ in range(6):
                if server.run_once() == 0:
                    break
        finally:
            server.close()
    return status


def _transfers(storage: Storage) -> dict[str, Transfer]:
    with storage.unit_of_work(ctx(LINKAGE_MONITOR.code), Zone.LINKAGE) as uow:
        return {t.message_id: t for t in uow.session.scalars(select(Transfer))}


def test_a_message_the_destination_refuses_does_not_hold_up_its_batch(sqlite_storage: Storage) -> None:
    envs = [accepted(i) for i in range(6)]
    put(sqlite_storage, *envs)
    bad = envs[2].message_id
    status = _run(sqlite_storage, batch=True, refuse=bad)
    good = [e.message_id for e in envs if e.message_id != bad]
    assert sorted(applied(sqlite_storage, Zone.MYNUMBER)) == sorted(good)
    assert inbox_count(sqlite_storage, Zone.MYNUMBER) == 5
    states = outbox_states(sqlite_storage, Zone.LGWAN)
    assert states[bad][0] == "refused"
    assert "does not take it" in (states[bad][1] or "")
    assert {states[m][0] for m in good} == {"delivered"}
    done = _transfers(sqlite_storage)
    assert done[bad].state == TransferState.REFUSED and done[bad].acked_at is not None
    assert {done[m].state for m in good} == {TransferState.ACKED}
    assert (status.delivered, status.refused) == (5, 1)


def test_zones_without_batch_endpoints_get_one_request_per_message(sqlite_storage: Storage) -> None:
    envs = [accepted(i) for i in range(5)]
    put(sqlite_storage, *envs)
    _run(sqlite_storage, batch=False)
    assert sorted(applied(sqlite_storage, Zone.MYNUMBER)) == sorted(e.message_id for e in envs)
    assert {s for s, _ in outbox_states(sqlite_storage, Zone.LGWAN).values()} == {"delivered"}
    assert {t.state for t in _transfers(sqlite_storage).values()} == {TransferState.ACKED}


def test_a_repeated_batch_is_answered_duplicate_and_applied_once(sqlite_storage: Storage) -> None:
    envs = [accepted(i, tenant=TENANT) for i in range(3)]
    put(sqlite_storage, *envs)
    _run(sqlite_storage, batch=True)
    # the linkage server forgot everything (a restored backup): the outbox is pending again
    with sqlite_storage.unit_of_work(ctx(LINKAGE_MONITOR.code), Zone.LINKAGE) as uow:
        for t in uow.session.scalars(select(Transfer)):
            uow.session.delete(t)
    from jichitai.platform.messaging.models import OutboxMessage

    with sqlite_storage.unit_of_work(ctx(LINKAGE_MONITOR.code), Zone.LGWAN) as uow:
        for row in uow.session.scalars(select(OutboxMessage)):
            row.state, row.acked_at = "pending", None
    _run(sqlite_storage, batch=True)
    assert sorted(applied(sqlite_storage, Zone.MYNUMBER)) == sorted(e.message_id for e in envs)
    with sqlite_storage.unit_of_work(ctx(LINKAGE_MONITOR.code), Zone.LINKAGE) as uow:
        from jichitai.platform.audit.models import AuditEntry

        outcomes = [
            json.loads(e.detail)["outcome"]
            for e in uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "deliver"))
        ]
    assert sorted(outcomes) == ["duplicate"] * 3 + ["received"] * 3
