"""PAdES signatures on PDF documents (電子公印) with pyHanko, behind a raw-signer abstraction.

The private key never has to be in this process: anything that implements :class:`RawSigner`
(a key in a file keystore, a PKCS#11 token, a remote signing service) can seal a document.
ECDSA P-256 and RSA keys both work.

Cost per signature matters for bulk issuance (certificates, notices). pyHanko by default builds the
CMS container twice (once as a dry run to size the placeholder) with asn1crypto, which costs ~25 ms.
A :class:`PdfSealer` is prepared once per signer and process: it sizes the placeholder once, and
its pyHanko ``Signer`` assembles the PAdES-B-B container from DER parts that do not change between
documents (certificates, signer identifier, the signing-certificate-v2 attribute), which pyHanko
itself produced on the first signature. Only the message digest and the signature are new per
document. No timestamp server and no revocation fetching are involved.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

from asn1crypto import cms as asn1_cms
from asn1crypto import parser as asn1_parser
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields as pyhanko_fields
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, Signer
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from jichitai.platform.errors import ValidationError
from jichitai.platform.pdf import der
from jichitai.platform.pdf.metadata import DocumentMarks, read_marks

SIGNATURE_FIELD = "JichitaiSeal"
_DIGEST = "sha256"


@runtime_checkable
class RawSigner(Protocol):
    """A signing key and its certificate chain; the key may live anywhere.

    ``sign`` hashes ``data`` with SHA-256 and signs it: ECDSA returns the DER ``Ecdsa-Sig-Value``
    (RFC 3279), RSA a PKCS#1 v1.5 signature. An HSM adapter computes the digest in process and
    asks the token for CKM_ECDSA / CKM_RSA_PKCS over it (see :class:`Pkcs11RawSigner`).
    """

    @property
    def certificate(self) -> x509.Certificate:
        """The signer's certificate (電子公印の証明書)."""
        ...

    @property
    def chain(self) -> Sequence[x509.Certificate]:
        """Intermediate CA certificates, nearest first (the root may be left out)."""
        ...

    def sign(self, data: bytes) -> bytes: ...


def _signature_size(certificate: x509.Certificate) -> int:
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return (key.key_size + 7) // 8
    if isinstance(key, ec.EllipticCurvePublicKey):
        n = (key.curve.key_size + 7) // 8
        return 2 * n + 9  # DER SEQUENCE of two INTEGERs, worst case
    raise ValidationError(f"unsupported key type for a seal: {type(key).__name__}")


@dataclass(eq=False)  # identity semantics: prepared sealers are cached per signer object
class KeyRawSigner:
    """A private key held in this process (loaded from a file keystore or generated for tests)."""

    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    certificate: x509.Certificate
    chain: Sequence[x509.Certificate] = ()

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.private_key, ec.EllipticCurvePrivateKey):
            return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))
        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    @classmethod
    def from_pem(
        cls, key_pem: bytes, cert_pem: bytes, chain_pem: bytes = b"", password: bytes | None = None
    ) -> KeyRawSigner:
        key = serialization.load_pem_private_key(key_pem, password=password)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValidationError("the seal key must be an ECDSA or RSA key")
        chain = x509.load_pem_x509_certificates(chain_pem) if chain_pem.strip() else []
        return cls(key, x509.load_pem_x509_certificate(cert_pem), chain)


class Pkcs11RawSigner:
    """A seal key inside a PKCS#11 token (HSM, SoftHSM2): the private key never leaves it.

    ``private_key`` is a python-pkcs11 ``PrivateKey`` from an open session. The digest is computed
    here and the token signs it (CKM_ECDSA, whose raw r||s is DER-encoded here, or
    CKM_SHA256_RSA_PKCS over the data for RSA).
    """

    def __init__(
        self, private_key: Any, certificate: x509.Certificate, chain: Sequence[x509.Certificate] = ()
    ) -> None:
        self._key = private_key
        self.certificate = certificate
        self.chain = chain
        self._lock = threading.Lock()  # a PKCS#11 session is not to be used by two threads at once

    def sign(self, data: bytes) -> bytes:
        from pkcs11 import Mechanism

        public = self.certificate.public_key()
        with self._lock:
            if isinstance(public, ec.EllipticCurvePublicKey):
                raw = bytes(self._key.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA))
                half = len(raw) // 2
                return encode_dss_signature(
                    int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
                )
            return bytes(self._key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS))


