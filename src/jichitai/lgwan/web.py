"""Mounting application management's screens and linkage endpoints on the LGWAN zone's app.

``register(app, storage)`` is called by :func:`jichitai.apps.create_app` for the LGWAN zone. It
adds the back office under ``/staff/applications`` (with an entry on the staff home) and, when the
messaging package is present, the endpoints the linkage server calls to pick up the outbox
(accepted applications) and deliver LINK_TABLE and CASE_RESULT messages.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from jichitai.lgwan import purposes as _purposes  # noqa: F401  (registers the purposes of use)
from jichitai.lgwan.views import BASE, build_router
from jichitai.platform.identity.roles import Permission
from jichitai.platform.plugins import optional_module
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone

TEMPLATES = Path(__file__).parent / "templates"


def _add_templates(app: FastAPI) -> None:
    """Search this package's templates before the shared ones (keeps the shared base.html)."""
    templates = getattr(app.state, "templates", None)
    loader = getattr(getattr(templates, "env", None), "loader", None)
    searchpath = getattr(loader, "searchpath", None)
    if isinstance(searchpath, list) and str(TEMPLATES) not in searchpath:
        searchpath.insert(0, str(TEMPLATES))


def register(app: FastAPI, storage: Storage) -> None:
    """Add the back-office screens and (if available) the linkage endpoints to the LGWAN app."""
    if getattr(app.state, "storage", None) is None:
        app.state.storage = storage
    _add_templates(app)
    app.include_router(build_router())
    auth = getattr(app.state, "staff_auth", None)
    if auth is not None and hasattr(auth, "home_links"):
        from jichitai.platform.web.staff_auth import HomeLink

        auth.home_links.append(HomeLink(BASE, "電子申請の受付一覧", Permission.APPLICATIONS_INBOX_READ))
    http = optional_module("jichitai.platform.messaging.http")
    if http is not None:
        from jichitai.lgwan.handlers import HANDLERS

        app.include_router(http.messaging_router(lambda: storage, Zone.LGWAN, HANDLERS))
