"""The portal on the internet zone's app, with the test CA as trust anchor and a resident's card keys.

``client`` drives the real app (:func:`jichitai.apps.create_app`) through Starlette's TestClient;
``logged_in`` has already logged in the way the page's JavaScript does, signing the server's
challenge with the virtual card's authentication key.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from fastapi.testclient import TestClient

from jichitai.apps import create_app
from jichitai.internet.portal import PortalConfig
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from tests.internet.conftest import Pki, pem

TENANT = "131016"
BASE = f"/m/{TENANT}"
CLAIM = "child_allowance_claim"


def make_client(storage: Storage, reader_origin: str = "http://127.0.0.1:8765") -> TestClient:
    app = create_app(Zone.INTERNET, storage)
    app.state.portal_config = PortalConfig(card_reader_origin=reader_origin)
    return TestClient(app, base_url="http://127.0.0.1:8000")


@pytest.fixture
def client(internet_sqlite: Storage) -> Iterator[TestClient]:
    with make_client(internet_sqlite) as c:
        yield c


def log_in(client: TestClient, pki: Pki) -> None:
    """What portal.js does: challenge → card signs (利用者証明用) → post signature and certificate."""
    got = client.post(f"{BASE}/login/challenge", json={})
    assert got.status_code == 200, got.text
    challenge = base64.b64decode(got.json()["challenge"])
    signature = pki.auth_key.sign(challenge, padding.PKCS1v15(), hashes.SHA256())
    answer = client.post(
        f"{BASE}/login",
        json={
            "challenge_id": got.json()["challenge_id"],
            "signature": base64.b64encode(signature).decode(),
            "certificate": pem(pki.auth_cert),
            "next": f"{BASE}/applications",
        },
    )
    assert answer.status_code == 200, answer.text


@pytest.fixture
def logged_in(client: TestClient, pki: Pki) -> TestClient:
    log_in(client, pki)
    return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no csrf token on the page"
    return found.group(1)
