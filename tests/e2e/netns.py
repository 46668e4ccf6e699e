"""Linux network namespaces wired as the three-layer model allows, for zone-separation tests.

Topology (each link a veth pair with its own /30; nothing else, no forwarding between links):

    test host (root ns) ── internet ── lgwan ── linkage ── mynumber

The root namespace plays the resident on the internet. The LGWAN zone reaches the internet zone
(it pulls); the linkage server reaches the LGWAN and My Number zones; the My Number zone has a
single link, to the linkage server, so it cannot reach the portal at all.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


def _ip(*args: str, ns: str | None = None) -> None:
    cmd = ["ip", *args] if ns is None else ["ip", "netns", "exec", ns, "ip", *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=20)


@dataclass
class Topology:
    prefix: str
    namespaces: dict[str, str] = field(default_factory=dict)  # zone -> namespace name
    # (zone_a, zone_b) -> (address of a, address of b) on their shared link; "host" is the root ns
    links: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def ns(self, zone: str) -> str:
        return self.namespaces[zone]

    def addr(self, zone: str, towards: str) -> str:
        """The address of ``zone`` on its link with ``towards``."""
        if (zone, towards) in self.links:
            return self.links[(zone, towards)][0]
        return self.links[(towards, zone)][1]

    def exec_prefix(self, zone: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns(zone)]


LINKS: tuple[tuple[str, str], ...] = (
    ("host", "internet"),
    ("internet", "lgwan"),
    ("lgwan", "linkage"),
    ("linkage", "mynumber"),
)
ZONES = ("internet", "lgwan", "linkage", "mynumber")


@contextmanager
def three_layer_topology() -> Iterator[Topology]:
    """Create the namespaces and links; delete everything afterwards."""
    if os.geteuid() != 0:
        raise PermissionError("network namespaces need root")
    tag = secrets.token_hex(2)
    topo = Topology(prefix=f"jt{tag}")
    created_ns: list[str] = []
    created_links: list[str] = []
    # 10.213.<n>.0/30 per link: addresses exist only on the veths created here
    octet = 40 + int(tag, 16) % 150
    try:
        for zone in ZONES:
            name = f"{topo.prefix}-{zone}"
            _ip("netns", "add", name)
            created_ns.append(name)
            topo.namespaces[zone] = name
            _ip("link", "set", "lo", "up", ns=name)
        for i, (a, b) in enumerate(LINKS):
            va, vb = f"{topo.prefix}{i}a", f"{topo.prefix}{i}b"
            _ip("link", "add", va, "type", "veth", "peer", "name", vb)
            created_links.append(va)
            addr_a, addr_b = f"10.213.{octet + i}.1", f"10.213.{octet + i}.2"
            for dev, zone, addr in ((va, a, addr_a), (vb, b, addr_b)):
                if zone != "host":
                    _ip("link", "set", dev, "netns", topo.ns(zone))
                _ip("addr", "add", f"{addr}/30", "dev", dev, ns=None if zone == "host" else topo.ns(zone))
                _ip("link", "set", dev, "up", ns=None if zone == "host" else topo.ns(zone))
            topo.links[(a, b)] = (addr_a, addr_b)
        yield topo
    finally:
        for dev in created_links:
            subprocess.run(["ip", "link", "del", dev], capture_output=True, timeout=20, check=False)
        for name in created_ns:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20, check=False)


def can_connect(topo: Topology, from_zone: str, host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether a TCP connection from ``from_zone``'s namespace to host:port succeeds.

    Only addresses on links created here may be tried; from the root namespace ("host") only the
    portal's address on the host link, since the root namespace has a default route off the machine.
    """
    if from_zone == "host" and host != topo.addr("internet", "host"):
        raise ValueError("from the root namespace only the portal's link address may be tried")
    code = (
        "import socket,sys\n"
        f"s=socket.socket(); s.settimeout({timeout})\n"
        f"sys.exit(0 if s.connect_ex(({host!r},{port}))==0 else 1)\n"
    )
    import sys

    cmd = [sys.executable, "-c", code]
    if from_zone != "host":
        cmd = topo.exec_prefix(from_zone) + cmd
    return subprocess.run(cmd, capture_output=True, timeout=timeout + 10, check=False).returncode == 0
