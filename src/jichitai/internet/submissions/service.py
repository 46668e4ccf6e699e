"""Receiving a resident's submission (電子申請の受付): check, encrypt, store, answer with a 受付番号.

:func:`submit` runs the whole use case. Everything that costs CPU (form validation, certificate
and signature checks, hashing, encryption) happens before the database is touched; then the
routing row and the ciphertext, with the submission's own audit entry, are stored in one durable
transaction together with the other submissions that arrived at the same time (group commit,
:mod:`~jichitai.internet.submissions.writes`), and the 受付番号 is answered after that commit.
Nothing is stored when any check fails, and the same idempotency key never makes a second
application: a replay with the same content gets the first 受付番号 back, one with other content
is refused.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NotRequired, TypedDict, Unpack

import pydantic_core
from sqlalchemy import select

from jichitai.contracts.submission import AttachmentPart, CertificateUse, SubmissionPayload, SubmissionStatus
from jichitai.internet.models import Application
from jichitai.internet.purposes import SUBMISSION_RECEIVE
from jichitai.internet.submissions.encryption import (
    SUBMISSION_TYPE,
    seal_for_tenant,
    submission_key,
    submission_key_fresh,
)
from jichitai.internet.submissions.errors import (
    IdempotencyConflict,
    SignedBytesMismatch,
    SubmissionInvalid,
)
from jichitai.internet.submissions.procedures import definition_for_submission
from jichitai.internet.submissions.verification import configured_trust_material, verify_signed_data
from jichitai.internet.submissions.writes import GroupCommitter, PreparedSubmission, group_committer
from jichitai.platform.audit.entry import AuditParty, PendingEntry
from jichitai.platform.context import Actor, ActorKind, TenantContext
from jichitai.platform.errors import Conflict, ValidationError
from jichitai.platform.pki.errors import WrongCertificateType
from jichitai.platform.pki.rules import CertificateKind
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone
from jichitai.procedures import (
    AttachmentMeta,
    FieldError,
    ProcedureDefinition,
    canonical_form_bytes,
    validate_application,
    validate_attachments,
)

JST = timezone(timedelta(hours=9), "JST")
RESIDENT_INDEX_COLUMN = "internet_applications.resident_key"
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}
_CONTENT_LABELS = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}


@dataclass(frozen=True)
class AttachmentUpload:
    """One file as the resident uploaded it (添付書類)."""

    kind: str  # the attachment kind from the procedure definition
    filename: str
    content_type: str
    data: bytes
    # the base64 text ``data`` was decoded from strictly (validate=True), when the caller received
    # it so (the API): kept when it is the canonical encoding of ``data``, so a large file is not
    # encoded again
    data_b64: str | None = None

    def base64(self) -> str:
        """``data`` in standard base64 (padded, no line breaks)."""
        if self.data_b64 is not None and _is_canonical_b64(self.data_b64, self.data):
            return self.data_b64
        return base64.b64encode(self.data).decode("ascii")


def _is_canonical_b64(text: str, data: bytes) -> bool:
    """Whether ``text`` is exactly ``b64encode(data)``, given that it decodes to ``data``.

    Strict decoding (``validate=True``) leaves one freedom only: unused bits of the last group may
    be set. So the length and the last group, re-encoded from the last bytes, decide it.
    """
    if len(text) != 4 * ((len(data) + 2) // 3):
        return False
    if not data:
        return True
    tail = len(data) % 3 or 3
    return text[-4:] == base64.b64encode(data[-tail:]).decode("ascii")


@dataclass(frozen=True)
class Receipt:
    """What the resident is told: the 受付番号 (receipt number), when, and the status."""

    receipt_number: str
    received_at: datetime
    status: SubmissionStatus
    replayed: bool = False  # True when an earlier submission with the same idempotency key answered


def new_receipt_number(tenant: str, at: datetime) -> str:
    """``20260401-131016-7QK2M9XD``: JST date, tenant code, 40 random bits in Crockford base32."""
    n = secrets.randbits(40)
    tail = "".join(_CROCKFORD[(n >> shift) & 31] for shift in range(35, -1, -5))
    return f"{at.astimezone(JST):%Y%m%d}-{tenant}-{tail}"


def resident_key_for_certificate(issuer: str, serial: str) -> str:
    """A resident key when the caller has none of its own: the certificate that signed."""
    return f"jpki:{issuer}:{serial}"


def _required_use(definition: ProcedureDefinition) -> CertificateKind:
    return CertificateKind.SIGNING if definition.requires_signature else CertificateKind.AUTHENTICATION


def _check_filename(name: str) -> bool:
    return 0 < len(name) <= 255 and not any(c in name for c in "/\\") and all(ord(c) >= 0x20 for c in name)


def attachment_errors(
    definition: ProcedureDefinition, data: dict[str, Any], attachments: Sequence[AttachmentUpload]
) -> list[FieldError]:
    """Kinds, counts, sizes and declared types (from the definition), then names and content."""
    metas = [AttachmentMeta(a.kind, a.filename, a.content_type, len(a.data)) for a in attachments]
    errors = list(validate_attachments(definition, data, metas))
    flagged = {e.pointer for e in errors}
    for a in attachments:
        pointer = f"/attachments/{a.kind}"
        spec = definition.attachment(a.kind)
        if pointer in flagged or spec is None:
            continue
        if not _check_filename(a.filename):
            errors.append(
                FieldError(pointer, spec.name, f"{spec.name}のファイル名が正しくありません", "filename")
            )
            flagged.add(pointer)
            continue
        magic = _MAGIC.get(a.content_type)
        if magic is not None and not a.data.startswith(magic):
            label = _CONTENT_LABELS.get(a.content_type, a.content_type)
            errors.append(
                FieldError(
                    pointer,
                    spec.name,
                    f"{spec.name}（{a.filename}）の内容が{label}の形式ではありません",
                    "content_mismatch",
                )
            )
            flagged.add(pointer)
    return errors


def attachment_placeholders(count: int) -> list[str]:
    """Stand-ins for the attachments' base64 text while the payload is serialised (see
    :func:`payload_json`): a NUL (written as an escape in JSON) and 96 random bits, so that no
    text a resident can send serialises to the same bytes."""
    nonce = secrets.token_hex(12)
    return [f"\x00attachment-{i}-{nonce}" for i in range(count)]


def payload_json(payload: SubmissionPayload, placeholders: Sequence[str], data_b64: Sequence[str]) -> bytes:
    """The JSON of ``payload`` whose attachments carry ``placeholders``, with each replaced by the
    attachment's base64 text: the same bytes as serialising the payload with the text in it."""
    return b"".join(payload_json_pieces(payload, placeholders, data_b64))


