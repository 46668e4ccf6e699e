"""無害化 (sanitization): clean copies of untrusted files for staff and the My Number zone.

Files from the internet are judged by their content (never their name), then rebuilt: PDFs
without JavaScript, actions, embedded files, forms, links and metadata (flattened to page images
when they cannot be rebuilt); images re-encoded from pixels; Office documents converted to PDF by
LibreOffice and cleaned. Everything else, archives included, is refused with a Japanese reason.
The caller keeps the original in quarantine under ``SanitizeResult.original_sha256``.

Usage::

    result = sanitize(data, declared_name="診断書.pdf", declared_type="application/pdf")
    if result.ok:
        store(result.output, result.output_name, result.output_type)
    else:
        show(result.reason_ja)
"""

from jichitai.platform.sanitize import images as _images  # noqa: F401  (registers ImageSanitizer)
from jichitai.platform.sanitize import office as _office  # noqa: F401  (registers OfficeSanitizer)
from jichitai.platform.sanitize import pdf as _pdf  # noqa: F401  (registers PdfSanitizer)
from jichitai.platform.sanitize.base import REGISTRY, Sanitizer, SanitizerRegistry
from jichitai.platform.sanitize.core import sanitize
from jichitai.platform.sanitize.detect import Detection, detect
from jichitai.platform.sanitize.kinds import Kind
from jichitai.platform.sanitize.limits import DEFAULT_LIMITS, Limits
from jichitai.platform.sanitize.office import find_soffice
from jichitai.platform.sanitize.result import Cleaned, Method, Refused, SanitizeResult

__all__ = [
    "DEFAULT_LIMITS",
    "REGISTRY",
    "Cleaned",
    "Detection",
    "Kind",
    "Limits",
    "Method",
    "Refused",
    "SanitizeResult",
    "Sanitizer",
    "SanitizerRegistry",
    "detect",
    "find_soffice",
    "sanitize",
]
