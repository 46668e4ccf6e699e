"""The payment list (支払明細一覧表) of a run as PDF: the totals, the exceptions, and the items.

A municipality of 400,000 recipients does not print 10,000 pages: past ``limit`` items the PDF
holds the totals and exceptions and refers to the CSV for the full list.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfgen.canvas import Canvas

from jichitai.mynumber.child_allowance.models import month_of
from jichitai.mynumber.child_allowance.notices import wareki_month, yen
from jichitai.platform.pdf.fonts import GOTHIC, MINCHO, register_fonts
from jichitai.platform.wareki import format_wareki

PAGE_W, PAGE_H = landscape(A4)
MARGIN = 36.0
LINE = 15.0
COLUMNS = (
    (0, "受給者番号"),
    (90, "氏名"),
    (260, "支払額"),
    (340, "対象月"),
    (520, "口座"),
    (650, "確認事項"),
)


def render_payment_list(municipality: str, summary: Any, items: Sequence[Any], limit: int) -> bytes:
    register_fonts(names=False)
    from jichitai.mynumber.child_allowance.payment_run import EXCEPTION_LABELS

    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=(PAGE_W, PAGE_H), pageCompression=1)
    c.setTitle(f"児童手当 支払明細一覧表 {summary.payment_month_ja}期")
    c.setAuthor(municipality)
    page = 1

    def header() -> float:  # the y below the page header
        c.setFont(GOTHIC, 14)
        c.drawString(MARGIN, PAGE_H - MARGIN, f"児童手当 支払明細一覧表（{summary.payment_month_ja}期）")
        c.setFont(MINCHO, 9)
        c.drawRightString(PAGE_W - MARGIN, PAGE_H - MARGIN, f"{municipality}　{page}ページ")
        return float(PAGE_H - MARGIN - 24)

    y = header()
    lines = [
        f"振込指定日: {format_wareki(summary.transfer_date)}",
        f"状態: {'承認済み' if summary.status == 'approved' else '確認中（未承認）'}",
        f"支払対象: {summary.item_count:,}件 {yen(summary.total_amount)}",
        f"うち振込: {summary.transfer_count:,}件 {yen(summary.transfer_amount)}",
        f"確認事項のある件数: {summary.exception_count:,}件",
        *[f"　{EXCEPTION_LABELS.get(k, k)}: {n:,}件" for k, n in sorted(summary.exceptions.items())],
    ]
    c.setFont(MINCHO, 10)
    for text in lines:
        c.drawString(MARGIN, y, text)
        y -= LINE
    if len(items) > limit:
        c.drawString(
            MARGIN, y - LINE, f"明細が{limit:,}件を超えるため、明細はCSV（支払明細一覧）を参照してください。"
        )
        c.showPage()
        c.save()
        return buffer.getvalue()
    y -= LINE

    def column_heads(y: float) -> float:
        c.setFont(GOTHIC, 9)
        for x, title in COLUMNS:
            c.drawString(MARGIN + x, y, title)
        c.line(MARGIN, y - 4, PAGE_W - MARGIN, y - 4)
        return y - LINE

    y = column_heads(y)
    for row in items:
        if y < MARGIN:
            c.showPage()
            page += 1
            y = column_heads(header())
        c.setFont(MINCHO, 9)
        months = wareki_month(month_of(row.first_month))
        if row.last_month != row.first_month:
            months += f"〜{wareki_month(month_of(row.last_month))}"
        account = f"{row.bank_code or ''}-{row.branch_code or ''}-{row.account_number or ''}"
        values = (row.recipient_number, row.name, yen(row.amount), months, account)
        for (x, _), value in zip(COLUMNS, values, strict=False):
            c.drawString(MARGIN + x, y, str(value)[:40])
        if row.exception:
            c.drawString(MARGIN + COLUMNS[5][0], y, EXCEPTION_LABELS.get(row.exception, row.exception))
        y -= LINE
    c.showPage()
    c.save()
    return buffer.getvalue()