# --- the pyHanko signer ----------------------------------------------------------------------

_OID_MESSAGE_DIGEST = der.oid("1.2.840.113549.1.9.4")
_OID_SIGNED_DATA = der.oid("1.2.840.113549.1.7.2")


@dataclass(frozen=True)
class _CmsTemplate:
    """DER parts of a PAdES-B-B SignedData that are the same for every document."""

    sd_version: bytes
    digest_algorithms: bytes
    encap_content_info: bytes
    certificates: bytes
    si_version: bytes
    sid: bytes
    digest_algorithm: bytes
    signature_algorithm: bytes
    constant_attrs: tuple[bytes, ...]

    @classmethod
    def from_content_info(cls, ci: asn1_cms.ContentInfo) -> _CmsTemplate:
        sd = ci["content"]
        si = sd["signer_infos"][0]
        if si["unsigned_attrs"].native is not None or len(sd["signer_infos"]) != 1:
            raise ValueError("template must have one signer and no unsigned attributes")
        return cls(
            sd_version=sd["version"].dump(),
            digest_algorithms=sd["digest_algorithms"].dump(),
            encap_content_info=sd["encap_content_info"].dump(),
            certificates=sd["certificates"].dump(),
            si_version=si["version"].dump(),
            sid=si["sid"].dump(),
            digest_algorithm=si["digest_algorithm"].dump(),
            signature_algorithm=si["signature_algorithm"].dump(),
            constant_attrs=tuple(
                a.dump() for a in si["signed_attrs"] if a["type"].native != "message_digest"
            ),
        )

    def signed_attributes(self, data_digest: bytes) -> list[bytes]:
        md = der.sequence(_OID_MESSAGE_DIGEST, der.set_of(der.octet_string(data_digest)))
        return sorted([md, *self.constant_attrs])

    def assemble(self, attrs: list[bytes], signature: bytes) -> bytes:
        signer_info = der.sequence(
            self.si_version,
            self.sid,
            self.digest_algorithm,
            der.tlv(0xA0, b"".join(attrs)),  # [0] IMPLICIT SignedAttributes
            self.signature_algorithm,
            der.octet_string(signature),
        )
        signed_data = der.sequence(
            self.sd_version,
            self.digest_algorithms,
            self.encap_content_info,
            self.certificates,
            der.set_of(signer_info),
        )
        return der.sequence(_OID_SIGNED_DATA, der.tlv(0xA0, signed_data))


class RawSignerAdapter(Signer):  # type: ignore[misc]  # pyHanko's Signer is untyped here
    """A pyHanko ``Signer`` whose raw signatures come from a :class:`RawSigner`."""

    def __init__(self, raw: RawSigner) -> None:
        self.raw = raw
        signing_cert = asn1_x509.Certificate.load(raw.certificate.public_bytes(serialization.Encoding.DER))
        chain = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in raw.chain]
        super().__init__(
            signing_cert=signing_cert,
            cert_registry=SimpleCertificateStore.from_certs(chain),  # type: ignore[no-untyped-call]
            embed_roots=False,
        )
        self._signature_size = _signature_size(raw.certificate)
        self._template: _CmsTemplate | None = None
        self._template_lock = threading.Lock()

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            return bytes(self._signature_size)
        if digest_algorithm != _DIGEST:
            raise ValidationError(f"seal signatures use SHA-256, not {digest_algorithm}")
        return self.raw.sign(data)

    async def async_sign(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run: bool = False,
        use_pades: bool = False,
        timestamper: Any = None,
        signed_attr_settings: PdfCMSSignedAttributes | None = None,
        is_pdf_sig: bool = True,
        encap_content_info: Any = None,
    ) -> asn1_cms.ContentInfo:
        fast = (
            use_pades
            and is_pdf_sig
            and not dry_run
            and timestamper is None
            and encap_content_info is None
            and digest_algorithm == _DIGEST
            and (signed_attr_settings is None or signed_attr_settings.cades_signed_attrs is None)
        )
        if not fast:
            return await super().async_sign(
                data_digest,
                digest_algorithm,
                dry_run=dry_run,
                use_pades=use_pades,
                timestamper=timestamper,
                signed_attr_settings=signed_attr_settings,
                is_pdf_sig=is_pdf_sig,
                encap_content_info=encap_content_info,
            )
        template = self._template or await self._make_template()
        attrs = template.signed_attributes(data_digest)
        signature = self.raw.sign(der.set_of(*attrs))
        return asn1_cms.ContentInfo.load(template.assemble(attrs, signature))

    async def reference_sign(self, data_digest: bytes) -> asn1_cms.ContentInfo:
        """pyHanko's own PAdES container for a digest (the slow path; used to check the fast one)."""
        return await super().async_sign(
            data_digest, _DIGEST, use_pades=True, signed_attr_settings=PdfCMSSignedAttributes()
        )

    async def _make_template(self) -> _CmsTemplate:
        reference = await self.reference_sign(hashlib.sha256(b"template").digest())
        with self._template_lock:
            if self._template is None:
                self._template = _CmsTemplate.from_content_info(reference)
            return self._template


