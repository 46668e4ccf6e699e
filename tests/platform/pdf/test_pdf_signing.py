from __future__ import annotations

import asyncio
import hashlib
import io

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from jichitai.platform.pdf import signing


def test_seal_certificate_names_the_municipality(
    test_ca: signing.CertificateAuthority, ec_signer: signing.KeyRawSigner
) -> None:
    cert = ec_signer.certificate
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "横浜市"
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "横浜市長"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "141003"
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.content_commitment
    assert usage.digital_signature
    assert not usage.key_cert_sign
    cert.verify_directly_issued_by(test_ca.certificate)


@pytest.mark.parametrize("which", ["ec_signer", "rsa_signer"])
def test_signed_pdf_verifies(
    which: str, request: pytest.FixtureRequest, test_ca: signing.CertificateAuthority, unsigned_pdf: bytes
) -> None:
    signer: signing.KeyRawSigner = request.getfixturevalue(which)
    signed = signing.sign_pdf(unsigned_pdf, signer, reason="通知書の送付", location="横浜市")
    result = signing.verify_pdf(signed, [test_ca.certificate])
    assert result.valid, result.problems
    assert result.intact
    assert result.trusted
    assert result.covers_whole_document
    assert result.serial == "T-0001"
    assert result.marks is not None
    assert "s=T-0001" in result.marks.payload
    expected_org = "横浜市" if which == "ec_signer" else "川崎市"
    assert result.signer_organization == expected_org


def test_fast_container_equals_pyhankos_own(rsa_signer: signing.KeyRawSigner) -> None:
    # RSA PKCS#1 v1.5 is deterministic, so the two containers must match byte for byte
    adapter = signing.PdfSealer(rsa_signer).adapter
    digest = hashlib.sha256(b"document").digest()
    # off this thread: a browser test earlier in the same worker may have left a loop running here
    reference = signing._run(lambda: asyncio.run(adapter.reference_sign(digest))).dump()
    fast = signing._run(lambda: asyncio.run(adapter.async_sign(digest, "sha256", use_pades=True))).dump()
    assert fast == reference


def test_one_altered_byte_fails_verification(
    ec_signer: signing.KeyRawSigner, test_ca: signing.CertificateAuthority, unsigned_pdf: bytes
) -> None:
    signed = signing.sign_pdf(unsigned_pdf, ec_signer, reason="r", location="l")
    # a byte inside the page content (the drawn text), and one in the Info dictionary
    for needle in (b"stream", b"T-0001"):
        at = signed.index(needle) + len(needle) + 8
        tampered = bytearray(signed)
        tampered[at] ^= 0x01
        result = signing.verify_pdf(bytes(tampered), [test_ca.certificate])
        assert not result.valid
        assert result.problems


@pytest.mark.parametrize("which", ["ec_signer", "rsa_signer"])
def test_altered_bytes_of_the_unsigned_container_fail_verification(
    which: str, request: pytest.FixtureRequest, test_ca: signing.CertificateAuthority, unsigned_pdf: bytes
) -> None:
    """The bytes of /Contents are outside the signed ranges, and a CMS verifier reads only the signed
    parts of the container: altering every byte of a sealed certificate in turn found 1,137 one-byte
    changes that still verified (zero padding, the SignedData version, its digest algorithm list).
    Each is now refused."""
    signer: signing.KeyRawSigner = request.getfixturevalue(which)
    signed = signing.sign_pdf(unsigned_pdf, signer, reason="r", location="l")
    assert signing.verify_pdf(signed, [test_ca.certificate]).valid
    start = signed.index(b"/Contents <") + len(b"/Contents <")
    end = signed.index(b">", start)
    hex_text = signed[start:end].decode()
    version = hex_text.index("020101", hex_text.index("06092A864886F70D010702")) + 5  # SignedData v1
    sha256 = hex_text.index("608648016503040201") + 17  # in digestAlgorithms, before the signer info
    letter = next(i for i, ch in enumerate(hex_text) if ch in "ABCDEF")
    # the CA's name in the signer identifier (after the certificates; the signed attributes, last,
    # name it once more): its first letter to upper case
    ca_name = b"jichitai Test LGPKI-like Root CA".hex().upper()
    issuer = hex_text.rindex(ca_name, 0, hex_text.rindex(ca_name))
    assert hex_text[issuer] == "6"  # "j"; "4" is "J", the same name to a case-insensitive match
    for at, new in (
        (end - start - 1, "1"),
        (version, "3"),
        (sha256, "3"),
        (letter, hex_text[letter].lower()),
        (issuer, "4"),
    ):
        tampered = signed[: start + at] + new.encode() + signed[start + at + 1 :]
        assert tampered != signed
        result = signing.verify_pdf(tampered, [test_ca.certificate])
        assert not result.valid, (at, new)
        assert "署名データが封印時の形式と異なります(改ざんの可能性があります)" in result.problems


