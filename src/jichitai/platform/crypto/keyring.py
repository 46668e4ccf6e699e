"""One tenant's keys in one zone, as the application uses them: field encryption, blind indexes,
signatures, the submission key, and rotation.

The keyring joins the two halves of the tenant's key material: KEKs, signing and submission keys
in the zone's keystore, and data keys wrapped under a KEK in the tenant's own database
(:class:`~jichitai.platform.crypto.models.DataKey`). It works inside the caller's SQLAlchemy
session and never commits: the unit of work that owns the session does.

Unwrapped data keys are cached process-wide under (zone, tenant, data key id), together with the
wrapped bytes they came from, so that opening a keyring per unit of work does not cost a keystore
(or HSM) call per data key, and a key is never served to another tenant or from a stale row.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jichitai.platform.crypto import jwe
from jichitai.platform.crypto.fields import BlindIndexer, FieldCipher, FieldCryptoError
from jichitai.platform.crypto.keystore import KeyKind, Keystore, KeystoreError
from jichitai.platform.crypto.models import (
    PURPOSE_BLIND_INDEX,
    PURPOSE_FIELD,
    STATUS_ACTIVE,
    STATUS_RETIRED,
    DataKey,
    PublicKey,
)
from jichitai.platform.zones import Zone

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())

# (zone, tenant, data key id) -> (wrapped bytes, unwrapped key)
_data_keys: dict[tuple[Zone, str, int], tuple[bytes, bytes]] = {}
_data_keys_lock = threading.Lock()


def clear_data_key_cache() -> None:
    """Forget every unwrapped data key held by this process."""
    with _data_keys_lock:
        _data_keys.clear()


def data_key_aad(zone: Zone, tenant: str, purpose: str, version: int) -> bytes:
    """Associated data of a wrapped data key: a blob wrapped for one tenant, zone or purpose
    does not unwrap as another (e.g. a blind-index key cannot be passed off as a field key)."""
    return f"jichitai/data-key/v1|{zone}|{tenant}|{purpose}|{version}".encode()


@dataclass(frozen=True)
class RotationReport:
    tenant: str
    zone: Zone
    old_kek_version: int
    new_kek_version: int
    rewrapped: int  # data keys re-wrapped under the new KEK
    new_field_key_version: int | None  # the field data key new encryptions use, if one was added


class TenantKeyring:
    """Keys of ``tenant`` in ``zone``, backed by ``keystore`` and the tenant database ``session``."""

    def __init__(self, keystore: Keystore, session: Session, tenant: str, zone: Zone) -> None:
        if keystore.zone != zone:
            raise KeystoreError(f"the keystore given belongs to zone {keystore.zone}, not {zone}")
        self.keystore = keystore
        self.session = session
        self.tenant = tenant
        self.zone = zone
        self._cipher: FieldCipher | None = None
        self._indexer: BlindIndexer | None = None
        self._signing_version: int | None = None
        self._verifiers: dict[int, ec.EllipticCurvePublicKey] = {}

    # -- set-up --------------------------------------------------------------------------------
    def provision(self) -> None:
        """Create the first 'field' and 'blind_index' data keys and record the public keys.

        The tenant's keystore keys must exist already (``Keystore.create_tenant``).
        """
        if not self.keystore.has_tenant(self.tenant):
            raise KeystoreError(
                f"tenant {self.tenant} has no keys in the {self.zone} keystore yet",
                hint="create them with Keystore.create_tenant first",
            )
        if self.session.scalar(select(func.count()).select_from(DataKey)):
            raise KeystoreError(f"tenant {self.tenant} already has data keys in the {self.zone} zone")
        kek = self.keystore.current_version(self.tenant, KeyKind.KEK)
        self._new_data_key(PURPOSE_FIELD, 1, kek)
        self._new_data_key(PURPOSE_BLIND_INDEX, 1, kek)
        self._record_public_keys()
        self.session.flush()

    def _new_data_key(self, purpose: str, version: int, kek_version: int) -> DataKey:
        key = os.urandom(32)
        aad = data_key_aad(self.zone, self.tenant, purpose, version)
        row = DataKey(
            purpose=purpose,
            version=version,
            kek_version=kek_version,
            wrapped=self.keystore.wrap(self.tenant, kek_version, key, aad),
            status=STATUS_ACTIVE,
        )
        self.session.add(row)
        self.session.flush()
        with _data_keys_lock:
            _data_keys[(self.zone, self.tenant, row.id)] = (row.wrapped, key)
        return row

    def _record_public_keys(self) -> None:
        recorded = {(k, v) for k, v in self.session.execute(select(PublicKey.kind, PublicKey.version))}
        for version in self.keystore.versions(self.tenant, KeyKind.SIGNING):
            if (KeyKind.SIGNING, version) not in recorded:
                pem = (
                    self.keystore.signing_public_key(self.tenant, version)
                    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                    .decode("ascii")
                )
                self.session.add(
                    PublicKey(kind=KeyKind.SIGNING, version=version, format="pem", public_key=pem)
                )
        for version in self._submission_versions():
            if (KeyKind.SUBMISSION, version) not in recorded:
                jwk = json.dumps(self.submission_public_jwk(version), sort_keys=True)
                self.session.add(
                    PublicKey(kind=KeyKind.SUBMISSION, version=version, format="jwk", public_key=jwk)
                )

    def _submission_versions(self) -> list[int]:
        try:
            return self.keystore.versions(self.tenant, KeyKind.SUBMISSION)
        except KeystoreError:
            if not self.keystore.has_tenant(self.tenant):
                raise
            return []  # only the LGWAN zone's keystore holds a submission key

    # -- data keys -----------------------------------------------------------------------------
    def _unwrap(self, row: DataKey) -> bytes:
        cache_key = (self.zone, self.tenant, row.id)
        hit = _data_keys.get(cache_key)
        if hit is not None and hit[0] == row.wrapped:
            return hit[1]
        aad = data_key_aad(self.zone, self.tenant, row.purpose, row.version)
        key = self.keystore.unwrap(self.tenant, row.kek_version, row.wrapped, aad)
        with _data_keys_lock:
            _data_keys[cache_key] = (row.wrapped, key)
        return key

    def _active(self, purpose: str) -> DataKey:
        row = self.session.scalars(
            select(DataKey)
            .where(DataKey.purpose == purpose, DataKey.status == STATUS_ACTIVE)
            .order_by(DataKey.version.desc())
            .limit(1)
        ).first()
        if row is None:
            raise KeystoreError(
                f"tenant {self.tenant} has no active {purpose} data key in the {self.zone} zone",
                hint="provision the tenant's keys (`jichitai tenant add` does)",
            )
        return row

    def _load_field_key(self, key_id: int) -> bytes:
        row = self.session.get(DataKey, key_id)
        if row is None or row.purpose != PURPOSE_FIELD:
            raise FieldCryptoError(
                f"field ciphertext names data key {key_id}, which tenant {self.tenant} does not have "
                f"in the {self.zone} zone: it was encrypted for another tenant or database"
            )
        return self._unwrap(row)

    def _field_cipher(self) -> FieldCipher:
        if self._cipher is None:
            row = self._active(PURPOSE_FIELD)
            self._cipher = FieldCipher(self.tenant, (row.id, self._unwrap(row)), self._load_field_key)
        return self._cipher

    # -- field encryption and blind index ------------------------------------------------------
    def field_encrypt(self, table: str, column: str, row_id: str | int, plaintext: str) -> bytes:
        return self._field_cipher().encrypt(table, column, row_id, plaintext)

    def field_decrypt(self, table: str, column: str, row_id: str | int, blob: bytes) -> str:
        return self._field_cipher().decrypt(table, column, row_id, blob)

    def field_cipher(self) -> FieldCipher:
        """The tenant's field cipher itself, for bulk work that calls it in a tight loop."""
        return self._field_cipher()

    def blind_indexer(self) -> BlindIndexer:
        if self._indexer is None:
            self._indexer = BlindIndexer(self.tenant, self._unwrap(self._active(PURPOSE_BLIND_INDEX)))
        return self._indexer

    def blind_index(self, column: str, value: str) -> bytes:
        """Keyed HMAC-SHA256 of ``value`` for equality search in ``column`` (normalise first)."""
        return self.blind_indexer().index(column, value)

    # -- signatures ----------------------------------------------------------------------------
    def sign(self, data: bytes) -> tuple[int, bytes]:
        """Sign with the current signing key: (key version, DER ECDSA P-256 signature)."""
        if self._signing_version is None:
            self._signing_version = self.keystore.current_version(self.tenant, KeyKind.SIGNING)
        return self._signing_version, self.keystore.sign(self.tenant, self._signing_version, data)

    def verify(self, version: int, data: bytes, signature: bytes) -> bool:
        public = self._verifiers.get(version)
        if public is None:
            public = self._verifiers[version] = self.keystore.signing_public_key(self.tenant, version)
        try:
            public.verify(signature, data, _ECDSA_SHA256)
        except InvalidSignature:
            return False
        return True

    # -- submission key ------------------------------------------------------------------------
    def submission_kid(self, version: int) -> str:
        return f"{self.tenant}-{version}"

    def submission_public_jwk(self, version: int | None = None) -> dict[str, str]:
        """The submission public key as a JWK (kid ``<tenant>-<version>``, alg RSA-OAEP-256).

        Read from the keystore where it holds the key pair (LGWAN), otherwise from the copy
        published into this zone's database (:meth:`publish_submission_jwk`; the portal's case).
        """
        held = self._submission_versions()
        if held and (version is None or version in held):
            version = held[-1] if version is None else version
            key = self.keystore.submission_public_key(self.tenant, version)
            return jwe.rsa_public_jwk(key, self.submission_kid(version))
        query = select(PublicKey).where(PublicKey.kind == KeyKind.SUBMISSION)
        if version is not None:
            query = query.where(PublicKey.version == version)
        row = self.session.scalars(query.order_by(PublicKey.version.desc()).limit(1)).first()
        if row is None:
            raise KeystoreError(
                f"tenant {self.tenant} has no submission public key"
                + (f" version {version}" if version is not None else "")
                + f" in the {self.zone} zone",
                hint="the LGWAN zone publishes it when the tenant is added or its keys rotate",
            )
        published: dict[str, str] = json.loads(row.public_key)
        return published

    def publish_submission_jwk(self, version: int, jwk: Mapping[str, str]) -> None:
        """Record another zone's submission public key (a JWK) in this zone's database."""
        if jwk.get("kid") != self.submission_kid(version):
            raise KeystoreError(f"the JWK's kid {jwk.get('kid')!r} is not {self.submission_kid(version)}")
        jwe.rsa_public_key_from_jwk(jwk)  # refuse anything that is not an RSA public key
        text = json.dumps(dict(jwk), sort_keys=True)
        row = self.session.scalars(
            select(PublicKey).where(PublicKey.kind == KeyKind.SUBMISSION, PublicKey.version == version)
        ).first()
        if row is None:
            self.session.add(
                PublicKey(kind=KeyKind.SUBMISSION, version=version, format="jwk", public_key=text)
            )
        else:
            row.public_key = text
        self.session.flush()

    def decrypt_submission(self, token: str) -> tuple[dict[str, Any], bytes]:
        """Decrypt a JWE addressed to this tenant's submission key (any version still held)."""
        kid = jwe.parse_header(token).get("kid")
        prefix = f"{self.tenant}-"
        if not isinstance(kid, str) or not kid.startswith(prefix) or not kid[len(prefix) :].isdigit():
            raise jwe.JweError(f"the submission is addressed to key {kid!r}, not to tenant {self.tenant}")
        version = int(kid[len(prefix) :])
        if version not in self.keystore.versions(self.tenant, KeyKind.SUBMISSION):
            raise jwe.JweError(f"tenant {self.tenant} has no submission key version {version}")
        return jwe.decrypt(token, lambda _kid, ek: self.keystore.submission_decrypt(self.tenant, version, ek))

    # -- rotation ------------------------------------------------------------------------------
    def rotate(self, new_field_key: bool = True) -> RotationReport:
        """Add a KEK version and re-wrap every data key under it, in this session's transaction.

        No field data is re-encrypted, so nothing stops while it runs. With ``new_field_key`` a
        new 'field' data key is added for new encryptions; older ones are marked retired and keep
        decrypting. Blind-index keys are re-wrapped but never replaced: a new one would make
        every stored index unsearchable. If the transaction rolls back, the new KEK version stays
        in the keystore unused, which is harmless.
        """
        old_kek = self.keystore.current_version(self.tenant, KeyKind.KEK)
        rows = list(self.session.scalars(select(DataKey).order_by(DataKey.id)))
        # Unwrap everything before touching the keystore: a damaged row stops the rotation early.
        keys = [(row, self._unwrap(row)) for row in rows]
        new_kek = self.keystore.add_version(self.tenant, KeyKind.KEK)
        for row, key in keys:
            row.wrapped = self.keystore.wrap(
                self.tenant, new_kek, key, data_key_aad(self.zone, self.tenant, row.purpose, row.version)
            )
            row.kek_version = new_kek
            with _data_keys_lock:
                _data_keys[(self.zone, self.tenant, row.id)] = (row.wrapped, key)
        new_field_version = None
        if new_field_key:
            field_rows = [row for row in rows if row.purpose == PURPOSE_FIELD]
            for row in field_rows:
                row.status = STATUS_RETIRED
            new_field_version = max((row.version for row in field_rows), default=0) + 1
            self._new_data_key(PURPOSE_FIELD, new_field_version, new_kek)
        self.session.flush()
        self._cipher = None
        return RotationReport(
            tenant=self.tenant,
            zone=self.zone,
            old_kek_version=old_kek,
            new_kek_version=new_kek,
            rewrapped=len(rows),
            new_field_key_version=new_field_version,
        )

    def rotate_signing_key(self) -> int:
        """Add a signing key version, used from now on; older versions keep verifying."""
        version = self.keystore.add_version(self.tenant, KeyKind.SIGNING)
        self._record_public_keys()
        self.session.flush()
        self._signing_version = version
        return version
