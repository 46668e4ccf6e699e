"""The keystore contract: the key material of one zone, for every tenant it serves.

Per tenant a keystore holds versioned keys of four kinds:

- ``kek``: the key-encryption key (AES-256) that wraps the data keys kept in the tenant's database;
- ``signing``: the signing key (ECDSA P-256, 電子公印) for certificates, notices, audit checkpoints
  and status events;
- ``submission``: the submission key pair (RSA-3072, RSA-OAEP-SHA-256) whose public half is
  published to the portal as a JWK; only the LGWAN zone's keystore holds one;
- secrets: small opaque values such as the password of the tenant's database role.

Private key material never leaves a keystore through this interface: callers ask it to wrap,
unwrap, sign or decrypt. That is what lets a PKCS#11 HSM stand behind the same contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from jichitai.platform.errors import JichitaiError
from jichitai.platform.zones import Zone


class KeyKind(StrEnum):
    KEK = "kek"
    SIGNING = "signing"
    SUBMISSION = "submission"


class KeystoreError(JichitaiError):
    """The keystore is missing, corrupted, locked with another passphrase, or lacks a key."""


class Keystore(ABC):
    """Key material of one zone for all its tenants."""

    zone: Zone

    # -- tenants -------------------------------------------------------------------------------
    @abstractmethod
    def create_tenant(self, tenant: str, *, with_submission_key: bool) -> None:
        """Create version 1 of the tenant's KEK and signing key (and submission key pair)."""

    @abstractmethod
    def delete_tenant(self, tenant: str) -> None:
        """Remove every key of the tenant. Only used to undo a failed ``tenant add``."""

    @abstractmethod
    def has_tenant(self, tenant: str) -> bool: ...

    # -- versions ------------------------------------------------------------------------------
    @abstractmethod
    def versions(self, tenant: str, kind: KeyKind) -> list[int]:
        """Existing versions of a key kind, ascending. Raises KeystoreError when there are none."""

    def current_version(self, tenant: str, kind: KeyKind) -> int:
        return self.versions(tenant, kind)[-1]

    @abstractmethod
    def add_version(self, tenant: str, kind: KeyKind) -> int:
        """Generate a new version of a key kind; older versions stay usable for decryption."""

    # -- KEK -----------------------------------------------------------------------------------
    @abstractmethod
    def wrap(self, tenant: str, version: int, key: bytes, aad: bytes) -> bytes:
        """Encrypt a data key under the tenant's KEK of that version (AES-256-GCM, AAD bound)."""

    @abstractmethod
    def unwrap(self, tenant: str, version: int, wrapped: bytes, aad: bytes) -> bytes: ...

    # -- signing key ---------------------------------------------------------------------------
    @abstractmethod
    def sign(self, tenant: str, version: int, data: bytes) -> bytes:
        """ECDSA P-256 with SHA-256 over ``data``; DER-encoded signature."""

    @abstractmethod
    def signing_public_key(self, tenant: str, version: int) -> EllipticCurvePublicKey: ...

    # -- submission key ------------------------------------------------------------------------
    @abstractmethod
    def submission_public_key(self, tenant: str, version: int) -> RSAPublicKey: ...

    @abstractmethod
    def submission_decrypt(self, tenant: str, version: int, ciphertext: bytes) -> bytes:
        """RSA-OAEP (SHA-256, MGF1-SHA-256) decryption of a content-encryption key."""

    # -- secrets -------------------------------------------------------------------------------
    @abstractmethod
    def put_secret(self, tenant: str, name: str, value: bytes) -> None: ...

    @abstractmethod
    def get_secret(self, tenant: str, name: str) -> bytes: ...
