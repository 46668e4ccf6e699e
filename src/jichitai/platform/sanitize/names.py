"""Output file names and declared-type checks; names only ever inform, never decide."""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath

from jichitai.platform.sanitize.kinds import EXTENSIONS_OF, MIME_OF, Kind

_MAX_STEM = 100


def safe_output_name(declared_name: str, extension: str) -> str:
    """A file name for the clean copy: the declared stem without paths, control or bidi characters."""
    base = PurePosixPath(declared_name.replace("\\", "/")).name
    stem = base.rsplit(".", 1)[0] if "." in base else base
    # Cc: control characters; Cf: format characters such as U+202E RIGHT-TO-LEFT OVERRIDE, which
    # make "annual_fdp.exe" display as "annual_exe.pdf".
    stem = "".join(ch for ch in stem if unicodedata.category(ch) not in {"Cc", "Cf"})
    stem = stem.replace("/", "_").strip(" .")[:_MAX_STEM].strip(" .")
    return f"{stem or 'file'}.{extension}"


def declared_mismatch(declared_name: str, declared_type: str, kind: Kind) -> list[str]:
    """Warnings where the declared name or MIME type disagrees with the content's real kind."""
    warnings: list[str] = []
    ext = declared_name.rsplit(".", 1)[-1].lower() if "." in declared_name else ""
    expected_exts = EXTENSIONS_OF.get(kind, frozenset())
    if ext and ext not in expected_exts:
        warnings.append(f"declared name '.{ext}' does not match content ({kind.value})")
    mime = declared_type.split(";", 1)[0].strip().lower()
    real = MIME_OF[kind]
    if mime and mime not in {real, "application/octet-stream"} and not _same_family(mime, kind):
        warnings.append(f"declared type '{mime}' does not match content ({real})")
    return warnings


def _same_family(mime: str, kind: Kind) -> bool:
    aliases = {
        Kind.JPEG: {"image/jpg", "image/pjpeg"},
        Kind.PDF: {"application/x-pdf"},
        Kind.PNG: {"image/x-png"},
    }
    return mime in aliases.get(kind, set())
