"""Zone separation you can see: the four zones as processes in network namespaces, one application.

The namespaces are wired as the three-layer model allows (:mod:`tests.e2e.netns`): the test host
(root namespace, the resident on the internet) ── internet ── lgwan ── linkage ── mynumber. Each
zone runs as ``jichitai serve <zone> --host <addr>`` inside its namespace, on one shared SQLite
installation (the namespaces separate the network, not the file system):

- internet: the portal, on its two link addresses only (the host link for residents, the LGWAN
  link for the pull worker; ``0.0.0.0`` inside a namespace that has nothing else);
- lgwan: back office and linkage endpoints on its linkage-link address; its pull worker reaches
  the portal's LGWAN-link address;
- linkage: its status page on its own loopback; its loop reaches the LGWAN and My Number zones'
  linkage-link addresses (``linkage.toml``);
- mynumber: only on its linkage-link address; it opens no connection.

The resident submits from the root namespace to the portal's host-link address (the only address
the root namespace ever connects to: it has a default route off the machine). Staff act through
the services on the shared installation. The application goes all the way to the child allowance
inbox and its result back to the portal, and a connection from the My Number namespace to the
portal fails while the allowed links work.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from jichitai.contracts.submission import SubmissionStatus
from jichitai.platform.config import write_settings
from tests.conftest import IN_CI, TEST_PASSPHRASE
from tests.e2e.harness import (
    CHIYODA,
    Installation,
    build_installation,
    inbox_entries,
    lgwan_state,
    record_result,
    resident_status,
    signed_submission,
    signer_resident_key,
    submission_json,
    write_linkage_toml,
)
from tests.e2e.netns import Topology, can_connect, three_layer_topology

pytestmark = [pytest.mark.root, pytest.mark.slow]

PORTS = {"internet": 18000, "lgwan": 18100, "linkage": 18200, "mynumber": 18300, "card_reader": 18765}
T = TypeVar("T")


def _require_root() -> None:
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("the network-namespace test must run in CI (as root)")
        pytest.skip("needs root for network namespaces")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0, logs: Path | None = None) -> T:
    """Poll ``probe`` until it gives a value (the zones run on their own schedules)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            tail = ""
            if logs is not None:
                tail = "\n".join(
                    f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in logs.glob("*.log")
                )
            raise AssertionError(f"gave up waiting for {what}\n{tail}")
        time.sleep(0.2)


