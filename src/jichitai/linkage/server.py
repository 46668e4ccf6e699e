"""The transfer loop of the linkage server (連携サーバ / 特定通信): pick up, check, sanitize, deliver, ack.

The server always opens the connections: it polls each source zone's outbox per tenant and posts
to the destination zone's intake; the zones only answer. For each message, in the source's order:

1. **pick**: check it against the allow-list (:mod:`jichitai.linkage.flows`) and its contract,
   verify its hash, sanitize attachments into the My Number zone; record it in the tenant's
   ``transfers`` table with the outgoing envelope (encrypted) and write an audit entry — one
   transaction. A refused message is recorded as refused instead.
2. **deliver** the recorded envelope to the destination's intake (idempotent by message id);
   record ``delivered``.
3. **ack** at the source (delivered or refused); record ``acked``.

A crash at any point leaves the message pending at the source, so it is picked again: the stored
envelope is re-delivered byte for byte (the intake answers "duplicate" if it had it), then acked.
Nothing is lost and nothing applied twice. A failed call backs the peer off exponentially; a
transient failure stops that tenant's batch so messages stay in order.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from jichitai.contracts.transfer import (
    AcceptedApplication,
    CaseResult,
    LinkTable,
    MessageType,
    TransferEnvelope,
)
from jichitai.linkage.config import LinkageConfig
from jichitai.linkage.flows import Decision, Refusal, decide, refuse
from jichitai.linkage.models import Transfer, TransferState
from jichitai.linkage.purposes import LINKAGE_TRANSFER
from jichitai.linkage.transform import SanitizeFn, TransformRefused, platform_sanitizer, transform
from jichitai.platform.context import TenantContext, system
from jichitai.platform.errors import ConfigurationError
from jichitai.platform.messaging.envelope import payload_sha256
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

log = logging.getLogger("jichitai.linkage")

ACTOR = system("linkage-server", "linkage")
CONTRACTS: dict[MessageType, type[BaseModel]] = {
    MessageType.ACCEPTED_APPLICATION: AcceptedApplication,
    MessageType.LINK_TABLE: LinkTable,
    MessageType.CASE_RESULT: CaseResult,
}
# stages passed to a hook: after the pick is recorded, after the intake answered (before it is
# recorded), after delivery is recorded (before the ack), after the ack is recorded, on refusal
STAGES = ("picked", "sent", "delivered", "acked", "refused")
Hook = Callable[[str, str], None]  # (stage, message_id)
_OUR_ERRORS = {400, 403, 404, 409, 422}


class Transient(Exception):
    """A peer did not answer usefully (down, timeout, 5xx, bad token): try again later."""

    def __init__(self, zone: Zone, message: str) -> None:
        super().__init__(f"{zone.value}: {message}")
        self.zone = zone


@dataclass
class PeerHealth:
    zone: str
    url: str
    failures: int = 0
    next_try: float = 0.0  # monotonic time before which the peer is left alone
    last_error: str = ""
    last_error_at: datetime | None = None
    last_ok_at: datetime | None = None


@dataclass
class LoopStatus:
    """What the loop of this process is doing, for the status page."""

    started_at: datetime | None = None
    last_cycle_at: datetime | None = None
    cycles: int = 0
    delivered: int = 0
    refused: int = 0
    errors: int = 0
    running: bool = False
    peers: dict[str, PeerHealth] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "running": self.running,
                "started_at": _iso(self.started_at),
                "last_cycle_at": _iso(self.last_cycle_at),
                "cycles": self.cycles,
                "delivered": self.delivered,
                "refused": self.refused,
                "errors": self.errors,
                "peers": {
                    z: {
                        "url": p.url,
                        "ok": p.failures == 0,
                        "failures": p.failures,
                        "last_error": p.last_error,
                        "last_error_at": _iso(p.last_error_at),
                        "last_ok_at": _iso(p.last_ok_at),
                    }
                    for z, p in self.peers.items()
                },
            }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _now() -> datetime:
    return datetime.now(UTC)


STATUS = LoopStatus()  # the loop of this process (one per linkage server process)


class LinkageServer:
    """One linkage server: its configuration, HTTP clients per peer, and the transfer steps."""

    def __init__(
        self,
        storage: Storage,
        config: LinkageConfig,
        *,
        sanitizer: SanitizeFn | None = None,
        hook: Hook | None = None,
        transports: Mapping[Zone, httpx.BaseTransport] | None = None,
        status: LoopStatus | None = None,
    ) -> None:
        self.storage = storage
        self.config = config
        self.sanitizer = sanitizer if sanitizer is not None else platform_sanitizer()
        self.hook = hook
        self.status = status if status is not None else STATUS
        self.clients: dict[Zone, httpx.Client] = {}
        home = storage.settings.home
        for zone, peer in config.peers.items():
            token = peer.resolve_token(home, zone)
            if not token:
                raise ConfigurationError(
                    f"no linkage token for the {zone.value} zone",
                    hint=f"set token_env or token_file under [peers.{zone.value}] in linkage.toml, "
                    f"or create {home}/linkage/tokens/{zone.value}.token",
                )
            self.clients[zone] = httpx.Client(
                base_url=peer.url,
                timeout=httpx.Timeout(config.timeout, connect=min(config.timeout, 5.0)),
                headers={"Authorization": f"Bearer {token}"},
                transport=(transports or {}).get(zone),
                follow_redirects=False,
            )
            with self.status.lock:
                self.status.peers[zone.value] = PeerHealth(zone.value, peer.url)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    # -- the loop ------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        with self.status.lock:
            self.status.running = True
            self.status.started_at = _now()
        try:
            while not stop.is_set():
                try:
                    handled = self.run_once()
                except Exception:
                    log.exception("linkage cycle failed")
                    with self.status.lock:
                        self.status.errors += 1
                    handled = 0
                if handled == 0:
                    stop.wait(self.config.poll_interval)
        finally:
            with self.status.lock:
                self.status.running = False

    def run_once(self) -> int:
        """One pass over every source zone and tenant; returns the messages handled."""
        handled = 0
        tenants = [t.code for t in self.storage.catalog.list() if t.active]
        for source in self.config.source_zones():
            peer = self.config.peer(source)
            for tenant in tenants:
                if not peer.serves(tenant) or not self._ready(source):
                    continue
                try:
                    handled += self._drain(source, str(tenant))
                except Transient as exc:
                    self._failed(exc.zone, str(exc))
        with self.status.lock:
            self.status.cycles += 1
            self.status.last_cycle_at = _now()
        return handled

    # -- peers and backoff ---------------------------------------------------------------------
    def _health(self, zone: Zone) -> PeerHealth:
        return self.status.peers[zone.value]

    def _ready(self, zone: Zone) -> bool:
        return time.monotonic() >= self._health(zone).next_try

    def _failed(self, zone: Zone, error: str) -> None:
        with self.status.lock:
            h = self._health(zone)
            h.failures += 1
            delay = min(self.config.backoff_initial * 2 ** (h.failures - 1), self.config.backoff_max)
            h.next_try = time.monotonic() + delay * random.uniform(0.9, 1.1)
            h.last_error = error[:500]
            h.last_error_at = _now()
            self.status.errors += 1
        log.warning("linkage peer %s failed (%s); next try in %.1f s", zone.value, error, delay)

    def _ok(self, zone: Zone) -> None:
        with self.status.lock:
            h = self._health(zone)
            h.failures = 0
            h.next_try = 0.0
            h.last_ok_at = _now()

    def _call(self, zone: Zone, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if not self._ready(zone):
            raise Transient(zone, "backing off")
        try:
            response = self.clients[zone].request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise Transient(zone, f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code in (401, 408, 429):
            raise Transient(zone, f"HTTP {response.status_code} {response.text[:200]}")
        self._ok(zone)
        return response

    # -- one tenant's outbox -------------------------------------------------------------------
    def _drain(self, source: Zone, tenant: str) -> int:
        response = self._call(
            source, "GET", f"/linkage/v1/tenants/{tenant}/outbox", params={"limit": self.config.batch_size}
        )
        if response.status_code != 200:
            # the source does not serve this tenant (or it is disabled there): nothing to pick up
            log.debug("outbox of %s at %s: HTTP %s", tenant, source.value, response.status_code)
            return 0
        messages = response.json().get("messages", [])
        for raw in messages:
            self.process(source, tenant, raw)
        return len(messages)

    def _ctx(self, tenant: str, message_id: str) -> TenantContext:
        return TenantContext(TenantCode(tenant), ACTOR, LINKAGE_TRANSFER, f"transfer {message_id}")

    def process(self, source: Zone, tenant: str, raw: Mapping[str, Any]) -> str:
        """Carry one message found in ``source``'s outbox of ``tenant``; returns its final state."""
        message_id = str(raw.get("message_id", ""))
        if not message_id or len(message_id) > 64:
            log.error(
                "a message without a usable id in the outbox of %s at %s: skipped", tenant, source.value
            )
            return "skipped"
        with self.storage.unit_of_work(self._ctx(tenant, message_id), Zone.LINKAGE) as uow:
            tr = uow.session.get(Transfer, message_id)
            if tr is None:
                tr = self._pick(uow, source, tenant, raw)
            elif tr.source_sha256 != str(raw.get("payload_sha256", "")):
                # a known id whose payload changed at the source: what we recorded stays authoritative
                log.error("message %s changed at its source after it was picked", message_id)
                uow.record(
                    "alert", "linkage.transfer", message_id, reason="payload changed at source",
                    sha256_recorded=tr.source_sha256, sha256_now=str(raw.get("payload_sha256", "")),
                )  # fmt: skip
            state, reason = tr.state, tr.reason or ""
            outgoing = self._stored_envelope(uow, tr) if state == TransferState.PICKED else None
            destination = Zone(tr.destination) if state == TransferState.PICKED else None
        if state == TransferState.PICKED:
            self._hook("picked", message_id)
            assert outgoing is not None
            assert destination is not None
            state, reason = self._deliver(tenant, destination, outgoing)
        if state == TransferState.REFUSED:
            self._ack(source, tenant, message_id, "refused", reason)
            self._finish(tenant, message_id, refused=True)
            self._hook("refused", message_id)
            return TransferState.REFUSED
        # delivered (now or before a crash) or acked before the source recorded it
        self._ack(source, tenant, message_id, "delivered", "")
        self._finish(tenant, message_id, refused=False)
        self._hook("acked", message_id)
        return TransferState.ACKED

    def _hook(self, stage: str, message_id: str) -> None:
        if self.hook is not None:
            self.hook(stage, message_id)

    # -- pick ----------------------------------------------------------------------------------
    def _pick(self, uow: UnitOfWork, source: Zone, tenant: str, raw: Mapping[str, Any]) -> Transfer:
        message_id = str(raw["message_id"])
        source_hash = str(raw.get("payload_sha256", ""))[:64]
        base = {
            "message_id": message_id,
            "message_type": str(raw.get("message_type", ""))[:40],
            "source": str(raw.get("source", ""))[:20],
            "destination": str(raw.get("destination", ""))[:20],
            "source_sha256": source_hash,
        }
        try:
            envelope = TransferEnvelope.model_validate(raw)
        except PydanticValidationError as exc:
            return self._refused(
                uow, base, refuse(Refusal.MALFORMED, f"invalid envelope: {exc.error_count()} error(s)")
            )
        decision = decide(
            self.config,
            picked_from=source,
            outbox_tenant=tenant,
            message_type=envelope.message_type.value,
            source=envelope.source,
            destination=envelope.destination,
            tenant=envelope.tenant,
        )
        if decision.allowed and payload_sha256(envelope.payload) != envelope.payload_sha256:
            decision = refuse(Refusal.HASH_MISMATCH, "payload does not match payload_sha256")
        if decision.allowed:
            decision = self._check_contract(envelope, decision)
        if not decision.allowed or decision.flow is None:
            return self._refused(uow, base, decision)
        try:
            transformed = transform(uow, envelope, decision.flow.destination, self.sanitizer)
        except TransformRefused as exc:
            return self._refused(uow, base, refuse(exc.refusal, exc.reason))
        outgoing = transformed.envelope
        tr = Transfer(
            **base,
            state=TransferState.PICKED,
            delivered_sha256=outgoing.payload_sha256,
            envelope=uow.keyring.field_encrypt(
                "transfers", "envelope", message_id, outgoing.model_dump_json()
            ),
            attempts=0,
        )
        uow.session.add(tr)
        uow.record(
            "pick", "linkage.transfer", message_id,
            message_type=envelope.message_type.value, source=envelope.source,
            destination=envelope.destination, sha256=envelope.payload_sha256,
            delivered_sha256=outgoing.payload_sha256,
            attachments_sanitized=transformed.sanitized, attachments_refused=transformed.refused,
        )  # fmt: skip
        return tr

    def _check_contract(self, envelope: TransferEnvelope, decision: Decision) -> Decision:
        model = CONTRACTS.get(envelope.message_type)
        if model is None:
            return decision
        try:
            parsed = model.model_validate(envelope.payload)
        except PydanticValidationError as exc:
            return refuse(
                Refusal.MALFORMED,
                f"payload is not a valid {envelope.message_type.value}: {exc.error_count()} error(s)",
            )
        if getattr(parsed, "tenant", envelope.tenant) != envelope.tenant:
            return refuse(Refusal.TENANT_MISMATCH, "payload tenant differs from the envelope's")
        return decision

    def _refused(self, uow: UnitOfWork, base: Mapping[str, str], decision: Decision) -> Transfer:
        assert decision.refusal is not None
        tr = Transfer(
            **base,
            state=TransferState.REFUSED,
            refusal=decision.refusal.value,
            reason=decision.reason,
            attempts=0,
        )
        uow.session.add(tr)
        uow.record(
            "refuse", "linkage.transfer", base["message_id"],
            message_type=base["message_type"], source=base["source"], destination=base["destination"],
            sha256=base["source_sha256"], refusal=decision.refusal.value, reason=decision.reason,
        )  # fmt: skip
        log.warning(
            "refused message %s (%s): %s", base["message_id"], decision.refusal.value, decision.reason
        )
        with self.status.lock:
            self.status.refused += 1
        return tr

    def _stored_envelope(self, uow: UnitOfWork, tr: Transfer) -> TransferEnvelope:
        assert tr.envelope is not None
        text = uow.keyring.field_decrypt("transfers", "envelope", tr.message_id, tr.envelope)
        return TransferEnvelope.model_validate_json(text)

    # -- deliver -------------------------------------------------------------------------------
    def _deliver(self, tenant: str, destination: Zone, envelope: TransferEnvelope) -> tuple[str, str]:
        """Post to the destination's intake; returns the new state (delivered or refused) and reason."""
        message_id = envelope.message_id
        response = self._call(
            destination,
            "POST",
            f"/linkage/v1/tenants/{tenant}/intake",
            content=envelope.model_dump_json(),
            headers={"Content-Type": "application/json"},
        )
        body = _json(response)
        if response.status_code == 200 and body.get("outcome") in ("received", "duplicate"):
            self._hook("sent", message_id)
            with self.storage.unit_of_work(self._ctx(tenant, message_id), Zone.LINKAGE) as uow:
                tr = uow.session.get(Transfer, message_id)
                assert tr is not None
                tr.state = TransferState.DELIVERED
                tr.delivered_at = _now()
                tr.attempts += 1
                uow.record(
                    "deliver", "linkage.transfer", message_id,
                    destination=destination.value, sha256=envelope.payload_sha256,
                    outcome=str(body["outcome"]),
                )  # fmt: skip
            with self.status.lock:
                self.status.delivered += 1
            self._hook("delivered", message_id)
            return TransferState.DELIVERED, ""
        if response.status_code in _OUR_ERRORS and ("error" in body or "outcome" in body):
            said = body.get("message") or body.get("outcome")
            reason = f"{destination.value} answered {response.status_code}: {said}"
            with self.storage.unit_of_work(self._ctx(tenant, message_id), Zone.LINKAGE) as uow:
                tr = uow.session.get(Transfer, message_id)
                assert tr is not None
                tr.state = TransferState.REFUSED
                tr.refusal = Refusal.DESTINATION_REFUSED.value
                tr.reason = reason[:2000]
                tr.attempts += 1
                tr.envelope = None
                uow.record(
                    "refuse", "linkage.transfer", message_id, destination=destination.value,
                    sha256=envelope.payload_sha256, refusal=Refusal.DESTINATION_REFUSED.value, reason=reason,
                )  # fmt: skip
            log.warning("destination refused message %s: %s", message_id, reason)
            with self.status.lock:
                self.status.refused += 1
            return TransferState.REFUSED, reason
        # an answer we do not understand (e.g. a route missing): not the message's fault
        raise Transient(destination, f"intake answered HTTP {response.status_code}")

    # -- ack -----------------------------------------------------------------------------------
    def _ack(self, source: Zone, tenant: str, message_id: str, outcome: str, reason: str) -> None:
        response = self._call(
            source,
            "POST",
            f"/linkage/v1/tenants/{tenant}/outbox/{message_id}/ack",
            json={"outcome": outcome, "reason": reason[:2000]},
        )
        if response.status_code != 200:
            # 404: gone at the source; 409: acknowledged otherwise before. Either way nothing to retry.
            log.error("ack of %s at %s answered HTTP %s: %s", message_id, source.value, response.status_code,
                      response.text[:200])  # fmt: skip

    def _finish(self, tenant: str, message_id: str, *, refused: bool) -> None:
        with self.storage.unit_of_work(self._ctx(tenant, message_id), Zone.LINKAGE) as uow:
            tr = uow.session.get(Transfer, message_id)
            assert tr is not None
            first = tr.acked_at is None
            if not refused:
                tr.state = TransferState.ACKED
            tr.acked_at = tr.acked_at or _now()
            tr.envelope = None  # the personal data leaves the linkage server once delivered
            if first:
                uow.record(
                    "ack", "linkage.transfer", message_id, source=tr.source,
                    outcome="refused" if refused else "delivered", sha256=tr.source_sha256,
                )  # fmt: skip


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def run_linkage(
    storage: Storage,
    config: LinkageConfig,
    stop_event: threading.Event,
    *,
    sanitizer: SanitizeFn | None = None,
    hook: Hook | None = None,
    transports: Mapping[Zone, httpx.BaseTransport] | None = None,
) -> None:
    """Run the transfer loop until ``stop_event`` is set (blocking; run it in a thread or process)."""
    server = LinkageServer(storage, config, sanitizer=sanitizer, hook=hook, transports=transports)
    log.info("linkage server started: %d flow(s), peers %s", len(config.flows), sorted(config.peers))
    try:
        server.run(stop_event)
    finally:
        server.close()
        log.info("linkage server stopped")


def start_in_thread(storage: Storage, config: LinkageConfig) -> tuple[threading.Thread, threading.Event]:
    """The loop in a daemon thread next to the status web app (``jichitai serve linkage``)."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_linkage, args=(storage, config, stop), name="linkage-loop", daemon=True
    )
    thread.start()
    return thread, stop
