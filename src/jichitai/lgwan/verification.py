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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
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


@dataclass
class Checked:
    """What the checks found; ``notes`` are Japanese, for staff."""

    verification: Verification = Verification.VERIFIED
    notes: list[str] = field(default_factory=list)
    payload: SubmissionPayload | None = None
    certificate: VerifiedCertificate | None = None
    effective: EffectiveDefinition | None = None
    attachments: list[CheckedAttachment] = field(default_factory=list)

    def fail(self, note: str) -> None:
        self.verification = Verification.FAILED
        self.notes.append(note)

    def flag(self, note: str) -> None:
        if self.verification is Verification.VERIFIED:
            self.verification = Verification.FLAGGED
        self.notes.append(note)


@dataclass
class _CertEntry:
    verified: VerifiedCertificate
    chain: list[x509.Certificate]
    key: rsa.RSAPublicKey


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
        self._certs: dict[tuple[str, CertificateKind], _CertEntry] = {}
        self._definitions: dict[str, EffectiveDefinition | str] = {}

    # -- the whole check ------------------------------------------------------------------------
    def check(self, plaintext: bytes, receipt_number: str, received_at: datetime | None = None) -> Checked:
        out = Checked()
        try:
            payload = SubmissionPayload.model_validate_json(plaintext)
        except (PydanticValidationError, ValueError):
            out.fail("申請データの形式が正しくありません(復号した内容を読み取れません)")
            return out
        out.payload = payload
        if payload.tenant != self.tenant or payload.receipt_number != receipt_number:
            out.fail(
                f"申請データの団体又は受付番号({payload.tenant} / {payload.receipt_number})が"
                "受付APIの情報と一致しません"
            )
            return out
        if received_at is not None and abs(payload.submitted_at - received_at) > CLOCK_SKEW:
            out.flag("申請データの提出日時と受付日時が大きく異なります")
        effective = self._definition(payload, out)
        kind = CertificateKind.SIGNING if effective is None else _required_kind(effective)
        if payload.certificate_use.value != kind.value:
            out.fail(f"この手続には{kind.label_ja}が必要ですが、別の種類の電子証明書が使われています")
        entry = self._certificate(payload, kind, out)
        canonical = self._form_hashes(payload, out)
        if entry is not None and canonical is not None:
            self._signature(payload, entry.key, canonical, out)
        out.attachments = [_check_attachment(a, out) for a in payload.attachments]
        if effective is not None:
            result = validate_application(
                effective, payload.form, today=payload.submitted_at.astimezone(JST).date()
            )
            for error in result.errors[:10]:
                out.fail(f"申請内容が手続の定義に合いません: {error.summary_line}")
        if entry is not None:
            self._revocation_now(entry, payload.submitted_at, out)
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

    def _certificate(
        self, payload: SubmissionPayload, kind: CertificateKind, out: Checked
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
            entry = _CertEntry(verified, build_chain(verified.certificate, self.trust_store), public_key)
            self._certs[key] = entry
        else:
            for i, cert in enumerate(entry.chain):
                if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
                    whose = "電子証明書" if i == 0 else "認証局の電子証明書"
                    out.fail(f"提出時点({fmt_jst(at)})で{whose}の有効期間外です")
                    return None
        out.certificate = entry.verified
        return entry

    def _form_hashes(self, payload: SubmissionPayload, out: Checked) -> bytes | None:
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

    def _signature(
        self, payload: SubmissionPayload, key: rsa.RSAPublicKey, data: bytes, out: Checked
    ) -> None:
        try:
            signature = base64.b64decode(payload.signature_b64, validate=True)
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        except (binascii.Error, ValueError, InvalidSignature):
            out.fail("電子署名を検証できません(申請内容が署名後に変更された可能性)")

    def _revocation_now(self, entry: _CertEntry, submitted_at: datetime, out: Checked) -> None:
        for cert, issuer in itertools.pairwise(entry.chain):
            whose = "電子証明書" if cert is entry.chain[0] else "認証局の電子証明書"
            crls = [
                c
                for c in self.crls.for_issuer(cert.issuer)
                if self.crls.signed_by(c, issuer) and c.last_update_utc <= self.now
            ]
            if not crls:
                out.flag(f"失効情報(CRL)がないため、{whose}の現在の失効状況を確認できません")
                continue
            crl = max(crls, key=lambda c: c.last_update_utc)
            if crl.next_update_utc is None or self.now > crl.next_update_utc:
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


def _required_kind(effective: EffectiveDefinition) -> CertificateKind:
    return CertificateKind(effective.definition.certificate.value)


def _check_attachment(part: AttachmentPart, out: Checked) -> CheckedAttachment:
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
