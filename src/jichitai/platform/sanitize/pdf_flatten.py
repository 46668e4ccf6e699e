"""Flattening a PDF to page images: the fallback when the object structure cannot be cleaned.

Poppler renders each page to pixels (bounded pages, bounded long side in pixels, a timeout and a
memory limit on the renderer); reportlab builds a new PDF holding only those images. Nothing of the
original's objects survives, so nothing active can.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pikepdf
from PIL import Image
from reportlab.pdfgen import canvas

from jichitai.platform.sanitize.limits import Limits
from jichitai.platform.sanitize.result import Refused
from jichitai.platform.sanitize.subproc import ConverterFailed, ConverterTimeout, minimal_env, run_bounded

UNREADABLE_JA = "PDFが壊れていて読み取れないため受け付けられません"
TOO_MANY_PAGES_JA = "ページ数が多すぎるPDFは画像化できないため受け付けられません"
NO_RENDERER_JA = "変換環境がないため受け付けられません"
A4_LONG_SIDE_PT = 841.89

_PAGES_RE = re.compile(rb"^Pages:\s+(\d+)", re.MULTILINE)


def flatten_pdf(data: bytes, limits: Limits) -> tuple[bytes, int]:
    """Render every page and rebuild a PDF of images. Returns (output, page count)."""
    pdfinfo, pdftoppm = shutil.which("pdfinfo"), shutil.which("pdftoppm")
    if pdfinfo is None or pdftoppm is None:
        raise Refused("no_renderer", NO_RENDERER_JA, "poppler-utils (pdfinfo, pdftoppm) not installed")
    with tempfile.TemporaryDirectory(prefix="jichitai-flatten-") as tmp:
        work = Path(tmp)
        src = work / "input.pdf"
        src.write_bytes(data)
        env = minimal_env(work)

        def run(argv: list[str]) -> subprocess.CompletedProcess[bytes]:
            return run_bounded(
                argv,
                cwd=work,
                env=env,
                timeout=limits.flatten_timeout_s,
                memory_bytes=limits.flatten_memory_bytes,
            )

        try:
            info = run([pdfinfo, str(src)])
        except ConverterFailed as exc:
            if "password" in str(exc).lower():
                raise Refused(
                    "encrypted_pdf", "パスワードで保護されたPDFは受け付けられません", str(exc)
                ) from exc
            raise Refused("malformed_pdf", UNREADABLE_JA, str(exc)) from exc
        except ConverterTimeout as exc:
            raise Refused("malformed_pdf", UNREADABLE_JA, str(exc)) from exc
        match = _PAGES_RE.search(info.stdout)
        pages = int(match.group(1)) if match else 0
        if pages < 1:
            raise Refused("malformed_pdf", UNREADABLE_JA, "no pages")
        if pages > limits.flatten_max_pages:
            raise Refused("pdf_too_large", TOO_MANY_PAGES_JA, f"{pages} pages")
        prefix = work / "page"
        argv = [
            pdftoppm, "-jpeg", "-jpegopt", "quality=85", "-scale-to", str(limits.flatten_max_side_px),
            "-f", "1", "-l", str(pages), str(src), str(prefix),
        ]  # fmt: skip
        try:
            run(argv)
        except (ConverterFailed, ConverterTimeout) as exc:
            raise Refused("malformed_pdf", UNREADABLE_JA, str(exc)) from exc
        images = sorted(work.glob("page-*.jpg"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        if len(images) != pages:
            raise Refused("malformed_pdf", UNREADABLE_JA, f"rendered {len(images)} of {pages} pages")
        return _images_to_pdf(images, limits), pages


def _images_to_pdf(images: list[Path], limits: Limits) -> bytes:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pageCompression=1, invariant=1)
    for path in images:
        with Image.open(path) as im:
            width, height = im.size
            if width * height > limits.max_image_pixels:
                raise Refused("malformed_pdf", UNREADABLE_JA, "rendered page too large")
        # Every page becomes A4-sized along its long side; proportions are kept.
        scale = A4_LONG_SIDE_PT / max(width, height)
        page_w, page_h = width * scale, height * scale
        pdf.setPageSize((page_w, page_h))
        # The JPEG was produced by poppler from pixels; reportlab embeds it as is (DCTDecode).
        pdf.drawImage(str(path), 0, 0, width=page_w, height=page_h)
        pdf.showPage()
    pdf.save()
    return _without_info(out.getvalue())


def _without_info(data: bytes) -> bytes:
    """reportlab always writes a document-information dictionary; the clean copy carries none."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        if "/Info" in pdf.trailer:
            del pdf.trailer["/Info"]
        out = io.BytesIO()
        pdf.save(out, deterministic_id=True)
    return out.getvalue()
