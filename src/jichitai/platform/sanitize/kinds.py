"""File kinds recognised from content (magic bytes and structure), never from a name."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What a file really is, judged from its bytes."""

    PDF = "pdf"
    PNG = "png"
    JPEG = "jpeg"
    GIF = "gif"
    WEBP = "webp"
    TIFF = "tiff"
    DOCX = "docx"
    XLSX = "xlsx"
    PPTX = "pptx"
    ODT = "odt"
    ODS = "ods"
    ODP = "odp"
    DOC = "doc"
    XLS = "xls"
    PPT = "ppt"
    ZIP = "zip"
    JAR = "jar"
    OLE = "ole"
    EXE = "exe"
    ELF = "elf"
    HTML = "html"
    XML = "xml"
    SVG = "svg"
    GZIP = "gzip"
    BZIP2 = "bzip2"
    XZ = "xz"
    SEVEN_Z = "7z"
    RAR = "rar"
    TAR = "tar"
    EMPTY = "empty"
    UNKNOWN = "unknown"


IMAGE_KINDS = frozenset({Kind.PNG, Kind.JPEG, Kind.GIF, Kind.WEBP, Kind.TIFF})
OOXML_KINDS = frozenset({Kind.DOCX, Kind.XLSX, Kind.PPTX})
ODF_KINDS = frozenset({Kind.ODT, Kind.ODS, Kind.ODP})
LEGACY_OFFICE_KINDS = frozenset({Kind.DOC, Kind.XLS, Kind.PPT})
OFFICE_KINDS = OOXML_KINDS | ODF_KINDS | LEGACY_OFFICE_KINDS
ZIP_BASED_KINDS = OOXML_KINDS | ODF_KINDS | {Kind.ZIP, Kind.JAR}

MIME_OF: dict[Kind, str] = {
    Kind.PDF: "application/pdf",
    Kind.PNG: "image/png",
    Kind.JPEG: "image/jpeg",
    Kind.GIF: "image/gif",
    Kind.WEBP: "image/webp",
    Kind.TIFF: "image/tiff",
    Kind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    Kind.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Kind.PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    Kind.ODT: "application/vnd.oasis.opendocument.text",
    Kind.ODS: "application/vnd.oasis.opendocument.spreadsheet",
    Kind.ODP: "application/vnd.oasis.opendocument.presentation",
    Kind.DOC: "application/msword",
    Kind.XLS: "application/vnd.ms-excel",
    Kind.PPT: "application/vnd.ms-powerpoint",
    Kind.ZIP: "application/zip",
    Kind.JAR: "application/java-archive",
    Kind.OLE: "application/x-ole-storage",
    Kind.EXE: "application/vnd.microsoft.portable-executable",
    Kind.ELF: "application/x-executable",
    Kind.HTML: "text/html",
    Kind.XML: "application/xml",
    Kind.SVG: "image/svg+xml",
    Kind.GZIP: "application/gzip",
    Kind.BZIP2: "application/x-bzip2",
    Kind.XZ: "application/x-xz",
    Kind.SEVEN_Z: "application/x-7z-compressed",
    Kind.RAR: "application/vnd.rar",
    Kind.TAR: "application/x-tar",
    Kind.EMPTY: "application/x-empty",
    Kind.UNKNOWN: "application/octet-stream",
}

# Extension a name would carry for each kind; used only to notice names that lie.
EXTENSIONS_OF: dict[Kind, frozenset[str]] = {
    Kind.PDF: frozenset({"pdf"}),
    Kind.PNG: frozenset({"png"}),
    Kind.JPEG: frozenset({"jpg", "jpeg", "jpe", "jfif"}),
    Kind.GIF: frozenset({"gif"}),
    Kind.WEBP: frozenset({"webp"}),
    Kind.TIFF: frozenset({"tif", "tiff"}),
    Kind.DOCX: frozenset({"docx", "docm", "dotx", "dotm"}),
    Kind.XLSX: frozenset({"xlsx", "xlsm", "xltx", "xltm"}),
    Kind.PPTX: frozenset({"pptx", "pptm", "potx", "ppsx"}),
    Kind.ODT: frozenset({"odt"}),
    Kind.ODS: frozenset({"ods"}),
    Kind.ODP: frozenset({"odp"}),
    Kind.DOC: frozenset({"doc", "dot"}),
    Kind.XLS: frozenset({"xls", "xlt"}),
    Kind.PPT: frozenset({"ppt", "pps"}),
}
