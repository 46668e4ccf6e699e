"""The pull worker (取込み): new submissions from the portal into application management.

Per tenant, on a schedule or once: token with the tenant's client credentials, list what the
portal has not yet handed over, fetch each ciphertext, decrypt with the tenant's private
submission key, verify everything again (:mod:`~jichitai.lgwan.verification`), identify the
applicant (:mod:`~jichitai.lgwan.identify`), make sanitized copies of the attachments for staff,
store it encrypted, commit, and only then acknowledge to the portal.

Nothing is dropped: an application whose ciphertext does not decrypt, or that fails a check, is
stored as 検証エラー with the reason and the ciphertext as pulled. A receipt stored before is not
stored again (the portal lists it until acknowledged; a lost acknowledgement is simply repeated).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from jichitai.contracts.submission import SubmissionStatus
from jichitai.lgwan import sealing
from jichitai.lgwan.config import PortalConnection, connection_of, record_result
from jichitai.lgwan.events import WORKER, PushReport, push_events
from jichitai.lgwan.identify import identify
from jichitai.lgwan.models import LgwanApplication, LgwanAttachment, LgwanHistory
from jichitai.lgwan.portal import PortalClient, PortalUnavailable
from jichitai.lgwan.purposes import APPLICATION_PULL
from jichitai.lgwan.rules import Match, Verification, business_of, due_date, normalize_name, standard_days
from jichitai.lgwan.verification import Checked, Verifier, load_trust
from jichitai.platform.context import TenantContext
from jichitai.platform.errors import JichitaiError
from jichitai.platform.sanitize import sanitize
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone
from jichitai.procedures.store import tenant_procedures

log = logging.getLogger(__name__)

SUBMISSION_TYPE = "submission"
TYPE_HEADER = "jichitai_type"
NAME_INDEX = "lgwan_applications.applicant_name"
DEFAULT_LIMIT = 1000
DEFAULT_BATCH = 50
DEFAULT_WORKERS = 4


@dataclass
class PullReport:
    """What one run did; ``seconds`` holds the time spent per stage (for the benchmark)."""

    tenant: str
    listed: int = 0
    stored: int = 0
    verified: int = 0
    flagged: int = 0
    failed: int = 0
    duplicates: int = 0
    acked: int = 0
    ack_errors: int = 0
    events: PushReport | None = None
    error: str = ""
    seconds: dict[str, float] = field(default_factory=dict)

    def add_time(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def summary(self) -> str:
        text = (
            f"listed {self.listed}, stored {self.stored} (verified {self.verified}, flagged {self.flagged}, "
            f"failed {self.failed}), already held {self.duplicates}, acknowledged {self.acked}"
        )
        if self.events is not None:
            text += f", status events posted {self.events.pushed} (waiting {self.events.pending})"
        if self.error:
            text += f"; stopped: {self.error}"
        return text


@contextmanager
def _timed(report: PullReport, stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        report.add_time(stage, time.perf_counter() - start)


def _ctx(tenant: str, reason: str = "") -> TenantContext:
    return TenantContext(TenantCode(tenant), WORKER, APPLICATION_PULL, reason)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _parse_time(text: str) -> datetime:
    return _aware(datetime.fromisoformat(text))


# -- storing one application -----------------------------------------------------------------------


def _decrypt(uow: UnitOfWork, jwe_token: str | None, receipt: str) -> tuple[bytes | None, str]:
    if jwe_token is None:
        return None, "申請データが受付APIに残っていません(保存期間の経過により消去済み)"
    try:
        headers, plaintext = uow.keyring.decrypt_submission(jwe_token)
    except Exception:  # any failure to open is the same finding: keep it, say so, never crash the run
        log.warning("submission %s does not decrypt", receipt, exc_info=True)
        return (
            None,
            "申請データを復号できませんでした(暗号文が改ざんされたか、この団体の鍵あてではありません)",
        )
    if headers.get(TYPE_HEADER) != SUBMISSION_TYPE or headers.get("receipt_number") != receipt:
        return None, "暗号文の保護ヘッダーが受付番号又は種別と一致しません(取り違え又は改ざんの可能性)"
    return plaintext, ""


def store_pulled(
    uow: UnitOfWork,
    verifier: Verifier,
    summary: dict[str, Any],
    jwe_token: str | None,
    now: datetime,
    report: PullReport,
) -> LgwanApplication:
    """Decrypt, verify, identify, sanitize and store one application in ``uow``."""
    receipt = str(summary["receipt_number"])
    received_at = _parse_time(summary["received_at"])
    app_id = uuid.uuid4().hex
    key = sealing.new_key()

    with _timed(report, "decrypt"):
        plaintext, decrypt_note = _decrypt(uow, jwe_token, receipt)
    checked = Checked()
    if plaintext is None:
        checked.fail(decrypt_note)
    else:
        with _timed(report, "verify"):
            checked = verifier.check(plaintext, receipt, received_at)
    payload = checked.payload
    procedure_id = payload.procedure_id if payload else str(summary.get("procedure_id", ""))
    procedure_version = payload.procedure_version if payload else str(summary.get("procedure_version", ""))
    name, receiving_system = "", ""
    try:
        base = checked.effective.base if checked.effective else verifier.procedures.catalog.get(procedure_id)
        name, receiving_system = base.name, base.receiving_system
    except JichitaiError:
        pass  # an unknown procedure: shown to 汎用 clerks with its id

    app = LgwanApplication(
        id=app_id,
        receipt_number=receipt,
        procedure_id=procedure_id[:64],
        procedure_version=procedure_version[:100],
        procedure_name=name or procedure_id[:200],
        business=business_of(receiving_system).value,
        receiving_system=receiving_system,
        received_at=received_at,
        submitted_at=payload.submitted_at if payload else None,
        pulled_at=now,
        due_date=due_date(received_at, standard_days(procedure_id, receiving_system)),
        status=SubmissionStatus.DELIVERED.value,
        status_at=now,
        verification=checked.verification.value,
        verification_notes=json.dumps(checked.notes, ensure_ascii=False),
        certificate_use=payload.certificate_use.value if payload else "",
        data_key=sealing.wrap_key(uow, app_id, key),
        jwe_sha256=_sha256(jwe_token),
        raw_jwe=jwe_token.encode("ascii", "replace") if jwe_token is not None and payload is None else None,
        match=Match.NO_MATCH.value,
        decision_note="",
    )
    cert = checked.certificate
    if cert is not None:
        facts = cert.facts
        app.signer_serial = cert.serial
        app.signer_issuer = cert.issuer[:400]
        app.signer_not_before, app.signer_not_after = cert.not_before, cert.not_after
        signer = {
            "subject": cert.subject,
            "issuer": cert.issuer,
            "serial": cert.serial,
            "kind": cert.kind.value,
            "name": facts.name if facts else None,
            "address": facts.address if facts else None,
            "birth_date": facts.birth_date.isoformat() if facts else None,
            "sex": facts.sex.value if facts else None,
        }
        app.signer_facts = uow.keyring.field_encrypt(
            "lgwan_applications", "signer_facts", app_id, json.dumps(signer, ensure_ascii=False)
        )
        if facts is not None:
            app.applicant_name_index = uow.keyring.blind_index(NAME_INDEX, normalize_name(facts.name))
        with _timed(report, "identify"):
            found = identify(
                uow,
                cert.serial,
                cert.kind.value,
                name=facts.name if facts else None,
                birth_date=facts.birth_date if facts else None,
                on=payload.submitted_at.date() if payload else None,
            )
        app.match, app.atena_number = found.match.value, found.atena_number
        if found.candidates:
            app.candidates = uow.keyring.field_encrypt(
                "lgwan_applications",
                "candidates",
                app_id,
                json.dumps([c.as_json() for c in found.candidates], ensure_ascii=False),
            )
    if payload is not None:
        app.form = sealing.seal(key, f"{app_id}|form", json.dumps(payload.form, ensure_ascii=False).encode())
    uow.session.add(app)

    for part in checked.attachments:
        att_id = uuid.uuid4().hex
        row = LgwanAttachment(
            id=att_id,
            application_id=app_id,
            attachment_id=part.part.attachment_id[:16],
            kind=part.part.kind[:64],
            filename=part.part.filename[:255],
            declared_type=part.part.content_type[:100],
            size=part.part.size,
            sha256=part.part.sha256,
            hash_ok=part.hash_ok,
            original=sealing.seal(key, f"{app_id}|{part.part.attachment_id}|original", part.data or b""),
            sanitize_method="",
            sanitize_removed="",
        )
        if part.data is not None and part.hash_ok:
            # the signature and hashes were checked on the original above; staff get the clean copy
            with _timed(report, "sanitize"):
                result = sanitize(
                    part.data, declared_name=part.part.filename, declared_type=part.part.content_type
                )
            row.sanitize_method = result.method.value
            row.sanitize_removed = ",".join(result.removed)
            if result.ok and result.output is not None:
                row.sanitized = sealing.seal(
                    key, f"{app_id}|{part.part.attachment_id}|sanitized", result.output
                )
                row.sanitized_type = result.output_type
                row.sanitized_name = (result.output_name or part.part.filename)[:255]
                row.sanitized_sha256 = result.output_sha256
            else:
                row.sanitize_reason_ja = result.reason_ja or "無害化できませんでした"
        else:
            row.sanitize_reason_ja = "改ざんの可能性があるため無害化していません"
        uow.session.add(row)

    uow.session.add(
        LgwanHistory(
            id=uuid.uuid4().hex,
            application_id=app_id,
            at=now,
            actor=WORKER.id,
            action="pulled",
            status=SubmissionStatus.DELIVERED.value,
            note=Verification(checked.verification).label_ja
            + ("：" + " / ".join(checked.notes) if checked.notes else ""),
            purpose=APPLICATION_PULL.code,
        )
    )
    uow.record(
        "application_verified",
        "lgwan_applications",
        receipt,
        person=app.atena_number or "",
        verification=checked.verification.value,
        notes=len(checked.notes),
        match=app.match,
    )
    return app


def _sha256(text: str | None) -> str:
    return hashlib.sha256(text.encode()).hexdigest() if text is not None else ""


# -- the run ------------------------------------------------------------------------------------------


def _verifier(storage: Storage, uow: UnitOfWork, now: datetime) -> Verifier:
    anchors, crls = load_trust(storage.settings.trust_anchor_paths(), storage.settings.crl_paths())
    return Verifier(uow.tenant.code, tenant_procedures(uow), anchors, crls, now)


def _known(storage: Storage, tenant: str, receipts: Sequence[str]) -> set[str]:
    if not receipts:
        return set()
    with storage.unit_of_work(_ctx(tenant, "duplicate check"), Zone.LGWAN) as uow:
        rows = uow.session.scalars(
            select(LgwanApplication.receipt_number).where(LgwanApplication.receipt_number.in_(list(receipts)))
        ).all()
        return set(rows)


def _store_batch(
    storage: Storage,
    tenant: str,
    fetched: list[tuple[dict[str, Any], str | None]],
    now: datetime,
    report: PullReport,
) -> list[str]:
    """Store a batch in one transaction; on a database error, one by one. Returns stored receipts."""

    def count(app: LgwanApplication) -> None:
        report.stored += 1
        if app.verification == Verification.VERIFIED.value:
            report.verified += 1
        elif app.verification == Verification.FLAGGED.value:
            report.flagged += 1
        else:
            report.failed += 1

    try:
        stored: list[LgwanApplication] = []
        with _timed(report, "store"), storage.unit_of_work(_ctx(tenant, "pull"), Zone.LGWAN) as uow:
            verifier = _verifier(storage, uow, now)
            for summary, token in fetched:
                stored.append(store_pulled(uow, verifier, summary, token, now, report))
        for app in stored:
            count(app)
        return [a.receipt_number for a in stored]
    except IntegrityError:
        if len(fetched) == 1:
            report.duplicates += 1  # another worker stored it first
            return [str(fetched[0][0]["receipt_number"])]
    done: list[str] = []
    for item in fetched:
        done.extend(_store_batch(storage, tenant, [item], now, report))
    return done


def _mark_acked(storage: Storage, tenant: str, receipts: Sequence[str], at: datetime) -> None:
    if not receipts:
        return
    with storage.unit_of_work(_ctx(tenant, "acknowledged"), Zone.LGWAN) as uow:
        uow.session.execute(
            update(LgwanApplication)
            .where(LgwanApplication.receipt_number.in_(list(receipts)), LgwanApplication.acked_at.is_(None))
            .values(acked_at=at)
        )


def _ack_all(
    portal: PortalClient, receipts: Sequence[str], report: PullReport, pool: ThreadPoolExecutor
) -> list[str]:
    """Acknowledge in parallel (each is one round trip); a failed one is repeated on the next run."""

    def ack(receipt: str) -> str | None:
        try:
            portal.ack(receipt)
        except JichitaiError as exc:
            # stored here already: the portal lists it again and the next run repeats the ack
            log.warning("acknowledging %s failed: %s", receipt, exc.message)
            return None
        return receipt

    with _timed(report, "ack"):
        results = list(pool.map(ack, receipts))
    acked = [r for r in results if r is not None]
    report.acked += len(acked)
    report.ack_errors += len(results) - len(acked)
    return acked


def _pipeline(
    storage: Storage,
    code: str,
    portal: PortalClient,
    new: Sequence[dict[str, Any]],
    batch_size: int,
    clock: Callable[[], datetime],
    report: PullReport,
    pool: ThreadPoolExecutor,
) -> None:
    """Fetch, store and acknowledge ``new`` batch by batch, the round trips overlapping the storing.

    While batch *k* is stored (decrypt, verify, sanitize: CPU here), batch *k+1* is being fetched
    and batch *k-1* acknowledged. The order that matters is kept: a batch is acknowledged only after
    its transaction committed, and recorded as acknowledged only after the portal answered.
    """
    batches = [new[start : start + batch_size] for start in range(0, len(new), batch_size)]
    if not batches:
        return

    def fetch(batch: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        with _timed(report, "fetch"):
            return list(pool.map(portal.fetch, [str(item["receipt_number"]) for item in batch]))

    def ack(stored: list[str]) -> None:
        acked = _ack_all(portal, stored, report, pool)
        _mark_acked(storage, code, acked, clock())

    # one thread each drives the fetching ahead and the acknowledging behind; the round trips
    # themselves run in ``pool``
    with ThreadPoolExecutor(1, "pull-fetch") as ahead, ThreadPoolExecutor(1, "pull-ack") as behind:
        acks: list[Future[None]] = []
        try:
            coming = ahead.submit(fetch, batches[0])
            for index in range(len(batches)):
                details = coming.result()
                if index + 1 < len(batches):
                    coming = ahead.submit(fetch, batches[index + 1])
                fetched = [(detail, detail.get("jwe")) for detail in details]
                stored = _store_batch(storage, code, fetched, clock(), report)
                acks.append(behind.submit(ack, stored))
        finally:
            for done in acks:
                done.result()


def open_portal(conn: PortalConnection, http: httpx.Client | None = None) -> PortalClient:
    client = http if http is not None else httpx.Client(base_url=conn.portal_url, timeout=30.0)
    return PortalClient(client, conn.tenant, conn.client_id, conn.client_secret)


def pull_once(
    storage: Storage,
    tenant: str,
    *,
    http: httpx.Client | None = None,
    now: Callable[[], datetime] | None = None,
    limit: int = DEFAULT_LIMIT,
    batch_size: int = DEFAULT_BATCH,
    drain: bool = True,
    workers: int = DEFAULT_WORKERS,
) -> PullReport:
    """One run for one tenant: push waiting status events, then pull until nothing new is left.

    ``http`` replaces the HTTP client (its base URL must be the portal); by default one is opened
    on the configured portal URL. ``drain=False`` stops after ``limit`` applications. Fetches and
    acknowledgements are one round trip each, so ``workers`` of them are in flight at once; the
    storing stays one transaction per batch.
    """
    clock = now or (lambda: datetime.now(UTC))
    code = str(TenantCode(tenant))
    report = PullReport(code)
    with storage.unit_of_work(_ctx(code, "connection"), Zone.LGWAN) as uow:
        conn = connection_of(uow)
    portal = open_portal(conn, http)
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=f"pull-{code}")
    try:
        report.events = push_events(storage, code, portal, pool=pool)
        while True:
            with _timed(report, "list"):
                listed = portal.list_new(limit)
            report.listed += len(listed)
            receipts = [str(item["receipt_number"]) for item in listed]
            held = _known(storage, code, receipts)
            report.duplicates += len(held)
            acked = _ack_all(portal, [r for r in receipts if r in held], report, pool)
            _mark_acked(storage, code, acked, clock())
            new = [item for item in listed if str(item["receipt_number"]) not in held]
            _pipeline(storage, code, portal, new, batch_size, clock, report, pool)
            if not drain or len(listed) < limit or not new:
                break
    except PortalUnavailable as exc:
        report.error = exc.message
        log.warning("pull for %s stopped: %s", code, exc.message)
    finally:
        pool.shutdown()
        if http is None:
            portal.http.close()
    with storage.unit_of_work(_ctx(code, "result"), Zone.LGWAN) as uow:
        record_result(uow, report.summary(), clock())
    return report


def push_once(storage: Storage, tenant: str, *, http: httpx.Client | None = None) -> PushReport:
    """Post the waiting status events only (e.g. right after a staff action)."""
    code = str(TenantCode(tenant))
    with storage.unit_of_work(_ctx(code, "connection"), Zone.LGWAN) as uow:
        conn = connection_of(uow)
    portal = open_portal(conn, http)
    try:
        with ThreadPoolExecutor(max_workers=DEFAULT_WORKERS) as pool:
            return push_events(storage, code, portal, pool=pool)
    finally:
        if http is None:
            portal.http.close()


def configured_tenants(storage: Storage) -> list[str]:
    """Active tenants that have a portal connection."""
    from jichitai.lgwan.models import PortalConnectionRow

    found: list[str] = []
    for tenant in storage.catalog.list():
        if not tenant.active:
            continue
        with storage.unit_of_work(_ctx(tenant.code, "schedule"), Zone.LGWAN) as uow:
            if uow.session.get(PortalConnectionRow, 1) is not None:
                found.append(tenant.code)
    return found


def run_scheduler(
    storage: Storage,
    stop: threading.Event,
    *,
    tenants: Sequence[str] | None = None,
    interval: float | None = None,
    on_report: Callable[[PullReport], None] | None = None,
) -> None:
    """Pull every configured tenant in turn, then wait; until ``stop`` is set (``serve lgwan``)."""
    while not stop.is_set():
        started = time.monotonic()
        waits: list[float] = []
        for code in tenants if tenants is not None else configured_tenants(storage):
            if stop.is_set():
                return
            try:
                report = pull_once(storage, code)
            except JichitaiError as exc:
                log.error("pull for %s failed: %s", code, exc.one_line())
                continue
            except Exception:
                log.exception("pull for %s failed", code)
                continue
            if on_report is not None:
                on_report(report)
            with storage.unit_of_work(_ctx(code, "schedule"), Zone.LGWAN) as uow:
                waits.append(float(connection_of(uow).interval_seconds))
        pause = interval if interval is not None else (min(waits) if waits else 60.0)
        stop.wait(max(1.0, pause - (time.monotonic() - started)))


def start_scheduler(storage: Storage, **options: Any) -> tuple[threading.Thread, threading.Event]:
    """``run_scheduler`` in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_scheduler, args=(storage, stop), kwargs=options, name="lgwan-pull", daemon=True
    )
    thread.start()
    return thread, stop
