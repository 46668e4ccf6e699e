"""Render, seal and verify certificates: what the registry service calls.

Persistence stays with the caller: it stores ``serial`` and ``content_digest`` of each issuance
(with its audit entry) and gives :func:`verify_certificate` a lookup from serial to digest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cryptography import x509

from jichitai.mynumber.registry.certificates.content import build_content
from jichitai.mynumber.registry.certificates.model import HouseholdFacts, IssueOptions, PersonFacts
from jichitai.mynumber.registry.certificates.policy import ItemDecision
from jichitai.mynumber.registry.certificates.render import render_pdf
from jichitai.platform.errors import ValidationError
from jichitai.platform.pdf.qr import HASH_PREFIX_HEX, parse_verification_payload, verification_payload
from jichitai.platform.pdf.signing import PdfSealer, RawSigner, VerificationResult, sign_pdf, verify_pdf


@dataclass(frozen=True)
class IssuedCertificate:
    pdf: bytes
    serial: str
    content_digest: str  # hex SHA-256 of the printed content; keep it with the serial
    payload: str  # the QR code's URL
    pages: int
    decision: ItemDecision  # optional items printed, and the refused ones with reasons
    signed: bool


def render_certificate(subject: PersonFacts | HouseholdFacts, options: IssueOptions) -> IssuedCertificate:
    """An unsigned certificate (previews, and the bench's baseline)."""
    content, decision = build_content(subject, options)
    digest = content.digest()
    payload = verification_payload(options.verify_base_url, options.serial, digest)
    pdf = render_pdf(content, payload)
    return IssuedCertificate(
        pdf, options.serial, digest, payload, len(content.sheets), decision, signed=False
    )


def issue_certificate(
    subject: PersonFacts | HouseholdFacts,
    options: IssueOptions,
    sealer: RawSigner | PdfSealer,
    *,
    reason: str | None = None,
) -> IssuedCertificate:
    """A certificate sealed with the tenant's 電子公印 (PAdES)."""
    issued = render_certificate(subject, options)
    signed = sign_pdf(
        issued.pdf,
        sealer,
        reason=reason or f"{options.kind.value}の交付",
        location=options.municipality_name,
    )
    return IssuedCertificate(
        signed,
        issued.serial,
        issued.content_digest,
        issued.payload,
        issued.pages,
        issued.decision,
        signed=True,
    )


@dataclass(frozen=True)
class CertificateCheck:
    """The answer to 'is this certificate genuine?'."""

    valid: bool
    serial: str | None
    signature: VerificationResult
    matches_record: bool | None  # None when no issuance record was consulted
    problems: tuple[str, ...] = field(default_factory=tuple)


def verify_certificate(
    pdf: bytes,
    trust_roots: Iterable[x509.Certificate],
    *,
    lookup_digest: Callable[[str], str | None] | None = None,
) -> CertificateCheck:
    """Check a presented certificate PDF: its seal, and (given a lookup) the issuance record."""
    result = verify_pdf(pdf, trust_roots)
    problems = list(result.problems)
    serial = result.serial
    matches: bool | None = None
    if result.marks is not None and lookup_digest is not None:
        try:
            payload_serial, prefix = parse_verification_payload(result.marks.payload)
        except ValidationError:
            payload_serial, prefix = "", ""
        recorded = lookup_digest(result.marks.serial)
        matches = bool(
            recorded
            and payload_serial == result.marks.serial
            and len(prefix) == HASH_PREFIX_HEX
            and recorded.startswith(prefix)
        )
        if recorded is None:
            problems.append("この証明書番号の交付記録がありません")
        elif not matches:
            problems.append("交付記録と証明書の内容が一致しません")
    return CertificateCheck(
        valid=result.valid and matches is not False and not problems,
        serial=serial,
        signature=result,
        matches_record=matches,
        problems=tuple(problems),
    )
