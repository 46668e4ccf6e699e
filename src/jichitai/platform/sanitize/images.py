"""Images re-encoded from their pixels with Pillow: nothing but the picture survives.

Dimensions are checked from the header before any pixel is decoded (decompression bombs declare
huge sizes in tiny files). EXIF (GPS, camera), XMP, comments, text chunks, ICC profiles (after
converting to sRGB), extra frames and trailing data are all dropped, because the output is built
from the pixel buffer alone.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from jichitai.platform.sanitize.base import REGISTRY, Sanitizer
from jichitai.platform.sanitize.detect import SIGNAL_HTML, SIGNAL_PE, SIGNAL_TRAILING, SIGNAL_ZIP, Detection
from jichitai.platform.sanitize.kinds import IMAGE_KINDS, Kind
from jichitai.platform.sanitize.limits import Limits
from jichitai.platform.sanitize.result import Cleaned, Method, Refused

IMAGE_BOMB_JA = "画素数が大きすぎる画像（画像爆弾の疑い）は受け付けられません"
UNREADABLE_IMAGE_JA = "画像が壊れていて読み取れないため受け付けられません"

_PIL_FORMATS = {Kind.PNG: "PNG", Kind.JPEG: "JPEG", Kind.GIF: "GIF", Kind.WEBP: "WEBP", Kind.TIFF: "TIFF"}
_SIGNAL_LABELS = {
    SIGNAL_ZIP: "appended ZIP archive (polyglot)",
    SIGNAL_PE: "embedded executable (polyglot)",
    SIGNAL_HTML: "embedded HTML/script markup",
    SIGNAL_TRAILING: "trailing data after end of image",
}
_bomb_guard = threading.Lock()


@contextmanager
def _max_pixels(limit: int) -> Iterator[None]:
    """Pillow's own bomb check uses a module global; hold it at our limit while we decode."""
    with _bomb_guard:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = limit
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


class ImageSanitizer(Sanitizer):
    """JPEG stays JPEG; PNG, GIF, WebP and TIFF become PNG (lossless)."""

    kinds: ClassVar[frozenset[Kind]] = IMAGE_KINDS
    name: ClassVar[str] = "image"

    def sanitize(self, data: bytes, detection: Detection, limits: Limits) -> Cleaned:
        removed = [_SIGNAL_LABELS[s] for s in detection.signals if s in _SIGNAL_LABELS]
        warnings_: list[str] = []
        try:
            with _max_pixels(limits.max_image_pixels), Image.open(io.BytesIO(data)) as im:
                if im.format != _PIL_FORMATS[detection.kind]:
                    raise Refused("unreadable_image", UNREADABLE_IMAGE_JA, f"decoder saw {im.format}")
                width, height = im.size
                if width * height > limits.max_image_pixels or width <= 0 or height <= 0:
                    raise Refused("image_bomb", IMAGE_BOMB_JA, f"{width}x{height}")
                removed += _metadata_present(im)
                if getattr(im, "n_frames", 1) > 1:
                    warnings_.append("only the first frame/page was kept")
                    removed.append("additional frames")
                im.seek(0)
                im.load()
                # Orientation is applied before EXIF goes, so the picture looks as it did.
                oriented = ImageOps.exif_transpose(im) or im
                pixels = _to_srgb(oriented, removed)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise Refused("image_bomb", IMAGE_BOMB_JA, str(exc)) from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise Refused("unreadable_image", UNREADABLE_IMAGE_JA, str(exc)) from exc
        output, output_type = _encode(pixels, detection.kind)
        return Cleaned(output, output_type, Method.REENCODED_IMAGE, list(dict.fromkeys(removed)), warnings_)


def _metadata_present(im: Image.Image) -> list[str]:
    found: list[str] = []
    info = im.info
    if "exif" in info or (im.format == "JPEG" and im.getexif()):
        exif = im.getexif()
        found.append("EXIF metadata")
        if exif.get_ifd(0x8825):
            found.append("EXIF GPS location")
    if "xmp" in info or "XML:com.adobe.xmp" in info:
        found.append("XMP metadata")
    if "icc_profile" in info:
        found.append("ICC profile (converted to sRGB)")
    if "comment" in info:
        found.append("comment")
    text_keys = set(getattr(im, "text", {}) or {}) if im.format == "PNG" else set()
    if text_keys - {"XML:com.adobe.xmp"}:
        found.append("PNG text chunks")
    return found


def _to_srgb(im: Image.Image, removed: list[str]) -> Image.Image:
    """A plain RGB/RGBA/L copy; pixels converted to sRGB when an ICC profile says otherwise."""
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    target = "RGBA" if has_alpha else ("L" if im.mode in ("1", "L", "I;16", "I") else "RGB")
    icc = im.info.get("icc_profile")
    if icc and target != "L":
        try:
            src_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            base = im.convert(target)
            converted = ImageCms.profileToProfile(
                base, src_profile, ImageCms.createProfile("sRGB"), outputMode=target
            )
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            removed.append("ICC profile (invalid, dropped)")
    if im.mode in ("I;16", "I"):
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    return im.convert(target)


def _encode(pixels: Image.Image, kind: Kind) -> tuple[bytes, str]:
    # A fresh image from the raw buffer carries no info dict, EXIF, ICC or text from the source.
    fresh = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    if kind is Kind.JPEG and fresh.mode in ("RGB", "L"):
        fresh.save(out, "JPEG", quality=90, optimize=True)
        return out.getvalue(), "image/jpeg"
    fresh.save(out, "PNG", optimize=False)
    return out.getvalue(), "image/png"


REGISTRY.register(ImageSanitizer())
