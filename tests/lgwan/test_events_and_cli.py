"""Status events wait for an unreachable portal; the ``jichitai lgwan`` commands."""

from __future__ import annotations

import httpx
from typer.testing import CliRunner

from jichitai.lgwan import config, service
from jichitai.lgwan.cli import build_cli
from jichitai.lgwan.events import pending_events
from jichitai.lgwan.pull import pull_once, push_once
from jichitai.platform.identity.roles import Role
from jichitai.platform.storage import Storage
from tests.internet.api_support import CHIYODA
from tests.internet.conftest import Pki
from tests.lgwan.conftest import Portal, staff_principal
from tests.lgwan.test_pull import _flip_ciphertext, lgwan_apps
from tests.lgwan.test_web import portal_events


class Unreachable(httpx.Client):
    """The portal's network is down: every request fails to connect."""

    def send(self, request: httpx.Request, **kwargs: object) -> httpx.Response:  # type: ignore[override]
        raise httpx.ConnectError("network unreachable", request=request)


def test_a_status_event_waits_while_the_portal_is_unreachable(portal: Portal, pki: Pki) -> None:
    receipt = portal.submit(pki)
    pull_once(portal.storage, CHIYODA, http=portal.http)
    [app] = lgwan_apps(portal.storage)
    clerk = staff_principal("sato", Role.APPLICATION_CLERK)
    service.reject(portal.storage, clerk, app.id, "添付された通帳の名義が請求者と異なります。").single()
    down = push_once(portal.storage, CHIYODA, http=Unreachable(base_url="http://127.0.0.1:9"))
    assert down.pushed == 0 and down.error
    assert [e.status.value for e in pending_events(portal.storage, CHIYODA)] == ["rejected"]
    assert portal_events(portal, receipt) == []
    report = pull_once(portal.storage, CHIYODA, http=portal.http)  # the next run posts it
    assert report.events is not None and report.events.pushed == 1
    assert portal_events(portal, receipt) == [("rejected", "添付された通帳の名義が請求者と異なります。")]
    assert pending_events(portal.storage, CHIYODA) == []


def test_a_failed_application_cannot_be_accepted(portal: Portal, pki: Pki) -> None:
    bad = portal.submit(pki)
    _flip_ciphertext(portal, bad)
    pull_once(portal.storage, CHIYODA, http=portal.http)
    [app] = lgwan_apps(portal.storage)
    clerk = staff_principal("sato", Role.APPLICATION_CLERK)
    result = service.accept(portal.storage, clerk, [app.id])
    assert result.done == [] and "検証エラー" in result.skipped[bad]
    view = service.get_application(portal.storage, clerk, app.id)
    assert view.allowed["reject"] and not view.allowed["accept"] and not view.allowed["handover"]


def test_cli_configure_and_pull_once(internet_sqlite: Storage) -> None:
    runner = CliRunner()
    cli = build_cli(lambda: internet_sqlite)
    done = runner.invoke(
        cli,
        ["configure", "--tenant", CHIYODA, "--portal", "http://127.0.0.1:9", "--client-id", "c_test",
         "--client-secret-stdin", "--interval", "30"],
        input="s3cret-value\n",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    conn = config.load(internet_sqlite, CHIYODA)
    assert (conn.portal_url, conn.client_id, conn.client_secret, conn.interval_seconds) == (
        "http://127.0.0.1:9", "c_test", "s3cret-value", 30,
    )  # fmt: skip
    assert "s3cret" not in repr(conn)
    refused = runner.invoke(
        cli, ["configure", "--tenant", CHIYODA, "--portal", "http://portal.example.jp", "--client-id", "c",
              "--client-secret-stdin"], input="x\n",
    )  # fmt: skip
    assert refused.exit_code != 0  # plain http outside loopback is refused
    down = runner.invoke(cli, ["pull", "--tenant", CHIYODA, "--once"])
    assert down.exit_code == 1 and "stopped" in down.output  # the portal does not answer: nothing lost
