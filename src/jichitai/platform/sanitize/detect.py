"""Type detection from content: leading magic bytes, then structure, then polyglot signals.

A name or a declared MIME type never decides the kind. Signals record foreign structures found
alongside the primary kind (a ZIP directory at the end of a PDF, a PE executable inside a JPEG, a
PDF header a few bytes into a ZIP); the orchestrator decides whether rebuilding neutralizes them or
the file is refused.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field

from jichitai.platform.sanitize.kinds import (
    LEGACY_OFFICE_KINDS,
    Kind,
)
from jichitai.platform.sanitize.limits import Limits
from jichitai.platform.sanitize.result import Refused
from jichitai.platform.sanitize.zipscan import (
    NESTED_JA,
    ZipSummary,
    inspect_zip,
    member_starts_with_archive,
    open_zip,
    read_small_member,
)

# PDF readers accept a header anywhere in the first 1024 bytes; that tolerance is what polyglots use.
PDF_HEADER_WINDOW = 1024

SIGNAL_PDF_HEADER_OFFSET = "pdf_header_not_at_start"
SIGNAL_ZIP = "zip_structure"
SIGNAL_PE = "pe_executable"
SIGNAL_TRAILING = "trailing_data"
SIGNAL_HTML = "html_markup"
SIGNAL_MACROS = "vba_macros"
SIGNAL_EMBEDDED_OBJECTS = "embedded_objects"
SIGNAL_EXTERNAL_REFS = "external_references"


@dataclass(frozen=True, slots=True)
class Detection:
    """The kind found in the bytes, plus foreign structures seen alongside it."""

    kind: Kind
    signals: tuple[str, ...] = ()
    zip_summary: ZipSummary | None = field(default=None, compare=False)


_MAGICS: tuple[tuple[bytes, Kind], ...] = (
    (b"%PDF-", Kind.PDF),
    (b"\x89PNG\r\n\x1a\n", Kind.PNG),
    (b"\xff\xd8\xff", Kind.JPEG),
    (b"GIF87a", Kind.GIF),
    (b"GIF89a", Kind.GIF),
    (b"II*\x00", Kind.TIFF),
    (b"MM\x00*", Kind.TIFF),
    (b"PK\x03\x04", Kind.ZIP),
    (b"PK\x05\x06", Kind.ZIP),
    (b"PK\x07\x08", Kind.ZIP),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", Kind.OLE),
    (b"MZ", Kind.EXE),
    (b"\x7fELF", Kind.ELF),
    (b"\x1f\x8b", Kind.GZIP),
    (b"BZh", Kind.BZIP2),
    (b"\xfd7zXZ\x00", Kind.XZ),
    (b"7z\xbc\xaf\x27\x1c", Kind.SEVEN_Z),
    (b"Rar!\x1a\x07", Kind.RAR),
)

_HTML_RE = re.compile(
    rb"<\s*(!doctype\s+html|html|head|body|script|iframe|meta|a\s|div|img\s)", re.IGNORECASE
)
_PE_RE = re.compile(rb"This program cannot be run in DOS mode|PE\x00\x00[\x4c\x64\x86]", re.DOTALL)
_ZIP_EOCD = b"PK\x05\x06"
_ZIP_LOCAL = b"PK\x03\x04"

_OOXML_MAIN_TYPES: tuple[tuple[bytes, Kind], ...] = (
    (b"wordprocessingml.document.main+xml", Kind.DOCX),
    (b"wordprocessingml.template.main+xml", Kind.DOCX),
    (b"ms-word.document.macroEnabled.main+xml", Kind.DOCX),
    (b"ms-word.template.macroEnabledTemplate.main+xml", Kind.DOCX),
    (b"spreadsheetml.sheet.main+xml", Kind.XLSX),
    (b"spreadsheetml.template.main+xml", Kind.XLSX),
    (b"ms-excel.sheet.macroEnabled.main+xml", Kind.XLSX),
    (b"presentationml.presentation.main+xml", Kind.PPTX),
    (b"ms-powerpoint.presentation.macroEnabled.main+xml", Kind.PPTX),
)
_ODF_MIMETYPES: dict[bytes, Kind] = {
    b"application/vnd.oasis.opendocument.text": Kind.ODT,
    b"application/vnd.oasis.opendocument.spreadsheet": Kind.ODS,
    b"application/vnd.oasis.opendocument.presentation": Kind.ODP,
}
# Directory entry names of the main stream of legacy binary Office files, as stored (UTF-16LE).
_OLE_STREAMS: tuple[tuple[bytes, Kind], ...] = (
    ("WordDocument".encode("utf-16-le"), Kind.DOC),
    ("Workbook".encode("utf-16-le"), Kind.XLS),
    ("Book".encode("utf-16-le") + b"\x00\x00", Kind.XLS),
    ("PowerPoint Document".encode("utf-16-le"), Kind.PPT),
)
_OLE_MACRO_MARKERS = ("_VBA_PROJECT".encode("utf-16-le"), "Macros".encode("utf-16-le"))
_EXTERNAL_REL = re.compile(rb"<Relationship\b[^>]*>", re.IGNORECASE)


def detect(data: bytes, limits: Limits) -> Detection:
    """Judge ``data``'s kind from its bytes. Raises :class:`Refused` for zip bombs found on the way."""
    if not data:
        return Detection(Kind.EMPTY)
    kind = _leading_kind(data)
    if kind is Kind.ZIP:
        return _detect_zip(data, limits)
    signals = list(_foreign_signals(data, kind))
    if kind is Kind.OLE:
        kind = _ole_kind(data)
        if kind in LEGACY_OFFICE_KINDS and any(m in data for m in _OLE_MACRO_MARKERS):
            signals.append(SIGNAL_MACROS)
    elif kind is Kind.UNKNOWN:
        kind = _text_kind(data)
    return Detection(kind, tuple(dict.fromkeys(signals)))