def test_untrusted_signer_fails(ec_signer: signing.KeyRawSigner, unsigned_pdf: bytes) -> None:
    other_ca = signing.create_test_ca("Other CA")
    stranger, _ = signing.new_test_sealer("偽市", ca=other_ca)
    signed = signing.sign_pdf(unsigned_pdf, stranger, reason="r", location="l")
    result = signing.verify_pdf(signed, [signing.create_test_ca().certificate])
    assert result.intact
    assert not result.trusted
    assert not result.valid


def test_appended_revision_is_detected(
    ec_signer: signing.KeyRawSigner, test_ca: signing.CertificateAuthority, unsigned_pdf: bytes
) -> None:
    signed = signing.sign_pdf(unsigned_pdf, ec_signer, reason="r", location="l")
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    writer.root["/PageMode"] = generic.NameObject("/UseOutlines")
    writer.update_root()  # type: ignore[no-untyped-call]
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    result = signing.verify_pdf(out.getvalue(), [test_ca.certificate])
    assert not result.covers_whole_document
    assert not result.valid


def test_unsigned_and_garbage_input(test_ca: signing.CertificateAuthority, unsigned_pdf: bytes) -> None:
    assert signing.verify_pdf(unsigned_pdf, [test_ca.certificate]).problems == ("電子署名がありません",)
    assert not signing.verify_pdf(b"not a pdf", [test_ca.certificate]).valid


def test_sealer_is_prepared_once_per_signer(ec_signer: signing.KeyRawSigner) -> None:
    assert signing.prepare_sealer(ec_signer) is signing.prepare_sealer(ec_signer)


class _CountingSigner:
    """A RawSigner that is not KeyRawSigner, as an HSM adapter would be."""

    def __init__(self, inner: signing.KeyRawSigner) -> None:
        self._inner = inner
        self.calls = 0

    @property
    def certificate(self) -> x509.Certificate:
        return self._inner.certificate

    @property
    def chain(self) -> list[x509.Certificate]:
        return []

    def sign(self, data: bytes) -> bytes:
        self.calls += 1
        return self._inner.sign(data)


def test_any_raw_signer_can_seal(
    ec_signer: signing.KeyRawSigner, test_ca: signing.CertificateAuthority, unsigned_pdf: bytes
) -> None:
    raw = _CountingSigner(ec_signer)
    assert isinstance(raw, signing.RawSigner)
    signed = signing.sign_pdf(unsigned_pdf, raw, reason="r", location="l")
    signed = signing.sign_pdf(unsigned_pdf, raw, reason="r", location="l")
    assert signing.verify_pdf(signed, [test_ca.certificate]).valid
    assert raw.calls == 3  # one for pyHanko's template, then one per document


def test_sealing_works_inside_a_running_event_loop() -> None:
    """Web handlers and browser tests run an event loop; pyHanko's sync API must still work there."""
    import asyncio
    import io

    from reportlab.pdfgen import canvas

    from jichitai.platform.pdf.signing import new_test_sealer, sign_pdf, verify_pdf

    buf = io.BytesIO()
    page = canvas.Canvas(buf)
    page.drawString(100, 100, "seal")
    page.save()
    signer, ca = new_test_sealer("千代田区")

    async def in_loop() -> bytes:
        return sign_pdf(buf.getvalue(), signer, "test", "千代田区")

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        sealed = asyncio.run(in_loop())
    else:  # already inside a running loop (a browser test ran earlier in this worker)
        sealed = sign_pdf(buf.getvalue(), signer, "test", "千代田区")
    result = verify_pdf(sealed, [ca.certificate])
    assert result.intact and result.trusted and result.covers_whole_document
