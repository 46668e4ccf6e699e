"""An internet-zone app over a real storage, with API clients of two municipalities."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from jichitai.apps import create_app
from jichitai.contracts.status import StatusEvent
from jichitai.contracts.submission import SubmissionStatus
from jichitai.internet.submissions import publish_status_signing_key
from jichitai.platform.context import KEY_MANAGEMENT, STAFF_ADMIN, TenantContext, operator
from jichitai.platform.crypto.keystore import KeyKind
from jichitai.platform.identity.roles import Permission
from jichitai.platform.identity.service import IdentityService
from jichitai.platform.identity.testing import fast_hasher
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone

CHIYODA = "131016"
YOKOHAMA = "141003"
SCOPES = (Permission.APPLICATIONS_SUBMISSION_PULL, Permission.APPLICATIONS_STATUS_POST)


@dataclass
class ApiClientCredentials:
    tenant: str
    client_id: str
    secret: str


def create_client(
    storage: Storage, tenant: str, scopes: tuple[Permission, ...] = SCOPES
) -> ApiClientCredentials:
    ctx = TenantContext.of(tenant, operator(), STAFF_ADMIN.code)
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        new = IdentityService.of(uow, hasher=fast_hasher()).create_client("申請管理システム", scopes)
    return ApiClientCredentials(tenant, new.client.client_id, new.client_secret)


def publish_lgwan_signing_key(storage: Storage, tenant: str) -> int:
    """What the operator's key tooling does: copy the LGWAN signing public key to the internet zone."""
    keystore = storage.keystore(Zone.LGWAN)
    version = keystore.current_version(tenant, KeyKind.SIGNING)
    pem = (
        keystore.signing_public_key(tenant, version)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    publish_status_signing_key(storage, tenant, version, pem)
    return version


def signed_event(
    storage: Storage,
    tenant: str,
    receipt_number: str,
    status: SubmissionStatus,
    *,
    event_id: str,
    message_ja: str = "",
    reply_requested: bool = False,
    at: datetime | None = None,
) -> StatusEvent:
    """A status event signed in the LGWAN zone with the tenant's signing key, as the back office does."""
    ctx = TenantContext.of(tenant, operator(), KEY_MANAGEMENT.code)
    version = storage.keystore(Zone.LGWAN).current_version(tenant, KeyKind.SIGNING)
    event = StatusEvent(
        event_id=event_id,
        receipt_number=receipt_number,
        tenant=tenant,
        status=status,
        message_ja=message_ja,
        reply_requested=reply_requested,
        at=at or datetime.now(UTC),
        key_version=version,
    )
    with storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        signed_version, signature = uow.keyring.sign(event.signed_bytes())
    assert signed_version == version
    return event.model_copy(update={"signature_b64": base64.b64encode(signature).decode()})


def token_for(client: TestClient, creds: ApiClientCredentials) -> str:
    answer = client.post(
        "/api/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.secret,
        },
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def make_client(storage: Storage) -> TestClient:
    return TestClient(create_app(Zone.INTERNET, storage), raise_server_exceptions=False)


def json_of(answer: Any) -> dict[str, Any]:
    body: dict[str, Any] = answer.json()
    return body