def _leading_kind(data: bytes) -> Kind:
    for magic, kind in _MAGICS:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return Kind.WEBP
    if data[257:262] == b"ustar":
        return Kind.TAR
    return Kind.UNKNOWN


def _foreign_signals(data: bytes, kind: Kind) -> list[str]:
    signals: list[str] = []
    pdf_at = data.find(b"%PDF-", 0, PDF_HEADER_WINDOW + 5)
    if pdf_at > 0:
        signals.append(SIGNAL_PDF_HEADER_OFFSET)
    if kind is not Kind.ZIP and (_ZIP_EOCD in data or _ZIP_LOCAL in data):
        signals.append(SIGNAL_ZIP)
    if kind is not Kind.EXE and _PE_RE.search(data):
        signals.append(SIGNAL_PE)
    if kind in (Kind.PNG, Kind.GIF, Kind.JPEG, Kind.WEBP) and _HTML_RE.search(data[:PDF_HEADER_WINDOW]):
        signals.append(SIGNAL_HTML)
    if _has_trailing_data(data, kind):
        signals.append(SIGNAL_TRAILING)
    return signals


def _has_trailing_data(data: bytes, kind: Kind) -> bool:
    if kind is Kind.PDF:
        end = data.rfind(b"%%EOF")
        return end < 0 or bool(data[end + 5 :].strip(b"\r\n\t \x00"))
    if kind is Kind.PNG:
        end = data.rfind(b"IEND")
        return end < 0 or len(data) > end + 8
    if kind is Kind.JPEG:
        end = data.rfind(b"\xff\xd9")
        return end < 0 or bool(data[end + 2 :].strip(b"\x00"))
    if kind is Kind.GIF:
        return not data.rstrip(b"\x00").endswith(b";")
    return False


def _text_kind(data: bytes) -> Kind:
    head = data[:4096].lstrip(b"\xef\xbb\xbf\xff\xfe\r\n\t ").lower()
    if head.startswith(b"<?xml"):
        return Kind.SVG if b"<svg" in head else Kind.XML
    if head.startswith(b"<svg"):
        return Kind.SVG
    if _HTML_RE.search(head):
        return Kind.HTML
    return Kind.UNKNOWN


def _ole_kind(data: bytes) -> Kind:
    for marker, kind in _OLE_STREAMS:
        if marker in data:
            return kind
    return Kind.OLE


def _detect_zip(data: bytes, limits: Limits) -> Detection:
    signals: list[str] = []
    if data.find(b"%PDF-", 0, PDF_HEADER_WINDOW + 5) > 0:
        signals.append(SIGNAL_PDF_HEADER_OFFSET)
    if _PE_RE.search(data):
        signals.append(SIGNAL_PE)
    with open_zip(data) as zf:
        summary = inspect_zip(zf, limits)
        nested = list(summary.nested_archives)
        kind = _zip_subkind(zf, summary, limits)
        if kind is not Kind.ZIP and kind is not Kind.JAR:
            # Members of office files are not named .zip, so look at the magic of every binary part.
            nested += [
                n
                for n in summary.names
                if not n.endswith((".xml", ".rels", "/"))
                and n != "mimetype"
                and member_starts_with_archive(zf, n)
            ]
            signals += _office_signals(zf, summary, limits)
    if nested:
        raise Refused("nested_archive", NESTED_JA, ", ".join(nested[:5]))
    return Detection(kind, tuple(dict.fromkeys(signals)), summary)


def _zip_subkind(zf: zipfile.ZipFile, summary: ZipSummary, limits: Limits) -> Kind:
    names = set(summary.names)
    if "[Content_Types].xml" in names:
        types = read_small_member(zf, "[Content_Types].xml", limits) or b""
        for marker, kind in _OOXML_MAIN_TYPES:
            if marker in types:
                return kind
        return Kind.ZIP
    if summary.names and summary.names[0] == "mimetype":
        mimetype = (read_small_member(zf, "mimetype", limits) or b"").strip()
        if mimetype in _ODF_MIMETYPES:
            return _ODF_MIMETYPES[mimetype]
    if "META-INF/MANIFEST.MF" in names and any(n.endswith(".class") for n in names):
        return Kind.JAR
    return Kind.ZIP


def _office_signals(zf: zipfile.ZipFile, summary: ZipSummary, limits: Limits) -> list[str]:
    signals: list[str] = []
    lowered = [n.lower() for n in summary.names]
    if any(n.endswith("vbaproject.bin") or n.startswith("basic/") for n in lowered):
        signals.append(SIGNAL_MACROS)
    if any("/embeddings/" in n or "/activex/" in n or n.startswith("object ") for n in lowered):
        signals.append(SIGNAL_EMBEDDED_OBJECTS)
    for name in summary.names:
        if not name.endswith(".rels"):
            continue
        rels = read_small_member(zf, name, limits) or b""
        for rel in _EXTERNAL_REL.findall(rels):
            # Hyperlinks are only text to the converter (and links are dropped from its PDF);
            # any other external target (a remote template, a linked image) would be fetched.
            if b'TargetMode="External"' in rel and not re.search(rb'Type="[^"]*/hyperlink"', rel):
                signals.append(SIGNAL_EXTERNAL_REFS)
                break
    return signals
