"""A throwaway PostgreSQL cluster on its own port, for tests that need a second server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Yield the admin URL of a fresh trust-auth cluster; stop and delete it afterwards."""
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not installed")
    root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="jt-pg-"))
    data = base / "data"
    port = _free_port()

    def run(*args: str) -> None:
        cmd = ["runuser", "-u", "postgres", "--", *args] if root else list(args)
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    try:
        if root:
            shutil.chown(base, "postgres")
            base.chmod(0o755)
        initdb = str(bindir / "initdb")
        run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        run(
            str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"),
            "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )  # fmt: skip
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)
