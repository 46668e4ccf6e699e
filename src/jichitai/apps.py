"""The web application of each zone, composed from the packages present in this build.

This module and :mod:`jichitai.cli` are the composition root: the only places that know every zone.
Each zone package may offer ``jichitai.<zone>.web.register(app, storage)``; the platform adds health,
staff login (back-office zones) and security headers.
"""

from __future__ import annotations

from fastapi import FastAPI

from jichitai.platform.plugins import optional_module
from jichitai.platform.storage.engine import Storage
from jichitai.platform.zones import Zone

STAFF_ZONES = (Zone.LGWAN, Zone.MYNUMBER)


def _base(zone: Zone) -> FastAPI:
    web = optional_module("jichitai.platform.web.app")
    if web is None:
        return FastAPI(title=f"jichitai {zone.value}")
    app: FastAPI = web.create_base_app(title=f"jichitai {zone.label_ja}")
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
