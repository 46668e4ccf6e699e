"""Values at the register's length limits stay inside their cells (they used to run past the table).

The register keeps texts up to 200 characters (本籍, 住所 with 方書) and names up to 100
(``interchange.TEXT_MAX_CHARS``, ``NAME_MAX_CHARS``). A cell shrinks a long value to 6 pt on one
line, then wraps it; nothing is drawn past the table's right edge, and every character is printed.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st
from reportlab.pdfbase.pdfmetrics import stringWidth

from jichitai.mynumber.registry.certificates import Layout, OptionalItem, render_certificate
from jichitai.mynumber.registry.certificates.render import (
    LEADING,
    MARGIN,
    MIN_WRAPPED,
    PAGE_W,
    TABLE_W,
    fit_box,
)
from jichitai.mynumber.registry.certificates.samples import sample_household, sample_options, sample_person
from jichitai.mynumber.registry.interchange import TEXT_MAX_CHARS
from jichitai.platform.pdf.fonts import MINCHO

Text = Callable[[bytes], str]
LONG_HONSEKI = ("北海道札幌市中央区北一条西二丁目" * 20)[:TEXT_MAX_CHARS]
LONG_ADDRESS = (
    "神奈川県横浜市中区港町一丁目1番地1　" + ("港町ハイツ東棟１０１号室" * 20)[: TEXT_MAX_CHARS - 19]
)

# the value boxes: the per-person table (22 pt rows) and a household sheet's full-width rows (15 pt)
BOXES = ((TABLE_W - 118.0 - 12, 22.0 - 3), (TABLE_W - 86.0 - 12, 15.0 - 3))


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(
        st.sampled_from("髙橋港町ハイツ一丁目1番地ＡＢｃ－　𠮷"), min_size=1, max_size=TEXT_MAX_CHARS
    ),
    box=st.sampled_from(BOXES),
)
def test_fit_box_keeps_every_character_inside_the_box(text: str, box: tuple[float, float]) -> None:
    max_w, max_h = box
    size, lines = fit_box(text, MINCHO, 10, max_w, max_h)
    assert "".join(lines) == text
    assert size >= MIN_WRAPPED
    assert all(stringWidth(line, MINCHO, size) <= max_w + 1e-6 for line in lines)
    if len(lines) > 1:
        assert len(lines) * size * LEADING <= max_h + 1e-6


def _words(pdf: bytes) -> list[tuple[float, str]]:
    """(right edge, text) of each word pdftotext finds."""
    html = subprocess.run(
        ["pdftotext", "-bbox", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    return [
        (float(x_max), word)
        for x_max, word in re.findall(
            r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', html
        )
    ]


def test_the_longest_values_stay_on_the_page_in_both_layouts(text_of: Text) -> None:
    person = sample_person(honseki=LONG_HONSEKI, address=LONG_ADDRESS)
    household = sample_household(4)
    household = household.__class__(
        head_name=household.head_name,
        address=LONG_ADDRESS,
        members=tuple(m.__class__(**{**m.__dict__, "honseki": LONG_HONSEKI}) for m in household.members),
    )
    everything = frozenset(OptionalItem)
    for issued in (
        render_certificate(person, sample_options(requested_items=everything)),
        render_certificate(household, sample_options(layout=Layout.HOUSEHOLD, requested_items=everything)),
    ):
        words = _words(issued.pdf)
        assert words
        right = PAGE_W - MARGIN + 0.5
        assert all(x <= right for x, _w in words), [w for x, w in words if x > right][:3]
        compact = "".join(text_of(issued.pdf).split())
        assert "".join(LONG_HONSEKI.split()) in compact
        assert "".join(LONG_ADDRESS.split()) in compact