class PdfSealer:
    """A signer prepared for repeated use in one process: keep one per tenant key and worker."""

    def __init__(self, raw: RawSigner) -> None:
        self.raw = raw
        self.adapter = RawSignerAdapter(raw)
        chain_size = sum(len(c.public_bytes(serialization.Encoding.DER)) for c in raw.chain)
        cert_size = len(raw.certificate.public_bytes(serialization.Encoding.DER))
        # hex-encoded container: certificates + signature + attributes, with headroom
        self.bytes_reserved = 2 * (cert_size + chain_size + _signature_size(raw.certificate) + 1024)
        self._signers: dict[tuple[str, str], PdfSigner] = {}

    def _pdf_signer(self, reason: str, location: str) -> PdfSigner:
        key = (reason, location)
        signer = self._signers.get(key)
        if signer is None:
            meta = PdfSignatureMetadata(
                field_name=SIGNATURE_FIELD,
                reason=reason,
                location=location,
                md_algorithm=_DIGEST,
                subfilter=pyhanko_fields.SigSeedSubFilter.PADES,
            )
            signer = self._signers[key] = PdfSigner(meta, signer=self.adapter)
        return signer

    def sign(self, pdf: bytes, *, reason: str, location: str) -> bytes:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        out = io.BytesIO()
        pdf_signer = self._pdf_signer(reason, location)
        # pyHanko's sync API calls asyncio.run(): off the caller's thread when a loop is running
        _run(lambda: pdf_signer.sign_pdf(writer, output=out, bytes_reserved=self.bytes_reserved))
        return out.getvalue()


_sealers: weakref.WeakKeyDictionary[Any, PdfSealer] = weakref.WeakKeyDictionary()
_sealers_lock = threading.Lock()


def prepare_sealer(signer: RawSigner | PdfSealer) -> PdfSealer:
    """The prepared sealer for a raw signer, made once and reused while the signer lives."""
    if isinstance(signer, PdfSealer):
        return signer
    try:
        return _sealers[signer]
    except KeyError:
        pass
    except TypeError:  # not weak-referenceable: no caching
        return PdfSealer(signer)
    with _sealers_lock:
        sealer = _sealers.get(signer)
        if sealer is None:
            sealer = _sealers[signer] = PdfSealer(signer)
        return sealer


def sign_pdf(pdf: bytes, signer: RawSigner | PdfSealer, reason: str, location: str) -> bytes:
    """Seal a PDF with a PAdES-B-B signature covering the whole document."""
    return prepare_sealer(signer).sign(pdf, reason=reason, location=location)


