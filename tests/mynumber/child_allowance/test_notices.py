"""Notices: the certification notice's text (pdftotext) and its seal (電子公印)."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

from jichitai.mynumber.child_allowance.notices import NoticeContent, render_notice, wareki_month
from jichitai.mynumber.child_allowance.rules import YearMonth
from jichitai.mynumber.child_allowance.service import ChildAllowanceService
from jichitai.mynumber.registry.seal import trust_roots
from jichitai.mynumber.registry.service import RegistryService
from jichitai.platform.pdf.signing import verify_pdf
from jichitai.platform.storage import Storage
from tests.mynumber.child_allowance.support import (
    application,
    case_id_of,
    claim_form,
    clerk_ctx,
    deliver_application,
    move_in_family,
)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_wareki_month() -> None:
    assert wareki_month(YearMonth(2026, 5)) == "令和8年5月"
    assert wareki_month(YearMonth(2019, 5)) == "令和元年5月"


def test_certification_notice_text_and_seal(
    ca_storage: Storage, registry: RegistryService, ca: ChildAllowanceService, tmp_path: Path
) -> None:
    family = move_in_family(registry, children=(date(2015, 3, 3), date(2024, 1, 10)))
    app = application(claim_form(family), family.head)
    deliver_application(ca_storage, app)
    decision = ca.certify(clerk_ctx(), case_id_of(ca_storage, app.receipt_number))
    name, pdf = ca.notice_pdf(clerk_ctx(), decision.notice_id or "")
    assert name.startswith("certification-")
    text = pdf_text(pdf, tmp_path)
    assert "児童手当 認定通知書" in text
    assert family.surname in text
    assert "令和7年7月分から" in text
    assert "25,000円" in text and "20,000円" in text
    assert "令和7年6月2日" in text  # issue date in 和暦
    assert ca.recipient(clerk_ctx(), decision.recipient_id or "").recipient_number in text
    result = verify_pdf(pdf, trust_roots(ca_storage.settings))
    assert result.valid, result.problems
    assert result.signer_organization == "千代田区"
    tampered = pdf.replace(b"/Title", b"/Titel", 1)
    assert not verify_pdf(tampered, trust_roots(ca_storage.settings)).valid


def test_render_without_amounts_is_one_page(tmp_path: Path) -> None:
    content = NoticeContent(
        kind="extinction",
        title="児童手当 支給事由消滅通知書",
        serial="CA2025-0000001",
        issued_on=date(2025, 6, 2),
        municipality="千代田区",
        addressee_name="山田　太郎",
        addressee_address="東京都千代田区一番町1番地",
        recipient_number="0000000001",
        lead="転出により支給事由が消滅しました。",
        items=(("支給終了月", "令和7年6月分"),),
    )
    text = pdf_text(render_notice(content), tmp_path)
    assert "支給事由消滅通知書" in text and "令和7年6月分" in text and "審査請求" in text