def payload_json_pieces(
    payload: SubmissionPayload, placeholders: Sequence[str], data_b64: Sequence[str]
) -> list[bytes]:
    """:func:`payload_json` as the pieces that joined make it (the encryption takes them so, and
    the few hundred KB are not copied into one buffer first).

    Serialising checks every character of a string for escapes: for a 200 KB attachment that was
    0.3 ms of a submission's CPU, for text that never needs one (standard base64 is ASCII letters,
    digits, ``+``, ``/`` and ``=``; :class:`AttachmentUpload` guarantees it).
    """
    light = payload.__pydantic_serializer__.to_json(payload)
    pieces: list[bytes] = []
    start = 0
    for placeholder, text in zip(placeholders, data_b64, strict=True):
        # fast scans (memchr): a guard against text that would end the JSON string early; the
        # base64 alphabet itself (no control characters) is what strict decoding checked
        if not text.isascii() or '"' in text or "\\" in text:
            raise ValueError("attachment text is not plain base64")
        marker = pydantic_core.to_json(placeholder)
        at = light.find(marker, start)
        if at < 0 or light.find(marker, at + 1) >= 0 or light.find(marker, 0, start) >= 0:
            raise RuntimeError("an attachment placeholder is not in the payload exactly once")
        pieces += (light[start:at], b'"', text.encode("ascii"), b'"')
        start = at + len(marker)
    pieces.append(light[start:])
    return pieces


def _fingerprint(payload: SubmissionPayload) -> str:
    """What makes a repeated request the same submission (the receipt number and time excluded)."""
    same = {
        "procedure": [payload.procedure_id, payload.procedure_version],
        "form": payload.form_sha256,
        "signed": payload.signed_sha256,
        "signature": hashlib.sha256(payload.signature_b64.encode()).hexdigest(),
        "certificate": hashlib.sha256(payload.certificate_pem.encode()).hexdigest(),
        "attachments": [[a.kind, a.filename, a.content_type, a.sha256] for a in payload.attachments],
    }
    return hashlib.sha256(json.dumps(same, sort_keys=True).encode()).hexdigest()


