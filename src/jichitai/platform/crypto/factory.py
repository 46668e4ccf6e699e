"""Choose and open the keystore backend of a zone: the encrypted file (default) or a PKCS#11 token.

The file keystore of a zone lives at ``<home>/keys/<zone>.keystore.json``; the PKCS#11 token of a
zone is labelled ``<token_prefix><zone>`` (e.g. ``jichitai-lgwan``). Passphrase, PIN and module
path fall back to ``JICHITAI_KEYSTORE_PASSPHRASE``, ``JICHITAI_PKCS11_PIN`` and
``JICHITAI_PKCS11_MODULE`` (or an installed SoftHSM2).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from jichitai.platform.crypto.file_keystore import PASSPHRASE_ENV, SCRYPT_N, FileKeystore
from jichitai.platform.crypto.keystore import Keystore, KeystoreError
from jichitai.platform.crypto.pkcs11_keystore import PIN_ENV, Pkcs11Keystore
from jichitai.platform.crypto.softhsm import find_softhsm_module
from jichitai.platform.zones import Zone

KeystoreKind = Literal["file", "pkcs11"]
MODULE_ENV = "JICHITAI_PKCS11_MODULE"
DEFAULT_TOKEN_PREFIX = "jichitai-"  # noqa: S105 - a token label prefix, not a password


def keystore_path(home: Path, zone: Zone) -> Path:
    return Path(home) / "keys" / f"{zone}.keystore.json"


def token_label(zone: Zone, token_prefix: str = DEFAULT_TOKEN_PREFIX) -> str:
    return f"{token_prefix}{zone}"


def _passphrase(passphrase: str | None) -> str:
    value = passphrase if passphrase is not None else os.environ.get(PASSPHRASE_ENV)
    if not value:
        raise KeystoreError("no keystore passphrase given", hint=f"set {PASSPHRASE_ENV}")
    return value


def _pkcs11_args(module: str | None, pin: str | None) -> tuple[str, str]:
    module = module or os.environ.get(MODULE_ENV) or find_softhsm_module()
    if not module:
        raise KeystoreError("no PKCS#11 module configured", hint=f"set {MODULE_ENV} or install softhsm2")
    pin = pin if pin is not None else os.environ.get(PIN_ENV)
    if not pin:
        raise KeystoreError("no PKCS#11 PIN given", hint=f"set {PIN_ENV}")
    return module, pin


def open_keystore(
    kind: KeystoreKind,
    zone: Zone,
    *,
    home: Path,
    passphrase: str | None = None,
    pkcs11_module: str | None = None,
    pkcs11_pin: str | None = None,
    token_prefix: str = DEFAULT_TOKEN_PREFIX,
) -> Keystore:
    """Open the existing keystore of ``zone``; KeystoreError says clearly what is missing."""
    if kind == "file":
        return FileKeystore(keystore_path(home, zone), zone, _passphrase(passphrase))
    if kind == "pkcs11":
        module, pin = _pkcs11_args(pkcs11_module, pkcs11_pin)
        return Pkcs11Keystore(module, token_label(zone, token_prefix), pin, zone)
    raise KeystoreError(f"unknown keystore kind {kind!r}", hint="use 'file' or 'pkcs11'")


def create_keystore(
    kind: KeystoreKind,
    zone: Zone,
    *,
    home: Path,
    passphrase: str | None = None,
    pkcs11_module: str | None = None,
    pkcs11_pin: str | None = None,
    token_prefix: str = DEFAULT_TOKEN_PREFIX,
    scrypt_n: int = SCRYPT_N,
) -> Keystore:
    """Create the keystore of ``zone``.

    For ``file`` this writes a new empty keystore (refusing to overwrite one). An HSM token is
    initialised by its operator (for SoftHSM2, :func:`~jichitai.platform.crypto.softhsm.init_softhsm_token`),
    so for ``pkcs11`` this only opens the token and thereby checks that it exists and the PIN works.
    """
    if kind == "file":
        return FileKeystore.create(
            keystore_path(home, zone), zone, _passphrase(passphrase), scrypt_n=scrypt_n
        )
    return open_keystore(
        kind,
        zone,
        home=home,
        pkcs11_module=pkcs11_module,
        pkcs11_pin=pkcs11_pin,
        token_prefix=token_prefix,
    )
