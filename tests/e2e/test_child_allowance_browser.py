"""One resident's whole path in a real browser (Debian's Chromium through Playwright).

山田花子 claims child allowance (児童手当 認定請求) on the portal with her card in the card reader;
the application clerk accepts it and hands it over in the LGWAN back office; the linkage server
delivers it to the child allowance system, where the clerk certifies it with the registry beside
the claim, runs the payment for the first payment month, approves it and downloads the Zengin
transfer file, which holds her line; the decision flows back and her 申請履歴 shows 決定 with the
certification message.

Every zone runs as its own server on loopback (:class:`tests.e2e.harness.Chain`); the pull worker
and the linkage loop, which run on a schedule in production, are run once at the points where
the resident or a clerk would otherwise wait for them. Three browser contexts: the resident, the
application clerk, the child allowance clerk (each zone has its own staff login).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, FilePayload, Page, expect

from jichitai.internet.portal import formfields as ff
from jichitai.mynumber.child_allowance import purposes, zengin
from jichitai.mynumber.child_allowance.payment_run import PaymentRunService
from jichitai.mynumber.child_allowance.service import ChildAllowanceService
from jichitai.platform.identity.roles import Permission
from jichitai.platform.identity.testing import TEST_PASSWORD
from jichitai.platform.zones import Zone
from jichitai.procedures import default_catalog, sample_application
from tests.conftest import skip_module_without_chromium
from tests.e2e.harness import AUTH_PIN, CHIYODA, SIGN_PIN, Chain, chain_at, real_pdf

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLAIM = "child_allowance_claim"
SCHEMA = default_catalog().get(CLAIM).form
JST = ZoneInfo("Asia/Tokyo")
PAYEE_KANA = "ﾔﾏﾀﾞ ﾊﾅｺ"

skip_module_without_chromium()


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    home: Path = tmp_path_factory.mktemp("e2e-browser") / "home"
    yield from chain_at(home, card_reader=True)


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


def new_page(browser: Browser, contexts: list[BrowserContext]) -> Page:
    context = browser.new_context(locale="ja-JP", accept_downloads=True)
    context.set_default_timeout(10_000)
    contexts.append(context)
    return context.new_page()


def fill_form(page: Page, data: dict[str, Any]) -> None:
    """Type the application into the page as a resident would, adding rows as needed."""
    pairs = ff.to_post(SCHEMA, data)
    for name, value in pairs:
        if name.startswith(ff.ROWS_PREFIX):
            array = name[len(ff.ROWS_PREFIX) :]
            while page.locator(f'input[name="{name}"]').get_attribute("value") != value:
                page.click(f'button[name="action"][value="add:{array}"]')
    for name, value in pairs:
        if name.startswith(ff.ROWS_PREFIX):
            continue
        field = page.locator(f'[name="{name}"]').first
        kind = field.get_attribute("type")
        if kind in {"radio", "checkbox"}:
            page.check(f'[name="{name}"][value="{value}"]')
        elif field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def staff_login(page: Page, base: str, login_id: str, target: str) -> None:
    page.goto(f"{base}{target}")
    expect(page).to_have_url(re.compile(r"/staff/login"))
    page.get_by_label("団体コード").fill(CHIYODA)
    page.get_by_label("ログインID").fill(login_id)
    page.get_by_label("パスワード").fill(TEST_PASSWORD)
    page.get_by_role("button", name="ログイン").click()


def first_payment_month(claimed: datetime) -> tuple[int, int, int]:
    """(year, month, months paid) of the first payment month that pays the start month.

    Paid in arrears in even months (each paying the months before it); the start month is the
    month after the claim (the claim is not within 15 days of the birth).
    """
    start = claimed.year * 12 + claimed.month  # 0-based month index of the month after the claim
    pay = next(m for m in (start + 1, start + 2) if (m % 12 + 1) % 2 == 0)
    return pay // 12, pay % 12 + 1, pay - start


def test_claim_to_bank_transfer_to_decided(
    chain: Chain, browser: Browser, contexts: list[BrowserContext]
) -> None:
    portal = f"{chain.url(Zone.INTERNET)}/m/{CHIYODA}"
    data = sample_application(default_catalog().get(CLAIM))
    data["payee"]["bank_account"]["account_holder_kana"] = PAYEE_KANA

    # -- the resident: log in with the card, fill, review, sign ------------------------------------
    resident = new_page(browser, contexts)
    resident.goto(f"{portal}/login?next=/m/{CHIYODA}/procedures/{CLAIM}/form")
    resident.fill("#f-pin", AUTH_PIN)
    resident.click("#login-button")
    expect(resident).to_have_url(re.compile(rf"/procedures/{CLAIM}/form$"))
    fill_form(resident, data)
    passbook: FilePayload = {"name": "通帳.pdf", "mimeType": "application/pdf", "buffer": real_pdf()}
    resident.set_input_files("#f-attachments-passbook_copy", files=[passbook])
    resident.click('button[value="next"]')
    expect(resident.locator("h1")).to_have_text("申請内容の確認")
    resident.fill("#f-pin", SIGN_PIN)
    resident.click("#sign-button")
    expect(resident.locator("h1")).to_have_text("申請を受け付けました")
    receipt = resident.locator("#receipt-number").inner_text().strip()
    assert re.fullmatch(rf"\d{{8}}-{CHIYODA}-[0-9A-Z]{{8}}", receipt)

    # the pull worker's scheduled run
    assert chain.pull().stored == 1
    assert chain.lgwan(receipt).match == "serial"

    # -- the application clerk (LGWAN back office): accept and hand over ------------------------------
    lgwan = new_page(browser, contexts)
    staff_login(lgwan, chain.url(Zone.LGWAN), "madoguchi", "/staff/applications")
    expect(lgwan.get_by_role("heading", name="電子申請の受付一覧")).to_be_visible()
    lgwan.get_by_role("link", name=receipt).click()
    expect(lgwan.get_by_role("heading", name="申請内容(児童手当 認定請求書)")).to_be_visible()
    lgwan.get_by_role("button", name="受理する").click()
    expect(lgwan.get_by_role("status")).to_contain_text("受理しました")
    lgwan.get_by_role("button", name="担当業務へ引き継ぐ").click()
    expect(lgwan.get_by_role("status")).to_contain_text("引き継ぎました")

    # the linkage server's next pass
    assert chain.run_linkage_once() >= 1

    # -- the child allowance clerk (My Number back office): certify -----------------------------------
    clerk = new_page(browser, contexts)
    staff_login(clerk, chain.url(Zone.MYNUMBER), "jidouteate", "/child-allowance/")
    clerk.get_by_role("link", name=receipt).click()
    expect(clerk.locator("main")).to_contain_text("山田　一郎")  # the registry facts beside the claim
    clerk.get_by_role("button", name="認定する").click()
    certified = clerk.locator("main").get_by_text(
        re.compile(r"認定しました。支給開始月: .+分から（月額 ([\d,]+)円）")
    )
    expect(certified.first).to_be_visible()
    monthly = int(re.search(r"月額 ([\d,]+)円", certified.first.inner_text()).group(1).replace(",", ""))  # type: ignore[union-attr]

    # -- the payment run: settings, compute, approve, the Zengin file ---------------------------------
    clerk.goto(f"{chain.url(Zone.MYNUMBER)}/child-allowance/payments")
    for name, value in (
        ("requester_code", "1310160001"),
        ("requester_name", "ﾁﾖﾀﾞｸ"),
        ("bank_code", "0005"),
        ("bank_name", "ﾐﾂﾋﾞｼUFJ"),
        ("branch_code", "123"),
        ("branch_name", "ｺｳｼﾞﾏﾁ"),
        ("account_number", "7654321"),
        ("payment_day", "10"),
    ):
        clerk.fill(f"#f-s-{name}", value)
    clerk.get_by_role("button", name="設定を保存する").click()
    expect(clerk.locator("#f-year")).to_be_visible()
    year, month, months = first_payment_month(datetime.now(JST))
    clerk.fill("#f-year", str(year))
    clerk.fill("#f-month", str(month))
    clerk.get_by_role("button", name="支払額を計算する").click()
    expect(clerk.locator("h1")).to_contain_text("期 支払処理")
    clerk.get_by_role("button", name="承認する").click()
    expect(clerk.locator("main")).to_contain_text("承認済み（変更できません）")
    with clerk.expect_download() as download:
        clerk.get_by_role("link", name="振込データ（全銀フォーマット）").click()
    transfer_file = Path(download.value.path()).read_bytes()

    records = zengin.read_fields(transfer_file)
    lines = [r for r in records if r["record_type"] == "2" and r["payee_name"].rstrip() == PAYEE_KANA]
    assert len(lines) == 1, records
    line = lines[0]
    recipient_number = _recipient_number(chain, receipt)
    assert line["customer_code_1"] == recipient_number
    bank = data["payee"]["bank_account"]
    assert (line["bank_code"], line["branch_code"], line["account_number"]) == (
        bank["bank_code"],
        bank["branch_code"],
        bank["account_number"],
    )
    assert int(line["amount"]) == monthly * months
    trailer = next(r for r in records if r["record_type"] == "8")
    assert int(trailer["total_count"]) == 1 and int(trailer["total_amount"]) == monthly * months

    # -- the decision reaches the resident -----------------------------------------------------------
    assert chain.run_linkage_once() >= 1  # the CASE_RESULT to application management
    chain.pull()  # the pull worker's next run posts the waiting status events to the portal
    resident.goto(f"{portal}/applications")
    expect(resident.get_by_role("heading", name="申請履歴")).to_be_visible()
    row = resident.get_by_role("row").filter(has_text=receipt)
    expect(row).to_contain_text("決定")
    row.get_by_role("link").first.click()
    expect(resident.locator("main")).to_contain_text("認定しました。支給開始月:")


def _recipient_number(chain: Chain, receipt: str) -> str:
    """The recipient the certification created, through the service (for the line's customer code)."""
    inst = chain.inst
    staff = inst.mynumber_staff[(CHIYODA, "jidouteate")]
    ctx = staff.context(purposes.CASE_PROCESS.code, Permission.CHILD_ALLOWANCE_CASE_READ)
    svc = ChildAllowanceService(inst.storage)
    [entry] = [e for e in chain.inbox_of("child_allowance") if e.receipt_number == receipt]
    detail = svc.case(ctx, entry.case_id)
    assert detail.case.recipient_id is not None
    number: str = svc.recipient(ctx, detail.case.recipient_id).recipient_number
    runs = PaymentRunService(inst.storage).runs(staff.context(purposes.PAYMENT_RUN.code))
    assert [r.status for r in runs] == ["approved"]
    return number
