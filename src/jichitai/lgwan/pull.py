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

import base64
import binascii
import hashlib
import json
import logging
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, cast

import httpx
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jichitai.contracts.submission import AttachmentPart, SubmissionPayload, SubmissionStatus
from jichitai.lgwan import sealing
from jichitai.lgwan.config import PortalConnection, connection_of, record_result
from jichitai.lgwan.events import WORKER, PushReport, push_events
from jichitai.lgwan.identify import identify, read_links
from jichitai.lgwan.models import LgwanApplication, LgwanAttachment, LgwanHistory, LinkEntry
from jichitai.lgwan.portal import PortalClient, PortalUnavailable
from jichitai.lgwan.purposes import APPLICATION_PULL
from jichitai.lgwan.rules import Match, Verification, business_of, due_date, normalize_name, standard_days
from jichitai.lgwan.verification import Checked, CryptoChecks, Prechecked, Verifier, load_trust
from jichitai.platform.config import Settings
from jichitai.platform.context import TenantContext
from jichitai.platform.crypto.keyring import TenantKeyring
from jichitai.platform.crypto.keystore import Keystore
from jichitai.platform.errors import JichitaiError
from jichitai.platform.sanitize import SanitizeResult, sanitize
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.storage.engine import open_zone_keystore
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone
from jichitai.procedures import EffectiveDefinition
from jichitai.procedures.store import tenant_procedures

log = logging.getLogger(__name__)

SUBMISSION_TYPE = "submission"
TYPE_HEADER = "jichitai_type"
NAME_INDEX = "lgwan_applications.applicant_name"
DEFAULT_LIMIT = 1000
DEFAULT_BATCH = 50
DEFAULT_WORKERS = 4
DEFAULT_PROCESSES = 2  # worker processes that decrypt and sanitize (one per core of the pull's host)
MIN_FOR_PROCESSES = 100  # fewer new applications than this are done in this process

Fetched = tuple[dict[str, Any], str | None]  # the portal's detail of an application, its JWE


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


class _Decrypter(Protocol):
    def decrypt_submission(self, token: str) -> tuple[dict[str, Any], bytes]: ...


def _decrypt(keyring: _Decrypter, jwe_token: str | None, receipt: str) -> tuple[bytes | None, str]:
    if jwe_token is None:
        return None, "申請データが受付APIに残っていません(保存期間の経過により消去済み)"
    try:
        headers, plaintext = keyring.decrypt_submission(jwe_token)
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
    prepared: Prepared | None = None,
    links: Mapping[str, LinkEntry | None] | None = None,
) -> LgwanApplication:
    """Decrypt, verify, identify, sanitize and store one application in ``uow``.

    With ``prepared`` (:func:`prepare`, run in a worker process), its decryption, the checks that
    need no database and the sanitized copies are used instead of doing that work here; the
    procedure's checks are always made here. ``links`` holds link-table entries read beforehand
    for the batch (:func:`~jichitai.lgwan.identify.read_links`).
    """
    receipt = str(summary["receipt_number"])
    received_at = _parse_time(summary["received_at"])
    app_id = uuid.uuid4().hex
    key = sealing.new_key()

    prechecked: Prechecked | None = None
    if prepared is not None and (prepared.plaintext is not None or jwe_token is None):
        plaintext, decrypt_note = prepared.plaintext, prepared.decrypt_note
        prechecked = prepared.prechecked
    else:
        # not prepared, or the worker could not decrypt it: this process decides (its keystore is
        # current; a worker's was opened when it started, before a key rotation or a new tenant)
        with _timed(report, "decrypt"):
            plaintext, decrypt_note = _decrypt(uow.keyring, jwe_token, receipt)
    checked = Checked()
    if plaintext is None:
        checked.fail(decrypt_note)
    else:
        with _timed(report, "verify"):
            if prechecked is not None:
                checked = verifier.complete(prechecked, plaintext, receipt, received_at)
            else:
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
        jwe_sha256=prepared.jwe_sha256
        if prepared is not None and prepared.jwe_sha256 is not None
        else _sha256(jwe_token),
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
                links=links,
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
            # the signature and hashes were checked on the original above; staff get the clean copy.
            # A copy made in a worker counts only if made of these very bytes (same SHA-256).
            wanted = (part.part.sha256, part.part.filename, part.part.content_type)
            done = prepared.sanitized.get(wanted) if prepared is not None else None
            if done is not None and done.original_sha256 == part.part.sha256:
                result = done
            else:
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


