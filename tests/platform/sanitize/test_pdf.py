"""PDFs: active content stripped, visible content kept, bad files refused or flattened."""

from __future__ import annotations

import io

import pikepdf
import pytest

from jichitai.platform.sanitize import Limits, Method, SanitizeResult, sanitize
from jichitai.platform.sanitize import pdf as pdf_module
from jichitai.platform.sanitize.pdf_flatten import flatten_pdf
from jichitai.platform.sanitize.pdf_scan import find_active_content
from jichitai.platform.sanitize.result import CleaningFailed, Refused
from tests.platform.sanitize import corpus

DANGEROUS_NAMES = (
    b"/JavaScript",
    b"/JS",
    b"/Launch",
    b"/OpenAction",
    b"/EmbeddedFile",
    b"/AcroForm",
    b"/XFA",
)


def _clean(data: bytes, name: str = "file.pdf", limits: Limits | None = None) -> SanitizeResult:
    return sanitize(data, declared_name=name, declared_type="application/pdf", limits=limits or Limits())


def _assert_clean(output: bytes, *markers: bytes) -> bytes:
    dump = corpus.pdf_dump(output)
    for marker in markers:
        assert marker not in dump, marker
    for name in DANGEROUS_NAMES:
        assert name + b" " not in dump and name + b"\n" not in dump and name + b"/" not in dump, name
    with pikepdf.open(io.BytesIO(output)) as pdf:
        assert find_active_content(pdf) == []
    return dump


def _page_count(data: bytes) -> int:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return len(pdf.pages)


def test_legit_pdf_keeps_pages_and_text() -> None:
    original = corpus.legit_pdf(pages=3)
    result = _clean(original, "申請書.pdf")
    assert result.ok and result.method is Method.REBUILT_PDF
    assert result.output is not None and result.output_type == "application/pdf"
    assert result.output_name == "申請書.pdf"
    assert _page_count(result.output) == 3
    dump = _assert_clean(result.output)
    assert corpus.PAGE_TEXT.encode() + b" 3" in dump
    assert len(result.original_sha256) == 64 and result.output_sha256 != result.original_sha256


def test_javascript_everywhere_is_removed() -> None:
    result = _clean(corpus.pdf_with_javascript())
    assert result.ok and result.output is not None
    assert "JavaScript" in result.removed and "OpenAction" in result.removed
    assert "additional actions (AA)" in result.removed
    dump = _assert_clean(result.output, corpus.JS_MARKER)
    assert b"/AA" not in dump
    assert _page_count(result.output) == 2
    # The outline survives, only its chained script is gone.
    with pikepdf.open(io.BytesIO(result.output)) as pdf:
        assert str(pdf.Root.Outlines.First.Title) == "Start"


def test_launch_action_is_removed() -> None:
    result = _clean(corpus.pdf_with_launch())
    assert result.ok and result.output is not None
    assert "Launch action" in result.removed and "Link annotation" in result.removed
    _assert_clean(result.output, corpus.LAUNCH_MARKER, b"cmd.exe")


def test_embedded_executable_is_removed() -> None:
    original = corpus.pdf_with_embedded_exe()
    assert corpus.EXE_MARKER in corpus.pdf_dump(original)  # the corpus really holds it
    result = _clean(original)
    assert result.ok and result.output is not None
    assert "EmbeddedFiles" in result.removed and "FileAttachment annotation" in result.removed
    _assert_clean(result.output, corpus.EXE_MARKER, b"This program cannot be run", b"invoice.exe")


def test_uri_link_is_removed() -> None:
    result = _clean(corpus.pdf_with_uri_link())
    assert result.ok and result.output is not None
    assert "URI action" in result.removed and "URI base" in result.removed
    _assert_clean(result.output, corpus.URI_MARKER, b"/URI")


