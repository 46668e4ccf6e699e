"""The one entry point: judge the kind from content, hand it to its sanitizer, fail closed."""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile

from jichitai.platform.sanitize.base import REGISTRY, SanitizerRegistry
from jichitai.platform.sanitize.detect import SIGNAL_PDF_HEADER_OFFSET, Detection, detect
from jichitai.platform.sanitize.kinds import ZIP_BASED_KINDS, Kind
from jichitai.platform.sanitize.limits import DEFAULT_LIMITS, Limits
from jichitai.platform.sanitize.names import declared_mismatch, safe_output_name
from jichitai.platform.sanitize.result import UNSUPPORTED_JA, Cleaned, Method, Refused, SanitizeResult

log = logging.getLogger(__name__)

TOO_LARGE_JA = "ファイルが大きすぎるため受け付けられません"
EMPTY_JA = "空のファイルは受け付けられません"
POLYGLOT_JA = "複数の形式として解釈できるファイル（ポリグロット）は受け付けられません"
FAILED_JA = "ファイルを安全に処理できなかったため受け付けられません"

_OUTPUT_MAGIC = {
    "application/pdf": b"%PDF-",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
}
_OUTPUT_EXT = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


def sanitize(
    data: bytes,
    *,
    declared_name: str,
    declared_type: str,
    limits: Limits = DEFAULT_LIMITS,
    registry: SanitizerRegistry = REGISTRY,
) -> SanitizeResult:
    """Make a clean copy of an untrusted file (無害化), or refuse it with a reason.

    ``declared_name`` and ``declared_type`` are what the sender claimed; they only produce warnings
    and the output's name, never the choice of handling. Never raises for bad input.
    """
    original_sha256 = hashlib.sha256(data).hexdigest()
    warnings: list[str] = []

    def refused(kind: Kind, exc: Refused) -> SanitizeResult:
        log.info("sanitize refused %s (%s): %s", original_sha256[:12], kind.value, exc)
        return SanitizeResult(
            ok=False,
            kind=kind,
            output=None,
            output_type=None,
            output_name=None,
            method=Method.REFUSED,
            removed=[],
            warnings=warnings,
            original_sha256=original_sha256,
            output_sha256=None,
            reason=exc.code,
            reason_ja=exc.reason_ja,
        )

    if len(data) > limits.max_input_bytes:
        return refused(Kind.UNKNOWN, Refused("too_large", TOO_LARGE_JA, f"{len(data)} bytes"))
    try:
        detection = detect(data, limits)
    except Refused as exc:  # a zip bomb or nested archive met while looking inside a ZIP
        return refused(Kind.ZIP, exc)
    kind = detection.kind
    warnings += declared_mismatch(declared_name, declared_type, kind)
    if kind is Kind.EMPTY:
        return refused(kind, Refused("empty", EMPTY_JA))
    sanitizer = registry.for_kind(kind)
    if sanitizer is None:
        if SIGNAL_PDF_HEADER_OFFSET in detection.signals:
            return refused(kind, Refused("polyglot", POLYGLOT_JA, f"{kind.value} with a PDF header inside"))
        return refused(kind, Refused("unsupported_type", UNSUPPORTED_JA, kind.value))
    try:
        cleaned = sanitizer.sanitize(data, detection, limits)
        _final_check(cleaned, detection)
    except Refused as exc:
        return refused(kind, exc)
    except Exception as exc:  # fail closed: a parser bug must not let the original through
        log.exception("sanitizer %s failed on %s", sanitizer.name, original_sha256[:12])
        return refused(kind, Refused("sanitize_error", FAILED_JA, repr(exc)))
    return SanitizeResult(
        ok=True,
        kind=kind,
        output=cleaned.output,
        output_type=cleaned.output_type,
        output_name=safe_output_name(declared_name, _OUTPUT_EXT[cleaned.output_type]),
        method=cleaned.method,
        removed=cleaned.removed,
        warnings=warnings + cleaned.warnings,
        original_sha256=original_sha256,
        output_sha256=hashlib.sha256(cleaned.output).hexdigest(),
    )


def _final_check(cleaned: Cleaned, detection: Detection) -> None:
    """The output must be exactly the type it claims, and no longer readable as an archive."""
    magic = _OUTPUT_MAGIC.get(cleaned.output_type)
    if magic is None or not cleaned.output.startswith(magic):
        raise Refused("sanitize_error", FAILED_JA, f"output is not {cleaned.output_type}")
    if zipfile.is_zipfile(io.BytesIO(cleaned.output)):
        kind = detection.kind
        note = "office source" if kind in ZIP_BASED_KINDS else "polyglot"
        raise Refused("polyglot", POLYGLOT_JA, f"output still reads as ZIP ({note})")