# -- the CPU-heavy part in worker processes -----------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """What a worker process did for one application: decryption, checks and sanitized attachments.

    ``prechecked`` holds the checks that need no database (certificate path, signature, hashes,
    revocation), as plain data; the storing side adds the procedure's checks
    (:meth:`Verifier.complete`). ``sanitized`` is keyed by the SHA-256 of the original the copy was
    made of (and the declared name and type); the storing side uses a copy only for an attachment
    whose hash was verified. Identification and storing stay with the storing side.
    """

    plaintext: bytes | None
    decrypt_note: str
    sanitized: dict[tuple[str, str, str], SanitizeResult]
    seconds: dict[str, float]
    prechecked: Prechecked | None = None
    jwe_sha256: str | None = None


_worker_keystore: Keystore | None = None
_worker_settings: Settings | None = None
_worker_checks: CryptoChecks | None = None


def _init_worker(settings: Settings) -> None:
    global _worker_keystore, _worker_settings
    logging.basicConfig(level=logging.WARNING)
    _worker_keystore = open_zone_keystore(settings, Zone.LGWAN)
    _worker_settings = settings


def _crypto_checks(settings: Settings) -> CryptoChecks:
    """This process's checks, kept while the trust anchors and CRLs (looked at every time) are the same."""
    global _worker_checks
    anchors, crls = load_trust(settings.trust_anchor_paths(), settings.crl_paths())
    checks = _worker_checks
    if checks is None or checks.trust_store is not anchors or checks.crls is not crls:
        checks = _worker_checks = CryptoChecks(anchors, crls)
    return checks


def prepare(
    tenant: str,
    receipt: str,
    jwe_token: str | None,
    received_at: datetime | None = None,
    now: datetime | None = None,
    definitions: Mapping[str, EffectiveDefinition] | None = None,
) -> Prepared:
    """Decrypt one application, check it and sanitize its attachments (in a worker process of the pull).

    The checks need ``now`` (the revocation as it stands); without it only decryption and
    sanitizing are done. ``definitions`` (by version) are the procedures as the storing side
    resolved them: the form is validated here against the one of its version.
    """
    assert _worker_keystore is not None, "the worker was not initialized"
    assert _worker_settings is not None, "the worker was not initialized"
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    # decrypting needs only the keystore; the keyring's session is never touched for it
    keyring = TenantKeyring(_worker_keystore, cast(Session, None), tenant, Zone.LGWAN)
    plaintext, note = _decrypt(keyring, jwe_token, receipt)
    seconds["decrypt"] = time.perf_counter() - start
    sanitized: dict[tuple[str, str, str], SanitizeResult] = {}
    prechecked: Prechecked | None = None
    if plaintext is not None:
        start = time.perf_counter()
        if now is not None:
            prechecked = _crypto_checks(_worker_settings).precheck(
                plaintext, tenant, receipt, received_at, now, definitions=definitions
            )
            seconds["precheck"] = time.perf_counter() - start
            start = time.perf_counter()
            checked = [(a.part, a.data) for a in prechecked.attachments if a.hash_ok]
        else:
            checked = list(_decoded_attachments(plaintext))
        for part, data in checked:
            key = (part.sha256, part.filename, part.content_type)  # the copy depends on these three
            if data is not None and key not in sanitized:
                sanitized[key] = sanitize(data, declared_name=part.filename, declared_type=part.content_type)
        seconds["sanitize"] = time.perf_counter() - start
    return Prepared(plaintext, note, sanitized, seconds, prechecked, _sha256(jwe_token))


_worker_definitions: dict[tuple[str, str], EffectiveDefinition] = {}


def prepare_many(
    tenant: str,
    items: Sequence[tuple[str, str | None, datetime]],
    now: datetime,
    definitions: Mapping[str, EffectiveDefinition],
) -> list[Prepared]:
    """:func:`prepare` for a part of a batch (receipt, JWE, received at): the definitions cross once.

    A definition is kept by its id and content hash, so the validators compiled for it are
    used again for later parts.
    """
    kept: dict[str, EffectiveDefinition] = {}
    for version, effective in definitions.items():
        key = (effective.effective_id, effective.content_hash)
        if len(_worker_definitions) > 1000:
            _worker_definitions.clear()
        kept[version] = _worker_definitions.setdefault(key, effective)
    return [prepare(tenant, receipt, token, received_at, now, kept) for receipt, token, received_at in items]


