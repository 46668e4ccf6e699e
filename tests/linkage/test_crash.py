"""Exactly once across kill -9: the linkage server and the My Number zone as real processes.

The LGWAN and My Number test zones (built from the messaging routers) and the linkage server run
as separate processes on loopback, sharing one SQLite installation. The linkage server is killed
with SIGKILL right after a pick, right after the intake answered (before it recorded delivery),
right after it recorded delivery (before the ack), right after the source took the ack (before the
server recorded it), and at a random moment; the My Number zone is
killed mid-run and restarted. In the end every message has been applied exactly once on its
destination, every outbox message is acknowledged, and every audit chain is intact.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from jichitai.linkage.models import Transfer, TransferState
from jichitai.linkage.purposes import LINKAGE_MONITOR
from jichitai.platform.audit.models import AuditEntry
from jichitai.platform.audit.verify import verify
from jichitai.platform.messaging.auth import ensure_token
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from tests.conftest import add_demo_tenant, close_storage, ctx, make_settings, make_storage
from tests.linkage.helpers import (
    PURPOSE,
    accepted,
    applied,
    attachment,
    case_result,
    inbox_count,
    outbox_states,
    png_bytes,
    put,
)
from tests.linkage.zone_apps import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


STARTED: list[Proc] = []


class Proc:
    def __init__(self, *args: str) -> None:
        STARTED.append(self)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.p = subprocess.Popen([sys.executable, "-m", "tests.linkage.zone_apps", *args], cwd=ROOT, env=env)

    def kill9(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
        self.p.wait(10)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()


@pytest.fixture
def installation(tmp_path: Path) -> Iterator[Storage]:
    st = make_storage(make_settings(tmp_path / "home", "sqlite"))
    try:
        add_demo_tenant(st)
        yield st
    finally:
        close_storage(st)


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not come up")


def pending(storage: Storage) -> int:
    return sum(
        1
        for zone in (Zone.LGWAN, Zone.MYNUMBER)
        for s, _ in outbox_states(storage, zone).values()
        if s == "pending"
    )


def transfer_states(storage: Storage) -> set[str]:
    with storage.unit_of_work(ctx(LINKAGE_MONITOR.code), Zone.LINKAGE) as uow:
        return {t.state for t in uow.session.scalars(select(Transfer))}


def wait_for(cond: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_kill_dash_nine_anywhere_loses_and_duplicates_nothing(installation: Storage) -> None:
    storage = installation
    home = storage.settings.home
    for zone in (Zone.LGWAN, Zone.MYNUMBER):
        ensure_token(home, zone)  # the zones and the linkage server both read these files
    ports = {Zone.LGWAN: free_port(), Zone.MYNUMBER: free_port()}
    (home / "linkage.toml").write_text(
        "poll_interval = 0.05\nbatch_size = 5\ntimeout = 3.0\nbackoff_initial = 0.05\nbackoff_max = 0.3\n"
        + "".join(f'[peers.{z.value}]\nurl = "http://127.0.0.1:{p}"\n' for z, p in ports.items()),
        encoding="utf-8",
    )
    png = png_bytes()
    apps = [
        accepted(i, [attachment("a1", "保険証.png", "image/png", png)] if i % 3 == 0 else None)
        for i in range(24)
    ]
    results = [case_result(i) for i in range(8)]
    put(storage, *apps, *results)

    def start_zone(z: Zone) -> Proc:
        proc = Proc("zone", z.value, "--home", str(home), "--port", str(ports[z]))
        wait_up(f"http://127.0.0.1:{ports[z]}")
        return proc

    def linkage(crash_at: str = "") -> Proc:
        return Proc("linkage", "--home", str(home), *(["--crash-at", crash_at] if crash_at else []))

    zones = {z: start_zone(z) for z in ports}
    try:
        # the linkage server dies by its own SIGKILL at the named points
        for point in ("picked:3", "sent:2", "delivered:2", "ack_sent:1"):
            run = linkage(point)
            assert run.p.wait(60) == -signal.SIGKILL, point
        assert pending(storage) > 0

        # the My Number zone dies mid-run and comes back; the linkage server backs off meanwhile
        run = linkage()
        time.sleep(random.uniform(0.2, 0.6))
        zones[Zone.MYNUMBER].kill9()
        time.sleep(0.3)
        zones[Zone.MYNUMBER] = start_zone(Zone.MYNUMBER)
        # and the linkage server itself at a random moment
        time.sleep(random.uniform(0.0, 0.3))
        run.kill9()

        run = linkage()
        assert wait_for(lambda: pending(storage) == 0, 60), f"{pending(storage)} message(s) still pending"
        # the source's outbox says "delivered" once the source has the ack; the linkage server records
        # that ack in its own log a moment later, so stopping it earlier would leave a transfer open
        assert wait_for(lambda: transfer_states(storage) == {TransferState.ACKED}, 30), transfer_states(
            storage
        )
        run.stop()
    finally:
        for proc in STARTED:
            proc.stop()
        STARTED.clear()

    # exactly once: every handler ran once, every message is in the inbox once
    assert sorted(applied(storage, Zone.MYNUMBER)) == sorted(a.message_id for a in apps)
    assert sorted(applied(storage, Zone.LGWAN)) == sorted(r.message_id for r in results)
    assert inbox_count(storage, Zone.MYNUMBER) == len(apps)
    assert inbox_count(storage, Zone.LGWAN) == len(results)
    for z in (Zone.LGWAN, Zone.MYNUMBER):
        assert {s for s, _ in outbox_states(storage, z).values()} == {"delivered"}
    with storage.unit_of_work(ctx(LINKAGE_MONITOR.code), Zone.LINKAGE) as uow:
        states = {t.state for t in uow.session.scalars(select(Transfer))}
        redelivered = [
            json.loads(e.detail)["outcome"]
            for e in uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "deliver"))
        ]
    assert states == {TransferState.ACKED}
    assert "duplicate" in redelivered  # the "sent" crash really made the intake see a message twice
    for z in (Zone.LGWAN, Zone.MYNUMBER, Zone.LINKAGE):
        with storage.unit_of_work(ctx(PURPOSE), z) as uow:
            report = verify(uow.session, uow.keyring)
        assert report.ok, (z, report.first_break)
