"""The resident portal (電子申請サービス): choose the municipality and procedure, log in with the
My Number Card, fill the form (drafts, attachments), review, sign, submit, and follow the
application (status, messages, replies, receipt PDF).

Japanese screens on the platform's ``base.html`` (WCAG 2.1 AA / JIS X 8341-3: labels, error
summary, focus order, skip link); everything works without JavaScript except the two steps that
need the card (login and signing), where ``static/portal/portal.js`` talks to the local card reader
(``jichitai card-reader``) whose origin is configurable (:class:`PortalConfig`).

``register(app, storage)`` mounts it on the internet zone's app (called by
:func:`jichitai.internet.web.register`).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from jichitai.internet.portal import purposes as _purposes  # noqa: F401 - registers the purposes
from jichitai.internet.portal.pages import (
    STATIC_DIR,
    STATIC_PREFIX,
    PortalConfig,
    default_config,
    new_templates,
)
from jichitai.internet.portal.views import router
from jichitai.platform.storage import Storage


def register(app: FastAPI, storage: Storage, config: PortalConfig | None = None) -> None:
    """Mount the portal's pages and its static files on ``app``."""
    app.state.portal_storage = storage
    app.state.portal_config = config or default_config(storage)
    app.state.portal_templates = new_templates()
    # before the platform's /static mount, which would otherwise answer for /static/portal/…
    app.router.routes.insert(
        0, Mount(STATIC_PREFIX, app=StaticFiles(directory=str(STATIC_DIR)), name="portal-static")
    )
    app.include_router(router)


__all__ = ["PortalConfig", "register"]