# --- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationResult:
    """What a verifier learns from a presented PDF (検証結果)."""

    valid: bool  # every check below passed
    intact: bool = False  # the signed bytes are unchanged and the signature value is right
    trusted: bool = False  # the signer certificate chains to one of the trust roots
    covers_whole_document: bool = False  # nothing was appended after signing
    signer_subject: str = ""
    signer_organization: str = ""
    signing_time: datetime | None = None
    marks: DocumentMarks | None = None  # serial and QR payload embedded in the document
    problems: tuple[str, ...] = field(default_factory=tuple)  # Japanese, for staff and residents

    @property
    def serial(self) -> str | None:
        return self.marks.serial if self.marks else None


def _failure(*problems: str, **kwargs: Any) -> VerificationResult:
    return VerificationResult(valid=False, problems=problems, **kwargs)


# The signature's /Contents as a sealer writes it: upper-case hex of the DER container, then zeros.
_CONTENTS_HEX = re.compile(rb"<([0-9A-F]+)>")
_CONTAINER_ALTERED = "署名データが封印時の形式と異なります(改ざんの可能性があります)"


def container_problem(
    pdf: bytes, byte_range: Sequence[int], signer_cert: asn1_x509.Certificate | None
) -> str | None:
    """Why the signature container differs from what a sealer writes, or None when it does not.

    The signed byte ranges leave out /Contents, and a CMS verifier reads only the signed parts of
    the container: a changed byte in the zero padding, in the SignedData version or in its list of
    digest algorithms, or a hex digit written in lower case, leaves the signature cryptographically
    valid (found by altering every byte of a sealed certificate in turn), and so does a letter of the
    signer identifier's issuer name turned to the other case (names compare case-insensitively).
    The document is the same, but a verifier told that one changed byte is detected must see it, so
    the container must be the exact DER encoding, padded with zeros, with the versions RFC 5652
    prescribes for it, the signer's digest algorithm listed, and a signer identifier that is the
    signer certificate's own issuer and serial number (or key identifier), byte for byte.
    """
    try:
        m = _CONTENTS_HEX.fullmatch(pdf[byte_range[0] + byte_range[1] : byte_range[2]])
        if m is None:
            return _CONTAINER_ALTERED
        raw = bytes.fromhex(m.group(1).decode("ascii"))
        _, _, _, header, contents, _ = asn1_parser.parse(raw)
        used = len(header) + len(contents)
        if any(raw[used:]):
            return _CONTAINER_ALTERED
        encoded = raw[:used]
        info = asn1_cms.ContentInfo.load(encoded, strict=True)
        if info.dump(force=True) != encoded or info["content_type"].native != "signed_data":
            return _CONTAINER_ALTERED
        signed = info["content"]
        signers = list(signed["signer_infos"])
        if len(signers) != 1:
            return _CONTAINER_ALTERED
        signer = signers[0]
        by_key_id = signer["sid"].name == "subject_key_identifier"
        plain = signed["encap_content_info"]["content_type"].native == "data"
        # RFC 5652 5.1 and 5.3, for a container without attribute or "other" certificates
        if signer["version"].native != ("v3" if by_key_id else "v1"):
            return _CONTAINER_ALTERED
        if signed["version"].native != ("v1" if plain and not by_key_id else "v3"):
            return _CONTAINER_ALTERED
        listed = {a["algorithm"].native for a in signed["digest_algorithms"]}
        if signer["digest_algorithm"]["algorithm"].native not in listed:
            return _CONTAINER_ALTERED
        if signer_cert is None:
            return _CONTAINER_ALTERED
        sid = signer["sid"].chosen
        if by_key_id:
            if sid.native != signer_cert.key_identifier:
                return _CONTAINER_ALTERED
        elif (
            sid["issuer"].dump() != signer_cert["tbs_certificate"]["issuer"].dump()
            or sid["serial_number"].native != signer_cert.serial_number
        ):
            return _CONTAINER_ALTERED
    except (ValueError, TypeError, KeyError, IndexError):
        return _CONTAINER_ALTERED
    return None