@contextmanager
def zone_processes(
    topo: Topology, inst: Installation, logs: Path
) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("JICHITAI_")},
        "JICHITAI_HOME": str(inst.home),
        "JICHITAI_KEYSTORE_PASSPHRASE": TEST_PASSPHRASE,
    }
    binds = {
        "internet": "0.0.0.0",
        "lgwan": topo.addr("lgwan", "linkage"),
        "linkage": "127.0.0.1",
        "mynumber": topo.addr("mynumber", "linkage"),
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for zone, host in binds.items():
            with (logs / f"{zone}.log").open("wb") as out:
                procs[zone] = subprocess.Popen(
                    [
                        *topo.exec_prefix(zone),
                        sys.executable,
                        "-m",
                        "jichitai.cli",
                        "serve",
                        zone,
                        "--host",
                        host,
                        "--port",
                        str(PORTS[zone]),
                    ],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
        listening = {
            "internet": topo.addr("internet", "lgwan"),
            "lgwan": binds["lgwan"],
            "linkage": "127.0.0.1",
            "mynumber": binds["mynumber"],
        }
        for zone, addr in listening.items():

            def up(zone: str = zone, addr: str = addr) -> bool:
                assert procs[zone].poll() is None, f"jichitai serve {zone} exited"
                return can_connect(topo, zone, addr, PORTS[zone])

            wait_for(f"the {zone} zone to listen", up, logs=logs)
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_one_application_across_the_namespaces(tmp_path: Path) -> None:
    _require_root()
    logs = tmp_path / "logs"
    logs.mkdir()
    with three_layer_topology() as topo:
        portal_public = topo.addr("internet", "host")  # what residents reach
        portal_lgwan = topo.addr("internet", "lgwan")  # what the pull worker reaches
        inst = build_installation(
            tmp_path / "home",
            ports=PORTS,
            portal_url=f"http://{portal_lgwan}:{PORTS['internet']}",
            pull_interval=5,
        )
        try:
            write_settings(inst.storage.settings)
            write_linkage_toml(
                inst.home,
                f"http://{topo.addr('lgwan', 'linkage')}:{PORTS['lgwan']}",
                f"http://{topo.addr('mynumber', 'linkage')}:{PORTS['mynumber']}",
            )
            with zone_processes(topo, inst, logs):
                _one_application(topo, inst, portal_public, logs)
                _only_the_allowed_links(topo, portal_public, portal_lgwan)
        finally:
            inst.close()


def _one_application(topo: Topology, inst: Installation, portal_public: str, logs: Path) -> None:
    storage = inst.storage
    # the registry's link table crosses first (linkage loop: My Number → LGWAN)
    wait_for(
        "the link table in application management",
        lambda: _link_entries(inst) >= 2 or None,
        logs=logs,
    )

    # the resident, on the internet, submits to the portal's public address
    body = submission_json(signed_submission(inst.card, "child_allowance_claim"))
    answer = httpx.post(
        f"http://{portal_public}:{PORTS['internet']}/api/v1/tenants/{CHIYODA}/submissions",
        json=body,
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    receipt = str(answer.json()["receipt_number"])

    # the pull worker in the LGWAN namespace fetches it from the portal's LGWAN-link address
    state = wait_for("the pull", lambda: lgwan_state(storage, CHIYODA, receipt), logs=logs)
    assert (state.verification, state.match, state.atena_number) == ("verified", "serial", inst.atena_number)

    # the application clerk accepts and hands over; the linkage server delivers into My Number
    from jichitai.lgwan import service

    clerk = inst.lgwan_staff[CHIYODA]
    assert not service.accept(storage, clerk, [state.id]).skipped
    assert not service.hand_over(storage, clerk, [state.id]).skipped
    entry = wait_for(
        "the delivery into the child allowance inbox",
        lambda: next(
            (e for e in inbox_entries(inst, CHIYODA, "child_allowance") if e.receipt_number == receipt), None
        ),
        logs=logs,
    )
    assert entry.applicant_atena_number == inst.atena_number
    assert [e for e in inbox_entries(inst, CHIYODA, "generic") if e.receipt_number == receipt] == []

    # the clerk certifies; the result crosses back and the pull worker posts the status to the portal
    assert record_result(inst, CHIYODA, entry) == "certified"
    key = signer_resident_key(inst)

    def decided() -> list[str] | None:
        status, messages = resident_status(inst, CHIYODA, receipt, key)
        return messages if status is SubmissionStatus.DECIDED else None

    messages = wait_for("the status on the portal", decided, logs=logs)
    assert messages[-1].startswith("認定しました。")
    assert (
        len([e for e in inbox_entries(inst, CHIYODA, "child_allowance") if e.receipt_number == receipt]) == 1
    )


def _only_the_allowed_links(topo: Topology, portal_public: str, portal_lgwan: str) -> None:
    internet, mynumber = PORTS["internet"], PORTS["mynumber"]
    mynumber_addr = topo.addr("mynumber", "linkage")
    # the allowed flows work ...
    assert can_connect(topo, "host", portal_public, internet)
    assert can_connect(topo, "lgwan", portal_lgwan, internet)
    assert can_connect(topo, "linkage", topo.addr("lgwan", "linkage"), PORTS["lgwan"])
    assert can_connect(topo, "linkage", mynumber_addr, mynumber)
    # ... and the My Number zone reaches the portal by neither of its addresses
    assert not can_connect(topo, "mynumber", portal_public, internet)
    assert not can_connect(topo, "mynumber", portal_lgwan, internet)
    assert not can_connect(topo, "mynumber", topo.addr("lgwan", "linkage"), PORTS["lgwan"])
    # the internet zone cannot reach the My Number zone either
    assert not can_connect(topo, "internet", mynumber_addr, mynumber)
    # and the My Number zone listens on its linkage-link address only
    assert not can_connect(topo, "mynumber", "127.0.0.1", mynumber)


def _link_entries(inst: Installation) -> int:
    from jichitai.lgwan.identify import link_entry_count
    from jichitai.lgwan.purposes import LINK_TABLE_REFRESH
    from jichitai.platform.context import TenantContext, system
    from jichitai.platform.zones import Zone

    ctx = TenantContext.of(CHIYODA, system("e2e-check"), LINK_TABLE_REFRESH.code)
    with inst.storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        return link_entry_count(uow)
