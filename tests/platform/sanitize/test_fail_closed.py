"""Damaged and random input: sanitize never raises, and whatever it passes on is clean."""

from __future__ import annotations

import io

import pikepdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jichitai.platform.sanitize import Limits, sanitize
from jichitai.platform.sanitize.pdf_scan import find_active_content
from tests.platform.sanitize import corpus

_LIMITS = Limits(flatten_max_side_px=300, flatten_max_pages=3)
_JS_PDF = corpus.pdf_with_javascript()
_JPEG = corpus.jpeg_with_gps_and_zip()


_MALICIOUS_PDFS = {
    "javascript": (_JS_PDF, (corpus.JS_MARKER,)),
    "launch": (corpus.pdf_with_launch(), (corpus.LAUNCH_MARKER,)),
    "embedded-exe": (corpus.pdf_with_embedded_exe(), (corpus.EXE_MARKER,)),
    "uri": (corpus.pdf_with_uri_link(), (corpus.URI_MARKER,)),
    "form": (corpus.pdf_with_form(), (corpus.FORM_JS_MARKER, corpus.XFA_MARKER)),
}


@pytest.mark.parametrize("name", sorted(_MALICIOUS_PDFS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=4095), st.binary(min_size=1, max_size=8)),
        max_size=6,
    )
)
def test_mutated_malicious_pdf_is_refused_or_clean(name: str, edits: list[tuple[int, bytes]]) -> None:
    original, markers = _MALICIOUS_PDFS[name]
    data = bytearray(original)
    for at, blob in edits:
        at %= len(original)
        data[at : at + len(blob)] = blob
    result = sanitize(bytes(data), declared_name="m.pdf", declared_type="application/pdf", limits=_LIMITS)
    if result.ok:
        assert result.output is not None
        dump = corpus.pdf_dump(result.output)
        assert not [m for m in markers if m in dump]
        with pikepdf.open(io.BytesIO(result.output)) as pdf:
            assert find_active_content(pdf) == []
    else:
        assert result.reason and result.reason_ja and result.output is None


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=len(_JPEG) - 1), st.binary(min_size=1, max_size=16))
def test_mutated_jpeg_is_refused_or_reencoded(at: int, blob: bytes) -> None:
    data = _JPEG[:at] + blob + _JPEG[at + len(blob) :]
    result = sanitize(data, declared_name="m.jpg", declared_type="image/jpeg", limits=_LIMITS)
    if result.ok:
        assert result.output is not None and b"EvilCam" not in result.output
        assert corpus.ZIP_MARKER not in result.output
    else:
        assert result.reason_ja


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(data: bytes) -> None:
    result = sanitize(data, declared_name="r.bin", declared_type="")
    assert result.ok is (result.output is not None)
    assert len(result.original_sha256) == 64
