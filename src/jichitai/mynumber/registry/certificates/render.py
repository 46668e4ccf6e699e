"""Drawing certificates on A4 with reportlab, in the style of municipal certificates.

Every sheet has the title, the items table, the serial, a verification QR code and ``x/y``; the
certification sentence, issue date (和暦) and the mayor's name with the seal mark follow the last
person on a sheet that ends a certificate. Names use IPAmj明朝, everything else IPAex.
"""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from jichitai.mynumber.registry.certificates.content import CertificateContent, PersonBlock, Row, Sheet
from jichitai.mynumber.registry.certificates.layout import (
    BLOCK_GAP,
    CERTIFICATION_GAP,
    CERTIFICATION_H,
    FOOTER_TOP,
    HEADER_GAP,
    HOUSEHOLD_LABEL_W,
    HOUSEHOLD_LINE,
    LABEL_W,
    MARGIN,
    PAGE_H,
    PAGE_W,
    QR_SIZE,
    ROW_H,
    TABLE_TOP,
    TABLE_W,
    household_lines,
    row_height,
)
from jichitai.platform.pdf.fonts import GOTHIC, MINCHO, NAME_FONT, register_fonts
from jichitai.platform.pdf.metadata import DocumentMarks, mark_document
from jichitai.platform.pdf.qr import draw_qr

LINE = 0.6


MIN_ONE_LINE = 6.0  # below this a value is wrapped instead of shrunk further
MIN_WRAPPED = 4.0  # the smallest size for a wrapped value (a 200-character 方書 in a household row)
LEADING = 1.15


def _fit(c: Canvas, x: float, y: float, text: str, font: str, size: float, max_w: float) -> None:
    """Draw ``text`` on one line, shrunk (down to 6 pt) so that it fits ``max_w``."""
    width = stringWidth(text, font, size)
    if width > max_w:
        size = max(MIN_ONE_LINE, size * max_w / width)
    c.setFont(font, size)
    c.drawString(x, y, text)


def wrap_lines(text: str, font: str, size: float, max_w: float) -> list[str]:
    """``text`` cut into lines no wider than ``max_w`` (between any two characters: Japanese
    addresses have no spaces to break at)."""
    lines: list[str] = []
    line = ""
    for ch in text:
        if line and stringWidth(line + ch, font, size) > max_w:
            lines.append(line)
            line = ""
        line += ch
    return [*lines, line] if line or not lines else lines


def fit_box(text: str, font: str, size: float, max_w: float, max_h: float) -> tuple[float, list[str]]:
    """The size and lines that put ``text`` inside a ``max_w`` × ``max_h`` box: one line shrunk
    down to 6 pt, else wrapped lines at the largest size (in half points) that fits, at least 4 pt."""
    width = stringWidth(text, font, size)
    if width <= max_w:
        return size, [text]
    one_line = size * max_w / width
    if one_line >= MIN_ONE_LINE:
        return one_line, [text]
    size = min(size, max_h / LEADING)
    while size > MIN_WRAPPED:
        lines = wrap_lines(text, font, size, max_w)
        if len(lines) * size * LEADING <= max_h:
            return size, lines
        size -= 0.5
    return MIN_WRAPPED, wrap_lines(text, font, MIN_WRAPPED, max_w)


def _fit_box(
    c: Canvas,
    x: float,
    y: float,
    text: str,
    font: str,
    size: float,
    max_w: float,
    *,
    box_top: float,
    box_h: float,
) -> None:
    """Draw ``text`` on one line at baseline ``y`` (shrunk down to 6 pt), or wrapped inside the box
    below ``box_top`` (see :func:`fit_box`); what still does not fit is clipped to the box, so that
    nothing ever runs into the next cell."""
    size, lines = fit_box(text, font, size, max_w, box_h - 3)
    c.setFont(font, size)
    if len(lines) == 1:
        c.drawString(x, y, text)
        return
    leading = size * LEADING
    block = len(lines) * leading
    c.saveState()
    if block > box_h - 3:
        path = c.beginPath()
        path.rect(x - 1, box_top - box_h, max_w + 2, box_h)
        c.clipPath(path, stroke=0, fill=0)
    y = box_top - (box_h - block) / 2 - size * 0.88  # the first baseline
    for line in lines:
        c.drawString(x, y, line)
        y -= leading
    c.restoreState()


def _cell(c: Canvas, row: Row, x: float, y_top: float, label_w: float, value_w: float, height: float) -> None:
    c.rect(x, y_top - height, label_w + value_w, height, stroke=1, fill=0)
    c.line(x + label_w, y_top, x + label_w, y_top - height)
    _fit(c, x + 5, y_top - height / 2 - 3.5, row.label, GOTHIC, 9, label_w - 10)
    vx = x + label_w + 6
    w = value_w - 12
    if row.is_name and row.kana:
        _fit_box(c, vx, y_top - 9, row.kana, MINCHO, 7, w, box_top=y_top, box_h=11)
        size = 14 if height >= 28 else 12
        _fit_box(
            c, vx, y_top - height + 5, row.value, NAME_FONT, size, w, box_top=y_top - 10, box_h=height - 10
        )
    elif row.is_name:
        size = 11 if height < 20 else 12
        _fit_box(c, vx, y_top - height / 2 - 4, row.value, NAME_FONT, size, w, box_top=y_top, box_h=height)
    else:
        _fit_box(c, vx, y_top - height / 2 - 3.5, row.value, MINCHO, 10, w, box_top=y_top, box_h=height)


