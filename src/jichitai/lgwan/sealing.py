"""Encryption at rest of one application: a per-application AES-256-GCM data key.

The key is wrapped with the tenant's field key (bound to the application's row id); each sealed
value carries its own random nonce and is bound to a label naming the application and the part
(``<id>|form``, ``<id>|a1|original``), so parts cannot be swapped between rows or roles.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jichitai.platform.errors import JichitaiError
from jichitai.platform.storage import UnitOfWork

TABLE = "lgwan_applications"


class SealError(JichitaiError):
    """A sealed value does not open: altered, or moved from another application or part."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap_key(uow: UnitOfWork, application_id: str, key: bytes) -> bytes:
    return uow.keyring.field_encrypt(TABLE, "data_key", application_id, base64.b64encode(key).decode())


def unwrap_key(uow: UnitOfWork, application_id: str, wrapped: bytes) -> bytes:
    return base64.b64decode(uow.keyring.field_decrypt(TABLE, "data_key", application_id, wrapped))


def seal(key: bytes, label: str, data: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, data, label.encode())


def unseal(key: bytes, label: str, blob: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:12], blob[12:], label.encode())
    except (InvalidTag, ValueError):
        raise SealError(
            f"sealed value {label} does not open",
            message_ja="保存データを復号できません(改ざんの可能性)",
        ) from None
