"""Who signs and checks audit checkpoints: a small contract.

The tenant's keyring (:class:`jichitai.platform.crypto.keyring.TenantKeyring`, signing key
電子公印, ECDSA P-256) fulfils it; tests use in-memory ECDSA keys.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class CheckpointVerifier(Protocol):
    """Checks a checkpoint signature made with a given key version."""

    def verify(self, version: int, data: bytes, signature: bytes) -> bool:
        """True when ``signature`` over ``data`` is valid for key ``version``."""
        ...


@runtime_checkable
class Signer(CheckpointVerifier, Protocol):
    """Signs checkpoints with the current version of the tenant's signing key."""

    def sign(self, data: bytes) -> tuple[int, bytes]:
        """Return (key version, signature)."""
        ...
