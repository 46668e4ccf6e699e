"""Fixtures for the PDF helpers: one test CA and seal keys per session (key generation is slow)."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable

import pytest
from reportlab.pdfgen.canvas import Canvas

from jichitai.platform.pdf import fonts, signing
from jichitai.platform.pdf.metadata import DocumentMarks, mark_document


@pytest.fixture(scope="session")
def registered_fonts() -> None:
    fonts.register_fonts()  # IPAmj is loaded once for the whole session


@pytest.fixture(scope="session")
def test_ca() -> signing.CertificateAuthority:
    return signing.create_test_ca()


@pytest.fixture(scope="session")
def ec_signer(test_ca: signing.CertificateAuthority) -> signing.KeyRawSigner:
    key = signing.generate_seal_key("ec")
    cert = signing.issue_seal_certificate(test_ca, key.public_key(), "横浜市", tenant_code="141003")
    return signing.KeyRawSigner(key, cert)


@pytest.fixture(scope="session")
def rsa_signer(test_ca: signing.CertificateAuthority) -> signing.KeyRawSigner:
    key = signing.generate_seal_key("rsa")
    cert = signing.issue_seal_certificate(test_ca, key.public_key(), "川崎市")
    return signing.KeyRawSigner(key, cert)


def _make_pdf(text: str = "通知書", serial: str = "T-0001") -> bytes:
    buf = io.BytesIO()
    c = Canvas(buf)
    fonts.register_fonts(names=False)
    c.setFont(fonts.MINCHO, 12)
    c.drawString(72, 720, text)
    mark_document(
        c,
        DocumentMarks(serial, f"https://verify.example.lg.jp/c?s={serial}&h=0123456789abcdef"),
        title="テスト通知",
        author="横浜市",
    )
    c.showPage()
    c.save()
    return buf.getvalue()


def _pdf_text(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


@pytest.fixture(scope="session")
def pdf_text() -> Callable[[bytes], str]:
    """Text of a PDF as poppler's pdftotext extracts it."""
    return _pdf_text


@pytest.fixture(scope="session")
def unsigned_pdf() -> bytes:
    return _make_pdf()
