"""PDF content disarm and reconstruction with pikepdf (qpdf).

Strips everything that can run, open, send or hide: JavaScript wherever it sits, actions other
than in-document jumps, embedded files, forms (AcroForm and XFA, after baking their appearance into
the page), every annotation (Link, FileAttachment, RichMedia, 3D, ...), XMP and document-info
metadata. Saving writes only objects still reachable from the document, so whatever was appended
after ``%%EOF`` or hidden in unreferenced objects (the usual polyglot trick) is not carried over.
A file whose objects qpdf could only read by repairing them is not rebuilt but flattened (a lost
cross-reference table alone is no reason: the objects themselves are read as written).
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from typing import Any

import pikepdf

from jichitai.platform.sanitize.limits import Limits
from jichitai.platform.sanitize.pdf_scan import (
    ACTION_LABELS,
    SAFE_ACTIONS,
    STRIP_KEYS,
    action_type,
    check_resources,
    find_active_content,
    iter_containers,
    name_text,
)
from jichitai.platform.sanitize.result import CleaningFailed, Refused

log = logging.getLogger(__name__)

ENCRYPTED_JA = "パスワードで保護されたPDFは受け付けられません"

# Labels of catalog entries that ``_CATALOG_KEEP`` drops and ``STRIP_KEYS`` does not name.
_CATALOG_KEYS = {
    "/AcroForm": "AcroForm",
    "/URI": "URI base",
    "/Perms": "permissions (signature) dictionary",
    "/Legal": "legal attestation",
}
# What a catalog may keep: the entries that shape how the document is shown (ISO 32000-2, table 29).
# The rest (private or unknown keys, requirements, signature data) goes; anything can hide there.
_CATALOG_KEEP = frozenset(
    {
        "/Type", "/Version", "/Extensions", "/Pages", "/PageLabels", "/Names", "/Dests",
        "/ViewerPreferences", "/PageLayout", "/PageMode", "/Outlines", "/Threads", "/StructTreeRoot",
        "/MarkInfo", "/Lang", "/OutputIntents", "/OCProperties",
    }
)  # fmt: skip


class _Removed:
    """An ordered set of labels of what was removed."""

    def __init__(self) -> None:
        self.items: dict[str, None] = {}

    def add(self, label: str) -> None:
        self.items[label] = None


def open_pdf(data: bytes) -> pikepdf.Pdf:
    """Open with qpdf's repair on; encrypted-with-password is refused, beyond repair is CleaningFailed."""
    try:
        return pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError as exc:
        raise Refused("encrypted_pdf", ENCRYPTED_JA, str(exc)) from exc
    except (pikepdf.PdfError, ValueError, RuntimeError) as exc:
        raise CleaningFailed(f"cannot parse PDF: {exc}") from exc


def clean_pdf(data: bytes, limits: Limits) -> tuple[bytes, list[str], int]:
    """Rebuild ``data`` without active content. Returns (output, removed labels, page count).

    Raises ``Refused`` (encrypted, too large) or ``CleaningFailed`` (the caller may flatten).
    """
    removed = _Removed()
    with open_pdf(data) as pdf:
        try:
            check_resources(pdf, limits)
            page_count = len(pdf.pages)
            if page_count == 0:
                # qpdf's repair can turn garbage into an empty document; that is no copy of it.
                raise CleaningFailed("no pages after parsing")
            if pdf.is_encrypted:
                removed.add("encryption")
            _strip_actions(pdf, removed)
            _flatten_and_drop_annotations(pdf, removed)
            _strip_catalog(pdf, removed)
            _strip_keys_everywhere(pdf, removed)
            if "/Info" in pdf.trailer:
                del pdf.trailer["/Info"]
                removed.add("document information metadata")
            # Every object has been read by now (check_resources, the walks above).
            _refuse_repaired(pdf)
            out = io.BytesIO()
            pdf.save(
                out,
                encryption=False,
                compress_streams=True,
                # Streams are copied as they are: decoding here would expand a compression bomb.
                stream_decode_level=pikepdf.StreamDecodeLevel.none,
                object_stream_mode=pikepdf.ObjectStreamMode.generate,
                fix_metadata_version=False,
                preserve_pdfa=False,
                deterministic_id=True,
            )
        # ValueError covers names and strings that are not valid UTF-8 in a damaged file.
        except (pikepdf.PdfError, ValueError, RuntimeError, KeyError, TypeError, AttributeError) as exc:
            raise CleaningFailed(f"cannot rebuild PDF: {exc}") from exc
    output = out.getvalue()
    verify_clean_pdf(output)
    return output, list(removed.items), page_count


