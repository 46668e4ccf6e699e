"""The receipt (申請受付票): what the resident keeps after submitting, on screen and as a PDF.

The submission itself is ciphertext the internet zone cannot read, so a summary of what was sent
is written at submission time (個人番号 masked, then field-encrypted) and the PDF is drawn from it
on request: municipality, procedure, 受付番号, time of receipt in 和暦, and the summary.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from jichitai.internet.portal.drafts import resident_ctx
from jichitai.internet.portal.formfields import SummaryGroup
from jichitai.internet.portal.models import PortalReceipt
from jichitai.internet.portal.purposes import PORTAL_RECEIPT
from jichitai.internet.submissions import ApplicationNotFound
from jichitai.platform.pdf.fonts import GOTHIC, MINCHO, register_fonts
from jichitai.platform.storage import Storage
from jichitai.platform.wareki import format_wareki
from jichitai.platform.zones import Zone

JST = timezone(timedelta(hours=9), "JST")
TABLE = "portal_receipts"
RESIDENT_INDEX_COLUMN = "portal_receipts.resident_key"


@dataclass(frozen=True)
class ReceiptSummary:
    receipt_number: str
    procedure_id: str
    received_at: datetime
    groups: tuple[SummaryGroup, ...]


def wareki_time(at: datetime) -> str:
    """``令和8年4月1日 14時05分`` (JST)."""
    local = at.astimezone(JST)
    return f"{format_wareki(local.date())} {local.hour}時{local.minute:02d}分"


def store_summary(
    storage: Storage,
    tenant: str,
    resident_key: str,
    *,
    receipt_number: str,
    procedure_id: str,
    received_at: datetime,
    groups: list[SummaryGroup],
) -> None:
    """Keep the (masked) summary of a submission for its receipt; a replayed receipt keeps the first."""
    text = json.dumps([[g.title, [list(line) for line in g.lines]] for g in groups], ensure_ascii=False)
    ctx = resident_ctx(tenant, resident_key, PORTAL_RECEIPT, receipt_number)
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        if uow.session.get(PortalReceipt, receipt_number) is not None:
            return
        index = uow.keyring.blind_index(RESIDENT_INDEX_COLUMN, resident_key)
        blob = uow.keyring.field_encrypt(TABLE, "summary", receipt_number, text)
        uow.session.add(
            PortalReceipt(
                receipt_number=receipt_number,
                resident_index=index,
                procedure_id=procedure_id,
                summary=blob,
                received_at=received_at,
            )
        )


def load_summary(storage: Storage, tenant: str, resident_key: str, receipt_number: str) -> ReceiptSummary:
    """The resident's own receipt; someone else's answers as not found."""
    ctx = resident_ctx(tenant, resident_key, PORTAL_RECEIPT, receipt_number)
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        row = uow.session.get(PortalReceipt, receipt_number[:40])
        if row is None or row.resident_index != uow.keyring.blind_index(RESIDENT_INDEX_COLUMN, resident_key):
            raise ApplicationNotFound(receipt_number)
        raw = json.loads(uow.keyring.field_decrypt(TABLE, "summary", row.receipt_number, row.summary))
        uow.record("receipt_viewed", TABLE, receipt_number, person=row.audit_person())
        groups = tuple(SummaryGroup(str(t), tuple((str(a), str(b)) for a, b in lines)) for t, lines in raw)
        at = row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=UTC)
        return ReceiptSummary(row.receipt_number, row.procedure_id, at, groups)


# --- PDF ------------------------------------------------------------------------------------------

_MARGIN = 20 * mm
_WIDTH, _HEIGHT = A4


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for ch in paragraph:
            if stringWidth(current + ch, font, size) > width and current:
                lines.append(current)
                current = ch
            else:
                current += ch
        lines.append(current)
    return lines


class _Writer:
    def __init__(self, canvas: Canvas) -> None:
        self.c = canvas
        self.y = _HEIGHT - _MARGIN

    def need(self, height: float) -> None:
        if self.y - height < _MARGIN:
            self.c.showPage()
            self.y = _HEIGHT - _MARGIN

    def text(self, text: str, *, font: str = MINCHO, size: float = 10.5, indent: float = 0) -> None:
        for line in _wrap(text, font, size, _WIDTH - 2 * _MARGIN - indent):
            self.need(size * 1.6)
            self.c.setFont(font, size)
            self.c.drawString(_MARGIN + indent, self.y - size, line)
            self.y -= size * 1.6

    def pair(self, label: str, value: str) -> None:
        label_width = 55 * mm
        size = 10.5
        values = _wrap(value, MINCHO, size, _WIDTH - 2 * _MARGIN - label_width)
        labels = _wrap(label, GOTHIC, 9.5, label_width - 3 * mm)
        for i in range(max(len(values), len(labels))):
            self.need(size * 1.6)
            if i < len(labels):
                self.c.setFont(GOTHIC, 9.5)
                self.c.drawString(_MARGIN, self.y - size, labels[i])
            if i < len(values):
                self.c.setFont(MINCHO, size)
                self.c.drawString(_MARGIN + label_width, self.y - size, values[i])
            self.y -= size * 1.6

    def rule(self) -> None:
        self.need(4 * mm)
        self.c.setLineWidth(0.5)
        self.c.line(_MARGIN, self.y - 1 * mm, _WIDTH - _MARGIN, self.y - 1 * mm)
        self.y -= 4 * mm


def render_receipt_pdf(summary: ReceiptSummary, *, municipality: str, procedure_name: str) -> bytes:
    """An A4 申請受付票 in IPAex fonts."""
    register_fonts(names=False)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"申請受付票 {summary.receipt_number}")
    canvas.setAuthor(municipality)
    canvas.setSubject(procedure_name)
    w = _Writer(canvas)
    w.text("申請受付票", font=GOTHIC, size=18)
    w.text(f"{municipality}は、次のとおり電子申請を受け付けました。", size=10.5)
    w.rule()
    w.pair("受付番号", summary.receipt_number)
    w.pair("受付日時", wareki_time(summary.received_at))
    w.pair("申請先", municipality)
    w.pair("手続", procedure_name)
    w.rule()
    w.text("申請内容の概要", font=GOTHIC, size=12)
    for group in summary.groups:
        w.text(group.title, font=GOTHIC, size=10.5)
        for label, value in group.lines:
            w.pair(label, value)
    w.rule()
    w.text(
        "この受付票は申請を受け付けたことを示すもので、審査の結果を示すものではありません。"
        "個人番号は一部のみ表示しています。処理状況は電子申請サービスの「申請履歴」で確認できます。",
        size=9,
    )
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


__all__ = ["ReceiptSummary", "load_summary", "render_receipt_pdf", "store_summary", "wareki_time"]