def check_idempotency_key(key: str) -> str:
    if not _IDEMPOTENCY_KEY.match(key):
        raise ValidationError(
            "the idempotency key must be 8–128 characters of A-Z a-z 0-9 . _ : -",
            message_ja="送信番号(Idempotency-Key)の形式が正しくありません",
        )
    return key


def _existing(uow: UnitOfWork, idempotency_key: str) -> Application | None:
    return uow.session.scalars(
        select(Application).where(Application.idempotency_key == idempotency_key)
    ).one_or_none()


def _answer_replay(row: Application, fingerprint: str, idempotency_key: str) -> Receipt:
    if row.fingerprint != fingerprint:
        raise IdempotencyConflict(idempotency_key)
    return Receipt(row.receipt_number, row.received_at, SubmissionStatus(row.status), replayed=True)


class SubmissionRequest(TypedDict):
    """What :func:`submit` and :func:`submit_async` take besides the storage and the tenant, as
    keywords (passed on to the checks unchanged; :func:`submit` says what they mean)."""

    procedure_id: str
    procedure_version: str
    form: dict[str, Any]
    signed_bytes: bytes | None
    signature: bytes
    certificate_pem: str
    certificate_use: CertificateUse | str
    attachments: NotRequired[Sequence[AttachmentUpload]]
    idempotency_key: str
    resident_key: NotRequired[str | None]
    now: NotRequired[datetime | None]


@dataclass(frozen=True)
class _Prepared:
    """A submission checked and sealed, with what answering it needs."""

    item: PreparedSubmission
    ctx: TenantContext
    fingerprint: str
    idempotency_key: str
    received_at: datetime

    @property
    def tenant(self) -> TenantCode:
        return self.ctx.tenant

    def receipt(self) -> Receipt:
        return Receipt(self.item.receipt_number, self.received_at, SubmissionStatus.RECEIVED)


