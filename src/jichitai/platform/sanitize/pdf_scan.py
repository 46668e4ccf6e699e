"""Walking a PDF's object graph: what active content it holds, and how big its streams decode.

Used before cleaning (to bound resources), while cleaning (to strip) and after (to verify the
rebuilt file holds none of it).
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pikepdf

from jichitai.platform.sanitize.limits import Limits
from jichitai.platform.sanitize.result import Refused

TOO_LARGE_JA = "処理できる大きさを超えるPDFは受け付けられません"

# Actions allowed to stay: jumping inside the same document. Everything else runs code, opens
# something outside, sends data, or plays media.
SAFE_ACTIONS = frozenset({"/GoTo"})
ACTION_LABELS: dict[str, str] = {
    "/JavaScript": "JavaScript",
    "/Launch": "Launch action",
    "/URI": "URI action",
    "/GoToR": "GoToR action",
    "/GoToE": "GoToE action",
    "/SubmitForm": "SubmitForm action",
    "/ImportData": "ImportData action",
    "/ResetForm": "ResetForm action",
    "/Rendition": "Rendition action",
    "/Movie": "Movie action",
    "/Sound": "Sound action",
    "/RichMediaExecute": "RichMediaExecute action",
    "/GoTo3DView": "GoTo3DView action",
    "/Hide": "Hide action",
    "/Named": "Named action",
    "/SetOCGState": "SetOCGState action",
    "/Thread": "Thread action",
    "/Trans": "Trans action",
}
# Keys removed wherever they occur, with the label reported in ``removed``.
STRIP_KEYS: dict[str, str] = {
    "/JS": "JavaScript",
    "/JavaScript": "JavaScript",
    "/AA": "additional actions (AA)",
    "/OpenAction": "OpenAction",
    "/EmbeddedFiles": "EmbeddedFiles",
    "/EF": "EmbeddedFiles",
    "/AF": "associated files (AF)",
    "/RichMediaContent": "RichMedia",
    "/RichMediaSettings": "RichMedia",
    "/XFA": "XFA",
    "/Metadata": "XMP metadata",
    "/PieceInfo": "PieceInfo (private application data)",
    "/AlternatePresentations": "AlternatePresentations",
    "/Renditions": "Renditions",
    "/URLS": "web capture URLs",
    "/SpiderInfo": "web capture URLs",
    "/Collection": "portfolio (Collection)",
}
ACTIVE_ANNOTATIONS = frozenset(
    {"/Link", "/FileAttachment", "/Widget", "/Screen", "/Movie", "/Sound", "/RichMedia", "/3D"}
)
_FLATE = frozenset({"/FlateDecode", "/Fl"})
_ASCIIHEX = frozenset({"/ASCIIHexDecode", "/AHx"})
_ASCII85 = frozenset({"/ASCII85Decode", "/A85"})
_RUNLENGTH = frozenset({"/RunLengthDecode", "/RL"})
_LZW = frozenset({"/LZWDecode", "/LZW"})
# Worst-case expansion of filters whose output we bound by arithmetic instead of decoding.
_RATIO = {"flate": 1032, "runlength": 128, "lzw": 2730}


def iter_containers(pdf: pikepdf.Pdf) -> Iterator[Any]:
    """Every dictionary and stream of the file, indirect objects and the direct ones nested in them."""
    stack: list[Any] = [pdf.trailer, *pdf.objects]
    while stack:
        obj = stack.pop()
        if isinstance(obj, pikepdf.Stream | pikepdf.Dictionary):
            yield obj
            children = [obj[k] for k in list(obj.keys())]
        elif isinstance(obj, pikepdf.Array):
            children = list(obj)
        else:
            continue
        stack.extend(c for c in children if isinstance(c, _CONTAINERS) and not c.is_indirect)


_CONTAINERS = (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)


def name_text(value: Any) -> str | None:
    """A PDF name as text (``/FlateDecode``), or None; hostile names need not be valid UTF-8."""
    if not isinstance(value, pikepdf.Name):
        return None
    return bytes(value.unparse()).decode("latin-1")


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int) else 0


def action_type(value: Any) -> str | None:
    """The ``/S`` of an action dictionary, or None when ``value`` is not one."""
    if not isinstance(value, pikepdf.Dictionary):
        return None
    s = name_text(value.get("/S"))
    if s is not None and (s in ACTION_LABELS or s in SAFE_ACTIONS):
        return s
    return None


def find_active_content(pdf: pikepdf.Pdf) -> list[str]:
    """What active or hidden content the file still holds (empty for a clean file)."""
    found: list[str] = []
    for obj in iter_containers(pdf):
        for key, label in STRIP_KEYS.items():
            if key in obj:
                found.append(label)
        if "/AcroForm" in obj:
            found.append("AcroForm")
        if "/Annots" in obj:
            found.append("annotations")
        subtype = name_text(obj.get("/Subtype"))
        if subtype in ACTIVE_ANNOTATIONS:
            found.append(f"{subtype[1:]} annotation")
        if obj.get("/Type") == pikepdf.Name.EmbeddedFile:
            found.append("EmbeddedFiles")
        act = action_type(obj)
        if act is not None and act not in SAFE_ACTIONS:
            found.append(ACTION_LABELS[act])
    if "/Info" in pdf.trailer:
        found.append("document information metadata")
    return sorted(set(found))


def check_resources(pdf: pikepdf.Pdf, limits: Limits) -> None:
    """Refuse a PDF that would take too much to process: pages, objects, decoded stream sizes."""
    declared = _int(pdf.trailer.get("/Size"))
    if declared > limits.max_pdf_objects:
        raise Refused("pdf_too_large", TOO_LARGE_JA, f"trailer /Size {declared}")
    objects = list(pdf.objects)
    if len(objects) > limits.max_pdf_objects:
        raise Refused("pdf_too_large", TOO_LARGE_JA, f"{len(objects)} objects")
    if len(pdf.pages) > limits.max_pdf_pages:
        raise Refused("pdf_too_large", TOO_LARGE_JA, f"{len(pdf.pages)} pages")
    total = 0
    for obj in objects:
        if not isinstance(obj, pikepdf.Stream):
            continue
        if obj.get("/Subtype") == pikepdf.Name.Image:
            pixels = _int(obj.get("/Width")) * _int(obj.get("/Height"))
            if pixels > limits.max_image_pixels:
                raise Refused("pdf_too_large", TOO_LARGE_JA, f"image of {pixels} pixels")
        total += decoded_size_bound(obj, limits.max_pdf_stream_bytes)
        if total > limits.max_pdf_total_decoded_bytes:
            raise Refused("pdf_too_large", TOO_LARGE_JA, f"streams decode to over {total} bytes")


def decoded_size_bound(stream: Any, cap: int) -> int:
    """Decoded size of ``stream`` (or a safe upper bound), refusing past ``cap``; never holds > cap."""
    filters = _filters(stream)
    data: bytes | None = stream.read_raw_bytes()
    size = len(data) if data is not None else 0
    for i, name in enumerate(filters):
        last = i == len(filters) - 1
        if name in _FLATE:
            if data is None:
                size *= _RATIO["flate"]
            elif last:
                size, data = _inflate_count(data, cap), None
            else:
                data = _inflate_bounded(data, cap)
                size = len(data)
        elif name in _ASCIIHEX and data is not None:
            data = _ascii_hex(data)
            size = len(data)
        elif name in _ASCII85 and data is not None:
            data = _ascii85(data)
            size = len(data)
        elif name in _RUNLENGTH:
            size, data = size * _RATIO["runlength"], None
        elif name in _LZW:
            size, data = size * _RATIO["lzw"], None
        else:
            # Image codecs (DCT, JPX, CCITT, JBIG2) decode to at most Width*Height*components,
            # which check_resources bounds through max_image_pixels.
            break
        if size > cap:
            raise Refused("pdf_too_large", TOO_LARGE_JA, f"stream decodes to over {cap} bytes")
    return size


def _filters(stream: Any) -> list[str]:
    f = stream.get("/Filter")
    if f is None:
        return []
    items = list(f) if isinstance(f, pikepdf.Array) else [f]
    return [name_text(x) or "" for x in items]


def _inflate_stream(data: bytes, cap: int, sink: Callable[[bytes], None]) -> int:
    d = zlib.decompressobj()
    produced = 0
    chunk = data
    try:
        while chunk:
            out = d.decompress(chunk, 1024 * 1024)
            produced += len(out)
            sink(out)
            if produced > cap:
                raise Refused("pdf_too_large", TOO_LARGE_JA, f"stream inflates past {cap} bytes")
            chunk = d.unconsumed_tail
            if d.eof:
                break
    except zlib.error:
        # Damaged data: readers stop at the error, so what was produced is what counts.
        return produced
    return produced


def _inflate_count(data: bytes, cap: int) -> int:
    return _inflate_stream(data, cap, lambda _b: None)


def _inflate_bounded(data: bytes, cap: int) -> bytes:
    parts: list[bytes] = []
    _inflate_stream(data, cap, parts.append)
    return b"".join(parts)


def _ascii_hex(data: bytes) -> bytes:
    text = bytes(b for b in data.split(b">", 1)[0] if chr(b) in "0123456789abcdefABCDEF")
    if len(text) % 2:
        text += b"0"
    return binascii.unhexlify(text)


def _ascii85(data: bytes) -> bytes:
    body = data.strip()
    if body.startswith(b"<~"):
        body = body[2:]
    body = body.split(b"~>", 1)[0]
    try:
        return base64.a85decode(body, ignorechars=b" \t\r\n\x0b\x0c")
    except ValueError:
        return b""