def _refuse_repaired(pdf: pikepdf.Pdf) -> None:
    """A file whose objects qpdf had to repair is not rebuilt: their content is qpdf's guess.

    A damaged object is read by guessing (a value without a key gets an invented one, a broken
    dictionary is read as a string, a lost stream becomes page content), so a rebuild would carry
    over whatever the guess made of a script, where other readers may see it differently. Such a
    file is flattened to images instead. A lost or wrong cross-reference table alone is rebuilt:
    qpdf finds the objects by their own headers and reads each of them as written.
    """
    repairs = [w for w in map(_without_stream, pdf.get_warnings()) if not _XREF_ONLY_RE.match(w)]
    if repairs:
        raise CleaningFailed(f"damaged objects ({len(repairs)} repair(s) while parsing; first: {repairs[0]})")


def _without_stream(warning: object) -> str:
    return _BYTESIO_RE.sub("", str(warning))


_BYTESIO_RE = re.compile(r"stream <_io\.BytesIO object at 0x[0-9a-f]+>,? ?:? ?")
_XREF_ONLY_RE = re.compile(
    r"^(file is damaged|\(offset \d+\): xref not found|Attempting to reconstruct cross-reference table"
    r"|reported number of objects \(\d+\) is not one plus the highest object number \(\d+\))$"
)


def verify_clean_pdf(output: bytes) -> None:
    """Re-parse the rebuilt file and make sure nothing active or foreign is left in it."""
    try:
        with pikepdf.open(io.BytesIO(output)) as again:
            leftovers = find_active_content(again)
            # what the rebuild wrote must read back without any repair
            leftovers += [f"parser repair: {_without_stream(w)}" for w in again.get_warnings()]
    except (pikepdf.PdfError, ValueError, TypeError) as exc:
        raise CleaningFailed(f"rebuilt PDF does not parse: {exc}") from exc
    if leftovers:
        raise CleaningFailed(f"active content survived rebuilding: {', '.join(leftovers)}")
    if zipfile.is_zipfile(io.BytesIO(output)):
        raise CleaningFailed("rebuilt PDF still reads as a ZIP archive")


def _strip_actions(pdf: pikepdf.Pdf, removed: _Removed) -> None:
    for obj in iter_containers(pdf):
        a = obj.get("/A")
        act = action_type(a)
        if act is not None and act not in SAFE_ACTIONS:
            del obj["/A"]
            removed.add(ACTION_LABELS[act])
        own = action_type(obj)
        if own is not None and own not in SAFE_ACTIONS:
            # The action object itself, wherever else it may be referenced from: empty it, keys of
            # no standard meaning included (a script can sit under any key).
            for key in list(obj.keys()):
                if key != "/Type":
                    del obj[key]
            obj["/S"] = pikepdf.Name.GoTo
            obj["/D"] = pikepdf.Array([])
            removed.add(ACTION_LABELS[own])
        elif own is not None and "/Next" in obj:
            del obj["/Next"]
            removed.add("chained actions")


def _flatten_and_drop_annotations(pdf: pikepdf.Pdf, removed: _Removed) -> None:
    had_form = "/AcroForm" in pdf.Root
    if had_form:
        # Flattening drops the form dictionary itself, so say what it was first.
        removed.add("AcroForm")
        acroform = pdf.Root.AcroForm
        if isinstance(acroform, pikepdf.Dictionary) and "/XFA" in acroform:
            removed.add("XFA")
    for page in pdf.pages:
        for annot in page.obj.get("/Annots", pikepdf.Array()):
            if not isinstance(annot, pikepdf.Dictionary):
                continue
            subtype = name_text(annot.get("/Subtype"))
            removed.add(f"{subtype[1:] if subtype else 'unknown'} annotation")
    if had_form:
        try:
            pdf.generate_appearance_streams()
        except (pikepdf.PdfError, RuntimeError) as exc:
            log.info("form appearance generation failed: %s", exc)
    try:
        # What a filled form or a stamp shows stays visible: its appearance becomes page content.
        pdf.flatten_annotations("all")
    except (pikepdf.PdfError, RuntimeError) as exc:
        log.info("annotation flattening failed: %s", exc)
    for page in pdf.pages:
        if "/Annots" in page.obj:
            del page.obj["/Annots"]


def _strip_catalog(pdf: pikepdf.Pdf, removed: _Removed) -> None:
    root = pdf.Root
    acroform = root.get("/AcroForm")
    if isinstance(acroform, pikepdf.Dictionary) and "/XFA" in acroform:
        removed.add("XFA")
    for key in list(root.keys()):
        if key not in _CATALOG_KEEP:
            del root[key]
            removed.add(_CATALOG_KEYS.get(key) or STRIP_KEYS.get(key, "non-standard catalog entries"))


def _strip_keys_everywhere(pdf: pikepdf.Pdf, removed: _Removed) -> None:
    for obj in iter_containers(pdf):
        for key, label in STRIP_KEYS.items():
            if key in obj:
                del obj[key]
                removed.add(label)
        if obj.get("/Type") == pikepdf.Name.EmbeddedFile:
            _empty_stream(obj)
            removed.add("EmbeddedFiles")


def _empty_stream(stream: Any) -> None:
    if isinstance(stream, pikepdf.Stream):
        stream.write(b"")
        for key in list(stream.keys()):
            if key not in ("/Length",):
                del stream[key]