def _prepare(
    storage: Storage,
    tenant_code: str,
    *,
    procedure_id: str,
    procedure_version: str,
    form: dict[str, Any],
    signed_bytes: bytes | None,
    signature: bytes,
    certificate_pem: str,
    certificate_use: CertificateUse | str,
    attachments: Sequence[AttachmentUpload] = (),
    idempotency_key: str,
    resident_key: str | None = None,
    now: datetime | None = None,
) -> _Prepared:
    """Every check and the encryption, before anything is stored (no database write; the
    submission key may be read once every few seconds)."""
    now = now or datetime.now(UTC)
    check_idempotency_key(idempotency_key)
    # Existence and status of the tenant are checked by the unit of work that loads its key
    # (and again by the one that stores): one catalog read fewer on the hot path.
    tenant = TenantCode(tenant_code)

    effective = definition_for_submission(storage, tenant, procedure_id, procedure_version)
    definition = effective.definition
    if not isinstance(form, dict):
        raise SubmissionInvalid(
            "the form is not an object", [], message_ja="申請内容の形式が正しくありません"
        )
    checked = validate_application(effective, form, today=now.astimezone(JST).date())
    errors = [*checked.errors, *attachment_errors(definition, checked.data, attachments)]
    if errors:
        raise SubmissionInvalid(f"{len(errors)} problem(s) in the form or its attachments", errors)

    try:
        use = CertificateUse(certificate_use)
    except ValueError:
        raise ValidationError(
            f"unknown certificate use {certificate_use!r}", message_ja="電子証明書の種類が正しくありません"
        ) from None
    purpose = _required_use(definition)
    if use.value != purpose.value:
        raise WrongCertificateType(
            f"{procedure_id} needs a {purpose.value} certificate, got {use.value}",
            message_ja=f"この手続には{purpose.label_ja}が必要です",
        )
    canonical = canonical_form_bytes(form)
    if signed_bytes is None:
        signed_bytes = canonical
    elif signed_bytes != canonical:
        raise SignedBytesMismatch()
    material = configured_trust_material(storage)
    verified = verify_signed_data(material, certificate_pem, signed_bytes, signature, purpose, now)

    receipt_number = new_receipt_number(tenant, now)
    form_sha256 = hashlib.sha256(canonical).hexdigest()
    placeholders = attachment_placeholders(len(attachments))
    # built from values checked or made above, so not validated again (the LGWAN zone validates
    # the payload it decrypts): about 0.1 ms of a submission's CPU
    payload = SubmissionPayload.model_construct(
        receipt_number=receipt_number,
        tenant=tenant,
        procedure_id=procedure_id,
        procedure_version=effective.effective_id,
        form=form,
        form_sha256=form_sha256,
        signed_sha256=form_sha256,
        signature_b64=base64.b64encode(signature).decode("ascii"),
        certificate_pem=certificate_pem,
        certificate_use=use,
        attachments=[
            AttachmentPart.model_construct(
                attachment_id=f"a{i + 1}",
                kind=a.kind,
                filename=a.filename,
                content_type=a.content_type,
                size=len(a.data),
                sha256=hashlib.sha256(a.data).hexdigest(),
                data_b64=placeholder,
            )
            for i, (a, placeholder) in enumerate(zip(attachments, placeholders, strict=True))
        ],
        submitted_at=now,
        idempotency_key=idempotency_key,
    )
    fingerprint = _fingerprint(payload)
    key = submission_key(storage, tenant)
    plaintext = payload_json_pieces(payload, placeholders, [a.base64() for a in attachments])
    sealed = seal_for_tenant(plaintext, key, SUBMISSION_TYPE, receipt_number)
    resident = resident_key or resident_key_for_certificate(verified.issuer, verified.serial)
    resident_index = key.indexer.index(RESIDENT_INDEX_COLUMN, resident)
    actor = Actor(id=f"jpki:{verified.serial}", kind=ActorKind.RESIDENT, role="applicant")
    ctx = TenantContext(tenant, actor, SUBMISSION_RECEIVE, reason=receipt_number)

    prepared = PreparedSubmission(
        receipt_number=receipt_number,
        application={
            "receipt_number": receipt_number,
            "procedure_id": procedure_id,
            "procedure_version": effective.effective_id,
            "received_at": now,
            "status": SubmissionStatus.RECEIVED.value,
            "status_at": now,
            "kid": key.kid,
            "size": sealed.token_size,
            "resident_index": resident_index,
            "idempotency_key": idempotency_key,
            "fingerprint": fingerprint,
            "acknowledged_at": None,
            "purged_at": None,
        },
        ciphertext={"receipt_number": receipt_number, "head": sealed.head, "ciphertext": sealed.ciphertext},
        # the entry the ORM would have added for the audited routing row, naming the resident
        audit=PendingEntry(
            "create",
            Application.__tablename__,
            receipt_number,
            "resident:" + resident_index.hex()[:32],
            {"procedure": effective.effective_id},
            party=AuditParty(
                actor.id,
                actor.kind.value,
                actor.role,
                SUBMISSION_RECEIVE.code,
                SUBMISSION_RECEIVE.legal_basis,
            ),
        ),
    )
    return _Prepared(prepared, ctx, fingerprint, idempotency_key, now)


def submit(storage: Storage, tenant_code: str, **request: Unpack[SubmissionRequest]) -> Receipt:
    """Check and store one submission; answer its 受付番号.

    ``signed_bytes`` is what the card signed; None stands for the canonical bytes of ``form`` (what
    the API assumes when the request does not carry them), computed once here.
    ``resident_key`` is the portal's stable key for the logged-in resident ("my applications");
    when None, the signing certificate stands for the resident. Raises :class:`SubmissionInvalid`
    (per-field messages), a :class:`~jichitai.platform.pki.CertificateRejected` subclass,
    :class:`SignedBytesMismatch`, :class:`IdempotencyConflict` or :class:`ProcedureNotOffered`.
    """
    prepared = _prepare(storage, tenant_code, **request)
    # Stored with the submissions that arrive at the same time, in one durable commit.
    if not group_committer(storage, prepared.tenant).store(prepared.item):
        # Another request with the same idempotency key was stored first (or, once in 2^40, the
        # same receipt number was drawn): answer as for a replay, or refuse.
        return _after_duplicate(storage, prepared)
    return prepared.receipt()


