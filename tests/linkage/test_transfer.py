"""The linkage loop end to end in-process: LGWAN and My Number test zones on loopback ports."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from jichitai.contracts.transfer import MessageType, TransferEnvelope
from jichitai.linkage.models import QuarantinedOriginal, Transfer, TransferState
from jichitai.linkage.purposes import LINKAGE_MONITOR
from jichitai.linkage.server import LinkageServer, LoopStatus
from jichitai.platform.audit.models import AuditEntry
from jichitai.platform.messaging import new_envelope
from jichitai.platform.messaging.http import messaging_router
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.zones import Zone
from tests.conftest import ctx
from tests.linkage.helpers import (
    TENANT,
    Loopback,
    accepted,
    applied,
    attachment,
    case_result,
    exe_named_pdf,
    inbox_count,
    link_table,
    loopback,
    outbox_states,
    pdf_with_javascript,
    png_bytes,
    put,
)
from tests.linkage.zone_apps import ThreadServer, zone_app


def drain(server: LinkageServer, rounds: int = 5) -> None:
    for _ in range(rounds):
        if server.run_once() == 0:
            return


def transfers(storage: Storage) -> dict[str, Transfer]:
    with storage.unit_of_work(ctx(LINKAGE_MONITOR.code), Zone.LINKAGE) as uow:
        return {t.message_id: t for t in uow.session.scalars(select(Transfer))}


def linkage_audit(storage: Storage, action: str) -> list[AuditEntry]:
    with storage.unit_of_work(ctx(LINKAGE_MONITOR.code), Zone.LINKAGE) as uow:
        return list(
            uow.session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == action, AuditEntry.object_type == "linkage.transfer"
                )
            )
        )


def test_all_three_flows_arrive_once_with_sanitized_attachments(storage: Storage) -> None:
    png, pdf, exe = png_bytes(), pdf_with_javascript(), exe_named_pdf()
    app = accepted(
        1,
        [
            attachment("a1", "保険証.png", "image/png", png),
            attachment("a2", "診断書.pdf", "application/pdf", pdf),
            attachment("a3", "請求書.pdf", "application/pdf", exe),
        ],
    )
    plain = accepted(2)
    result, table = case_result(1), link_table()
    put(storage, app, plain, result, table)
    with loopback(storage) as lb:
        server = LinkageServer(storage, lb.config(), status=LoopStatus())
        try:
            drain(server)
        finally:
            server.close()

    assert sorted(applied(storage, Zone.MYNUMBER)) == sorted([app.message_id, plain.message_id])
    assert sorted(applied(storage, Zone.LGWAN)) == sorted([result.message_id, table.message_id])
    for zone in (Zone.LGWAN, Zone.MYNUMBER):
        assert {s for s, _ in outbox_states(storage, zone).values()} == {"delivered"}
    done = transfers(storage)
    assert {t.state for t in done.values()} == {TransferState.ACKED}
    assert all(t.envelope is None for t in done.values())  # no payload kept once delivered
    assert done[app.message_id].delivered_sha256 != app.payload_sha256  # attachments were replaced
    assert done[plain.message_id].delivered_sha256 == plain.payload_sha256
    picks = {e.object_id: json.loads(e.detail) for e in linkage_audit(storage, "pick")}
    assert picks[app.message_id]["sha256"] == app.payload_sha256
    assert {e.object_id for e in linkage_audit(storage, "ack")} == set(done)

    # what the My Number zone's handler would store: sanitized copies, a notice for the refused file
    with storage.unit_of_work(ctx(LINKAGE_MONITOR.code), Zone.LINKAGE) as uow:
        originals = {
            q.attachment_id: (
                q,
                uow.keyring.field_decrypt("linkage_quarantine", "original", q.id, q.original),
            )
            for q in uow.session.scalars(select(QuarantinedOriginal))
        }
    assert base64.b64decode(originals["a2"][1]) == pdf  # the original, kept encrypted
    assert originals["a2"][0].outcome == "sanitized" and "JavaScript" in originals["a2"][0].removed
    assert originals["a3"][0].outcome == "refused" and originals["a3"][0].detected_kind == "exe"
    assert b"JavaScript" not in originals["a2"][0].original  # encrypted at rest


@pytest.mark.parametrize("processes", [0, 2], ids=["in-process", "worker-processes"])
def test_delivered_attachments_are_the_sanitized_copies(sqlite_storage: Storage, processes: int) -> None:
    storage = sqlite_storage
    captured: list[dict[str, Any]] = []

    def capture(uow: UnitOfWork, envelope: TransferEnvelope) -> None:
        captured.append(envelope.payload)

    pdf = pdf_with_javascript()
    app = accepted(
        1,
        [
            attachment("a1", "診断書.pdf", "application/pdf", pdf),
            attachment("a2", "x.pdf", "application/pdf", exe_named_pdf()),
        ],
    )
    put(storage, app)
    tokens = {z: secrets.token_urlsafe(32) for z in (Zone.LGWAN, Zone.MYNUMBER)}
    dest = FastAPI()
    dest.include_router(
        messaging_router(
            lambda: storage,
            Zone.MYNUMBER,
            {MessageType.ACCEPTED_APPLICATION: capture},
            token=tokens[Zone.MYNUMBER],
        )
    )
    with ThreadServer(zone_app(storage, Zone.LGWAN, tokens[Zone.LGWAN])) as lg, ThreadServer(dest) as mn:
        lb = Loopback(storage, tokens, {Zone.LGWAN: lg, Zone.MYNUMBER: mn})
        server = LinkageServer(
            storage, lb.config(), status=LoopStatus(), processes=processes, min_for_processes=1
        )
        try:
            drain(server)
            assert (server._workers is not None) == (processes > 0)  # the copies came from the workers
        finally:
            server.close()
    assert len(captured) == 1
    clean, notice = captured[0]["attachments"]
    data = base64.b64decode(clean["data_b64"])
    assert clean["sha256"] == hashlib.sha256(data).hexdigest() != hashlib.sha256(pdf).hexdigest()
    assert b"/JavaScript" not in data and b"launchURL" not in data
    assert clean["sanitized"]["original_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert notice["refused"] is True and notice["content_type"].startswith("text/plain")
    assert "受け付けられません" in base64.b64decode(notice["data_b64"]).decode()
    assert b"MZ" not in base64.b64decode(notice["data_b64"])


@pytest.mark.parametrize(
    ("make", "config", "refusal"),
    [
        # an accepted application may only go into the My Number zone, never out of it
        (
            lambda: new_envelope(
                MessageType.ACCEPTED_APPLICATION,
                source=Zone.MYNUMBER,
                destination=Zone.LGWAN,
                tenant=TENANT,
                payload=accepted(9).payload,
            ),
            {},
            "wrong_direction",
        ),
        # a type no flow carries
        (
            lambda: case_result(7),
            {
                "flows": [
                    {"message_type": "accepted_application", "source": "lgwan", "destination": "mynumber"}
                ]
            },
            "unknown_type",
        ),
        # the flow is open for other municipalities only
        (
            lambda: accepted(3),
            {
                "flows": [
                    {
                        "message_type": "accepted_application",
                        "source": "lgwan",
                        "destination": "mynumber",
                        "tenants": ["141003"],
                    }
                ]
            },
            "tenant_not_allowed",
        ),
        # the destination does not serve the tenant
        (lambda: accepted(4), {"mynumber_peer": {"tenants": ["141003"]}}, "tenant_not_served"),
        # an attachment altered after it was hashed
        (
            lambda: accepted(
                5, [{**attachment("a1", "a.png", "image/png", png_bytes()), "sha256": "0" * 64}]
            ),
            {},
            "attachment_mismatch",
        ),
    ],
)
def test_refusals_are_logged_acked_and_visible(sqlite_storage: Storage, make, config, refusal) -> None:  # type: ignore[no-untyped-def]
    storage = sqlite_storage
    env = make()
    put(storage, env)
    with loopback(storage) as lb:
        cfg = lb.config(**config)
        server = LinkageServer(storage, cfg, status=LoopStatus())
        try:
            drain(server)
            drain(server)  # a refused message does not come back
        finally:
            server.close()
    source = Zone(env.source)
    state, reason = outbox_states(storage, source)[env.message_id]
    assert state == "refused" and reason
    tr = transfers(storage)[env.message_id]
    assert (tr.state, tr.refusal) == (TransferState.REFUSED, refusal)
    assert tr.acked_at is not None
    refusals = linkage_audit(storage, "refuse")
    assert [e.object_id for e in refusals] == [env.message_id]
    assert json.loads(refusals[0].detail)["sha256"] == env.payload_sha256
    assert applied(storage, Zone.MYNUMBER) == [] and applied(storage, Zone.LGWAN) == []


def _crash_then_restart(
    storage: Storage, stage: str, message_id: str, between: Callable[[Loopback], None]
) -> None:
    """Drain until the hook raises at ``stage`` for ``message_id``, check ``between``, drain anew."""

    class Crash(Exception):
        pass

    def crash_once(at: str, mid: str) -> None:
        if at == stage and mid == message_id:
            raise Crash

    with loopback(storage) as lb:
        first = LinkageServer(storage, lb.config(), hook=crash_once, status=LoopStatus())
        with pytest.raises(Crash):
            drain(first)
        first.close()
        between(lb)
        second = LinkageServer(storage, lb.config(), status=LoopStatus())
        try:
            drain(second)
        finally:
            second.close()


def test_a_crash_after_delivery_before_recording_it_delivers_once(sqlite_storage: Storage) -> None:
    storage = sqlite_storage
    envs = [accepted(i) for i in range(3)]
    put(storage, *envs)

    def still_pending(_lb: Loopback) -> None:
        assert outbox_states(storage, Zone.LGWAN)[envs[1].message_id][0] == "pending"
        assert transfers(storage)[envs[1].message_id].state == TransferState.PICKED

    _crash_then_restart(storage, "sent", envs[1].message_id, still_pending)
    assert sorted(applied(storage, Zone.MYNUMBER)) == sorted(e.message_id for e in envs)
    assert inbox_count(storage, Zone.MYNUMBER) == 3
    delivers = [e for e in linkage_audit(storage, "deliver") if e.object_id == envs[1].message_id]
    assert [json.loads(e.detail)["outcome"] for e in delivers] == ["duplicate"]


def test_a_crash_after_the_source_took_the_ack_closes_the_transfer_later(sqlite_storage: Storage) -> None:
    storage = sqlite_storage
    envs = [accepted(i) for i in range(3)]
    put(storage, *envs)

    def left_open(lb: Loopback) -> None:
        # the source took the acks, so it lists none of them again; the log still says delivered
        assert {s for s, _ in outbox_states(storage, Zone.LGWAN).values()} == {"delivered"}
        left = transfers(storage)
        assert {left[e.message_id].state for e in envs} == {TransferState.DELIVERED}
        assert all(left[e.message_id].envelope is not None for e in envs)
        # while the source is down they stay open, and the server backs off instead of hammering it:
        # after the failed call, no cycle looks for them again until the back-off ends
        status = LoopStatus()
        passes: list[tuple[str, tuple[Zone, ...]]] = []

        class Watched(LinkageServer):
            def _settle_unclosed(self, tenant: str, sources: Sequence[Zone]) -> int:
                passes.append((tenant, tuple(sources)))
                return super()._settle_unclosed(tenant, sources)

        down = Watched(
            storage,
            lb.config(lgwan_peer={"url": "http://127.0.0.1:9"}, backoff_initial=60, backoff_max=60),
            status=status,
        )
        try:
            for _ in range(3):
                down.run_once()
            # the back-off ends: the next cycle looks again, for that source only (still down)
            status.peers["lgwan"].next_try = 0.0
            down.run_once()
        finally:
            down.close()
        assert status.peers["lgwan"].failures == 2
        assert {t.state for t in transfers(storage).values()} == {TransferState.DELIVERED}
        assert passes == [(TENANT, (Zone.LGWAN, Zone.MYNUMBER)), (TENANT, (Zone.LGWAN,))]

    _crash_then_restart(storage, "ack_sent", envs[1].message_id, left_open)
    closed = transfers(storage)
    assert {closed[e.message_id].state for e in envs} == {TransferState.ACKED}
    assert all(closed[e.message_id].envelope is None and closed[e.message_id].acked_at for e in envs)
    assert sorted(e.object_id for e in linkage_audit(storage, "ack")) == sorted(e.message_id for e in envs)
    assert sorted(applied(storage, Zone.MYNUMBER)) == sorted(e.message_id for e in envs)
    assert inbox_count(storage, Zone.MYNUMBER) == 3


def test_destination_down_keeps_messages_pending_and_backs_off(sqlite_storage: Storage) -> None:
    storage = sqlite_storage
    envs = [accepted(1), accepted(2)]
    put(storage, *envs)
    with loopback(storage) as lb:
        # nothing listens on port 9
        cfg = lb.config(mynumber_peer={"url": "http://127.0.0.1:9"}, backoff_initial=60, backoff_max=60)
        status = LoopStatus()
        down = LinkageServer(storage, cfg, status=status)
        try:
            for _ in range(3):
                down.run_once()
            next_try = status.peers["mynumber"].next_try
            down.run_once()
        finally:
            down.close()
        # one failed call; the cycles during the back-off skip the destination without pushing the
        # back-off further (else messages waiting for it would keep it from ever being tried again)
        assert status.peers["mynumber"].failures == 1
        assert status.peers["mynumber"].next_try == next_try
        assert {s for s, _ in outbox_states(storage, Zone.LGWAN).values()} == {"pending"}
        assert applied(storage, Zone.MYNUMBER) == []
        up = LinkageServer(storage, lb.config(), status=LoopStatus())
        try:
            drain(up)
        finally:
            up.close()
    assert sorted(applied(storage, Zone.MYNUMBER)) == sorted(e.message_id for e in envs)


def test_zone_endpoints_need_the_linkage_token(sqlite_storage: Storage) -> None:
    env = case_result(1)
    body = env.model_dump(mode="json")
    with loopback(sqlite_storage) as lb:
        url = lb.servers[Zone.LGWAN].url + f"/linkage/v1/tenants/{TENANT}"
        good = {"Authorization": f"Bearer {lb.tokens[Zone.LGWAN]}"}
        assert httpx.post(url + "/intake", json=body).status_code == 401
        wrong = {"Authorization": f"Bearer {lb.tokens[Zone.MYNUMBER]}"}
        assert httpx.post(url + "/intake", json=body, headers=wrong).status_code == 401
        assert httpx.get(url + "/outbox", headers=wrong).status_code == 401
        assert applied(sqlite_storage, Zone.LGWAN) == []
        first = httpx.post(url + "/intake", json=body, headers=good)
        again = httpx.post(url + "/intake", json=body, headers=good)
        assert (first.json()["outcome"], again.json()["outcome"]) == ("received", "duplicate")
        forged = {**body, "payload": {**body["payload"], "outcome": "rejected"}}
        forged["payload_sha256"] = new_envelope(
            MessageType.CASE_RESULT, source=Zone.MYNUMBER, destination=Zone.LGWAN, tenant=TENANT,
            payload=forged["payload"],
        ).payload_sha256  # fmt: skip
        assert httpx.post(url + "/intake", json=forged, headers=good).status_code == 409
        other_tenant = httpx.post(
            lb.servers[Zone.LGWAN].url + "/linkage/v1/tenants/141003/intake", json=body, headers=good
        )
        assert other_tenant.status_code == 400
        not_for_lgwan = accepted(1).model_dump(mode="json")
        assert httpx.post(url + "/intake", json=not_for_lgwan, headers=good).status_code == 400
    assert applied(sqlite_storage, Zone.LGWAN) == [env.message_id]


def test_unconfigured_token_refuses_everything(sqlite_storage: Storage) -> None:
    with ThreadServer(zone_app(sqlite_storage, Zone.LGWAN, None)) as srv:
        r = httpx.get(
            srv.url + f"/linkage/v1/tenants/{TENANT}/outbox", headers={"Authorization": "Bearer " + "x" * 40}
        )
    assert r.status_code == 503
