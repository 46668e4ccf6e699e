"""Type by content, names that lie, polyglots, archives and zip bombs (never expanded)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from jichitai.platform.sanitize import (
    REGISTRY,
    Cleaned,
    Detection,
    Kind,
    Limits,
    Method,
    Sanitizer,
    SanitizerRegistry,
    detect,
    sanitize,
)
from jichitai.platform.sanitize import office as office_module
from jichitai.platform.sanitize.names import safe_output_name
from tests.platform.sanitize import corpus

UNSUPPORTED = "この形式のファイルは受け付けられません"


@pytest.fixture
def zip_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Bytes decompressed from ZIP members during the test."""
    counts: list[int] = []
    real_read = zipfile.ZipExtFile.read

    def counting_read(self: zipfile.ZipExtFile, n: int = -1) -> bytes:
        data = real_read(self, n)
        counts.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    return counts


def test_exe_renamed_pdf_is_refused_as_an_executable() -> None:
    result = sanitize(corpus.exe_file(), declared_name="請求書.pdf", declared_type="application/pdf")
    assert not result.ok and result.kind is Kind.EXE and result.reason == "unsupported_type"
    assert result.reason_ja == UNSUPPORTED
    assert any("does not match content" in w for w in result.warnings)


def test_pdf_renamed_jpg_is_handled_as_pdf() -> None:
    result = sanitize(corpus.pdf_with_javascript(), declared_name="photo.jpg", declared_type="image/jpeg")
    assert result.ok and result.kind is Kind.PDF and result.method is Method.REBUILT_PDF
    assert result.output_type == "application/pdf" and result.output_name == "photo.pdf"
    assert any("'.jpg'" in w for w in result.warnings) and any("image/jpeg" in w for w in result.warnings)
    assert result.output is not None and corpus.JS_MARKER not in corpus.pdf_dump(result.output)


def test_html_named_png_is_refused() -> None:
    result = sanitize(corpus.html_file(), declared_name="image.png", declared_type="image/png")
    assert not result.ok and result.kind is Kind.HTML and result.reason_ja == UNSUPPORTED


def test_plain_zip_is_refused_as_unsupported(zip_reads: list[int]) -> None:
    result = sanitize(corpus.small_zip(), declared_name="docs.zip", declared_type="application/zip")
    assert not result.ok and result.kind is Kind.ZIP and result.reason == "unsupported_type"
    assert result.reason_ja == UNSUPPORTED
    assert sum(zip_reads) == 0  # the member was never decompressed


def test_zip_bomb_is_refused_from_its_directory(zip_reads: list[int]) -> None:
    bomb = corpus.zip_bomb()
    assert len(bomb) < 100_000
    result = sanitize(bomb, declared_name="report.docx", declared_type="application/octet-stream")
    assert not result.ok and result.reason == "zip_bomb"
    assert result.reason_ja and "zip爆弾" in result.reason_ja
    assert sum(zip_reads) == 0


def test_nested_zip_bomb_is_refused_without_expanding(zip_reads: list[int]) -> None:
    result = sanitize(corpus.nested_zip_bomb(), declared_name="data.zip", declared_type="application/zip")
    assert not result.ok and result.reason == "nested_archive"
    assert sum(zip_reads) < 1024


def test_zip_declaring_too_much_in_total_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in range(4):
            zf.writestr(f"part{n}.txt", bytes(range(256)) * 400)
    result = sanitize(
        out.getvalue(), declared_name="a.zip", declared_type="", limits=Limits(max_zip_total_bytes=300_000)
    )
    assert not result.ok and result.reason == "zip_bomb"


def test_office_file_with_hidden_nested_archive_is_refused(zip_reads: list[int]) -> None:
    data = corpus.docx(with_macro=False)
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a") as zf:
        zf.writestr("word/media/image1.png", corpus.zip_bomb(2 * 1024 * 1024))
    result = sanitize(out.getvalue(), declared_name="a.docx", declared_type="")
    assert not result.ok and result.reason == "nested_archive"
    assert sum(zip_reads) < 64 * 1024


def test_zip_with_pdf_header_inside_is_refused_as_polyglot() -> None:
    result = sanitize(corpus.zip_with_pdf_header(), declared_name="a.pdf", declared_type="application/pdf")
    assert not result.ok and result.reason == "polyglot" and result.kind is Kind.ZIP


def test_jpeg_with_pdf_header_is_reencoded_without_it() -> None:
    from PIL import Image

    out = io.BytesIO()
    corpus.gradient((20, 20)).save(
        out, "JPEG", comment=b"%PDF-1.4 1 0 obj << /JS (" + corpus.JS_MARKER + b") >>"
    )
    result = sanitize(out.getvalue(), declared_name="a.jpg", declared_type="image/jpeg")
    assert result.ok and result.output is not None
    assert b"%PDF" not in result.output and corpus.JS_MARKER not in result.output
    with Image.open(io.BytesIO(result.output)) as im:
        assert im.size == (20, 20)


