"""The web application of each zone, composed from the packages present in this build.

This module and :mod:`jichitai.cli` are the composition root: the only places that know every zone.
Each zone package may offer ``jichitai.<zone>.web.register(app, storage)``; the platform adds health,
staff login (back-office zones) and security headers.
"""

from __future__ import annotations

import gc
import sys

from fastapi import FastAPI

from jichitai.platform.config import Settings
from jichitai.platform.plugins import optional_module
from jichitai.platform.storage.engine import Storage
from jichitai.platform.zones import Zone

STAFF_ZONES = (Zone.LGWAN, Zone.MYNUMBER)
# The interpreter's thread switch interval in a zone's server process (CPython's default: 5 ms).
# In the internet zone a writer thread commits batches of submissions (group commit) while it
# holds the tenant's write turn, and it gives up the GIL at every SQLite call; with the event loop
# busy checking and encrypting the next submissions, taking it back could cost a whole interval
# each time, and every other submission waited on that turn. Half a millisecond gave about 11%
# more submissions/s in bench/submissions.py (64 clients, SQLite), at the same CPU per request.
SWITCH_INTERVAL_S = {Zone.INTERNET: 0.0005}
# The youngest generation's collection threshold in a server process (CPython's default: 700
# allocations). A request allocates thousands of short-lived containers (parsed JSON, pydantic and
# SQLAlchemy objects), so at 700 the collector ran several times per submission. 10,000 cut the
# internet zone's CPU per submission by about 4 % (in-process, 8 alternating rounds of 800
# submissions each; 30,000 gave no more), and the bare endpoint's not at all. The older
# generations keep their defaults: what lives long was frozen at start.
GEN0_THRESHOLD = 10_000


def _base(zone: Zone) -> FastAPI:
    web = optional_module("jichitai.platform.web.app")
    if web is None:
        return FastAPI(title=f"jichitai {zone.value}")
    app: FastAPI = web.create_base_app(title=f"jichitai {zone.label_ja}")
    return app


def tune_server_process(zone: Zone) -> None:
    """Process-wide settings for a process that serves ``zone`` (and nothing else); call it once
    the app is built.

    Everything alive by then (modules, the app, the procedure catalog and its schemas) lives as
    long as the process, so it is moved out of the garbage collector's generations
    (``gc.freeze``): each full collection walked all of it again, a few per cent of a busy
    server's CPU. The youngest generation is collected less often (:data:`GEN0_THRESHOLD`).
    """
    interval = SWITCH_INTERVAL_S.get(zone)
    if interval is not None:
        sys.setswitchinterval(interval)
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, older, oldest)


def zone_server_app(zone: Zone, settings: Settings) -> FastAPI:
    """The app of one worker process of ``jichitai serve --workers N``: its own storage, and the
    process tuned as a server's (:func:`tune_server_process`)."""
    app = create_app(zone, Storage(settings))
    tune_server_process(zone)
    return app


def create_app(zone: Zone, storage: Storage) -> FastAPI:
    app = _base(zone)
    app.state.storage = storage
    app.state.zone = zone

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"zone": zone.value, "status": "ok"}

    if zone in STAFF_ZONES:
        staff_auth = optional_module("jichitai.platform.web.staff_auth")
        if staff_auth is not None:
            staff_auth.install_staff_auth(app, lambda: storage, zone)
    zone_web = optional_module(f"jichitai.{zone.value}.web")
    if zone_web is not None:
        zone_web.register(app, storage)
    if zone is Zone.MYNUMBER:
        _mount_intake(app, storage)
    return app


def _mount_intake(app: FastAPI, storage: Storage) -> None:
    """The My Number zone only answers: the linkage server delivers into this intake."""
    intake = optional_module("jichitai.mynumber.intake.service")
    http = optional_module("jichitai.platform.messaging.http")
    if intake is None or http is None:
        return
    app.include_router(http.messaging_router(lambda: storage, Zone.MYNUMBER, intake.handlers()))
