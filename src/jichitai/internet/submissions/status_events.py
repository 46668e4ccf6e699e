"""Status events (処理状況) from the municipality: checked against the tenant's signing key, stored.

Application management (LGWAN zone) signs each :class:`StatusEvent` with the tenant's signing key
(ECDSA P-256). Its public half is published into this zone (:func:`publish_status_signing_key`),
and an event whose signature does not verify is refused before it is stored, and checked again
before a resident sees it.
"""

from __future__ import annotations

import base64
import binascii
import threading

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from jichitai.contracts.status import StatusEvent
from jichitai.internet.models import StatusSigningKey
from jichitai.internet.purposes import KEY_PUBLICATION
from jichitai.internet.submissions.errors import EventRejected
from jichitai.platform.context import TenantContext, operator
from jichitai.platform.errors import Conflict, ValidationError
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone

_ECDSA = ec.ECDSA(hashes.SHA256())
_verifiers: dict[tuple[str, int, str], ec.EllipticCurvePublicKey] = {}
_lock = threading.Lock()


def _parse_public_key(pem: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValidationError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValidationError("the status-signing key must be an ECDSA P-256 public key")
    return key


def publish_status_signing_key(storage: Storage, tenant: str, version: int, public_key_pem: str) -> bool:
    """Publish version ``version`` of the tenant's LGWAN signing public key; False if already there.

    Called by the operator's key tooling when a tenant is added or its signing key rotates.
    Republishing a version with another key is refused: a version names one key forever.
    """
    _parse_public_key(public_key_pem)
    ctx = TenantContext.of(tenant, operator(), KEY_PUBLICATION.code)
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        row = uow.session.get(StatusSigningKey, version)
        if row is not None:
            if row.public_key_pem.strip() != public_key_pem.strip():
                raise Conflict(f"status-signing key version {version} of {tenant} is already another key")
            return False
        uow.session.add(StatusSigningKey(version=version, public_key_pem=public_key_pem))
        uow.record("status_signing_key_published", "internet.keys", str(version))
    return True


def _verifier(session: Session, tenant: str, version: int) -> ec.EllipticCurvePublicKey | None:
    row = session.execute(
        select(StatusSigningKey.public_key_pem).where(StatusSigningKey.version == version)
    ).scalar_one_or_none()
    if row is None:
        return None
    cache_key = (tenant, version, row)
    key = _verifiers.get(cache_key)
    if key is None:
        key = _parse_public_key(row)
        with _lock:
            _verifiers[cache_key] = key
    return key


def signature_valid(session: Session, tenant: str, event: StatusEvent) -> bool:
    """Whether ``event`` carries a valid signature by the tenant's published signing key."""
    key = _verifier(session, tenant, event.key_version)
    return key is not None and _verifies(key, event)


def _verifies(key: ec.EllipticCurvePublicKey, event: StatusEvent) -> bool:
    try:
        signature = base64.b64decode(event.signature_b64, validate=True)
        key.verify(signature, event.signed_bytes(), _ECDSA)
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def require_valid_signature(
    session: Session,
    tenant: str,
    event: StatusEvent,
    *,
    keys: dict[int, ec.EllipticCurvePublicKey | None] | None = None,
) -> None:
    """Refuse ``event`` unless its signature verifies. ``keys``: the keys looked up so far in this
    transaction (a batch of events), so that each key version is read once."""
    if keys is not None and event.key_version in keys:
        key = keys[event.key_version]
    else:
        key = _verifier(session, tenant, event.key_version)
        if keys is not None:
            keys[event.key_version] = key
    if key is None:
        raise EventRejected(
            f"tenant {tenant} has published no status-signing key version {event.key_version}",
            message_ja="署名鍵の版が登録されていません",
        )
    if not _verifies(key, event):
        raise EventRejected(
            "the status event's signature does not verify with the tenant's signing key",
            message_ja="処理状況の電子署名を確認できませんでした",
        )


__all__ = ["publish_status_signing_key", "require_valid_signature", "signature_valid"]
