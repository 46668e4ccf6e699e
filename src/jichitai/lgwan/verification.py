"""Checking a pulled submission again, from scratch: application management never trusts the portal.

:class:`Verifier` takes the decrypted payload and checks, in order:

1. it decodes as a :class:`SubmissionPayload` for this tenant and this 受付番号;
2. the form version exists for the tenant and names the same procedure;
3. the certificate (chain to a configured trust anchor, validity *at the submission time*, key
   usage for the kind of certificate the procedure requires);
4. the form hash over the canonical form bytes, and the resident's signature over those bytes;
5. each attachment decodes and matches its size and SHA-256;
6. the form validates against the definition version it was made with;
7. revocation by the CRL as it stands *now*: revoked before the submission fails the
   application; revoked after it (an address change revokes a 署名用 certificate automatically)
   flags it for staff, since the signature was valid when it was made.

A failed check never raises: the outcome says :class:`Verification` FAILED with Japanese reasons,
and the application is kept and shown. Certificate path work is cached per certificate within a
verifier (one pull run); the signature and hashes are checked for every application.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import ValidationError as PydanticValidationError

from jichitai.contracts.submission import AttachmentPart, SubmissionPayload
from jichitai.lgwan.rules import JST, Verification
from jichitai.platform.errors import JichitaiError
from jichitai.platform.pki import (
    CertificateKind,
    CrlStore,
    TrustStore,
    VerifiedCertificate,
    verify_certificate,
)
from jichitai.platform.pki.ca import REVOCATION_REASONS_JA
from jichitai.platform.pki.rules import BasicFacts
from jichitai.platform.pki.verify import build_chain
from jichitai.procedures import (
    EffectiveDefinition,
    TenantProcedures,
    canonical_form_bytes,
    validate_application,
)

CLOCK_SKEW = timedelta(minutes=10)


def fmt_jst(value: datetime) -> str:
    return value.astimezone(JST).strftime("%Y年%m月%d日 %H時%M分")


@dataclass(frozen=True)
class CheckedAttachment:
    part: AttachmentPart
    data: bytes | None  # None when the base64 does not decode
    hash_ok: bool


@dataclass(frozen=True)
class CertificateFacts:
    """What a verified certificate says, as plain data (it crosses from a worker process).

    ``der`` is the certificate itself; the facts are what :class:`VerifiedCertificate` holds.
    """

    serial: str
    kind: CertificateKind
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    facts: BasicFacts | None
    der: bytes

    @classmethod
    def of(cls, verified: VerifiedCertificate) -> CertificateFacts:
        return cls(
            verified.serial,
            verified.kind,
            verified.subject,
            verified.issuer,
            verified.not_before,
            verified.not_after,
            verified.facts,
            verified.certificate.public_bytes(serialization.Encoding.DER),
        )


@dataclass
class Checked:
    """What the checks found; ``notes`` are Japanese, for staff."""

    verification: Verification = Verification.VERIFIED
    notes: list[str] = field(default_factory=list)
    payload: SubmissionPayload | None = None
    certificate: CertificateFacts | None = None
    effective: EffectiveDefinition | None = None
    attachments: list[CheckedAttachment] = field(default_factory=list)

    def fail(self, note: str) -> None:
        self.verification = Verification.FAILED
        self.notes.append(note)

    def flag(self, note: str) -> None:
        if self.verification is Verification.VERIFIED:
            self.verification = Verification.FLAGGED
        self.notes.append(note)

    def apply(self, findings: Sequence[Finding]) -> None:
        for failed, note in findings:
            if failed:
                self.fail(note)
            else:
                self.flag(note)


Finding = tuple[bool, str]  # (fails the application, else flags it; the note)


class _Findings(list[Finding]):
    def fail(self, note: str) -> None:
        self.append((True, note))

    def flag(self, note: str) -> None:
        self.append((False, note))


@dataclass
class Prechecked:
    """The checks that need no database (:meth:`CryptoChecks.precheck`), as plain, picklable data.

    Done in the pull's worker processes; :meth:`Verifier.complete` adds the procedure's checks
    and puts every finding in the order of the whole check.
    """

    kind: CertificateKind  # the certificate was checked for this use
    payload: SubmissionPayload | None = None
    head: list[Finding] = field(default_factory=list)  # decoding, tenant and number, clock skew
    stop: bool = False  # the payload is not this application's: nothing more was checked
    certificate: CertificateFacts | None = None
    certificate_notes: list[Finding] = field(default_factory=list)
    signature_notes: list[Finding] = field(default_factory=list)  # form hashes and signature
    attachments: list[CheckedAttachment] = field(default_factory=list)
    attachment_notes: list[Finding] = field(default_factory=list)
    revocation_notes: list[Finding] = field(default_factory=list)
    # the form checked against this definition (effective id, content hash), with what it found
    validated: tuple[str, str] | None = None
    schema_errors: list[str] = field(default_factory=list)


@dataclass
class _CertEntry:
    verified: VerifiedCertificate
    facts: CertificateFacts
    chain: list[x509.Certificate]
    key: rsa.RSAPublicKey


class CryptoChecks:
    """Certificate path, signature, hashes and revocation: the checks that need no database.

    Certificate path work is remembered per certificate and use (bounded); the stores are those
    of one :func:`load_trust` result.
    """

    MAX_CACHED = 10_000

    def __init__(self, trust_store: TrustStore, crls: CrlStore) -> None:
        self.trust_store = trust_store
        self.crls = crls
        self._certs: dict[tuple[str, CertificateKind], _CertEntry] = {}

    def precheck(
        self,
        plaintext: bytes,
        tenant: str,
        receipt_number: str,
        received_at: datetime | None,
        now: datetime,
        kind: CertificateKind | None = None,
        definitions: Mapping[str, EffectiveDefinition] | None = None,
    ) -> Prechecked:
        """Decode and check ``plaintext``; the certificate for ``kind`` (by default the declared use).

        With the definition of the payload's version in ``definitions`` (as the storing side
        resolved it), the form is validated against it too; the storing side takes that result
        only for the very definition it resolves itself (:meth:`Verifier.complete`).
        """
        try:
            payload = SubmissionPayload.model_validate_json(plaintext)
        except (PydanticValidationError, ValueError):
            out = Prechecked(kind or CertificateKind.SIGNING, stop=True)
            out.head.append((True, "申請データの形式が正しくありません(復号した内容を読み取れません)"))
            return out
        use = kind or CertificateKind(payload.certificate_use.value)
        out = Prechecked(use, payload)
        head = _Findings()
        if payload.tenant != tenant or payload.receipt_number != receipt_number:
            head.fail(
                f"申請データの団体又は受付番号({payload.tenant} / {payload.receipt_number})が"
                "受付APIの情報と一致しません"
            )
            out.head, out.stop = head, True
            return out
        if received_at is not None and abs(payload.submitted_at - received_at) > CLOCK_SKEW:
            head.flag("申請データの提出日時と受付日時が大きく異なります")
        out.head = head
        cert_notes, signature_notes, attachment_notes = _Findings(), _Findings(), _Findings()
        entry = self._certificate(payload, use, cert_notes)
        canonical = _form_hashes(payload, signature_notes)
        if entry is not None and canonical is not None:
            _signature(payload, entry.key, canonical, signature_notes)
        out.attachments = [_check_attachment(a, attachment_notes) for a in payload.attachments]
        if entry is not None:
            out.certificate = entry.facts
            revocation = _Findings()
            self._revocation_now(entry, payload.submitted_at, now, revocation)
            out.revocation_notes = revocation
        effective = (definitions or {}).get(payload.procedure_version)
        if effective is not None and effective.base.id == payload.procedure_id:
            out.schema_errors = _schema_errors(effective, payload)
            out.validated = (effective.effective_id, effective.content_hash)
        out.certificate_notes, out.signature_notes = cert_notes, signature_notes
        out.attachment_notes = attachment_notes
        return out

    def _certificate(
        self, payload: SubmissionPayload, kind: CertificateKind, out: _Findings
    ) -> _CertEntry | None:
        at = payload.submitted_at
        key = (payload.certificate_pem, kind)
        entry = self._certs.get(key)
        if entry is None:
            try:
                verified = verify_certificate(
                    payload.certificate_pem,
                    kind,
                    trust_store=self.trust_store,
                    crls=self.crls,
                    at=at,
                    check_revocation=False,  # judged below against the CRL of now
                )
            except JichitaiError as exc:
                out.fail(f"電子証明書を確認できません: {exc.message_ja or exc.message}")
                return None
            public_key = verified.certificate.public_key()
            assert isinstance(public_key, rsa.RSAPublicKey)  # the profile check refuses anything else
            entry = _CertEntry(
                verified,
                CertificateFacts.of(verified),
                build_chain(verified.certificate, self.trust_store),
                public_key,
            )
            if len(self._certs) >= self.MAX_CACHED:
                self._certs.clear()
            self._certs[key] = entry
        else:
            for i, cert in enumerate(entry.chain):
                if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
                    whose = "電子証明書" if i == 0 else "認証局の電子証明書"
                    out.fail(f"提出時点({fmt_jst(at)})で{whose}の有効期間外です")
                    return None
        return entry

    def _revocation_now(
        self, entry: _CertEntry, submitted_at: datetime, now: datetime, out: _Findings
    ) -> None:
        for cert, issuer in itertools.pairwise(entry.chain):
            whose = "電子証明書" if cert is entry.chain[0] else "認証局の電子証明書"
            crls = [
                c
                for c in self.crls.for_issuer(cert.issuer)
                if self.crls.signed_by(c, issuer) and c.last_update_utc <= now
            ]
            if not crls:
                out.flag(f"失効情報(CRL)がないため、{whose}の現在の失効状況を確認できません")
                continue
            crl = max(crls, key=lambda c: c.last_update_utc)
            if crl.next_update_utc is None or now > crl.next_update_utc:
                out.flag(f"失効情報(CRL)が古いため、{whose}の現在の失効状況を確認できません")
            revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if revoked is None:
                continue
            try:
                flag = revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason
            except x509.ExtensionNotFound:
                flag = x509.ReasonFlags.unspecified
            when = revoked.revocation_date_utc
            label = REVOCATION_REASONS_JA.get(flag, flag.name)
            if when <= submitted_at:
                out.fail(f"{whose}は提出時点で失効していました(失効日時 {fmt_jst(when)}、理由: {label})")
            else:
                out.flag(
                    f"{whose}は提出後に失効しました(失効日時 {fmt_jst(when)}、理由: {label})。"
                    "署名は提出時点では有効です。本人確認の要否を判断してください"
                )


class Verifier:
    """The checks of one pull run, for one tenant: trust anchors, CRLs and procedures at hand."""

    def __init__(
        self,
        tenant: str,
        procedures: TenantProcedures,
        trust_store: TrustStore,
        crls: CrlStore,
        now: datetime,
    ) -> None:
        self.tenant = tenant
        self.procedures = procedures
        self.trust_store = trust_store
        self.crls = crls
        self.now = now
        self.crypto = CryptoChecks(trust_store, crls)
        self._definitions: dict[str, EffectiveDefinition | str] = {}

    # -- the whole check ------------------------------------------------------------------------
    def check(self, plaintext: bytes, receipt_number: str, received_at: datetime | None = None) -> Checked:
        pre = self.crypto.precheck(plaintext, self.tenant, receipt_number, received_at, self.now)
        return self.complete(pre, plaintext, receipt_number, received_at)

    def complete(
        self, pre: Prechecked, plaintext: bytes, receipt_number: str, received_at: datetime | None = None
    ) -> Checked:
        """The whole check's outcome from ``pre`` (made here or in a worker process) and the procedure.

        When the procedure requires another certificate use than the one ``pre`` checked the
        certificate for, the certificate part is checked again here for the required use.
        """
        out = Checked(payload=pre.payload)
        out.apply(pre.head)
        payload = pre.payload
        if pre.stop or payload is None:
            return out
        effective = self._definition(payload, out)
        kind = CertificateKind.SIGNING if effective is None else _required_kind(effective)
        if payload.certificate_use.value != kind.value:
            out.fail(f"この手続には{kind.label_ja}が必要ですが、別の種類の電子証明書が使われています")
        if pre.kind is not kind:
            pre = self.crypto.precheck(plaintext, self.tenant, receipt_number, received_at, self.now, kind)
        out.apply(pre.certificate_notes)
        out.certificate = pre.certificate
        out.apply(pre.signature_notes)
        out.attachments = pre.attachments
        out.apply(pre.attachment_notes)
        if effective is not None:
            same = pre.validated == (effective.effective_id, effective.content_hash)
            for line in pre.schema_errors if same else _schema_errors(effective, payload):
                out.fail(f"申請内容が手続の定義に合いません: {line}")
        out.apply(pre.revocation_notes)
        return out

    # -- parts ----------------------------------------------------------------------------------
    def _definition(self, payload: SubmissionPayload, out: Checked) -> EffectiveDefinition | None:
        cached = self._definitions.get(payload.procedure_version)
        if cached is None:
            try:
                cached = self.procedures.resolve(self.tenant, payload.procedure_version)
            except JichitaiError:
                cached = f"申請書の版「{payload.procedure_version}」がこの団体の手続にありません"
            self._definitions[payload.procedure_version] = cached
        if isinstance(cached, str):
            out.fail(cached)
            return None
        if cached.base.id != payload.procedure_id:
            out.fail(
                f"申請書の版「{payload.procedure_version}」は手続「{payload.procedure_id}」のものではありません"
            )
            return None
        out.effective = cached
        return cached

    def definitions(self) -> dict[str, EffectiveDefinition]:
        """The definitions resolved so far, by version (to hand to worker processes)."""
        return {k: v for k, v in self._definitions.items() if not isinstance(v, str)}


def _schema_errors(effective: EffectiveDefinition, payload: SubmissionPayload) -> list[str]:
    result = validate_application(effective, payload.form, today=payload.submitted_at.astimezone(JST).date())
    return [error.summary_line for error in result.errors[:10]]


def _form_hashes(payload: SubmissionPayload, out: _Findings) -> bytes | None:
    try:
        canonical = canonical_form_bytes(payload.form)
    except JichitaiError:
        out.fail("申請内容を正規化できません(署名対象を再現できません)")
        return None
    digest = hashlib.sha256(canonical).hexdigest()
    if digest != payload.form_sha256:
        out.fail("申請内容のハッシュ値が一致しません(改ざんの可能性)")
        return None
    if payload.signed_sha256 != payload.form_sha256:
        out.fail("署名対象のハッシュ値が申請内容と一致しません")
        return None
    return canonical


def _signature(payload: SubmissionPayload, key: rsa.RSAPublicKey, data: bytes, out: _Findings) -> None:
    try:
        signature = base64.b64decode(payload.signature_b64, validate=True)
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        out.fail("電子署名を検証できません(申請内容が署名後に変更された可能性)")


def _required_kind(effective: EffectiveDefinition) -> CertificateKind:
    return CertificateKind(effective.definition.certificate.value)


def _check_attachment(part: AttachmentPart, out: _Findings) -> CheckedAttachment:
    try:
        data = base64.b64decode(part.data_b64, validate=True)
    except (binascii.Error, ValueError):
        out.fail(f"添付書類「{part.filename}」のデータを読み取れません")
        return CheckedAttachment(part, None, False)
    ok = len(data) == part.size and hashlib.sha256(data).hexdigest() == part.sha256
    if not ok:
        out.fail(f"添付書類「{part.filename}」のハッシュ値が一致しません(改ざんの可能性)")
    return CheckedAttachment(part, data, ok)


_TRUST_CACHE: dict[tuple[object, ...], tuple[TrustStore, CrlStore]] = {}
_TRUST_LOCK = threading.Lock()


def _fingerprint(paths: Sequence[Path]) -> tuple[object, ...]:
    """Name, modification time and size of every file the paths name (or hold): what was read."""
    found: list[object] = []
    for path in paths:
        files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
        for f in files:
            try:
                st = f.stat()
            except OSError:
                found.append((str(f), None))
                continue
            found.append((str(f), st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(found)


def load_trust(anchor_paths: Sequence[Path], crl_paths: Sequence[Path]) -> tuple[TrustStore, CrlStore]:
    """Trust anchors and CRLs from the configured files, parsed again whenever a file changed.

    A new CRL counts at once: the files are looked at (stat) on every call, and parsed again when
    any of them was replaced, changed or removed; otherwise the stores parsed before are used.
    """
    present = [p for p in crl_paths if p.exists()]
    key = (
        tuple(map(str, anchor_paths)),
        _fingerprint(anchor_paths),
        tuple(map(str, present)),
        _fingerprint(present),
    )
    with _TRUST_LOCK:
        cached = _TRUST_CACHE.get(key)
    if cached is not None:
        return cached
    loaded = TrustStore.from_paths(anchor_paths), CrlStore.from_paths(present)
    with _TRUST_LOCK:
        _TRUST_CACHE.clear()  # only the current material is worth keeping
        _TRUST_CACHE[key] = loaded
    return loaded
