"""Certificate and signature verification for JPKI certificates, against configured trust anchors.

The same code runs against the project's test CA and against the real J-LIS CAs: which CAs are
trusted is only configuration (:class:`TrustStore`, a list of PEM/DER files or directories), and so
are the CRLs (:class:`CrlStore`). Nothing about the test CA is assumed.

Checks, in this order, each failing with its own error class and reason code
(:mod:`jichitai.platform.pki.errors`):

1. the certificate parses and follows the profile (RSA ≥ 2048, SHA-256 with RSA, not a CA);
2. a chain to a trust anchor: issuer name matches and the issuer's key verifies the signature at each
   step, intermediates must be CAs allowed to sign certificates (``UNKNOWN_CA`` / ``INVALID_CHAIN``);
3. validity at the given time for every certificate of the chain (``EXPIRED`` / ``NOT_YET_VALID``);
4. key usage for the purpose: a 署名用 certificate has digitalSignature + nonRepudiation, a 利用者証明用
   certificate digitalSignature only; the other kind is refused (``WRONG_CERTIFICATE_TYPE``);
5. revocation by CRL: the CRL of the issuer, signed by it, current at the given time (``CRL_MISSING``,
   ``CRL_INVALID``, ``CRL_STALE``), the serial not on it (``REVOKED``).

cryptography's ``x509.verification.PolicyBuilder`` implements the Web PKI profile and reports every
failure as one exception kind, so the path is checked by hand here to give each reason its code.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jichitai.platform.errors import ConfigurationError
from jichitai.platform.pki.errors import (
    BadSignature,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    CrlInvalid,
    CrlMissing,
    CrlStale,
    InvalidChain,
    MalformedCertificate,
    UnknownIssuer,
    WrongCertificateType,
)
from jichitai.platform.pki.profile import ProfileError, facts_from_certificate
from jichitai.platform.pki.rules import BasicFacts, CertificateKind

MAX_CHAIN_DEPTH = 4
_CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der")
_CRL_SUFFIXES = (".pem", ".crl", ".der")

CertificateInput = x509.Certificate | bytes | str


def load_certificate(data: CertificateInput) -> x509.Certificate:
    """A certificate from PEM (str or bytes), DER bytes, or an already parsed one."""
    if isinstance(data, x509.Certificate):
        return data
    raw = data.encode("ascii", errors="replace") if isinstance(data, str) else data
    try:
        if raw.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(raw)
        return x509.load_der_x509_certificate(raw)
    except ValueError as exc:
        raise MalformedCertificate(f"cannot parse the certificate: {exc}") from exc


def _read_certificates(path: Path) -> list[x509.Certificate]:
    raw = path.read_bytes()
    if b"-----BEGIN" in raw:
        return x509.load_pem_x509_certificates(raw)
    return [x509.load_der_x509_certificate(raw)]


def _files(paths: Iterable[Path | str], suffixes: tuple[str, ...]) -> list[Path]:
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(f for f in p.iterdir() if f.suffix.lower() in suffixes and f.is_file()))
        elif p.is_file():
            found.append(p)
        else:
            raise ConfigurationError(f"{p} does not exist", hint="check the trust anchor / CRL configuration")
    return found


class TrustStore:
    """The CA certificates trusted as anchors (J-LIS's 署名用 and 利用者証明用 CAs in production)."""

    def __init__(self, anchors: Iterable[x509.Certificate]) -> None:
        self._by_subject: dict[bytes, list[x509.Certificate]] = {}
        for cert in anchors:
            self._by_subject.setdefault(cert.subject.public_bytes(), []).append(cert)
        if not self._by_subject:
            raise ConfigurationError("the trust store is empty", hint="configure at least one CA certificate")

    @classmethod
    def from_paths(cls, paths: Iterable[Path | str]) -> TrustStore:
        """Load every certificate in the given files and directories (PEM bundles or DER)."""
        certs: list[x509.Certificate] = []
        for f in _files(paths, _CERT_SUFFIXES):
            try:
                certs.extend(_read_certificates(f))
            except ValueError as exc:
                raise ConfigurationError(f"{f} is not a certificate: {exc}") from exc
        return cls(certs)

    def anchors_named(self, name: x509.Name) -> list[x509.Certificate]:
        return self._by_subject.get(name.public_bytes(), [])

    @property
    def anchors(self) -> list[x509.Certificate]:
        return [c for group in self._by_subject.values() for c in group]


class CrlStore:
    """The CRLs known to the verifier, by issuer. Signature checks are remembered per CRL and issuer key."""

    def __init__(self, crls: Iterable[x509.CertificateRevocationList] = ()) -> None:
        self._by_issuer: dict[bytes, list[x509.CertificateRevocationList]] = {}
        self._signature_ok: dict[tuple[int, bytes], bool] = {}
        for crl in crls:
            self.add(crl)

    @classmethod
    def from_paths(cls, paths: Iterable[Path | str]) -> CrlStore:
        store = cls()
        for f in _files(paths, _CRL_SUFFIXES):
            raw = f.read_bytes()
            try:
                store.add(
                    x509.load_pem_x509_crl(raw) if b"-----BEGIN" in raw else x509.load_der_x509_crl(raw)
                )
            except ValueError as exc:
                raise ConfigurationError(f"{f} is not a CRL: {exc}") from exc
        return store

    def add(self, crl: x509.CertificateRevocationList) -> None:
        self._by_issuer.setdefault(crl.issuer.public_bytes(), []).append(crl)

    def replace(self, crl: x509.CertificateRevocationList) -> None:
        """Drop older CRLs of the same issuer and keep this one (what a periodic CRL fetch does)."""
        key = crl.issuer.public_bytes()
        for old in self._by_issuer.get(key, []):
            self._signature_ok = {k: v for k, v in self._signature_ok.items() if k[0] != id(old)}
        self._by_issuer[key] = [crl]

    def for_issuer(self, name: x509.Name) -> list[x509.CertificateRevocationList]:
        return self._by_issuer.get(name.public_bytes(), [])

    def signed_by(self, crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
        public_key = issuer.public_key()
        spki = public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        key = (id(crl), spki)
        if key not in self._signature_ok:
            self._signature_ok[key] = isinstance(public_key, rsa.RSAPublicKey) and crl.is_signature_valid(
                public_key
            )
        return self._signature_ok[key]


@dataclass(frozen=True)
class VerifiedCertificate:
    """What a verified certificate says: the serial links it to a person through the link table."""

    serial: str  # upper-case hex
    kind: CertificateKind
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    facts: BasicFacts | None  # the basic four facts; only for a 署名用 certificate
    certificate: x509.Certificate

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def certificate_kind(cert: x509.Certificate) -> CertificateKind:
    """署名用 (digitalSignature + nonRepudiation) or 利用者証明用 (digitalSignature only), from keyUsage."""
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise MalformedCertificate("the certificate has no keyUsage") from exc
    if not ku.digital_signature:
        raise WrongCertificateType(
            "the certificate may not sign", message_ja="この電子証明書は署名に使えません"
        )
    return CertificateKind.SIGNING if ku.content_commitment else CertificateKind.AUTHENTICATION


def _check_leaf_profile(cert: x509.Certificate) -> None:
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
        raise MalformedCertificate("the certificate key is not RSA of at least 2048 bits")
    if not isinstance(cert.signature_hash_algorithm, hashes.SHA256):
        raise MalformedCertificate("the certificate is not signed with SHA-256")
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return
    if bc.ca:
        raise MalformedCertificate("a CA certificate is not a resident's certificate")


def _check_issuer_is_ca(issuer: x509.Certificate, below: int) -> None:
    """``below``: how many CA certificates sit between this one and the leaf."""
    try:
        bc = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound as exc:
        raise InvalidChain(f"{issuer.subject.rfc4514_string()} is not marked as a CA") from exc
    if not bc.ca:
        raise InvalidChain(f"{issuer.subject.rfc4514_string()} is not a CA")
    if bc.path_length is not None and below > bc.path_length:
        raise InvalidChain(f"{issuer.subject.rfc4514_string()}: path length exceeded")
    try:
        ku = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not ku.key_cert_sign:
        raise InvalidChain(f"{issuer.subject.rfc4514_string()} may not sign certificates")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def build_chain(
    leaf: x509.Certificate, trust_store: TrustStore, intermediates: Sequence[x509.Certificate] = ()
) -> list[x509.Certificate]:
    """Leaf first, trust anchor last; each certificate's signature verified by the next one's key."""
    chain = [leaf]
    current = leaf
    for depth in range(MAX_CHAIN_DEPTH):
        anchors = trust_store.anchors_named(current.issuer)
        for anchor in anchors:
            if _issued_by(current, anchor):
                _check_issuer_is_ca(anchor, depth)
                chain.append(anchor)
                return chain
        candidates = [c for c in intermediates if c.subject == current.issuer and c not in chain]
        nxt = next((c for c in candidates if _issued_by(current, c)), None)
        if nxt is None:
            if anchors or candidates:
                raise UnknownIssuer(
                    f"{current.issuer.rfc4514_string()} is trusted by name but its key did not sign "
                    "this certificate"
                )
            raise UnknownIssuer(f"{current.issuer.rfc4514_string()} is not a trusted CA")
        _check_issuer_is_ca(nxt, depth)
        chain.append(nxt)
        current = nxt
    raise InvalidChain("the certificate chain is too long")


def _check_validity(chain: Sequence[x509.Certificate], at: datetime) -> None:
    for i, cert in enumerate(chain):
        whose = "電子証明書" if i == 0 else "認証局の電子証明書"
        if at < cert.not_valid_before_utc:
            raise CertificateNotYetValid(
                f"{cert.subject.rfc4514_string()} is valid only from {cert.not_valid_before_utc.isoformat()}",
                message_ja=None if i == 0 else f"{whose}の有効期間がまだ始まっていません",
            )
        if at > cert.not_valid_after_utc:
            raise CertificateExpired(
                f"{cert.subject.rfc4514_string()} expired at {cert.not_valid_after_utc.isoformat()}",
                message_ja=None if i == 0 else f"{whose}の有効期限が切れています",
            )


def _check_purpose(leaf: x509.Certificate, purpose: CertificateKind) -> CertificateKind:
    kind = certificate_kind(leaf)
    if kind is not purpose:
        raise WrongCertificateType(
            f"a {kind.value} certificate was used for {purpose.value}",
            message_ja=f"この用途には{purpose.label_ja}を使ってください（{kind.label_ja}が使われました）",
        )
    return kind


def _check_revocation(cert: x509.Certificate, issuer: x509.Certificate, crls: CrlStore, at: datetime) -> None:
    candidates = crls.for_issuer(cert.issuer)
    if not candidates:
        raise CrlMissing(f"no CRL from {cert.issuer.rfc4514_string()}")
    signed = [c for c in candidates if crls.signed_by(c, issuer)]
    if not signed:
        raise CrlInvalid(f"no CRL from {cert.issuer.rfc4514_string()} has a valid signature")
    try:
        ku = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
        if not ku.crl_sign:
            raise CrlInvalid(f"{issuer.subject.rfc4514_string()} may not sign CRLs")
    except x509.ExtensionNotFound:
        pass
    usable = [c for c in signed if c.last_update_utc <= at]
    if not usable:
        raise CrlMissing(
            f"no CRL from {cert.issuer.rfc4514_string()} issued by {at.isoformat()}",
            message_ja="確認する時点の失効情報（CRL）がありません",
        )
    crl = max(usable, key=lambda c: c.last_update_utc)
    if crl.next_update_utc is None or at > crl.next_update_utc:
        raise CrlStale(
            f"the newest CRL from {cert.issuer.rfc4514_string()} was due for replacement at "
            f"{crl.next_update_utc.isoformat() if crl.next_update_utc else '(no nextUpdate)'}"
        )
    revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if revoked is not None and revoked.revocation_date_utc <= at:
        try:
            reason = revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
        except x509.ExtensionNotFound:
            reason = "unspecified"
        raise CertificateRevoked(
            f"certificate {cert.serial_number:X} revoked at {revoked.revocation_date_utc.isoformat()} "
            f"({reason})"
        )


def _as_crl_store(crls: CrlStore | Iterable[x509.CertificateRevocationList] | None) -> CrlStore:
    if isinstance(crls, CrlStore):
        return crls
    return CrlStore(crls or ())


def verify_certificate(
    certificate: CertificateInput,
    purpose: CertificateKind,
    *,
    trust_store: TrustStore,
    crls: CrlStore | Iterable[x509.CertificateRevocationList] | None,
    at: datetime | None = None,
    intermediates: Sequence[x509.Certificate] = (),
    check_revocation: bool = True,
) -> VerifiedCertificate:
    """Verify a resident's certificate for a purpose; raise a :class:`CertificateRejected` subclass.

    ``check_revocation=False`` exists for offline tooling only; every resident-facing path keeps it on.
    """
    at = at or datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    leaf = load_certificate(certificate)
    _check_leaf_profile(leaf)
    chain = build_chain(leaf, trust_store, intermediates)
    _check_validity(chain, at)
    kind = _check_purpose(leaf, purpose)
    try:
        facts = facts_from_certificate(leaf) if kind is CertificateKind.SIGNING else None
    except ProfileError as exc:
        raise MalformedCertificate(str(exc), message_ja=exc.message_ja) from exc
    if kind is CertificateKind.SIGNING and facts is None:
        raise MalformedCertificate("a signing certificate without the basic four facts")
    if check_revocation:
        store = _as_crl_store(crls)
        # Anchors are trusted by configuration; every certificate below them must not be revoked.
        for cert, issuer in itertools.pairwise(chain):
            _check_revocation(cert, issuer, store, at)
    return VerifiedCertificate(
        serial=f"{leaf.serial_number:X}",
        kind=kind,
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        facts=facts,
        certificate=leaf,
    )


def verify_signature(
    certificate: CertificateInput,
    data: bytes,
    signature: bytes,
    purpose: CertificateKind,
    *,
    trust_store: TrustStore,
    crls: CrlStore | Iterable[x509.CertificateRevocationList] | None,
    at: datetime | None = None,
    intermediates: Sequence[x509.Certificate] = (),
) -> VerifiedCertificate:
    """Verify the certificate for ``purpose``, then a PKCS#1 v1.5 SHA-256 signature over ``data``.

    For a submission: ``purpose=CertificateKind.SIGNING`` over the canonical form bytes. For a login:
    ``purpose=CertificateKind.AUTHENTICATION`` over the server's challenge.
    """
    verified = verify_certificate(
        certificate, purpose, trust_store=trust_store, crls=crls, at=at, intermediates=intermediates
    )
    key = verified.certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)  # checked by the profile
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise BadSignature("the signature does not match the data and certificate") from exc
    return verified
