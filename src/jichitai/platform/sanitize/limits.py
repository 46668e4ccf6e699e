"""Resource bounds for sanitizing one file; every parser and converter is held to them."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Upper bounds that keep a hostile file from exhausting memory, disk or time."""

    max_input_bytes: int = 50 * MiB

    # PDF
    max_pdf_pages: int = 500
    max_pdf_objects: int = 200_000
    max_pdf_stream_bytes: int = 128 * MiB  # one stream, decoded
    max_pdf_total_decoded_bytes: int = 512 * MiB

    # Images (also the bound for image XObjects inside PDFs)
    max_image_pixels: int = 50_000_000

    # Flattening a PDF to page images (pdftoppm)
    flatten_max_pages: int = 50
    flatten_max_side_px: int = 1800  # long side of one rendered page, ~150 dpi on A4
    flatten_timeout_s: float = 60.0
    flatten_memory_bytes: int = 1024 * MiB

    # ZIP containers (OOXML, ODF, plain archives): judged from the central directory only
    max_zip_entries: int = 5_000
    max_zip_entry_bytes: int = 256 * MiB
    max_zip_total_bytes: int = 512 * MiB
    max_zip_ratio: float = 200.0  # uncompressed / compressed, applied to entries over 1 MiB
    max_zip_metadata_bytes: int = 1 * MiB  # [Content_Types].xml, mimetype, *.rels read for detection

    # LibreOffice conversion
    office_timeout_s: float = 90.0
    office_max_output_bytes: int = 200 * MiB


DEFAULT_LIMITS = Limits()
