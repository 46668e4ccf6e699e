"""The namespaces alone: only the links the three-layer model allows exist."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import IN_CI
from tests.e2e.netns import can_connect, three_layer_topology

pytestmark = pytest.mark.root


def _require_root() -> None:
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("the network-namespace test must run in CI (as root)")
        pytest.skip("needs root for network namespaces")


def test_only_allowed_links_exist() -> None:
    _require_root()
    with three_layer_topology() as topo:
        servers = []
        try:
            # a TCP listener in every zone, on every address of that zone
            for zone in ("internet", "lgwan", "linkage", "mynumber"):
                code = (
                    "import socket,time\n"
                    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                    "s.bind(('0.0.0.0', 18080)); s.listen(); time.sleep(60)\n"
                )
                servers.append(subprocess.Popen([*topo.exec_prefix(zone), sys.executable, "-c", code]))
            time.sleep(0.5)
            portal = topo.addr("internet", "host")
            assert can_connect(topo, "host", portal, 18080)
            assert can_connect(topo, "lgwan", topo.addr("internet", "lgwan"), 18080)
            assert can_connect(topo, "linkage", topo.addr("lgwan", "linkage"), 18080)
            assert can_connect(topo, "linkage", topo.addr("mynumber", "linkage"), 18080)
            # the My Number zone reaches nothing but the linkage link
            assert not can_connect(topo, "mynumber", portal, 18080)
            assert not can_connect(topo, "mynumber", topo.addr("internet", "lgwan"), 18080)
            assert not can_connect(topo, "mynumber", topo.addr("lgwan", "linkage"), 18080)
            # the internet zone reaches neither the linkage server nor the My Number zone
            assert not can_connect(topo, "internet", topo.addr("mynumber", "linkage"), 18080)
            assert not can_connect(topo, "internet", topo.addr("linkage", "lgwan"), 18080)
        finally:
            for proc in servers:
                proc.kill()
                proc.wait()
    assert socket.gethostname()
