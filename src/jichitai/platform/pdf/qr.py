"""Verification QR codes drawn as vectors into reportlab pages.

The payload is a URL: ``{verify_base_url}?s=<serial>&h=<prefix of the content digest>``. The content
digest is the SHA-256 of the document's canonical content (what was printed, as the issuing
business defines it); the issuer keeps it with the serial, so a presented paper copy can be checked
against the issuance record, and a presented PDF additionally by its PAdES signature.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from reportlab.pdfgen.canvas import Canvas

from jichitai.platform.errors import ValidationError

HASH_PREFIX_HEX = 16  # 64 bits: enough to tell documents apart; the signature does the rest
# Automatic mask selection scores all eight masks and costs ~8 ms a code; every mask is valid
# (ISO/IEC 18004 leaves the choice to the encoder), so a fixed one keeps issuance fast (~1 ms).
_MASK_PATTERN = 2
_SERIAL_RE = re.compile(r"^[0-9A-Za-z\-]{1,64}$")


def content_digest(canonical: bytes) -> str:
    """The hex SHA-256 of a document's canonical content."""
    return hashlib.sha256(canonical).hexdigest()


def verification_payload(verify_base_url: str, serial: str, digest_hex: str) -> str:
    """The URL a QR code carries for a document."""
    if not _SERIAL_RE.match(serial):
        raise ValidationError(f"serial {serial!r} must be 1-64 letters, digits or hyphens")
    if not re.fullmatch(rf"[0-9a-f]{{{HASH_PREFIX_HEX},}}", digest_hex):
        raise ValidationError("content digest must be lower-case hex (SHA-256)")
    sep = "&" if "?" in verify_base_url else "?"
    return f"{verify_base_url}{sep}{urlencode({'s': serial, 'h': digest_hex[:HASH_PREFIX_HEX]})}"


def parse_verification_payload(payload: str) -> tuple[str, str]:
    """``(serial, digest prefix)`` from a payload URL."""
    try:  # the payload comes from a presented document: urlsplit refuses a broken host ("[")
        query = parse_qs(urlsplit(payload).query)
    except ValueError:
        query = {}
    serial = query.get("s", [""])[0]
    prefix = query.get("h", [""])[0]
    if not serial or not prefix:
        raise ValidationError(
            f"not a verification payload: {payload!r}", message_ja="検証用コードの内容が読み取れません"
        )
    return serial, prefix


def qr_matrix(data: str) -> list[list[bool]]:
    """The module matrix (True = dark) of a QR code for ``data``, without quiet zone."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=_MASK_PATTERN)
    code.add_data(data)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def draw_qr(canvas: Canvas, data: str, x: float, y: float, size: float) -> None:
    """Draw a QR code with its lower-left corner at (x, y), ``size`` points wide, plus quiet zone.

    The modules are written as raw path operators in a module-unit coordinate system (integers,
    one rectangle per horizontal run of dark modules): reportlab's per-number formatting would
    otherwise cost more than the rest of a certificate page.
    """
    matrix = qr_matrix(data)
    n = len(matrix)
    quiet = 4  # modules of white border the standard asks for
    module = size / (n + 2 * quiet)
    ops: list[str] = []
    for r, row in enumerate(matrix):
        top = n - r - 1
        c = 0
        while c < n:
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                ops.append(f"{start} {top} {c - start} 1 re")
            else:
                c += 1
    canvas.saveState()
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.translate(x + quiet * module, y + quiet * module)
    canvas.scale(module, module)
    canvas.addLiteral("\n".join(ops) + "\nf")
    canvas.restoreState()
