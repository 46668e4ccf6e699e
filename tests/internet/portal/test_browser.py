"""The portal in a real browser: Debian's chromium, headless, driven by Playwright.

The portal (the internet zone's app, SQLite, tenant 131016) and the card-reader helper (a virtual
card of the test CA) each run in a uvicorn thread on a free loopback port; the page's JavaScript
talks to the card reader as it would on a resident's computer.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from argon2 import PasswordHasher
from playwright.sync_api import Browser, FilePayload, Page, expect

from jichitai.apps import create_app
from jichitai.internet.portal import PortalConfig, drafts
from jichitai.internet.portal import formfields as ff
from jichitai.internet.portal.sessions import resident_key_of
from jichitai.internet.submissions.encryption import forget_submission_keys
from jichitai.internet.submissions.verification import forget_trust_material, trust_material
from jichitai.platform.pki import (
    CardLocked,
    CardStore,
    CertificateKind,
    WrongPin,
    issue_card,
    verify_certificate,
)
from jichitai.platform.pki.card_reader import CardReaderConfig
from jichitai.platform.pki.card_reader import create_app as create_reader
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from jichitai.procedures import default_catalog, sample_application
from tests.conftest import (
    add_demo_tenant,
    close_storage,
    make_settings,
    make_storage,
    skip_module_without_chromium,
)
from tests.internet.conftest import AUTH_PIN, NOW, RESIDENT, SIGN_PIN, Pki
from tests.internet.factories import PDF

pytestmark = pytest.mark.browser

TENANT = "131016"
CLAIM = "child_allowance_claim"
SCHEMA = default_catalog().get(CLAIM).form
CARD_PASSPHRASE = b"browser-test-card-passphrase"

skip_module_without_chromium()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server:
    def __init__(self, app: Any, port: int) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


@dataclass
class Site:
    url: str  # http://127.0.0.1:<port>/m/131016
    reader_url: str
    storage: Storage
    store: CardStore
    card_id: str
    locked_card_id: str
    resident_key: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Site]:
    portal_port, reader_port = _free_port(), _free_port()
    home = tmp_path_factory.mktemp("portal-home")
    storage = make_storage(make_settings(home, "sqlite"))
    add_demo_tenant(storage)
    pki.install(storage)
    store = CardStore(
        tmp_path_factory.mktemp("reader-cards"),
        CARD_PASSPHRASE,
        pin_hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
    )
    keys = (pki.auth_key, pki.sign_key)  # RSA keys made once per session
    card = issue_card(
        pki.ca, store, RESIDENT, auth_pin=AUTH_PIN, sign_pin=SIGN_PIN, keys=keys, now=NOW - timedelta(days=1)
    )
    locked = issue_card(
        pki.ca, store, RESIDENT, auth_pin="4321", sign_pin=SIGN_PIN, keys=keys, now=NOW - timedelta(days=1)
    )
    for _ in range(3):  # three wrong PINs lock it: that is the point
        with contextlib.suppress(WrongPin, CardLocked):
            locked.authenticate("0000", b"x")
    material = trust_material(storage.settings.trust_anchor_paths(), storage.settings.crl_paths())
    verified = verify_certificate(
        card.authentication_certificate(),
        CertificateKind.AUTHENTICATION,
        trust_store=material.trust_store,
        crls=material.crls,
    )
    app = create_app(Zone.INTERNET, storage)
    app.state.portal_config = PortalConfig(card_reader_origin=f"http://127.0.0.1:{reader_port}")
    reader = create_reader(
        CardReaderConfig(
            store=store, portal_origins=[f"http://127.0.0.1:{portal_port}"], inserted_card_id=card.card_id
        )
    )
    try:
        with _Server(app, portal_port), _Server(reader, reader_port):
            yield Site(
                f"http://127.0.0.1:{portal_port}/m/{TENANT}",
                f"http://127.0.0.1:{reader_port}",
                storage,
                store,
                card.card_id,
                locked.card_id,
                resident_key_of(verified),
            )
    finally:
        forget_trust_material()
        forget_submission_keys()
        close_storage(storage)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="ja-JP")
    context.set_default_timeout(8000)
    pg = context.new_page()
    yield pg
    context.close()


# A small accessibility audit that needs no download (a subset of what axe-core checks).
AUDIT_JS = """
() => {
  const problems = [];
  if (document.documentElement.lang !== 'ja') problems.push('html lang is not ja');
  const visible = (el) => el.type !== 'hidden' && !el.closest('[hidden]')
    && el.getAttribute('aria-hidden') !== 'true';
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (!visible(el)) continue;
    const labelled = (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest('label')
      || el.getAttribute('aria-labelledby') || el.getAttribute('aria-label');
    if (!labelled) problems.push('no label: ' + (el.name || el.id));
  }
  for (const img of document.querySelectorAll('img')) {
    if (!img.hasAttribute('alt')) problems.push('img without alt: ' + img.src);
  }
  for (const el of document.querySelectorAll('[aria-describedby]')) {
    for (const id of el.getAttribute('aria-describedby').split(/\\s+/)) {
      if (id && !document.getElementById(id)) problems.push('aria-describedby to missing #' + id);
    }
  }
  const ids = {};
  for (const el of document.querySelectorAll('[id]')) {
    if (ids[el.id]) problems.push('duplicate id ' + el.id);
    ids[el.id] = true;
  }
  const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => +h.tagName[1]);
  if (headings.filter(h => h === 1).length !== 1) problems.push('not exactly one h1');
  let previous = 0;
  for (const level of headings) {
    if (level > previous + 1) problems.push('heading jumps from h' + previous + ' to h' + level);
    previous = level;
  }
  if (!document.querySelector('a.skip-link[href="#main"]') || !document.getElementById('main'))
    problems.push('no skip link to main');
  if (!document.title) problems.push('no title');
  return problems;
}
"""


def audit(page: Page) -> None:
    assert page.evaluate(AUDIT_JS) == [], page.url


def log_in(page: Page, site: Site, next_path: str = "", pin: str = AUTH_PIN) -> None:
    query = f"?next=/m/{TENANT}{next_path}" if next_path else ""
    page.goto(f"{site.url}/login{query}")
    page.fill("#f-pin", pin)
    page.click("#login-button")


def claim_data(*, public_fund_account: bool) -> dict[str, Any]:
    data = sample_application(default_catalog().get(CLAIM))
    data["payee"]["use_public_fund_account"] = public_fund_account
    if public_fund_account:
        data["payee"].pop("bank_account", None)
    return data


def fill_form(page: Page, data: dict[str, Any]) -> None:
    """Type the application into the page as a resident would, adding rows as needed."""
    pairs = ff.to_post(SCHEMA, data)
    for name, value in pairs:
        if name.startswith(ff.ROWS_PREFIX):
            array = name[len(ff.ROWS_PREFIX) :]
            while page.locator(f'input[name="{name}"]').get_attribute("value") != value:
                page.click(f'button[name="action"][value="add:{array}"]')
            continue
    for name, value in pairs:
        if name.startswith(ff.ROWS_PREFIX):
            continue
        field = page.locator(f'[name="{name}"]').first
        kind = field.get_attribute("type")
        tag = field.evaluate("el => el.tagName")
        if kind == "radio" or kind == "checkbox":
            page.check(f'[name="{name}"][value="{value}"]')
        elif tag == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def test_a_resident_logs_in_fills_signs_and_gets_a_receipt_number(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/procedures/{CLAIM}/form")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    audit(page)
    page.fill("#f-pin", "9999")
    page.click("#login-button")
    expect(page.locator("#f-pin-error")).to_contain_text("残り2回")
    expect(page.locator("#f-pin")).to_have_attribute("aria-invalid", "true")
    page.fill("#f-pin", AUTH_PIN)
    page.click("#login-button")
    expect(page).to_have_url(re.compile(rf"/procedures/{CLAIM}/form$"))
    audit(page)

    fill_form(page, claim_data(public_fund_account=False))
    passbook: FilePayload = {"name": "通帳.pdf", "mimeType": "application/pdf", "buffer": PDF}
    page.set_input_files("#f-attachments-passbook_copy", files=[passbook])
    page.click('button[value="next"]')
    expect(page.locator("h1")).to_have_text("申請内容の確認")
    expect(page.locator("main")).to_contain_text("通帳.pdf")
    audit(page)
    page.fill("#f-pin", SIGN_PIN)
    page.click("#sign-button")
    expect(page.locator("h1")).to_have_text("申請を受け付けました")
    expect(page.locator("#receipt-number")).to_have_text(re.compile(rf"^\d{{8}}-{TENANT}-[0-9A-Z]{{8}}$"))
    audit(page)
    page.click("text=申請履歴へ")
    expect(page.locator("table")).to_contain_text("受付済み")


def test_errors_are_shown_next_to_fields_and_a_locked_card_is_refused(page: Page, site: Site) -> None:
    log_in(page, site)
    expect(page).to_have_url(re.compile(r"/applications$"))
    page.goto(f"{site.url}/procedures/{CLAIM}/form")
    page.fill("#f-claimant-postal_code", "12-345")
    page.click('button[value="next"]')
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(page.locator("#f-claimant-postal_code-error")).to_contain_text(
        "郵便番号は7桁の数字で入力してください"
    )
    expect(page.locator("#f-claimant-postal_code")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-claimant-postal_code")).to_have_value("12-345")
    audit(page)
    summary.locator('a[href="#f-claimant-postal_code"]').click()
    expect(page.locator("#f-claimant-postal_code")).to_be_focused()

    # another card, locked after three wrong PINs: refused with a clear message, no login
    page.request.put(f"{site.reader_url}/cards/inserted", data={"card_id": site.locked_card_id})
    try:
        page.goto(f"{site.url}/login")
        page.fill("#f-pin", "4321")
        page.click("#login-button")
        expect(page.locator("#f-pin-error")).to_contain_text("ロックされています")
    finally:
        page.request.put(f"{site.reader_url}/cards/inserted", data={"card_id": site.card_id})


def _tab_to(page: Page, selector: str, limit: int = 200) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_alone_from_login_to_receipt(page: Page, site: Site) -> None:
    data = claim_data(public_fund_account=True)
    data.pop("declaration")  # to be checked with the Space key
    drafts.save_draft(site.storage, TENANT, site.resident_key, CLAIM, f"{CLAIM}@1", data)

    page.goto(f"{site.url}/login?next=/m/{TENANT}/procedures/{CLAIM}/form")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "本文へスキップ"
    _tab_to(page, "#f-pin")
    page.keyboard.type(AUTH_PIN)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "login-button"
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text(default_catalog().get(CLAIM).name)

    _tab_to(page, "#f-declaration")
    page.keyboard.press("Space")
    expect(page.locator("#f-declaration")).to_be_checked()
    _tab_to(page, 'button[value="next"]')
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("申請内容の確認")

    _tab_to(page, "#f-pin")
    page.keyboard.type(SIGN_PIN)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "sign-button"
    page.keyboard.press("Enter")
    expect(page.locator("#receipt-number")).to_have_text(re.compile(rf"-{TENANT}-"))


def test_a_phone_sized_screen_fits_and_is_kept_as_a_screenshot(
    browser: Browser, site: Site, request: pytest.FixtureRequest
) -> None:
    context = browser.new_context(
        viewport={"width": 360, "height": 640}, locale="ja-JP", device_scale_factor=1
    )
    context.set_default_timeout(8000)
    try:
        page = context.new_page()
        page.goto(f"{site.url}/")
        audit(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        log_in(page, site)
        expect(page).to_have_url(re.compile(r"/applications$"))
        page.goto(f"{site.url}/procedures/{CLAIM}/form")
        page.fill("#f-claimant-postal_code", "1")
        page.click('button[value="next"]')
        expect(page.locator("#error-summary")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
        target: Path = request.config.rootpath / "test-artifacts"
        target.mkdir(exist_ok=True)
        shot = target / "portal-phone.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 5000
        box = page.locator('button[value="next"]').bounding_box()
        assert box is not None and box["height"] >= 44  # touch target
    finally:
        context.close()


def test_the_other_pages_pass_the_audit(page: Page, site: Site) -> None:
    for path in ("/", f"/procedures/{CLAIM}", "/?event=介護"):
        page.goto(site.url + path)
        audit(page)
    page.goto(site.url.rsplit("/m/", 1)[0] + "/?q=千代田")
    audit(page)
    expect(page.locator("main")).to_contain_text("千代田区")
