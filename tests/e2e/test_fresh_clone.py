"""The README's first command works from a clean checkout (CI runs `make test` itself in one).

Clones the committed tree into a temporary directory and runs ``make demo`` there with
``DEMO_FLAGS=--smoke``: it creates its own .venv, installs, seeds the demo municipality, starts
every zone on loopback (on ports of its own), checks each answers, and stops.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fresh_clone")]

ROOT = Path(__file__).resolve().parents[2]
ZONES = ("internet", "lgwan", "linkage", "mynumber", "card_reader")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def test_make_demo_from_a_fresh_clone(tmp_path: Path) -> None:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    ports = _free_ports(5)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("JICHITAI_", "VIRTUAL_ENV", "PYTEST"))},
        # ports of its own, so a running demo or another test does not collide
        "JICHITAI_PORTS": json.dumps(dict(zip(ZONES, ports, strict=True))),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    result = subprocess.run(
        ["make", "demo", "DEMO_FLAGS=--smoke --residents 20"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "smoke check passed" in output
    assert "admin /" in output  # demo credentials printed
    for port in ports:
        assert f"127.0.0.1:{port}" in output
