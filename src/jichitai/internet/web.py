"""Mount the internet zone on its app: the API under ``/api/v1/`` and, when present, the portal."""

from __future__ import annotations

from fastapi import FastAPI

from jichitai.internet.api import install_api
from jichitai.platform.plugins import optional_module
from jichitai.platform.storage import Storage


def register(app: FastAPI, storage: Storage) -> None:
    """Called by :func:`jichitai.apps.create_app` for the internet zone."""
    portal = optional_module("jichitai.internet.portal")
    portal_register = getattr(portal, "register", None)
    if callable(portal_register):  # the portal package may be present before its screens are
        portal_register(app, storage)
    install_api(app, storage)