def verify_pdf(pdf: bytes, trust_roots: Iterable[x509.Certificate]) -> VerificationResult:
    """Check a presented PDF: one intact seal, over the whole file, by a trusted signer."""
    roots = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in trust_roots]
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception:
        return _failure("PDFとして読み取れません(破損または改ざんの可能性があります)")
    if len(signatures) != 1:
        return _failure(
            "電子署名がありません" if not signatures else "電子署名が複数あります(発行後に変更されています)"
        )
    embedded = signatures[0]
    try:
        marks = read_marks(reader)
    except Exception:
        marks = None
    try:
        signer_cert = embedded.signer_cert
    except Exception:  # no certificate matches the signer identifier: validation below says so
        signer_cert = None
    altered = container_problem(pdf, embedded.byte_range, signer_cert)
    context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
    try:
        status = _run(lambda: validate_pdf_signature(embedded, signer_validation_context=context))
    except Exception as exc:
        return _failure(f"電子署名を検証できません({type(exc).__name__})", marks=marks)
    problems: list[str] = []
    if not status.intact or not status.valid:
        problems.append("署名後に文書が改ざんされています(署名値が一致しません)")
    if altered is not None:
        problems.append(altered)
    if not status.trusted:
        problems.append("署名者の証明書が信頼できる認証局から発行されていません")
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    if not whole:
        problems.append("署名後に文書へ追記されています")
    if marks is None:
        problems.append("証明書番号が埋め込まれていません")
    cert = status.signing_cert
    subject = cert.subject.human_friendly if cert is not None else ""
    org = ""
    if cert is not None:
        native = cert.subject.native
        org = str(native.get("organization_name", "")) if isinstance(native, dict) else ""
    return VerificationResult(
        valid=not problems,
        intact=bool(status.intact and status.valid),
        trusted=bool(status.trusted),
        covers_whole_document=whole,
        signer_subject=subject,
        signer_organization=org,
        signing_time=embedded.self_reported_timestamp,
        marks=marks,
        problems=tuple(problems),
    )


def _run(fn: Any) -> Any:
    """Call a pyHanko sync wrapper even when the caller is inside an event loop (FastAPI)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    result: list[Any] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn())
        except BaseException as exc:
            error.append(exc)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if error:
        raise error[0]
    return result[0]


# --- the test "LGPKI-like" CA and seal certificates -------------------------------------------

KeyKind = Literal["ec", "rsa"]


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA key and its self-signed certificate (the platform's test stand-in for LGPKI)."""

    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    certificate: x509.Certificate


def generate_seal_key(kind: KeyKind = "ec") -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _ski(public_key: Any) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(public_key)


def create_test_ca(
    common_name: str = "jichitai Test LGPKI-like Root CA",
    *,
    organization: str = "jichitai platform (test)",
    kind: KeyKind = "ec",
    valid_days: int = 3650,
    now: datetime | None = None,
) -> CertificateAuthority:
    """A self-signed root for tests and demos; production seals chain to the real LGPKI."""
    key = generate_seal_key(kind)
    now = now or datetime.now(UTC)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(_ski(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(key, cert)


def issue_seal_certificate(
    ca: CertificateAuthority,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    municipality_name: str,
    *,
    tenant_code: str | None = None,
    valid_days: int = 825,
    now: datetime | None = None,
) -> x509.Certificate:
    """A 電子公印 certificate for a municipality's signing key, issued by ``ca``.

    The municipality's name is the subject's O and CN (e.g. ``O=横浜市, CN=横浜市長``); the tenant
    code (地方公共団体コード) goes into OU so two municipalities of the same name stay apart.
    """
    now = now or datetime.now(UTC)
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, municipality_name),
    ]
    if tenant_code:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, tenant_code))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, f"{municipality_name}長"))
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=valid_days), ca.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # non-repudiation: a seal, not an authentication key
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(_ski(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca.private_key, hashes.SHA256())
    )


def new_test_sealer(
    municipality_name: str, *, ca: CertificateAuthority | None = None, kind: KeyKind = "ec"
) -> tuple[KeyRawSigner, CertificateAuthority]:
    """A fresh seal key and certificate under ``ca`` (a new test CA when none is given)."""
    ca = ca or create_test_ca(kind=kind)
    key = generate_seal_key(kind)
    cert = issue_seal_certificate(ca, key.public_key(), municipality_name)
    return KeyRawSigner(key, cert, ()), ca
