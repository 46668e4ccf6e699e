"""What sanitizing returns, and how a sanitizer says no."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from jichitai.platform.sanitize.kinds import Kind


class Method(StrEnum):
    """How the clean copy was made."""

    REBUILT_PDF = "rebuilt_pdf"
    FLATTENED_PDF = "flattened_pdf"
    REENCODED_IMAGE = "reencoded_image"
    CONVERTED_OFFICE = "converted_office"
    REFUSED = "refused"


UNSUPPORTED_JA = "この形式のファイルは受け付けられません"
NO_CONVERTER_JA = "変換環境がないため受け付けられません"


class Refused(Exception):
    """Raised inside sanitizers: the file cannot be made safe. ``code`` is stable, for logs and tests."""

    def __init__(self, code: str, reason_ja: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.reason_ja = reason_ja
        self.detail = detail


class CleaningFailed(Exception):
    """A cleaner could not rebuild the file; the caller may try a stronger method (flattening)."""


@dataclass(slots=True)
class Cleaned:
    """A sanitizer's successful output, before the orchestrator adds hashes and the name."""

    output: bytes
    output_type: str
    method: Method
    removed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SanitizeResult:
    """Outcome of :func:`jichitai.platform.sanitize.sanitize` (無害化の結果).

    ``removed`` names what was taken out (JavaScript, OpenAction, EmbeddedFiles, EXIF, ...);
    ``warnings`` notes what staff should know (a name that lied about the type, frames dropped).
    The original is not kept here: the caller quarantines it, keyed by ``original_sha256``.
    """

    ok: bool
    kind: Kind
    output: bytes | None
    output_type: str | None
    output_name: str | None
    method: Method
    removed: list[str]
    warnings: list[str]
    original_sha256: str
    output_sha256: str | None
    reason: str | None = None  # stable code when refused (e.g. "zip_bomb", "unsupported_type")
    reason_ja: str | None = None  # shown to staff and, where appropriate, the resident
