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

A crash before the ack leaves the message pending at the source, so it is picked again: the stored
envelope is re-delivered byte for byte (the intake answers "duplicate" if it had it), then acked.
A crash (or a lost answer) after the source took the ack but before the server recorded it leaves a
transfer the source no longer lists; the server finds those in its own log when it starts and after
a failed cycle of that source, once the source is out of its back-off, acknowledges them again (the
source answers as before) and closes them, which also drops the envelope. Nothing is lost and
nothing applied twice. A failed call backs the peer off exponentially; a transient failure stops
that tenant's batch so messages stay in order.
"""

from __future__ import annotations

import logging
import multiprocessing
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select

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
from jichitai.linkage.transform import (
    AttachmentInput,
    PresanitizedSanitizer,
    SanitizeFn,
    SanitizeOutcome,
    TransformRefused,
    attachment_input,
    platform_sanitizer,
    sanitize_key,
    transform,
)
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
# recorded), after delivery is recorded (before the ack), after the source answered the ack (before
# it is recorded), after the ack is recorded, on refusal
STAGES = ("picked", "sent", "delivered", "ack_sent", "acked", "refused")
Hook = Callable[[str, str], None]  # (stage, message_id)
_OUR_ERRORS = {400, 403, 404, 409, 422}
DEFAULT_PROCESSES = 2  # worker processes that sanitize a batch's attachments (one per core)
MIN_FOR_PROCESSES = 8  # fewer attachments in a batch than this are sanitized in this process


class Transient(Exception):
    """A peer did not answer usefully (down, timeout, 5xx, bad token): try again later."""

    def __init__(self, zone: Zone, message: str) -> None:
        super().__init__(f"{zone.value}: {message}")
        self.zone = zone


class BackingOff(Transient):
    """A call not made because its peer is backed off: no new failure of the peer."""


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
        processes: int = DEFAULT_PROCESSES,
        min_for_processes: int = MIN_FOR_PROCESSES,
    ) -> None:
        self.storage = storage
        self.config = config
        self.sanitizer = sanitizer if sanitizer is not None else platform_sanitizer()
        # the platform's sanitizer (a module function) can run in worker processes; one given
        # by the caller is kept in this process
        self.processes = processes if sanitizer is None and self.sanitizer is not None else 0
        self.min_for_processes = min_for_processes
        self._workers: ProcessPoolExecutor | None = None
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
        # whether a peer has the batch endpoints (a zone of an older version may not)
        self._batch_intake: dict[Zone, bool] = {}
        self._bulk_ack: dict[Zone, bool] = {}
        # sources whose transfers the log may hold delivered but not closed (see _settle_unclosed):
        # every source at start-up, then a source whose cycle failed
        self._unclosed_sources: set[Zone] = set(config.source_zones())

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        if self._workers is not None:
            self._workers.shutdown(cancel_futures=True)
            self._workers = None

    # -- 無害化 of a batch's attachments in worker processes --------------------------------------
    def _presanitize(self, items: Sequence[tuple[str, Mapping[str, Any]]]) -> SanitizeFn | None:
        """The sanitizer for picking ``items``: with copies made beforehand in worker processes.

        Re-encoding images is the heavy part of a pick; done here, before the transaction, by
        ``processes`` workers of this linkage server, it runs on every core. It is the same
        sanitizer, run by the linkage server itself: what enters My Number is still its own copy.
        """
        if self.processes <= 0 or self.sanitizer is None:
            return self.sanitizer
        inputs: dict[tuple[str, str, str], AttachmentInput] = {}
        for _, raw in items:
            payload = raw.get("payload")
            if raw.get("message_type") != MessageType.ACCEPTED_APPLICATION.value or not isinstance(
                payload, dict
            ):
                continue
            attachments = payload.get("attachments")
            for index, item in enumerate(attachments if isinstance(attachments, list) else []):
                try:
                    part = attachment_input(index, item)
                except TransformRefused:
                    continue  # refused when the message is picked
                inputs[sanitize_key(part.sha256, part.filename, part.declared_type)] = part
        if len(inputs) < max(1, self.min_for_processes):
            return self.sanitizer
        if self._workers is None:
            # spawned, not forked: this process runs threads and holds database connections
            self._workers = ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("spawn")
            )
        futures = {
            key: self._workers.submit(
                self.sanitizer, part.data, declared_name=part.filename, declared_type=part.declared_type
            )
            for key, part in inputs.items()
        }
        done: dict[tuple[str, str, str], SanitizeOutcome] = {}
        for key, future in futures.items():
            try:
                done[key] = future.result()
            except Exception:
                log.warning(
                    "a sanitizing worker process failed; the attachment is sanitized here", exc_info=True
                )
        return PresanitizedSanitizer(self.sanitizer, done)

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
        # Only sources out of their back-off: while a zone is down, its left-open transfers wait
        # without a query per tenant and cycle (a server may carry all 1,741 municipalities).
        settle = sorted((z for z in self._unclosed_sources if self._ready(z)), key=lambda z: z.value)
        if settle:
            self._unclosed_sources.difference_update(settle)
            for tenant in tenants:
                try:
                    handled += self._settle_unclosed(str(tenant), settle)
                except Transient as exc:
                    self._transient(exc)
                    self._unclosed_sources.add(exc.zone)
        for source in self.config.source_zones():
            peer = self.config.peer(source)
            for tenant in tenants:
                if not peer.serves(tenant) or not self._ready(source):
                    continue
                try:
                    handled += self._drain(source, str(tenant))
                except Transient as exc:
                    self._transient(exc)
                    # an ack may have reached the source with its answer lost
                    self._unclosed_sources.add(source)
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

    def _transient(self, exc: Transient) -> None:
        # A call skipped during a back-off is no new failure: counting it would push the back-off
        # further on every cycle, and a destination with messages waiting would never be tried again.
        if not isinstance(exc, BackingOff):
            self._failed(exc.zone, str(exc))

    def _ok(self, zone: Zone) -> None:
        with self.status.lock:
            h = self._health(zone)
            h.failures = 0
            h.next_try = 0.0
            h.last_ok_at = _now()

    def _call(self, zone: Zone, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if not self._ready(zone):
            raise BackingOff(zone, "backing off")
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
        if messages:
            self.process_batch(source, tenant, messages)
        return len(messages)

    def _settle_unclosed(self, tenant: str, sources: Sequence[Zone]) -> int:
        """Acknowledge again and close the transfers of ``tenant`` from ``sources`` that were settled
        but not closed.

        A delivered (or refused) transfer without ``acked_at`` is one whose ack the server sent, or
        was about to send, when it died or lost the answer. If the source took the ack, it no longer
        lists the message, so draining would never come back to it: it would stay open, with its
        envelope (personal data) kept. Acknowledging is idempotent at the source, so it is sent again.
        """
        with self.storage.unit_of_work(self._ctx(tenant, "unclosed transfers"), Zone.LINKAGE) as uow:
            open_ = [
                (Zone(t.source), _Step(t.message_id, t.state, t.reason or "", None, None))
                for t in uow.session.scalars(
                    select(Transfer).where(
                        Transfer.state.in_([TransferState.DELIVERED, TransferState.REFUSED]),
                        Transfer.acked_at.is_(None),
                        Transfer.source.in_([z.value for z in sources]),
                    )
                )
            ]
        settled = 0
        for source in sorted({zone for zone, _ in open_}, key=lambda z: z.value):
            if source not in self.clients:
                continue
            if not self._ready(source):  # failed for an earlier tenant of this pass
                self._unclosed_sources.add(source)
                continue
            steps = [step for zone, step in open_ if zone == source]
            log.info("closing %d transfer(s) of %s from %s left open", len(steps), tenant, source.value)
            self._ack_all(source, tenant, steps)
            self._finish_all(tenant, steps)
            settled += len(steps)
        return settled

    def _ctx(self, tenant: str, reason: str) -> TenantContext:
        return TenantContext(TenantCode(tenant), ACTOR, LINKAGE_TRANSFER, reason)

    def process(self, source: Zone, tenant: str, raw: Mapping[str, Any]) -> str:
        """Carry one message found in ``source``'s outbox of ``tenant``; returns its final state."""
        return self.process_batch(source, tenant, [raw])[0]

    def process_batch(self, source: Zone, tenant: str, raws: Sequence[Mapping[str, Any]]) -> list[str]:
        """Carry messages found in ``source``'s outbox of ``tenant``, in order; their final states.

        The same steps as for one message, each done for the whole batch at once: one transaction
        records the picks, one request per destination delivers, one transaction records what the
        destinations answered, one request acknowledges at the source, one transaction closes the
        transfers. A crash between any two steps leaves every message of the batch at a step from
        which the next run carries it on (re-delivery is answered "duplicate").
        """
        steps: list[_Step] = []
        states: dict[str, str] = {}
        usable: list[tuple[str, Mapping[str, Any]]] = []
        for raw in raws:
            message_id = str(raw.get("message_id", ""))
            if not message_id or len(message_id) > 64:
                log.error(
                    "a message without a usable id in the outbox of %s at %s: skipped", tenant, source.value
                )
                continue
            usable.append((message_id, raw))
        if usable:
            steps = self._pick_all(source, tenant, usable)
        for step in steps:
            if step.state == TransferState.PICKED:
                self._hook("picked", step.message_id)
        failure: Transient | None = None
        try:
            self._deliver_all(tenant, [s for s in steps if s.state == TransferState.PICKED])
        except Transient as exc:
            failure = exc  # what reached a final state before it is acknowledged all the same
        done = [s for s in steps if s.state != TransferState.PICKED]
        if done:
            self._ack_all(source, tenant, done)
            for step in done:
                self._hook("ack_sent", step.message_id)
            self._finish_all(tenant, done)
            for step in done:
                refused = step.state == TransferState.REFUSED
                states[step.message_id] = TransferState.REFUSED if refused else TransferState.ACKED
                self._hook("refused" if refused else "acked", step.message_id)
        if failure is not None:
            raise failure
        return [states.get(str(raw.get("message_id", "")), "skipped") for raw in raws]

    def _hook(self, stage: str, message_id: str) -> None:
        if self.hook is not None:
            self.hook(stage, message_id)

    # -- pick ----------------------------------------------------------------------------------
    def _pick_all(
        self, source: Zone, tenant: str, items: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[_Step]:
        """Pick the new messages (or find the transfers recorded before), in one transaction."""
        steps: list[_Step] = []
        sanitizer = self._presanitize(items)
        with self.storage.unit_of_work(self._ctx(tenant, f"transfer of {len(items)}"), Zone.LINKAGE) as uow:
            ids = [message_id for message_id, _ in items]
            known = {
                t.message_id: t
                for t in uow.session.scalars(select(Transfer).where(Transfer.message_id.in_(ids)))
            }
            for message_id, raw in items:
                tr = known.get(message_id)
                if tr is None:
                    tr = self._pick(uow, source, tenant, raw, sanitizer)
                    known[message_id] = tr
                elif tr.source_sha256 != str(raw.get("payload_sha256", "")):
                    # a known id whose payload changed at the source: what we recorded stays authoritative
                    log.error("message %s changed at its source after it was picked", message_id)
                    uow.record(
                        "alert", "linkage.transfer", message_id, reason="payload changed at source",
                        sha256_recorded=tr.source_sha256, sha256_now=str(raw.get("payload_sha256", "")),
                    )  # fmt: skip
                picked = tr.state == TransferState.PICKED
                steps.append(
                    _Step(
                        message_id,
                        tr.state,
                        tr.reason or "",
                        self._stored_envelope(uow, tr) if picked else None,
                        Zone(tr.destination) if picked else None,
                    )
                )
        return steps

    def _pick(
        self,
        uow: UnitOfWork,
        source: Zone,
        tenant: str,
        raw: Mapping[str, Any],
        sanitizer: SanitizeFn | None = None,
    ) -> Transfer:
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
            transformed = transform(uow, envelope, decision.flow.destination, sanitizer or self.sanitizer)
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
    def _deliver_all(self, tenant: str, steps: Sequence[_Step]) -> None:
        """Deliver each destination's messages in one request, in order; record the answers at once.

        Updates each step's state; raises :class:`Transient` (after recording the answers before it)
        when a destination did not answer usefully.
        """
        by_destination: dict[Zone, list[_Step]] = {}
        for step in steps:
            assert step.destination is not None
            by_destination.setdefault(step.destination, []).append(step)
        for destination, group in by_destination.items():
            answers = self._post_intake(tenant, destination, group)
            settled: list[tuple[_Step, str, str, str]] = []  # step, new state, reason, outcome
            failure: Transient | None = None
            for step, (status, body) in zip(group, answers, strict=False):
                if status == 200 and body.get("outcome") in ("received", "duplicate"):
                    self._hook("sent", step.message_id)
                    settled.append((step, TransferState.DELIVERED, "", str(body["outcome"])))
                elif status in _OUR_ERRORS and ("error" in body or "outcome" in body):
                    said = body.get("message") or body.get("outcome")
                    reason = f"{destination.value} answered {status}: {said}"
                    settled.append((step, TransferState.REFUSED, reason, ""))
                else:
                    # an answer we do not understand (e.g. a route missing): not the message's fault
                    failure = Transient(destination, f"intake answered HTTP {status}")
                    break
            if len(answers) < len(group) and failure is None:
                failure = Transient(destination, "intake answered fewer results than messages sent")
            self._record_answers(tenant, destination, settled)
            if failure is not None:
                raise failure

    def _post_intake(
        self, tenant: str, destination: Zone, group: Sequence[_Step]
    ) -> list[tuple[int, dict[str, Any]]]:
        """The intake's answer (status, body) for each message, by the batch endpoint where there is one."""
        envelopes = [s.outgoing for s in group]
        assert all(e is not None for e in envelopes)
        if len(group) > 1 and self._batch_intake.get(destination, True):
            body = "[" + ",".join(e.model_dump_json() for e in envelopes if e is not None) + "]"
            response = self._call(
                destination,
                "POST",
                f"/linkage/v1/tenants/{tenant}/intake/batch",
                content='{"envelopes":' + body + "}",
                headers={"Content-Type": "application/json"},
            )
            answer = _json(response)
            results = answer.get("results")
            if response.status_code == 200 and isinstance(results, list):
                return [(int(r.get("status", 0)), r) if isinstance(r, dict) else (0, {}) for r in results]
            if response.status_code in _OUR_ERRORS and "error" in answer:
                # the request as a whole was refused (e.g. a tenant the destination does not serve):
                # the single intake would have answered each message the same
                return [(response.status_code, answer)] * len(group)
            # no batch endpoint there (an older zone): one message per request from now on
            log.info("%s has no batch intake (HTTP %s): one by one", destination.value, response.status_code)
            self._batch_intake[destination] = False
        answers: list[tuple[int, dict[str, Any]]] = []
        for envelope in envelopes:
            assert envelope is not None
            response = self._call(
                destination,
                "POST",
                f"/linkage/v1/tenants/{tenant}/intake",
                content=envelope.model_dump_json(),
                headers={"Content-Type": "application/json"},
            )
            answers.append((response.status_code, _json(response)))
            if not (response.status_code == 200 or response.status_code in _OUR_ERRORS):
                break  # not understood: the rest waits for the next run, in order
        return answers

    def _record_answers(
        self, tenant: str, destination: Zone, settled: Sequence[tuple[_Step, str, str, str]]
    ) -> None:
        if not settled:
            return
        with self.storage.unit_of_work(self._ctx(tenant, f"delivery of {len(settled)}"), Zone.LINKAGE) as uow:
            rows = {
                t.message_id: t
                for t in uow.session.scalars(
                    select(Transfer).where(Transfer.message_id.in_([s.message_id for s, _, _, _ in settled]))
                )
            }
            for step, state, reason, outcome in settled:
                tr = rows[step.message_id]
                assert step.outgoing is not None
                tr.attempts += 1
                if state == TransferState.DELIVERED:
                    tr.state = TransferState.DELIVERED
                    tr.delivered_at = _now()
                    uow.record(
                        "deliver", "linkage.transfer", step.message_id,
                        destination=destination.value, sha256=step.outgoing.payload_sha256, outcome=outcome,
                    )  # fmt: skip
                else:
                    tr.state = TransferState.REFUSED
                    tr.refusal = Refusal.DESTINATION_REFUSED.value
                    tr.reason = reason[:2000]
                    tr.envelope = None
                    uow.record(
                        "refuse", "linkage.transfer", step.message_id, destination=destination.value,
                        sha256=step.outgoing.payload_sha256, refusal=Refusal.DESTINATION_REFUSED.value,
                        reason=reason,
                    )  # fmt: skip
                    log.warning("destination refused message %s: %s", step.message_id, reason)
        for step, state, reason, _ in settled:
            step.state, step.reason = state, reason
            if state == TransferState.DELIVERED:
                self._hook("delivered", step.message_id)
        delivered = sum(1 for _, state, _, _ in settled if state == TransferState.DELIVERED)
        with self.status.lock:
            self.status.delivered += delivered
            self.status.refused += len(settled) - delivered

    # -- ack -----------------------------------------------------------------------------------
    def _ack_all(self, source: Zone, tenant: str, steps: Sequence[_Step]) -> None:
        acks = [
            {
                "message_id": s.message_id,
                "outcome": "refused" if s.state == TransferState.REFUSED else "delivered",
                "reason": s.reason[:2000] if s.state == TransferState.REFUSED else "",
            }
            for s in steps
        ]
        if len(acks) > 1 and self._bulk_ack.get(source, True):
            response = self._call(
                source, "POST", f"/linkage/v1/tenants/{tenant}/outbox/ack", json={"acks": acks}
            )
            results = _json(response).get("results")
            if response.status_code == 200 and isinstance(results, list):
                for result in results:
                    if isinstance(result, dict) and result.get("status") != 200:
                        # 404: gone at the source; 409: acknowledged otherwise before. Nothing to retry.
                        log.error("ack of %s at %s answered %s: %s", result.get("message_id"), source.value,
                                  result.get("status"), str(result.get("message", ""))[:200])  # fmt: skip
                return
            log.info("%s has no bulk ack (HTTP %s): one by one", source.value, response.status_code)
            self._bulk_ack[source] = False
        for ack in acks:
            self._ack(source, tenant, ack["message_id"], ack["outcome"], ack["reason"])

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

    def _finish_all(self, tenant: str, steps: Sequence[_Step]) -> None:
        with self.storage.unit_of_work(self._ctx(tenant, f"acknowledged {len(steps)}"), Zone.LINKAGE) as uow:
            rows = {
                t.message_id: t
                for t in uow.session.scalars(
                    select(Transfer).where(Transfer.message_id.in_([s.message_id for s in steps]))
                )
            }
            for step in steps:
                tr = rows[step.message_id]
                refused = step.state == TransferState.REFUSED
                first = tr.acked_at is None
                if not refused:
                    tr.state = TransferState.ACKED
                tr.acked_at = tr.acked_at or _now()
                tr.envelope = None  # the personal data leaves the linkage server once delivered
                if first:
                    uow.record(
                        "ack", "linkage.transfer", step.message_id, source=tr.source,
                        outcome="refused" if refused else "delivered", sha256=tr.source_sha256,
                    )  # fmt: skip


@dataclass
class _Step:
    """Where one message of a batch stands; ``outgoing`` and ``destination`` while it is picked."""

    message_id: str
    state: str
    reason: str
    outgoing: TransferEnvelope | None
    destination: Zone | None


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
