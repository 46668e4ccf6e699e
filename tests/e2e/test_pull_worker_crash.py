"""The pull worker killed (SIGKILL) at any point of a run loses nothing and stores nothing twice.

The portal runs on loopback with three new applications; the pull worker runs as its own process
and dies at a chosen request to the receiving API (:mod:`tests.e2e.pull_crash`): while listing,
while fetching, before the acknowledgement (stored here, not yet acknowledged),
or right after the portal answered it (acknowledged there, not recorded here). A normal run
afterwards leaves every application in application management exactly once, pulled once, and
acknowledged at the portal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from jichitai.contracts.submission import SubmissionStatus
from jichitai.lgwan.models import LgwanApplication, LgwanHistory
from jichitai.lgwan.purposes import APPLICATION_PULL
from jichitai.platform.config import write_settings
from jichitai.platform.context import TenantContext, system
from jichitai.platform.zones import Zone
from tests.conftest import TEST_PASSPHRASE
from tests.e2e.harness import CHIYODA, Chain, chain_at

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e_pull_crash")]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    home: Path = tmp_path_factory.mktemp("e2e-pull-crash") / "home"
    for running in chain_at(home):
        write_settings(running.storage.settings)  # the worker process reads the installation from it
        yield running


def pulled(chain: Chain) -> tuple[Counter[str], Counter[str]]:
    """Rows per 受付番号 in application management, and 'pulled' history entries per 受付番号."""
    ctx = TenantContext.of(CHIYODA, system("e2e-check"), APPLICATION_PULL.code)
    with chain.storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        rows = uow.session.execute(select(LgwanApplication.id, LgwanApplication.receipt_number)).all()
        by_id: dict[str, str] = {str(i): str(r) for i, r in rows}
        history = uow.session.scalars(
            select(LgwanHistory.application_id).where(LgwanHistory.action == "pulled")
        ).all()
    return Counter(r for _, r in rows), Counter(by_id[a] for a in history)


def crashing_pull(chain: Chain, kill_at: str) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("JICHITAI_")},
        "JICHITAI_HOME": str(chain.inst.home),
        "JICHITAI_KEYSTORE_PASSPHRASE": TEST_PASSPHRASE,
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.pull_crash", "--tenant", CHIYODA, "--kill-at", kill_at],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode(errors="replace")[-3000:]


@pytest.mark.parametrize(
    ("kill_at", "stored_before_restart"),
    # a handful of applications is one batch: one fetch request, one acknowledgement request
    [("list:1", 0), ("fetch:1", 0), ("ack:1", 3), ("acked:1", 3)],
)
def test_kill_dash_nine_during_a_pull(chain: Chain, kill_at: str, stored_before_restart: int) -> None:
    receipts = [chain.submit("child_allowance_claim") for _ in range(3)]

    crashing_pull(chain, kill_at)
    rows, _ = pulled(chain)
    assert sum(rows[r] for r in receipts) == stored_before_restart
    statuses = [chain.portal_status(r)[0] for r in receipts]
    if kill_at != "acked:1":
        assert statuses == [SubmissionStatus.RECEIVED] * 3  # nothing acknowledged: all offered again
    else:
        assert statuses.count(SubmissionStatus.DELIVERED) >= 1

    report = chain.pull()  # the worker after its restart
    assert report.stored == 3 - stored_before_restart
    rows, history = pulled(chain)
    assert [rows[r] for r in receipts] == [1, 1, 1]
    assert [history[r] for r in receipts] == [1, 1, 1]
    assert [chain.portal_status(r)[0] for r in receipts] == [SubmissionStatus.DELIVERED] * 3
    assert all(chain.lgwan(r).verification == "verified" for r in receipts)