def test_empty_file_is_refused() -> None:
    result = sanitize(b"", declared_name="a.pdf", declared_type="application/pdf")
    assert not result.ok and result.reason == "empty" and result.kind is Kind.EMPTY


def test_oversized_input_is_refused_before_parsing() -> None:
    result = sanitize(
        corpus.legit_pdf(), declared_name="a.pdf", declared_type="", limits=Limits(max_input_bytes=100)
    )
    assert not result.ok and result.reason == "too_large"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x1f\x8b\x08\x00" + b"\x00" * 20, Kind.GZIP),
        (b"7z\xbc\xaf\x27\x1c" + b"\x00" * 20, Kind.SEVEN_Z),
        (b"Rar!\x1a\x07\x00" + b"\x00" * 20, Kind.RAR),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 20, Kind.ELF),
        (b'<?xml version="1.0"?><svg onload="alert(1)"/>', Kind.SVG),
        (b"just some text", Kind.UNKNOWN),
    ],
)
def test_other_kinds_are_refused(data: bytes, kind: Kind) -> None:
    result = sanitize(data, declared_name="x.pdf", declared_type="application/pdf")
    assert not result.ok and result.kind is kind and result.reason_ja == UNSUPPORTED


def test_detection_finds_office_kinds_and_macros() -> None:
    detection = detect(corpus.docx(), Limits())
    assert detection.kind is Kind.DOCX and "vba_macros" in detection.signals
    assert detect(corpus.docx(external_template=True), Limits()).signals.count("external_references") == 1
    assert "external_references" not in detect(corpus.docx(link=True), Limits()).signals


def test_docx_is_refused_when_no_converter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(office_module, "find_soffice", lambda: None)
    result = sanitize(corpus.docx(), declared_name="申請書.docx", declared_type="")
    assert not result.ok and result.kind is Kind.DOCX and result.reason == "no_converter"
    assert result.reason_ja == "変換環境がないため受け付けられません"


def test_docx_with_remote_template_is_refused() -> None:
    result = sanitize(corpus.docx(external_template=True), declared_name="a.docx", declared_type="")
    assert not result.ok and result.reason == "external_references"


def test_output_names_lose_paths_and_bidi_tricks() -> None:
    assert safe_output_name("../../etc/passwd", "pdf") == "passwd.pdf"
    assert safe_output_name("C:\\Users\\x\\申請書.docx", "pdf") == "申請書.pdf"
    assert safe_output_name("invoice\u202egpj.exe", "png") == "invoicegpj.png"
    assert safe_output_name("...", "jpg") == "file.jpg"


def test_registry_maps_kinds_and_rejects_double_registration() -> None:
    assert REGISTRY.for_kind(Kind.PDF) is not None and REGISTRY.for_kind(Kind.ZIP) is None

    class Echo(Sanitizer):
        kinds = frozenset({Kind.PDF})
        name = "echo"

        def sanitize(self, data: bytes, detection: Detection, limits: Limits) -> Cleaned:
            return Cleaned(data, "application/pdf", Method.REBUILT_PDF)

    with pytest.raises(ValueError, match="already handled"):
        REGISTRY.register(Echo())
    # A registry of one's own: the orchestrator still checks what a sanitizer hands back.
    own = SanitizerRegistry()
    own.register(Echo())
    result: Any = sanitize(corpus.pdf_zip_polyglot(), declared_name="a.pdf", declared_type="", registry=own)
    assert not result.ok and result.reason == "polyglot"


def test_converter_output_is_cleaned_like_any_pdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever LibreOffice hands back (links, scripts) goes through the PDF cleaner."""
    seen: list[str] = []

    def fake_convert(soffice: str, data: bytes, extension: str, limits: Limits) -> bytes:
        seen.append(extension)
        return corpus.pdf_with_uri_link()

    monkeypatch.setattr(office_module, "find_soffice", lambda: "/usr/bin/soffice")
    monkeypatch.setattr(office_module, "convert_to_pdf", fake_convert)
    result = sanitize(corpus.docx(), declared_name="a.pdf", declared_type="application/pdf")
    assert seen == ["docx"]  # the converter is told the detected kind, not the declared name
    assert result.ok and result.method is Method.CONVERTED_OFFICE and result.output is not None
    assert "URI action" in result.removed and "VBA macros" in result.removed
    assert corpus.URI_MARKER not in corpus.pdf_dump(result.output)
