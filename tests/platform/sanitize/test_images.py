"""Images: re-encoded from pixels, metadata and appended payloads gone, bombs refused unopened."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image, ImageChops, ImageCms, ImageStat

from jichitai.platform.sanitize import Kind, Limits, Method, sanitize
from tests.platform.sanitize import corpus


def _mean_difference(a: Image.Image, b: Image.Image) -> float:
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    return sum(ImageStat.Stat(diff).mean) / 3


def test_legit_jpeg_comes_out_the_same_size_and_look() -> None:
    original = corpus.legit_jpeg()
    result = sanitize(original, declared_name="写真.jpg", declared_type="image/jpeg")
    assert result.ok and result.kind is Kind.JPEG and result.method is Method.REENCODED_IMAGE
    assert result.output is not None and result.output_type == "image/jpeg"
    assert result.output_name == "写真.jpg" and result.warnings == []
    with Image.open(io.BytesIO(original)) as before, Image.open(io.BytesIO(result.output)) as after:
        assert after.size == before.size == (160, 120)
        assert _mean_difference(before, after) < 3.0


def test_jpeg_gps_exif_comment_and_trailing_zip_are_stripped() -> None:
    original = corpus.jpeg_with_gps_and_zip()
    assert zipfile.is_zipfile(io.BytesIO(original))  # the corpus file is a JPEG+ZIP polyglot
    result = sanitize(original, declared_name="現場写真.jpeg", declared_type="image/jpeg")
    assert result.ok and result.output is not None
    assert {"EXIF metadata", "EXIF GPS location", "comment", "appended ZIP archive (polyglot)"} <= set(
        result.removed
    )
    out = result.output
    assert not zipfile.is_zipfile(io.BytesIO(out))
    assert corpus.ZIP_MARKER not in out and b"PK\x03\x04" not in out
    assert b"EvilCam" not in out and b"Exif" not in out and b"JPEG-COMMENT" not in out
    with Image.open(io.BytesIO(out)) as im:
        assert not im.getexif() and "comment" not in im.info and im.size == (160, 120)


def test_png_text_chunks_with_script_are_dropped() -> None:
    result = sanitize(corpus.png_with_script(), declared_name="scan.png", declared_type="image/png")
    assert result.ok and result.output is not None and result.output_type == "image/png"
    assert "PNG text chunks" in result.removed
    out = result.output
    assert corpus.PNG_SCRIPT_MARKER not in out and b"<script" not in out
    assert b"tEXt" not in out and b"zTXt" not in out and b"iTXt" not in out
    with Image.open(io.BytesIO(out)) as im:
        assert im.size == (80, 60) and not getattr(im, "text", {})


def test_image_bomb_is_refused_before_decoding() -> None:
    bomb = corpus.png_bomb()
    assert len(bomb) < 1024
    result = sanitize(bomb, declared_name="bomb.png", declared_type="image/png")
    assert not result.ok and result.reason == "image_bomb" and result.kind is Kind.PNG
    assert result.reason_ja and "画像爆弾" in result.reason_ja


def test_image_just_over_our_limit_is_refused_even_below_pillows_default() -> None:
    data = corpus.png_bomb(3000, 3000)
    result = sanitize(
        data, declared_name="x.png", declared_type="image/png", limits=Limits(max_image_pixels=1_000_000)
    )
    assert not result.ok and result.reason == "image_bomb"
    assert Image.MAX_IMAGE_PIXELS != 1_000_000  # the global is restored after use


def test_truncated_image_is_refused() -> None:
    data = corpus.legit_jpeg()[:300]
    result = sanitize(data, declared_name="x.jpg", declared_type="image/jpeg")
    assert not result.ok and result.reason == "unreadable_image"


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "TIFF"])
def test_other_formats_become_png(fmt: str) -> None:
    out = io.BytesIO()
    corpus.gradient((40, 30)).save(out, fmt)
    result = sanitize(out.getvalue(), declared_name=f"img.{fmt.lower()}", declared_type="")
    assert result.ok and result.output is not None and result.output_type == "image/png"
    assert result.output_name == "img.png"
    with Image.open(io.BytesIO(result.output)) as im:
        assert im.format == "PNG" and im.size == (40, 30)


def test_animated_gif_keeps_first_frame_only() -> None:
    frames = [Image.new("RGB", (20, 10), c) for c in ("red", "blue", "green")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], comment=b"GIF-COMMENT")
    result = sanitize(out.getvalue(), declared_name="a.gif", declared_type="image/gif")
    assert result.ok and result.output is not None
    assert "additional frames" in result.removed and result.warnings
    with Image.open(io.BytesIO(result.output)) as im:
        assert getattr(im, "n_frames", 1) == 1 and im.convert("RGB").getpixel((5, 5)) == (255, 0, 0)


def test_icc_profile_is_converted_to_srgb_and_dropped() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    corpus.gradient((30, 20)).save(out, "PNG", icc_profile=srgb)
    assert b"iCCP" in out.getvalue()
    result = sanitize(out.getvalue(), declared_name="c.png", declared_type="image/png")
    assert result.ok and result.output is not None
    assert "ICC profile (converted to sRGB)" in result.removed
    assert b"iCCP" not in result.output
    with Image.open(io.BytesIO(result.output)) as im:
        assert "icc_profile" not in im.info
        assert _mean_difference(im, corpus.gradient((30, 20))) < 2.0


def test_exif_orientation_is_applied_before_exif_is_dropped() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = io.BytesIO()
    corpus.gradient((160, 120)).save(out, "JPEG", exif=exif.tobytes())
    result = sanitize(out.getvalue(), declared_name="r.jpg", declared_type="image/jpeg")
    assert result.ok and result.output is not None
    with Image.open(io.BytesIO(result.output)) as im:
        assert im.size == (120, 160) and not im.getexif()


def test_cmyk_jpeg_becomes_rgb_jpeg() -> None:
    out = io.BytesIO()
    corpus.gradient((32, 32)).convert("CMYK").save(out, "JPEG")
    result = sanitize(out.getvalue(), declared_name="c.jpg", declared_type="image/jpeg")
    assert result.ok and result.output is not None and result.output_type == "image/jpeg"
    with Image.open(io.BytesIO(result.output)) as im:
        assert im.mode == "RGB"


def test_transparent_png_keeps_alpha() -> None:
    im = Image.new("RGBA", (10, 10), (0, 0, 255, 0))
    out = io.BytesIO()
    im.save(out, "PNG")
    result = sanitize(out.getvalue(), declared_name="t.png", declared_type="image/png")
    assert result.ok and result.output is not None
    with Image.open(io.BytesIO(result.output)) as again:
        assert again.mode == "RGBA" and again.getpixel((1, 1)) == (0, 0, 255, 0)
