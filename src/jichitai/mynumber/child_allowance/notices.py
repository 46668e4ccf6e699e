"""Notices (通知書) of the child allowance: 認定通知書, 額改定通知書, 消滅通知書, 却下通知書.

Content first (:class:`NoticeContent`, plain values built from the decision), then a one-page A4
drawing with reportlab in the platform's fonts (names in IPAmj明朝), dates in 和暦, amounts in yen,
and the municipality's 電子公印 (PAdES) over the whole file. The 教示 (appeal guidance) follows
行政不服審査法第82条.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from jichitai.mynumber.child_allowance.rules import YearMonth
from jichitai.platform.pdf.fonts import GOTHIC, MINCHO, NAME_FONT, register_fonts
from jichitai.platform.pdf.metadata import DocumentMarks, mark_document
from jichitai.platform.pdf.signing import PdfSealer, RawSigner, sign_pdf
from jichitai.platform.wareki import format_wareki

PAGE_W, PAGE_H = A4
MARGIN = 50.0

APPEAL_GUIDANCE = (
    "（教示）この処分に不服がある場合は、この処分があったことを知った日の翌日から起算して3か月以内に、"
    "市区町村長に対して審査請求をすることができます（行政不服審査法第2条・第4条・第18条）。"
    "また、この処分があったことを知った日から6か月以内に、処分の取消しの訴えを提起することができます"
    "（行政事件訴訟法第14条）。"
)


def wareki_month(month: YearMonth) -> str:
    """``2026-05`` → ``令和8年5月``."""
    text = format_wareki(month.first_day)
    return text[: text.index("月") + 1]


def yen(amount: int) -> str:
    return f"{amount:,}円"


@dataclass(frozen=True)
class NoticeContent:
    """What a notice says; :func:`render_notice` draws it."""

    kind: str
    title: str
    serial: str  # 文書番号
    issued_on: date
    municipality: str
    addressee_name: str
    addressee_address: str
    recipient_number: str
    lead: str  # the decision sentence
    items: Sequence[tuple[str, str]] = ()  # label, value
    amount_rows: Sequence[tuple[str, str, str]] = ()  # period, monthly amount, breakdown
    notes: Sequence[str] = field(default_factory=tuple)


def _fit(c: Canvas, x: float, y: float, text: str, font: str, size: float, max_w: float) -> None:
    width = stringWidth(text, font, size)
    if width > max_w:
        size = max(6.0, size * max_w / width)
    c.setFont(font, size)
    c.drawString(x, y, text)


def _wrap(text: str, font: str, size: float, max_w: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for ch in text:
        if stringWidth(current + ch, font, size) > max_w:
            lines.append(current)
            current = ch
        else:
            current += ch
    if current:
        lines.append(current)
    return lines


def render_notice(content: NoticeContent) -> bytes:
    """The notice as an unsigned one-page PDF."""
    register_fonts()
    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=A4, pageCompression=1)
    mark_document(
        c,
        DocumentMarks(content.serial, f"child-allowance-notice:{content.serial}"),
        title=content.title,
        author=content.municipality,
    )
    width = PAGE_W - 2 * MARGIN
    y = PAGE_H - MARGIN
    c.setFont(MINCHO, 10)
    c.drawRightString(PAGE_W - MARGIN, y, f"文書番号 {content.serial}")
    y -= 14
    c.drawRightString(PAGE_W - MARGIN, y, format_wareki(content.issued_on))
    y -= 30
    _fit(c, MARGIN, y, content.addressee_address, MINCHO, 10, width * 0.6)
    y -= 20
    _fit(c, MARGIN, y, f"{content.addressee_name} 様", NAME_FONT, 14, width * 0.6)
    y -= 16
    c.setFont(MINCHO, 10)
    c.drawString(MARGIN, y, f"受給者番号 {content.recipient_number}")
    y -= 24
    c.drawRightString(PAGE_W - MARGIN, y, f"{content.municipality}長")
    y -= 40
    c.setFont(GOTHIC, 18)
    c.drawCentredString(PAGE_W / 2, y, content.title)
    y -= 34
    for line in _wrap(content.lead, MINCHO, 11, width):
        c.setFont(MINCHO, 11)
        c.drawString(MARGIN, y, line)
        y -= 17
    y -= 8
    label_w = 130.0
    for label, value in content.items:
        c.rect(MARGIN, y - 6, width, 20, stroke=1, fill=0)
        c.line(MARGIN + label_w, y - 6, MARGIN + label_w, y + 14)
        _fit(c, MARGIN + 5, y, label, GOTHIC, 10, label_w - 10)
        _fit(c, MARGIN + label_w + 6, y, value, MINCHO, 10, width - label_w - 12)
        y -= 20
    if content.amount_rows:
        y -= 14
        c.setFont(GOTHIC, 11)
        c.drawString(MARGIN, y, "手当月額")
        y -= 20
        cols = (MARGIN, MARGIN + 150, MARGIN + 240)
        for col, head in zip(cols, ("期間", "月額", "内訳"), strict=True):
            c.setFont(GOTHIC, 10)
            c.drawString(col + 4, y, head)
        c.line(MARGIN, y - 5, PAGE_W - MARGIN, y - 5)
        y -= 20
        for period, amount, detail in content.amount_rows:
            _fit(c, cols[0] + 4, y, period, MINCHO, 10, 145)
            c.setFont(MINCHO, 10)
            c.drawRightString(cols[2] - 10, y, amount)
            _fit(c, cols[2] + 4, y, detail, MINCHO, 9, PAGE_W - MARGIN - cols[2] - 8)
            y -= 17
    y -= 10
    for note in [*content.notes, APPEAL_GUIDANCE]:
        for line in _wrap(note, MINCHO, 9, width):
            c.setFont(MINCHO, 9)
            c.drawString(MARGIN, y, line)
            y -= 13
        y -= 4
    c.showPage()
    c.save()
    return buffer.getvalue()


def seal_notice(content: NoticeContent, sealer: RawSigner | PdfSealer) -> bytes:
    """The notice rendered and sealed with the municipality's 電子公印."""
    pdf = render_notice(content)
    return sign_pdf(pdf, sealer, reason=content.title, location=content.municipality)