async def submit_async(storage: Storage, tenant_code: str, **request: Unpack[SubmissionRequest]) -> Receipt:
    """:func:`submit` for a caller on an event loop (the API): the checks and the encryption run
    in the caller, the commit in the tenant's writer thread while the loop serves other requests."""
    pending = await begin_submission(storage, tenant_code, **request)
    del request  # the files are sealed: not held while the commit is awaited (begin_submission)
    return await pending.receipt()


class PendingSubmission:
    """A submission checked, sealed and queued for its durable commit (:func:`begin_submission`);
    :meth:`receipt` waits for the commit and answers."""

    def __init__(self, storage: Storage, prepared: _Prepared, committed: asyncio.Future[None]) -> None:
        self._storage = storage
        self._prepared = prepared
        self._committed = committed

    async def receipt(self) -> Receipt:
        """The 受付番号 once the submission is stored durably (or the earlier one, for a replay)."""
        await self._committed
        if not self._prepared.item.outcome():
            # Another request with the same idempotency key was stored first (or, once in 2^40,
            # the same receipt number was drawn): answer as for a replay, or refuse.
            return await asyncio.to_thread(_after_duplicate, self._storage, self._prepared)
        return self._prepared.receipt()


async def begin_submission(
    storage: Storage, tenant_code: str, **request: Unpack[SubmissionRequest]
) -> PendingSubmission:
    """The checks and the encryption of :func:`submit_async`, and the submission queued for the
    tenant's writer; raises what the checks raise. Nothing of the request is held by what it
    returns: the decoded files (a few hundred KB a submission) can go before the commit is
    awaited. With many submissions waiting for their commits, memory that is let go and used
    again while still in the processor's cache is a measurable part of a submission's CPU."""
    if not submission_key_fresh(storage, tenant_code):
        # a read in its own transaction, which may wait for the tenant's writer: not on the loop
        await asyncio.to_thread(submission_key, storage, TenantCode(tenant_code))
    committer = group_committer(storage, TenantCode(tenant_code))
    if _announced.get() is committer:  # announced when the request arrived: its turn now
        _announced.set(None)
    else:
        committer.expect()  # the writer may wait the few ms this submission's checks take
    try:
        prepared = _prepare(storage, tenant_code, **request)
    except BaseException:
        committer.unexpect()
        raise
    return PendingSubmission(storage, prepared, committer.enqueue_async(prepared.item, expected=True))


_announced: ContextVar[GroupCommitter | None] = ContextVar("announced_submission", default=None)


@contextmanager
def announce_submission(storage: Storage, tenant_code: str) -> Iterator[None]:
    """Around a server's handling of one submission request, from its arrival: announces the
    submission to the tenant's writer (:meth:`GroupCommitter.expect`) before its body is even
    parsed, so a commit about to start waits a moment for it and takes it along
    (:func:`begin_submission` takes the announcement over; a request refused before that withdraws
    it).
    """
    try:
        tenant = TenantCode(tenant_code)
    except ValidationError:
        yield  # the route answers the bad code
        return
    committer = group_committer(storage, tenant)
    committer.expect()
    token = _announced.set(committer)
    try:
        yield
    finally:
        if _announced.get() is committer:
            committer.unexpect()
        _announced.reset(token)


def _after_duplicate(storage: Storage, prepared: _Prepared) -> Receipt:
    with storage.unit_of_work(prepared.ctx, Zone.INTERNET) as uow:
        row = _existing(uow, prepared.idempotency_key)
        if row is None:
            raise Conflict(
                f"receipt number {prepared.item.receipt_number} was drawn twice",
                message_ja="もう一度送信してください",
            )
        return _answer_replay(row, prepared.fingerprint, prepared.idempotency_key)


def find_by_idempotency_key(storage: Storage, ctx: TenantContext, idempotency_key: str) -> Receipt | None:
    """The receipt already given for this key, if any (for a portal that retries a lost answer)."""
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        row = _existing(uow, idempotency_key)
        if row is None:
            return None
        return Receipt(row.receipt_number, row.received_at, SubmissionStatus(row.status), replayed=True)


__all__ = [
    "AttachmentUpload",
    "PendingSubmission",
    "Receipt",
    "SubmissionRequest",
    "announce_submission",
    "attachment_errors",
    "begin_submission",
    "check_idempotency_key",
    "find_by_idempotency_key",
    "new_receipt_number",
    "resident_key_for_certificate",
    "submit",
    "submit_async",
]