def test_form_script_and_xfa_removed_but_filled_value_stays_visible() -> None:
    result = _clean(corpus.pdf_with_form())
    assert result.ok and result.output is not None
    assert {"AcroForm", "XFA", "JavaScript", "Widget annotation"} <= set(result.removed)
    dump = _assert_clean(result.output, corpus.FORM_JS_MARKER, corpus.XFA_MARKER)
    assert corpus.FORM_VALUE in dump  # baked into the page by flattening the widget's appearance
    with pikepdf.open(io.BytesIO(result.output)) as pdf:
        assert "/Annots" not in pdf.pages[0].obj


def test_metadata_is_removed() -> None:
    original = corpus.pdf_with_metadata()
    assert b"SECRET-AUTHOR-77" in corpus.pdf_dump(original)
    result = _clean(original)
    assert result.ok and result.output is not None
    assert "XMP metadata" in result.removed and "document information metadata" in result.removed
    _assert_clean(result.output, b"SECRET-AUTHOR-77")


def test_pdf_with_user_password_is_refused() -> None:
    result = _clean(corpus.encrypted_pdf(user_password="open-sesame"))
    assert not result.ok and result.reason == "encrypted_pdf"
    assert result.reason_ja == "パスワードで保護されたPDFは受け付けられません"
    assert result.output is None and result.method is Method.REFUSED


def test_pdf_with_owner_password_only_is_decrypted_and_cleaned() -> None:
    result = _clean(corpus.encrypted_pdf(user_password=""))
    assert result.ok and result.output is not None
    assert "encryption" in result.removed
    with pikepdf.open(io.BytesIO(result.output)) as pdf:
        assert not pdf.is_encrypted
    _assert_clean(result.output, corpus.JS_MARKER)


def test_malformed_pdf_is_refused() -> None:
    result = _clean(corpus.malformed_pdf())
    assert not result.ok and result.reason == "malformed_pdf"
    assert result.reason_ja and "壊れて" in result.reason_ja


def test_damaged_xref_is_repaired_and_rebuilt() -> None:
    result = _clean(corpus.damaged_xref_pdf())
    assert result.ok and result.method is Method.REBUILT_PDF and result.output is not None
    assert _page_count(result.output) == 2


def _overwrite(data: bytes, *edits: tuple[bytes, int, bytes]) -> bytes:
    """Overwrite bytes in place (offsets and the xref stay valid): (anchor, offset from it, bytes)."""
    out = bytearray(data)
    for anchor, offset, blob in edits:
        at = data.index(anchor) + offset
        out[at : at + len(blob)] = blob
    return bytes(out)


@pytest.mark.parametrize(
    "edits",
    [
        # the /JS key of the page-open action breaks (qpdf invents keys for the script string) and
        # the page's /AA dictionary opens as a name: the script was carried over under /QPDFFake2
        ((b"<< /JS (//page open", 3, b'"\xc8\xdb\x99'), (b"/AA << /O 13 0 R", 4, b"Mb")),
        # the page dictionary breaks at /Contents: the JavaScript stream was carried over as content
        ((b"/Contents 14 0 R", 7, b",\xd2&}8"),),
    ],
    ids=["invented-keys", "script-as-content"],
)
def test_damaged_objects_are_flattened_not_rebuilt(edits: tuple[tuple[bytes, int, bytes], ...]) -> None:
    """Found by the mutation test: a rebuild kept the scripts where qpdf's repair had put them."""
    damaged = _overwrite(corpus.pdf_with_javascript(), *edits)
    result = _clean(damaged)
    assert result.ok and result.method is Method.FLATTENED_PDF and result.output is not None
    assert any("damaged objects" in w for w in result.warnings)
    _assert_clean(result.output, corpus.JS_MARKER)


def test_unknown_catalog_entries_are_dropped() -> None:
    """Found by mutation: one byte turned the catalog's /URI into /_RI, which no list named."""

    def change(pdf: pikepdf.Pdf) -> None:
        pdf.Root["/_RI"] = pikepdf.Dictionary(Base=pikepdf.String(b"https://" + corpus.URI_MARKER))
        pdf.Root["/PrivateData"] = pikepdf.String(b"kept?")

    result = _clean(corpus.modified_pdf(change))
    assert result.ok and result.output is not None
    assert result.removed.count("non-standard catalog entries") == 1
    _assert_clean(result.output, corpus.URI_MARKER, b"kept?")
    with pikepdf.open(io.BytesIO(result.output)) as pdf:
        assert set(pdf.Root.keys()) == {"/Type", "/Pages", "/PageMode"}


