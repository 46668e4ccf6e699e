"""The back office in a real browser (Debian's Chromium): log in, inbox, application, accept, hand over."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from playwright.sync_api import Page, expect

from jichitai.apps import create_app
from jichitai.lgwan.pull import pull_once
from jichitai.platform.identity.roles import Role
from jichitai.platform.identity.testing import TEST_PASSWORD
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from tests.conftest import skip_module_without_chromium
from tests.internet.api_support import CHIYODA
from tests.internet.conftest import Pki
from tests.lgwan.conftest import Portal
from tests.lgwan.test_web import add_staff, outbox

pytestmark = pytest.mark.browser

skip_module_without_chromium()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lgwan_server(portal_sqlite: Portal) -> Iterator[str]:
    portal = portal_sqlite
    storage: Storage = portal.storage
    app = create_app(Zone.LGWAN, storage)
    app.state.lgwan_portal_http = lambda: portal.http
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


def test_log_in_open_accept_and_hand_over(
    portal_sqlite: Portal, pki: Pki, lgwan_server: str, page: Page
) -> None:
    portal = portal_sqlite
    receipt = portal.submit(pki)
    pull_once(portal.storage, CHIYODA, http=portal.http)
    add_staff(portal.storage, "sato", Role.APPLICATION_CLERK)

    page.goto(f"{lgwan_server}/staff/applications")
    expect(page).to_have_url(f"{lgwan_server}/staff/login?next=/staff/applications")
    page.get_by_label("団体コード").fill(CHIYODA)
    page.get_by_label("ログインID").fill("sato")
    page.get_by_label("パスワード").fill(TEST_PASSWORD)
    page.get_by_role("button", name="ログイン").click()

    expect(page.get_by_role("heading", name="電子申請の受付一覧")).to_be_visible()
    page.get_by_role("link", name=receipt).click()
    expect(page.get_by_role("heading", name="申請内容(児童手当 認定請求書)")).to_be_visible()
    expect(page.get_by_text("署名用電子証明書").first).to_be_visible()

    page.get_by_role("button", name="受理する").click()
    expect(page.get_by_role("status")).to_contain_text("受理しました")
    page.get_by_role("button", name="担当業務へ引き継ぐ").click()
    expect(page.get_by_role("status")).to_contain_text("引き継ぎました")
    expect(page.get_by_role("row", name="処理状況 担当課で処理中")).to_be_visible()
    assert len(outbox(portal.storage)) == 1
