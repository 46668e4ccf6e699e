"""Several worker processes on one port: each gets connections, and the server stops cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from jichitai.platform.web.serving import ServerOptions, reuse_port_socket, serve

ROOT = Path(__file__).resolve().parents[3]


def pid_app() -> Any:
    """An app that answers with the pid of the worker that took the connection."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/pid")
    def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    return app


def broken_app() -> Any:
    raise RuntimeError("this configuration cannot start")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start(factory: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "jichitai.platform.web.serving",
            f"tests.platform.web.test_serving:{factory}", "--port", str(port), "--workers", str(workers),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])},
        stderr=subprocess.PIPE,
    )  # fmt: skip


def test_each_worker_takes_connections_and_sigterm_stops_them_all() -> None:
    port = _free_port()
    server = _start("pid_app", port, 2)
    try:
        pids: set[int] = set()
        deadline = time.monotonic() + 60
        # new connections each time (no keep-alive): the kernel spreads them over the workers
        while len(pids) < 2 and time.monotonic() < deadline:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/pid", headers={"Connection": "close"}, timeout=5)
                pids.add(answer.json()["pid"])
            except httpx.TransportError:
                time.sleep(0.1)  # workers still starting
        assert len(pids) == 2, pids
        assert server.pid not in pids  # the supervisor serves nothing itself
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        for pid in pids:  # the workers went with it
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_workers_that_cannot_start_stop_the_server_with_an_error() -> None:
    server = _start("broken_app", _free_port(), 2)
    try:
        assert server.wait(timeout=120) == 1
        assert server.stderr is not None
        assert b"exit as soon as they start" in server.stderr.read()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_a_port_in_use_is_refused_at_once() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            serve(pid_app, ServerOptions("127.0.0.1", port), workers=2)
    with pytest.raises(ValueError, match="fixed port"):
        serve(pid_app, ServerOptions("127.0.0.1", 0), workers=2)
    sock = reuse_port_socket("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
    finally:
        sock.close()
