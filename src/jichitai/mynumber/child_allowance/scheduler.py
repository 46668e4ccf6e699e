"""Polling the registry's change events into the child-allowance clerks' task list."""

from __future__ import annotations

import threading

from jichitai.mynumber.child_allowance.events import consume_registry_events
from jichitai.platform.storage.engine import Storage

EVERY_SECONDS = 30.0


def start_scheduler(
    storage: Storage, every: float = EVERY_SECONDS
) -> tuple[threading.Thread, threading.Event]:
    """Consume every active tenant's new registry events now and then every ``every`` seconds."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            for tenant in storage.catalog.list():
                if stop.is_set():
                    break
                if tenant.active:
                    try:
                        consume_registry_events(storage, tenant.code)
                    except Exception:  # noqa: S112 - one tenant's failure must not stop the others
                        continue
            stop.wait(every)

    thread = threading.Thread(target=loop, name="child-allowance-events", daemon=True)
    thread.start()
    return thread, stop
