"""Document marks: the serial and verification payload a document carries in its Info dictionary.

The same payload is printed as a QR code; keeping it in the Info dictionary too lets a verifier read
it without decoding an image. The Info dictionary is inside the signed byte range, so the marks are
covered by the PAdES signature like the page content.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from pyhanko.pdf_utils.reader import PdfFileReader
from reportlab.pdfbase.pdfdoc import PDFInfo, PDFString
from reportlab.pdfgen.canvas import Canvas

SERIAL_KEY = "JichitaiSerial"
PAYLOAD_KEY = "JichitaiVerify"


@dataclass(frozen=True)
class DocumentMarks:
    serial: str  # 証明書番号 / 文書番号
    payload: str  # the verification URL printed as QR code


class _InfoWithMarks(PDFInfo):  # type: ignore[misc]  # reportlab is untyped
    def __init__(self, base: Any, marks: DocumentMarks) -> None:
        super().__init__()
        self.__dict__.update(base.__dict__)
        self._marks = marks

    def format(self, document: Any) -> bytes:
        # reportlab's PDFInfo has a fixed key set; add ours to the dictionary it formats.
        formatted: bytes = super().format(document)
        serial: bytes = PDFString(self._marks.serial).format(document)
        payload: bytes = PDFString(self._marks.payload).format(document)
        extra = f"/{SERIAL_KEY} ".encode() + serial + f" /{PAYLOAD_KEY} ".encode() + payload
        end = formatted.rindex(b">>")
        return formatted[:end] + extra + b"\n" + formatted[end:]


def mark_document(canvas: Canvas, marks: DocumentMarks, *, title: str, author: str) -> None:
    """Set title, author and the marks of the document a canvas produces."""
    canvas.setTitle(title)
    canvas.setAuthor(author)
    canvas.setSubject(f"{title} {marks.serial}")
    canvas.setCreator("jichitai")
    doc = canvas._doc
    doc.info = _InfoWithMarks(doc.info, marks)


def read_marks(reader: PdfFileReader) -> DocumentMarks | None:
    """The marks of a parsed PDF, or None when it carries none."""
    info = reader.trailer_view.get("/Info")
    if info is None:
        return None
    info = info.get_object()
    serial = info.get("/" + SERIAL_KEY)
    payload = info.get("/" + PAYLOAD_KEY)
    if serial is None or payload is None:
        return None
    return DocumentMarks(serial=str(serial), payload=str(payload))


def read_marks_from_bytes(pdf: bytes) -> DocumentMarks | None:
    return read_marks(PdfFileReader(io.BytesIO(pdf), strict=False))
