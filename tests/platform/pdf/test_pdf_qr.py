from __future__ import annotations

import io
import re
import zlib

import pikepdf
import pytest
from reportlab.pdfgen.canvas import Canvas

from jichitai.platform.errors import ValidationError
from jichitai.platform.pdf import qr


def test_payload_carries_serial_and_digest_prefix() -> None:
    digest = qr.content_digest(b"content")
    payload = qr.verification_payload("https://verify.example.lg.jp/c", "141003-2026-000001", digest)
    assert payload == f"https://verify.example.lg.jp/c?s=141003-2026-000001&h={digest[:16]}"
    assert qr.parse_verification_payload(payload) == ("141003-2026-000001", digest[:16])


def test_payload_rejects_bad_input() -> None:
    with pytest.raises(ValidationError):
        qr.verification_payload("https://v", "bad serial!", qr.content_digest(b"x"))
    with pytest.raises(ValidationError):
        qr.verification_payload("https://v", "S1", "XYZ")
    with pytest.raises(ValidationError):
        qr.parse_verification_payload("https://v?x=1")
    # a payload read from an altered document: urlsplit's own ValueError must not escape
    with pytest.raises(ValidationError):
        qr.parse_verification_payload("https://[verify.example.lg.jp/c?s=S1&h=0123456789abcdef")


def test_drawn_qr_has_one_rectangle_per_dark_run() -> None:
    data = "https://verify.example.lg.jp/c?s=S1&h=0123456789abcdef"
    matrix = qr.qr_matrix(data)
    runs = sum(len(re.findall(r"1+", "".join("1" if m else "0" for m in row))) for row in matrix)
    buf = io.BytesIO()
    c = Canvas(buf, pageCompression=0)
    qr.draw_qr(c, data, 40, 40, 70)
    c.showPage()
    c.save()
    pdf = pikepdf.open(io.BytesIO(buf.getvalue()))
    stream = (
        pdf.pages[0].Contents.read_bytes() if not isinstance(pdf.pages[0].Contents, pikepdf.Array) else b""
    )
    if not stream:
        stream = zlib.decompress(pdf.pages[0].Contents[0].read_raw_bytes())
    assert stream.count(b" re\n") + stream.count(b" re\r") >= runs
    assert len(matrix) >= 21  # a real QR symbol (version 1 is 21 modules)
