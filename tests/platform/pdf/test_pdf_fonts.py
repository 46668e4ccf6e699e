from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from reportlab.pdfgen.canvas import Canvas

from jichitai.platform.pdf import fonts


def test_fonts_are_found_in_the_debian_packages() -> None:
    for spec in fonts.FONT_SPECS.values():
        assert fonts.find_font_file(spec).endswith(spec.file_name)


def test_missing_font_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = fonts.FontSpec(
        "NoSuchFont", "nosuch.ttf", "NoSuchFamilyXyz", "fonts-nosuch", ("/nonexistent/*.ttf",)
    )
    with pytest.raises(fonts.FontMissing) as err:
        fonts.find_font_file(spec)
    assert "apt-get install fonts-nosuch" in (err.value.hint or "")


def test_environment_override_must_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JICHITAI_FONT_IPAMJMINCHO", "/nonexistent/ipamjm.ttf")
    with pytest.raises(fonts.FontMissing, match="does not exist"):
        fonts.find_font_file(fonts.FONT_SPECS[fonts.NAME_FONT])


def test_name_font_is_loaded_once(registered_fonts: None) -> None:
    assert fonts.name_font() is fonts.name_font()


def test_variation_sequences_map_to_their_own_glyphs(registered_fonts: None) -> None:
    font = fonts.name_font()
    face = font.face
    # 邊 U+908A has MJ variants selected by IVS; E0109 is a glyph other than the plain 邊
    assert font.has_sequence("邊", "\U000e0109")
    encoded = font.encode("渡邊\U000e0109")
    assert len(encoded) == 2
    assert face.charToGlyph[ord(encoded[1])] != face.charToGlyph[0x908A]
    # an unknown selector is dropped rather than drawn as a box
    assert font.encode("邊\U000e01ef") == "邊"


def test_mj_names_render_and_extract(registered_fonts: None, pdf_text: Callable[[bytes], str]) -> None:
    buf = io.BytesIO()
    c = Canvas(buf)
    c.setFont(fonts.NAME_FONT, 14)
    c.drawString(72, 700, "髙橋 山﨑 𠮷田 渡邊\U000e0109")
    c.setFont(fonts.MINCHO, 10)
    c.drawString(72, 680, "住民票の写し")
    c.showPage()
    c.save()
    text = pdf_text(buf.getvalue())
    assert "髙橋" in text
    assert "山﨑" in text
    assert "𠮷田" in text  # beyond the BMP: needs the UTF-16 ToUnicode fix
    assert "渡邊\U000e0109" in text  # the variation sequence survives extraction
    assert "住民票の写し" in text
    assert b"IPAmjMincho" in buf.getvalue()
