"""Office documents through LibreOffice (slow: a conversion takes a few seconds).

Needs Debian's libreoffice-writer-nogui (and libreoffice-calc-nogui for spreadsheets). Skipped
where LibreOffice is missing, except in CI (CI=true), where it must be installed.
"""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pikepdf
import pytest

from jichitai.platform.sanitize import Kind, Method, find_soffice, sanitize
from jichitai.platform.sanitize.pdf_scan import find_active_content
from tests.platform.sanitize import corpus

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _need_soffice() -> None:
    if find_soffice() is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("LibreOffice (soffice) is required in CI: install libreoffice-writer-nogui")
        pytest.skip("LibreOffice (soffice) not installed")


def test_docx_with_macro_is_converted_without_it() -> None:
    result = sanitize(corpus.docx(with_macro=True), declared_name="申請書.docm", declared_type="")
    assert result.ok, result.reason
    assert result.kind is Kind.DOCX and result.method is Method.CONVERTED_OFFICE
    assert result.output is not None and result.output_type == "application/pdf"
    assert result.output_name == "申請書.pdf"
    assert "VBA macros" in result.removed and "document converted to PDF" in result.removed
    dump = corpus.pdf_dump(result.output)
    assert b"vbaProject" not in dump and b"AutoOpen" not in dump
    with pikepdf.open(io.BytesIO(result.output)) as pdf:
        assert find_active_content(pdf) == []
        assert len(pdf.pages) == 1
    assert corpus.DOCX_TEXT in _text(result.output)


def test_docx_hyperlink_does_not_survive_conversion() -> None:
    result = sanitize(corpus.docx(with_macro=False, link=True), declared_name="a.docx", declared_type="")
    assert result.ok and result.output is not None, result.reason
    assert corpus.URI_MARKER not in corpus.pdf_dump(result.output)
    assert "click" in _text(result.output)  # the link's text stays, only the link goes


def _text(pdf: bytes) -> str:
    done = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True, timeout=30)
    return done.stdout.decode()


def test_legacy_xls_is_detected_from_content_and_converted(tmp_path: Path) -> None:
    soffice = find_soffice()
    assert soffice is not None
    (tmp_path / "sheet.csv").write_text("name,amount\nSpreadsheet cell,15000\n", encoding="utf-8")
    subprocess.run(
        [soffice, f"-env:UserInstallation={(tmp_path / 'p').as_uri()}", "--headless", "--convert-to", "xls",
         "--outdir", str(tmp_path), str(tmp_path / "sheet.csv")],
        capture_output=True, check=True, timeout=120, env=os.environ | {"HOME": str(tmp_path)},
    )  # fmt: skip
    data = (tmp_path / "sheet.xls").read_bytes()
    result = sanitize(data, declared_name="sheet.pdf", declared_type="application/pdf")
    assert result.ok and result.kind is Kind.XLS and result.method is Method.CONVERTED_OFFICE, result.reason
    assert result.output is not None and "Spreadsheet cell" in _text(result.output)