def _decoded_attachments(plaintext: bytes) -> Iterator[tuple[AttachmentPart, bytes]]:
    """The attachments whose bytes match their declared SHA-256."""
    try:
        parts = SubmissionPayload.model_validate_json(plaintext).attachments
    except (PydanticValidationError, ValueError):
        return  # the storing side finds and records what is wrong with it
    for part in parts:
        try:
            data = base64.b64decode(part.data_b64, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hashlib.sha256(data).hexdigest() == part.sha256:
            yield part, data


_pools: dict[tuple[str, int], ProcessPoolExecutor] = {}
_pools_lock = threading.Lock()


def worker_pool(storage: Storage, processes: int) -> ProcessPoolExecutor:
    """The pull's worker processes for this installation, started once and kept for later runs.

    Started with ``spawn``: a fork of a process running threads and database connections
    could inherit a held lock.
    """
    key = (str(storage.settings.home), processes)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is not None:
            try:
                pool.submit(int).cancel()  # refused once a worker died (the pool is broken)
            except (BrokenProcessPool, RuntimeError):
                log.warning("the pull's worker processes broke down; starting new ones")
                pool.shutdown(wait=False, cancel_futures=True)
                pool = None
        if pool is None:
            pool = ProcessPoolExecutor(
                processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(storage.settings,),
            )
            _pools[key] = pool
        return pool


def shutdown_worker_pools() -> None:
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.shutdown(cancel_futures=True)


Parts = list[tuple[int, Future[list[Prepared]]]]  # (applications in the part, the worker's result)


def _prepare_all(
    pool: ProcessPoolExecutor | None,
    tenant: str,
    fetched: list[Fetched],
    now: datetime,
    definitions: Mapping[str, EffectiveDefinition],
    parts: int,
) -> Parts | None:
    """The batch in ``parts`` parts, one task each (the definitions are sent once per part)."""
    if pool is None or not fetched:
        return None
    items = [(str(s["receipt_number"]), token, _parse_time(s["received_at"])) for s, token in fetched]
    versions = {str(s.get("procedure_version", "")) for s, _ in fetched}
    wanted = {v: d for v, d in definitions.items() if v in versions}
    size = -(-len(items) // max(1, parts))
    return [
        (len(items[i : i + size]), pool.submit(prepare_many, tenant, items[i : i + size], now, wanted))
        for i in range(0, len(items), size)
    ]


def _collect(parts: Parts | None, report: PullReport) -> list[Prepared | None] | None:
    """The workers' results; a part that failed (a worker died) is done again by the storing side."""
    if parts is None:
        return None
    out: list[Prepared | None] = []
    for count, future in parts:
        try:
            done = future.result()
        except Exception:
            log.warning(
                "a pull worker process failed; %d application(s) are prepared here", count, exc_info=True
            )
            out.extend([None] * count)
            continue
        for one in done:
            for stage, seconds in one.seconds.items():
                report.add_time(stage, seconds)
        out.extend(done)
    return out


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
    fetched: list[Fetched],
    now: datetime,
    report: PullReport,
    prepared: Sequence[Prepared | None] | None = None,
    definitions: dict[str, EffectiveDefinition] | None = None,
) -> list[str]:
    """Store a batch in one transaction; on a database error, one by one. Returns stored receipts.

    ``definitions`` receives the procedure definitions the batch's checks resolved (by version).
    """
    ready = list(prepared) if prepared is not None else [None] * len(fetched)

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
            # the link-table entries of the batch's signers in one query (the workers named them)
            wanted = [
                (p.prechecked.certificate.kind.value, p.prechecked.certificate.serial)
                for p in ready
                if p is not None and p.prechecked is not None and p.prechecked.certificate is not None
            ]
            with _timed(report, "identify"):
                links = read_links(uow, wanted) if wanted else None
            for (summary, token), prepared_one in zip(fetched, ready, strict=True):
                stored.append(store_pulled(uow, verifier, summary, token, now, report, prepared_one, links))
            if definitions is not None:
                definitions.update(verifier.definitions())
        for app in stored:
            count(app)
        return [a.receipt_number for a in stored]
    except IntegrityError:
        if len(fetched) == 1:
            report.duplicates += 1  # another worker stored it first
            return [str(fetched[0][0]["receipt_number"])]
    done: list[str] = []
    for item, ready_one in zip(fetched, ready, strict=True):
        done.extend(_store_batch(storage, tenant, [item], now, report, [ready_one], definitions))
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


def _ack_all(portal: PortalClient, receipts: Sequence[str], report: PullReport) -> list[str]:
    """Acknowledge in batches; what fails is repeated on the next run (the portal lists it again)."""
    if not receipts:
        return []
    with _timed(report, "ack"):
        try:
            acked = portal.ack_many(receipts)
        except JichitaiError as exc:
            # stored here already: the portal lists them again and the next run repeats the ack
            log.warning("acknowledging %d application(s) failed: %s", len(receipts), exc.message)
            acked = []
    report.acked += len(acked)
    report.ack_errors += len(receipts) - len(acked)
    return acked


def _pipeline(
    storage: Storage,
    code: str,
    portal: PortalClient,
    new: Sequence[dict[str, Any]],
    batch_size: int,
    clock: Callable[[], datetime],
    report: PullReport,
    workers: ProcessPoolExecutor | None = None,
    parts: int = DEFAULT_PROCESSES,
) -> None:
    """Fetch, store and acknowledge ``new`` batch by batch, the round trips overlapping the storing.

    While batch *k* is stored (decrypt, verify, sanitize: CPU here), batch *k+1* is being fetched
    and batch *k-1* acknowledged. The order that matters is kept: a batch is acknowledged only after
    its transaction committed, and recorded as acknowledged only after the portal answered.
    """
    batches = [new[start : start + batch_size] for start in range(0, len(new), batch_size)]
    if not batches:
        return

    # the definitions resolved by the batches stored so far: the workers validate the forms of
    # the next ones against them (the storing side takes that only for the same definition)
    definitions: dict[str, EffectiveDefinition] = {}

    def fetch(batch: Sequence[dict[str, Any]]) -> tuple[list[Fetched], Parts | None]:
        with _timed(report, "fetch"):
            found, missing = portal.fetch_many([str(item["receipt_number"]) for item in batch])
        for receipt in missing:  # listed a moment ago, gone now: nothing to store or acknowledge
            log.warning("application %s was listed but is no longer at the portal", receipt)
        fetched = [(detail, detail.get("jwe")) for detail in found]
        return fetched, _prepare_all(workers, code, fetched, clock(), definitions.copy(), parts)

    def ack(stored: list[str]) -> None:
        acked = _ack_all(portal, stored, report)
        _mark_acked(storage, code, acked, clock())

    # one thread each drives the fetching ahead and the acknowledging behind (a batch request
    # each); the worker processes, if any, decrypt and sanitize the batch fetched ahead while
    # this thread stores the one before it
    with ThreadPoolExecutor(1, "pull-fetch") as ahead, ThreadPoolExecutor(1, "pull-ack") as behind:
        acks: list[Future[None]] = []
        try:
            coming = ahead.submit(fetch, batches[0])
            for index in range(len(batches)):
                fetched, futures = coming.result()
                if index + 1 < len(batches):
                    coming = ahead.submit(fetch, batches[index + 1])
                prepared = _collect(futures, report)
                stored = _store_batch(storage, code, fetched, clock(), report, prepared, definitions)
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
    processes: int = DEFAULT_PROCESSES,
    min_for_processes: int = MIN_FOR_PROCESSES,
) -> PullReport:
    """One run for one tenant: push waiting status events, then pull until nothing new is left.

    ``http`` replaces the HTTP client (its base URL must be the portal); by default one is opened
    on the configured portal URL. ``drain=False`` stops after ``limit`` applications. Fetches and
    acknowledgements go in batch requests; the status events are posted by up to ``workers``
    requests at once. When at least ``min_for_processes`` new applications wait, ``processes``
    worker processes decrypt and sanitize them (the CPU-heavy part) while this one verifies,
    identifies and stores them, one transaction per batch.
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
            acked = _ack_all(portal, [r for r in receipts if r in held], report)
            _mark_acked(storage, code, acked, clock())
            new = [item for item in listed if str(item["receipt_number"]) not in held]
            many = processes > 0 and len(new) >= max(1, min_for_processes)
            processors = worker_pool(storage, processes) if many else None
            _pipeline(storage, code, portal, new, batch_size, clock, report, processors, processes)
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
