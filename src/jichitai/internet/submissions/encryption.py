"""End-to-end encryption of a submission to the tenant's published submission key.

The internet zone holds only the public half of the tenant's submission key (a JWK published by
the LGWAN zone into this zone's ``public_keys`` table). Everything the resident sent goes into one
JWE (RSA-OAEP-256 + A256GCM): form, attachments, signature, certificate, with the SHA-256 of the
canonical form bytes and of each attachment inside, so nothing can be swapped on the way. Only
public-key operations and AES run here.

The parsed public key is cached per tenant for a few seconds: the hot path then needs no database
read before it encrypts, and a rotated key is used from at most :data:`KEY_CACHE_SECONDS` later
(older versions stay in the LGWAN keystore for decryption, so nothing sent meanwhile is lost).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from jichitai.platform.crypto import jwe
from jichitai.platform.crypto.fields import BlindIndexer
from jichitai.platform.crypto.keystore import KeyKind, KeystoreError
from jichitai.platform.crypto.models import PublicKey
from jichitai.platform.errors import ConfigurationError
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone

KEY_CACHE_SECONDS = 5.0
SUBMISSION_TYPE = "submission"
AMENDMENT_TYPE = "amendment"
TYPE_HEADER = "jichitai_type"  # protected header: what the plaintext is (submission or amendment)


@dataclass(frozen=True)
class SubmissionKey:
    kid: str
    version: int
    public_key: rsa.RSAPublicKey
    # the tenant's blind-index key never changes (rotation re-wraps it), so it is kept with the
    # submission key and the resident's index is computed before the transaction starts
    indexer: BlindIndexer


_keys: dict[tuple[int, str], tuple[float, SubmissionKey]] = {}
_keys_lock = threading.Lock()
_refreshing: dict[tuple[int, str], threading.Lock] = {}


def _load_key(storage: Storage, tenant: str) -> SubmissionKey:
    from jichitai.internet.purposes import SUBMISSION_RECEIVE
    from jichitai.platform.context import TenantContext, system

    ctx = TenantContext.of(tenant, system("portal"), SUBMISSION_RECEIVE.code)
    # a read in its own short transaction, rarely (see KEY_CACHE_SECONDS)
    with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        row = uow.session.execute(
            select(PublicKey.version, PublicKey.public_key)
            .where(PublicKey.kind == KeyKind.SUBMISSION.value)
            .order_by(PublicKey.version.desc())
            .limit(1)
        ).first()
        indexer = uow.keyring.blind_indexer()
    if row is None:
        raise ConfigurationError(
            f"tenant {tenant} has no published submission key in the internet zone",
            hint="the LGWAN zone publishes it when the tenant is added (jichitai keys rotate --submission)",
        )
    jwk: dict[str, Any] = json.loads(row.public_key)
    kid = str(jwk.get("kid", ""))
    if kid != f"{tenant}-{row.version}":
        raise KeystoreError(f"published submission key {kid!r} is not version {row.version} of {tenant}")
    return SubmissionKey(kid, int(row.version), jwe.rsa_public_key_from_jwk(jwk), indexer)


def submission_key(storage: Storage, tenant: str) -> SubmissionKey:
    """The tenant's newest published submission public key (cached briefly per process)."""
    cache_key = (id(storage), tenant)
    now = time.monotonic()
    hit = _keys.get(cache_key)
    if hit is not None and now - hit[0] < KEY_CACHE_SECONDS:
        return hit[1]
    if hit is not None:
        # Stale: one caller reloads, the others go on with the key they have (a rotated key is
        # picked up a moment later; the previous one still decrypts). Reloading opens a write
        # transaction on SQLite, which waits for the tenant's writer: a crowd of callers all
        # reloading at once stalled the whole server every few seconds.
        refresh = _refreshing.setdefault(cache_key, threading.Lock())
        if not refresh.acquire(blocking=False):
            return hit[1]
        try:
            key = _load_key(storage, tenant)
        finally:
            refresh.release()
    else:
        key = _load_key(storage, tenant)
    with _keys_lock:
        _keys[cache_key] = (now, key)
    return key


def submission_key_fresh(storage: Storage, tenant: str) -> bool:
    """Whether :func:`submission_key` would answer from its cache without reading."""
    hit = _keys.get((id(storage), tenant))
    return hit is not None and time.monotonic() - hit[0] < KEY_CACHE_SECONDS


def forget_submission_keys() -> None:
    with _keys_lock:
        _keys.clear()


def encrypt_for_tenant(plaintext: bytes, key: SubmissionKey, kind: str, receipt_number: str) -> str:
    """One JWE compact token; the receipt number is bound in the protected (authenticated) header."""
    return jwe.encrypt(
        plaintext, key.public_key, key.kid, {TYPE_HEADER: kind, "receipt_number": receipt_number}
    )


@dataclass(frozen=True)
class SealedSubmission:
    """A JWE as the store keeps it: the compact token without its ciphertext segment, the raw
    ciphertext, and the length of the whole compact token."""

    head: str
    ciphertext: bytes | bytearray
    token_size: int

    @property
    def token(self) -> str:
        return join_compact(self.head, self.ciphertext)


def seal_for_tenant(
    plaintext: bytes | Sequence[bytes], key: SubmissionKey, kind: str, receipt_number: str
) -> SealedSubmission:
    """The same JWE as :func:`encrypt_for_tenant` (RSA-OAEP-256 + A256GCM, the receipt number in
    the protected header), in the stored form directly.

    A 200 KB attachment makes a ciphertext of about 280 KB; encoding it to base64url for the
    compact token only to decode it again for the store cost more CPU than the encryption, so
    the ciphertext segment is never encoded here. ``join_compact(head, ciphertext)`` gives the
    token :func:`jichitai.platform.crypto.jwe.decrypt` reads. ``plaintext`` may come in pieces
    (:func:`jichitai.platform.crypto.jwe.encrypt_parts`).
    """
    parts = jwe.encrypt_parts(
        plaintext, key.public_key, key.kid, {TYPE_HEADER: kind, "receipt_number": receipt_number}
    )
    head = ".".join(
        (parts.protected, jwe.b64url_encode(parts.encrypted_key), jwe.b64url_encode(parts.iv), "",
         jwe.b64url_encode(parts.tag))
    )  # fmt: skip
    ciphertext = parts.ciphertext
    # unpadded base64url of n bytes is ceil(4n / 3) characters
    return SealedSubmission(head, ciphertext, len(head) + (4 * len(ciphertext) + 2) // 3)


def split_compact(token: str) -> tuple[str, bytes]:
    """(the token with an empty ciphertext segment, the raw ciphertext): how the store keeps it."""
    protected, encrypted_key, iv, ciphertext, tag = token.split(".")
    return ".".join((protected, encrypted_key, iv, "", tag)), jwe.b64url_decode(ciphertext, "ciphertext")


def join_compact(head: str, ciphertext: bytes | bytearray) -> str:
    """The JWE compact serialization back from :func:`split_compact`'s parts."""
    protected, encrypted_key, iv, empty, tag = head.split(".")
    if empty:
        raise jwe.JweError("stored JWE head carries a ciphertext segment")
    return ".".join((protected, encrypted_key, iv, jwe.b64url_encode(ciphertext), tag))


__all__ = [
    "AMENDMENT_TYPE",
    "KEY_CACHE_SECONDS",
    "SUBMISSION_TYPE",
    "SealedSubmission",
    "SubmissionKey",
    "encrypt_for_tenant",
    "forget_submission_keys",
    "join_compact",
    "seal_for_tenant",
    "split_compact",
    "submission_key",
    "submission_key_fresh",
]