def test_pdf_zip_polyglot_loses_its_archive() -> None:
    import zipfile

    original = corpus.pdf_zip_polyglot()
    assert zipfile.is_zipfile(io.BytesIO(original))  # the corpus file really is both
    result = _clean(original)
    assert result.ok and result.output is not None
    assert "ZIP archive inside the file (polyglot)" in result.removed
    assert "data appended after %%EOF" in result.removed
    assert not zipfile.is_zipfile(io.BytesIO(result.output))
    _assert_clean(result.output, corpus.ZIP_MARKER, b"PK\x03\x04", b"PK\x05\x06", b"MANIFEST")


def test_zip_hidden_in_unreferenced_object_is_dropped() -> None:
    result = _clean(corpus.pdf_with_zip_in_unreferenced_object())
    assert result.ok and result.output is not None
    _assert_clean(result.output, corpus.ZIP_MARKER, b"PK\x03\x04")


def test_too_many_pages_is_refused() -> None:
    result = _clean(corpus.legit_pdf(pages=3), limits=Limits(max_pdf_pages=2))
    assert not result.ok and result.reason == "pdf_too_large"


def test_flate_bomb_stream_is_refused_without_inflating_it_all() -> None:
    import zlib

    def add_bomb(pdf: pikepdf.Pdf) -> None:
        bomb = pikepdf.Stream(pdf, zlib.compress(b"\x00" * (8 * 1024 * 1024), 9))
        bomb.Filter = pikepdf.Name.FlateDecode
        pdf.pages[0].obj.Resources.XObject = pikepdf.Dictionary(Bomb=bomb)

    data = corpus.modified_pdf(add_bomb)
    assert len(data) < 64 * 1024
    result = _clean(data, limits=Limits(max_pdf_stream_bytes=1024 * 1024))
    assert not result.ok and result.reason == "pdf_too_large"


def test_image_xobject_bomb_is_refused() -> None:
    def add_image(pdf: pikepdf.Pdf) -> None:
        img = pikepdf.Stream(pdf, b"\xff\xd8\xff")
        img.Type, img.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        img.Width, img.Height, img.BitsPerComponent = 200_000, 200_000, 8
        img.ColorSpace, img.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.DCTDecode
        pdf.pages[0].obj.Resources.XObject = pikepdf.Dictionary(Im0=img)

    result = _clean(corpus.modified_pdf(add_image))
    assert not result.ok and result.reason == "pdf_too_large"


def test_flatten_renders_every_page_to_images() -> None:
    output, pages = flatten_pdf(corpus.pdf_with_javascript(), Limits(flatten_max_side_px=400))
    assert pages == 2 and _page_count(output) == 2
    dump = corpus.pdf_dump(output)
    assert corpus.JS_MARKER not in dump and corpus.PAGE_TEXT.encode() not in dump
    assert b"/DCTDecode" in dump


def test_flatten_refuses_more_pages_than_allowed() -> None:
    with pytest.raises(Refused, match="pdf_too_large"):
        flatten_pdf(corpus.legit_pdf(pages=3), Limits(flatten_max_pages=2))


def test_rebuild_failure_falls_back_to_flattening(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(data: bytes, limits: Limits) -> tuple[bytes, list[str], int]:
        raise CleaningFailed("simulated")

    monkeypatch.setattr(pdf_module, "clean_pdf", failing)
    result = _clean(corpus.pdf_with_embedded_exe(), limits=Limits(flatten_max_side_px=400))
    assert result.ok and result.method is Method.FLATTENED_PDF and result.output is not None
    assert any("flattened" in w for w in result.warnings)
    assert _page_count(result.output) == 2
    _assert_clean(result.output, corpus.EXE_MARKER)
