"""Small zone servers built from the messaging routers, for the linkage tests.

In-process tests start them as uvicorn threads on loopback; the crash test runs them (and the
linkage server) as real processes::

    python -m tests.linkage.zone_apps zone lgwan --home H --port P --token T
    python -m tests.linkage.zone_apps linkage --home H [--crash-at STAGE:N]

The handlers stand for the zones' real intake: each records an audit entry in the receiving
transaction, so "applied exactly once" can be counted in the destination's own database.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from jichitai.contracts.transfer import MessageType, TransferEnvelope
from jichitai.platform.messaging.http import messaging_router
from jichitai.platform.messaging.inbox import Handler
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.zones import Zone

APPLIED = "test.applied"  # object_type of the handlers' audit entries


def apply_handler(uow: UnitOfWork, envelope: TransferEnvelope) -> None:
    uow.record("apply", APPLIED, envelope.message_id, sha256=envelope.payload_sha256)


HANDLERS: dict[Zone, dict[MessageType, Handler]] = {
    Zone.MYNUMBER: {MessageType.ACCEPTED_APPLICATION: apply_handler},
    Zone.LGWAN: {MessageType.LINK_TABLE: apply_handler, MessageType.CASE_RESULT: apply_handler},
}


def zone_app(
    storage: Storage, zone: Zone, token: str | None, handlers: Mapping[MessageType, Handler] | None = None
) -> FastAPI:
    app = FastAPI(title=f"test {zone.value}")
    app.include_router(
        messaging_router(lambda: storage, zone, HANDLERS[zone] if handlers is None else handlers, token=token)
    )

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"zone": zone.value}

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadServer:
    """A uvicorn server on a loopback port in a daemon thread."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


# -- processes --------------------------------------------------------------------------------
def open_storage(home: Path) -> Storage:
    from tests.conftest import make_settings

    return Storage(make_settings(home, "sqlite"))


def crash_hook(spec: str | None) -> Callable[[str, str], None] | None:
    """``STAGE:N``: kill this process with SIGKILL the N-th time the loop reaches STAGE."""
    if not spec:
        return None
    stage, _, count = spec.partition(":")
    seen = {"n": 0}

    def hook(at: str, _message_id: str) -> None:
        if at == stage:
            seen["n"] += 1
            if seen["n"] >= int(count or "1"):
                os.kill(os.getpid(), signal.SIGKILL)

    return hook


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["zone", "linkage"])
    parser.add_argument("zone", nargs="?", default="")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="")
    parser.add_argument("--crash-at", default="")
    args = parser.parse_args(argv)
    storage = open_storage(args.home)
    if args.role == "zone":
        zone = Zone(args.zone)
        uvicorn.run(
            zone_app(storage, zone, args.token or None), host="127.0.0.1", port=args.port, log_level="warning"
        )
        return
    from jichitai.linkage.config import load_config
    from jichitai.linkage.server import run_linkage

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run_linkage(storage, load_config(storage.settings), stop, hook=crash_hook(args.crash_at))


if __name__ == "__main__":
    main()
