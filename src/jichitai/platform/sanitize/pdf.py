"""The PDF sanitizer: rebuild with pikepdf; flatten to images when that fails."""

from __future__ import annotations

import logging
from typing import ClassVar

from jichitai.platform.sanitize.base import REGISTRY, Sanitizer
from jichitai.platform.sanitize.detect import (
    SIGNAL_PDF_HEADER_OFFSET,
    SIGNAL_PE,
    SIGNAL_TRAILING,
    SIGNAL_ZIP,
    Detection,
)
from jichitai.platform.sanitize.kinds import Kind
from jichitai.platform.sanitize.limits import Limits
from jichitai.platform.sanitize.pdf_clean import clean_pdf, verify_clean_pdf
from jichitai.platform.sanitize.pdf_flatten import flatten_pdf
from jichitai.platform.sanitize.result import Cleaned, CleaningFailed, Method, Refused

log = logging.getLogger(__name__)

FAILED_JA = "ファイルを安全に処理できなかったため受け付けられません"

_SIGNAL_LABELS = {
    SIGNAL_ZIP: "ZIP archive inside the file (polyglot)",
    SIGNAL_PE: "executable inside the file (polyglot)",
    SIGNAL_TRAILING: "data appended after %%EOF",
    SIGNAL_PDF_HEADER_OFFSET: "bytes before the PDF header",
}


def sanitize_pdf_bytes(data: bytes, limits: Limits, signals: tuple[str, ...] = ()) -> Cleaned:
    """Clean a PDF (also used for LibreOffice's output). Raises ``Refused`` when neither method works."""
    foreign = [_SIGNAL_LABELS[s] for s in signals if s in _SIGNAL_LABELS]
    try:
        output, removed, _pages = clean_pdf(data, limits)
        return Cleaned(output, "application/pdf", Method.REBUILT_PDF, foreign + removed)
    except CleaningFailed as exc:
        log.info("PDF rebuild failed, flattening to images: %s", exc)
        reason = str(exc)
    output, _pages = flatten_pdf(data, limits)
    try:
        verify_clean_pdf(output)
    except CleaningFailed as exc:
        raise Refused("sanitize_error", FAILED_JA, f"flattened PDF failed verification: {exc}") from exc
    return Cleaned(
        output,
        "application/pdf",
        Method.FLATTENED_PDF,
        [*foreign, "all interactive and embedded content (pages flattened to images)"],
        [f"rebuilding failed ({reason}); pages were flattened to images, text is no longer selectable"],
    )


class PdfSanitizer(Sanitizer):
    kinds: ClassVar[frozenset[Kind]] = frozenset({Kind.PDF})
    name: ClassVar[str] = "pdf"

    def sanitize(self, data: bytes, detection: Detection, limits: Limits) -> Cleaned:
        return sanitize_pdf_bytes(data, limits, detection.signals)


REGISTRY.register(PdfSanitizer())
