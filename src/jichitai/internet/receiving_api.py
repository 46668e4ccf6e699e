"""The receiving API (受付API) router; see :mod:`jichitai.internet.api` for the whole API."""

from jichitai.internet.api import OPENAPI_PATH, install_api, openapi_document
from jichitai.internet.api.routes import build_router

__all__ = ["OPENAPI_PATH", "build_router", "install_api", "openapi_document"]