def _title(c: Canvas, content: CertificateContent) -> float:
    c.setFont(GOTHIC, 20)
    c.drawCentredString(PAGE_W / 2, PAGE_H - 62, " ".join(content.title))
    c.setFont(MINCHO, 8)
    c.drawRightString(PAGE_W - MARGIN, PAGE_H - 30, f"証明書番号 {content.serial}")
    return TABLE_TOP


def _person_table(c: Canvas, block: PersonBlock, y: float) -> float:
    for row in block.rows:
        h = row_height(row, ROW_H)
        _cell(c, row, MARGIN, y, LABEL_W, TABLE_W - LABEL_W, h)
        y -= h
    return y


def _household_block(c: Canvas, block: PersonBlock, y: float) -> float:
    """A person on a household sheet: the name full width, short items two to a line, long ones after."""
    half = TABLE_W / 2
    label_w = HOUSEHOLD_LABEL_W
    line = HOUSEHOLD_LINE
    short, long = household_lines(block.rows)
    first = block.rows[0]
    h = row_height(first, line) + 2
    _cell(c, first, MARGIN, y, label_w, TABLE_W - label_w, h)
    y -= h
    for i in range(0, len(short), 2):
        pair = short[i : i + 2]
        if len(pair) == 2:
            _cell(c, pair[0], MARGIN, y, label_w, half - label_w, line)
            _cell(c, pair[1], MARGIN + half, y, label_w, half - label_w, line)
        else:
            _cell(c, pair[0], MARGIN, y, label_w, TABLE_W - label_w, line)
        y -= line
    for row in long:
        _cell(c, row, MARGIN, y, label_w, TABLE_W - label_w, line)
        y -= line
    return y - BLOCK_GAP


def _certification(c: Canvas, content: CertificateContent, y: float) -> None:
    y = max(y - CERTIFICATION_GAP, FOOTER_TOP + CERTIFICATION_H)
    c.setFont(MINCHO, 11)
    c.drawString(MARGIN + 12, y, content.certification)
    c.drawString(MARGIN + 12, y - 22, content.issue_date)
    mayor = f"{content.mayor_title}　{content.mayor_name}"
    c.setFont(MINCHO, 13)
    right = PAGE_W - MARGIN - 62
    c.drawRightString(right, y - 48, mayor)
    # the printed seal mark; the legal seal is the PAdES signature
    seal = 44.0
    sx, sy = PAGE_W - MARGIN - seal - 6, y - 62
    c.saveState()
    c.setStrokeColorRGB(0.8, 0.1, 0.1)
    c.setFillColorRGB(0.8, 0.1, 0.1)
    c.setLineWidth(1.6)
    c.rect(sx, sy, seal, seal, stroke=1, fill=0)
    text = f"{content.mayor_title}之印"
    per_line = (len(text) + 1) // 2
    _fit(c, sx + 4, sy + seal / 2 + 3, text[:per_line], GOTHIC, 10, seal - 8)
    _fit(c, sx + 4, sy + seal / 2 - 11, text[per_line:], GOTHIC, 10, seal - 8)
    c.restoreState()


def _footer(c: Canvas, content: CertificateContent, payload: str, page: int, pages: int) -> None:
    draw_qr(c, payload, MARGIN, MARGIN, QR_SIZE)
    c.setFont(MINCHO, 7.5)
    tx = MARGIN + QR_SIZE + 10
    c.drawString(tx, MARGIN + 50, "この証明書には電子署名（電子公印）が付されています。")
    c.drawString(tx, MARGIN + 38, "QRコードの読み取り又は下記の番号により交付の事実を確認できます。")
    c.drawString(tx, MARGIN + 26, f"証明書番号 {content.serial}　{content.municipality_name}")
    c.setFont(MINCHO, 9)
    c.drawRightString(PAGE_W - MARGIN, MARGIN + 4, f"{page}/{pages}")


def _sheet(c: Canvas, content: CertificateContent, sheet: Sheet, household: bool, last: bool) -> None:
    c.setLineWidth(LINE)
    y = _title(c, content)
    if household:
        for row in sheet.header:
            h = row_height(row, ROW_H)
            _cell(c, row, MARGIN, y, LABEL_W, TABLE_W - LABEL_W, h)
            y -= h
        y -= HEADER_GAP
        for block in sheet.people:
            y = _household_block(c, block, y)
    else:
        y = _person_table(c, sheet.people[0], y)
    if last:
        _certification(c, content, y)


def render_pdf(content: CertificateContent, payload: str) -> bytes:
    """The certificate as PDF bytes (unsigned)."""
    register_fonts()
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, pageCompression=1)
    mark_document(
        c, DocumentMarks(content.serial, payload), title=content.title, author=content.municipality_name
    )
    household = content.layout == "HOUSEHOLD"
    pages = len(content.sheets)
    for i, sheet in enumerate(content.sheets, start=1):
        _sheet(c, content, sheet, household, last=(not household) or i == pages)
        _footer(c, content, payload, i, pages)
        c.showPage()
    c.save()
    return buf.getvalue()
