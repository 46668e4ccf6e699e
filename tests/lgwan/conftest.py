"""Application management against the real internet zone: a portal app, API client, submissions.

The test CA, virtual card and certificates come from the internet zone's fixtures; the portal is
the real internet-zone FastAPI app, reached through Starlette's TestClient (an ``httpx.Client``),
exactly as the pull worker reaches it over the network.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from jichitai.internet.submissions import AttachmentUpload, submit
from jichitai.lgwan import config
from jichitai.platform.context import STAFF_ADMIN, TenantContext, operator
from jichitai.platform.identity.principal import StaffPrincipal
from jichitai.platform.identity.roles import Role
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone
from tests.internet.api_support import CHIYODA, create_client, make_client, publish_lgwan_signing_key
from tests.internet.conftest import Pki, internet, internet_sqlite, pki  # noqa: F401  (fixtures)
from tests.internet.factories import CLAIM, submission

PORTAL_URL = "http://127.0.0.1:8010"


def real_jpeg() -> bytes:
    """A small but real JPEG with EXIF-free pixels: sanitizing re-encodes it."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(out, format="JPEG")
    return out.getvalue()


@dataclass
class Portal:
    storage: Storage
    http: TestClient

    def submit(
        self,
        pki: Pki,  # noqa: F811  (the fixture's value, passed in)
        procedure_id: str = CLAIM,
        at: datetime | None = None,
        **overrides: Any,
    ) -> str:
        kwargs = submission(pki, procedure_id, **overrides)
        if "attachments" not in overrides:
            kwargs["attachments"] = [
                AttachmentUpload(
                    a.kind,
                    a.filename,
                    a.content_type,
                    real_jpeg() if a.content_type == "image/jpeg" else a.data,
                )
                for a in kwargs["attachments"]
            ]
        return submit(self.storage, CHIYODA, now=at, **kwargs).receipt_number


def _portal(storage: Storage) -> Iterator[Portal]:
    creds = create_client(storage, CHIYODA)
    publish_lgwan_signing_key(storage, CHIYODA)
    config.configure(
        storage, CHIYODA, portal_url=PORTAL_URL, client_id=creds.client_id, client_secret=creds.secret
    )
    with TestClient(make_client(storage).app, base_url=PORTAL_URL, raise_server_exceptions=False) as http:
        yield Portal(storage, http)


@pytest.fixture
def portal(internet: Storage) -> Iterator[Portal]:  # noqa: F811
    """The internet zone's app with an API client whose credentials the LGWAN side is configured with."""
    yield from _portal(internet)


@pytest.fixture
def portal_sqlite(internet_sqlite: Storage) -> Iterator[Portal]:  # noqa: F811
    """The same on SQLite only (browser tests)."""
    yield from _portal(internet_sqlite)


def staff_principal(login: str, *roles: Role, tenant: str = CHIYODA) -> StaffPrincipal:
    return StaffPrincipal(TenantCode(tenant), f"acct-{login}", login, f"{login} さん", frozenset(roles))


def admin_ctx(tenant: str = CHIYODA) -> TenantContext:
    return TenantContext(TenantCode(tenant), operator(), STAFF_ADMIN)


__all__ = ["PORTAL_URL", "Portal", "Zone", "admin_ctx", "real_jpeg", "staff_principal"]
