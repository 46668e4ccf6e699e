"""A keystore inside a PKCS#11 token (an HSM; SoftHSM2 is the tested one). One token per zone.

Objects are labelled ``<tenant>/<kind>/<version>`` (secrets ``<tenant>/secret/<name>``):

- KEK: a non-extractable, sensitive AES-256 secret key; wrap and unwrap are AES-GCM inside the
  token (CKM_AES_GCM with the caller's associated data), giving ``nonce | ciphertext | tag``,
  the same shape as the file keystore;
- signing key: an ECDSA P-256 key pair generated in the token; the host hashes with SHA-256, the
  token signs with CKM_ECDSA, and the raw ``r | s`` result is re-encoded as DER;
- submission key: an RSA-3072 key pair generated in the token, private half non-extractable.
  Decryption uses CKM_RSA_PKCS_OAEP with SHA-256 where the token supports it. SoftHSM 2.6 only
  supports OAEP with SHA-1, so for such tokens the token performs the raw RSA operation
  (CKM_RSA_X_509) and the host strips the OAEP-SHA-256 padding (:mod:`.oaep`); which path is
  used is probed once per keystore;
- secrets: private CKO_DATA objects (the token encrypts private objects under its PIN).

Versions are found by probing labels ``…/1``, ``…/2``, …: versions are only ever added, never
removed one by one. PKCS#11 has no cross-process lock, so run ``add_version`` from one process
at a time (the CLI does). A token created after this process loaded the module is not seen until
the process restarts (the module scans its token directory at initialisation).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Iterator
from typing import Any

import pkcs11
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

from jichitai.platform.crypto.file_keystore import OAEP_SHA256, SUBMISSION_KEY_BITS, check_name
from jichitai.platform.crypto.keystore import KeyKind, Keystore, KeystoreError
from jichitai.platform.crypto.oaep import OaepDecodingError, oaep_sha256_decode
from jichitai.platform.zones import Zone

PIN_ENV = "JICHITAI_PKCS11_PIN"
_PRIVATE_KEY_TEMPLATE = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
}
_APPLICATION = "jichitai"
# (module, token label) -> SHA-256 of the PIN this process logged in with
_logged_in: dict[tuple[str, str], bytes] = {}


def _label(tenant: str, kind: str, version: int | str) -> str:
    return f"{tenant}/{kind}/{version}"


class Pkcs11Keystore(Keystore):
    """Keys of one zone in one PKCS#11 token, reached through a logged-in read/write session."""

    def __init__(self, module_path: str, token_label: str, pin: str, zone: Zone) -> None:
        self.zone = zone
        self.token_label = token_label
        try:
            lib = pkcs11.lib(module_path)
        except pkcs11.PKCS11Error as exc:
            raise KeystoreError(
                f"PKCS#11 module {module_path} cannot be loaded: {exc}",
                hint="install softhsm2 or set the module path of your HSM",
            ) from None
        try:
            token = lib.get_token(token_label=token_label)
        except pkcs11.NoSuchToken:
            raise KeystoreError(
                f"PKCS#11 token {token_label!r} not found in {module_path}",
                hint="initialise it (softhsm2-util --init-token --free --label ...) and check SOFTHSM2_CONF",
            ) from None
        self._session = self._login(module_path, token, pin)
        # A PKCS#11 session carries one operation at a time.
        self._lock = threading.RLock()
        self._objects: dict[tuple[str, ObjectClass], Any] = {}
        self._ec_public: dict[tuple[str, int], ec.EllipticCurvePublicKey] = {}
        self._rsa_public: dict[tuple[str, int], rsa.RSAPublicKey] = {}
        self._native_oaep: bool | None = None

    def _login(self, module_path: str, token: Any, pin: str) -> Any:
        label = self.token_label
        pin_hash = hashlib.sha256(pin.encode()).digest()
        try:
            session = token.open(rw=True, user_pin=pin)
        except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange):
            raise KeystoreError(f"wrong PKCS#11 PIN for token {label!r}", hint=f"set {PIN_ENV}") from None
        except pkcs11.PinLocked:
            raise KeystoreError(f"the PIN of PKCS#11 token {label!r} is locked") from None
        except pkcs11.UserAlreadyLoggedIn:
            # PKCS#11 login is per process and token: another session of ours logged in already
            # and this one shares it. The token cannot re-check the PIN while logged in, so
            # compare it with the PIN that logged in.
            known = _logged_in.get((module_path, label))
            if known is not None and not hmac.compare_digest(known, pin_hash):
                raise KeystoreError(f"wrong PKCS#11 PIN for token {label!r}", hint=f"set {PIN_ENV}") from None
            session = token.open(rw=True)
        except pkcs11.PKCS11Error as exc:
            raise KeystoreError(f"cannot log in to PKCS#11 token {label!r}: {exc!r}") from None
        _logged_in[(module_path, label)] = pin_hash
        return session

    def close(self) -> None:
        with self._lock:
            self._session.close()

    # -- object lookup -------------------------------------------------------------------------
    def _find(self, label: str, cls: ObjectClass) -> Any | None:
        cached = self._objects.get((label, cls))
        if cached is not None:
            return cached
        with self._lock:
            found = list(self._session.get_objects({Attribute.CLASS: cls, Attribute.LABEL: label}))
        if len(found) > 1:
            raise KeystoreError(
                f"PKCS#11 token {self.token_label!r} holds {len(found)} objects labelled {label}"
            )
        if not found:
            return None
        self._objects[(label, cls)] = found[0]
        return found[0]

    def _get(self, tenant: str, kind: str, version: int, cls: ObjectClass) -> Any:
        obj = self._find(_label(tenant, kind, version), cls)
        if obj is None:
            if not self.has_tenant(tenant):
                raise KeystoreError(
                    f"tenant {tenant} has no keys in PKCS#11 token {self.token_label!r}",
                    hint="add the tenant with `jichitai tenant add`",
                )
            raise KeystoreError(f"tenant {tenant} has no {kind} key version {version} in the {self.zone} HSM")
        return obj

    def _all_objects(self) -> Iterator[Any]:
        with self._lock:
            yield from list(self._session.get_objects())

    # -- tenants -------------------------------------------------------------------------------
    def create_tenant(self, tenant: str, *, with_submission_key: bool) -> None:
        check_name("tenant code", tenant)
        if self.has_tenant(tenant):
            raise KeystoreError(f"tenant {tenant} already has keys in PKCS#11 token {self.token_label!r}")
        kinds = [KeyKind.KEK, KeyKind.SIGNING] + ([KeyKind.SUBMISSION] if with_submission_key else [])
        try:
            for kind in kinds:
                self._generate(tenant, kind, 1)
        except BaseException:
            self.delete_tenant(tenant)
            raise

    def delete_tenant(self, tenant: str) -> None:
        prefix = f"{tenant}/"
        with self._lock:
            for obj in self._all_objects():
                label = obj[Attribute.LABEL]
                if isinstance(label, str) and label.startswith(prefix):
                    obj.destroy()
            for key in [k for k in self._objects if k[0].startswith(prefix)]:
                del self._objects[key]
        for cache in (self._ec_public, self._rsa_public):
            for ck in [k for k in cache if k[0] == tenant]:
                del cache[ck]

    def has_tenant(self, tenant: str) -> bool:
        return self._find(_label(tenant, KeyKind.KEK, 1), ObjectClass.SECRET_KEY) is not None

    # -- versions ------------------------------------------------------------------------------
    @staticmethod
    def _class_of(kind: KeyKind) -> ObjectClass:
        return ObjectClass.SECRET_KEY if kind is KeyKind.KEK else ObjectClass.PRIVATE_KEY

    def versions(self, tenant: str, kind: KeyKind) -> list[int]:
        found: list[int] = []
        while self._find(_label(tenant, kind, len(found) + 1), self._class_of(kind)) is not None:
            found.append(len(found) + 1)
        if not found:
            if not self.has_tenant(tenant):
                raise KeystoreError(
                    f"tenant {tenant} has no keys in PKCS#11 token {self.token_label!r}",
                    hint="add the tenant with `jichitai tenant add`",
                )
            raise KeystoreError(f"tenant {tenant} has no {kind} key in the {self.zone} HSM")
        return found

    def add_version(self, tenant: str, kind: KeyKind) -> int:
        version = self.versions(tenant, kind)[-1] + 1
        self._generate(tenant, kind, version)
        return version

    def _generate(self, tenant: str, kind: KeyKind, version: int) -> None:
        label = _label(tenant, kind, version)
        ident = label.encode()
        try:
            with self._lock:
                if kind is KeyKind.KEK:
                    self._session.generate_key(
                        KeyType.AES,
                        256,
                        label=label,
                        id=ident,
                        store=True,
                        capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                        template=_PRIVATE_KEY_TEMPLATE,
                    )
                elif kind is KeyKind.SIGNING:
                    params = self._session.create_domain_parameters(
                        KeyType.EC,
                        {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                        local=True,
                    )
                    params.generate_keypair(
                        label=label,
                        id=ident,
                        store=True,
                        capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                        private_template=_PRIVATE_KEY_TEMPLATE,
                    )
                else:
                    self._session.generate_keypair(
                        KeyType.RSA,
                        SUBMISSION_KEY_BITS,
                        label=label,
                        id=ident,
                        store=True,
                        capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                        private_template=_PRIVATE_KEY_TEMPLATE,
                    )
        except pkcs11.PKCS11Error as exc:
            raise KeystoreError(f"the HSM could not generate {label}: {exc!r}") from None

    # -- KEK -----------------------------------------------------------------------------------
    def wrap(self, tenant: str, version: int, key: bytes, aad: bytes) -> bytes:
        kek = self._get(tenant, KeyKind.KEK, version, ObjectClass.SECRET_KEY)
        nonce = os.urandom(12)
        with self._lock:
            sealed = kek.encrypt(
                key, mechanism=Mechanism.AES_GCM, mechanism_param=pkcs11.GCMParams(nonce, aad)
            )
        return nonce + bytes(sealed)

    def unwrap(self, tenant: str, version: int, wrapped: bytes, aad: bytes) -> bytes:
        kek = self._get(tenant, KeyKind.KEK, version, ObjectClass.SECRET_KEY)
        try:
            with self._lock:
                return bytes(
                    kek.decrypt(
                        wrapped[12:],
                        mechanism=Mechanism.AES_GCM,
                        mechanism_param=pkcs11.GCMParams(wrapped[:12], aad),
                    )
                )
        except pkcs11.PKCS11Error:
            # SoftHSM reports a failed GCM tag check as a general error; any failure here means
            # the wrapped key does not belong to this KEK and AAD.
            raise KeystoreError(
                f"a data key of tenant {tenant} does not unwrap under KEK version {version}: "
                "it was altered or belongs to another tenant or purpose"
            ) from None

    # -- signing key ---------------------------------------------------------------------------
    def sign(self, tenant: str, version: int, data: bytes) -> bytes:
        private = self._get(tenant, KeyKind.SIGNING, version, ObjectClass.PRIVATE_KEY)
        digest = hashlib.sha256(data).digest()
        with self._lock:
            raw = bytes(private.sign(digest, mechanism=Mechanism.ECDSA))
        half = len(raw) // 2
        return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    def signing_public_key(self, tenant: str, version: int) -> ec.EllipticCurvePublicKey:
        cached = self._ec_public.get((tenant, version))
        if cached is None:
            public = self._get(tenant, KeyKind.SIGNING, version, ObjectClass.PUBLIC_KEY)
            with self._lock:
                point = bytes(public[Attribute.EC_POINT])
            # EC_POINT is a DER OCTET STRING around the uncompressed point (04 41 04 x y).
            if len(point) == 67 and point[:2] == b"\x04\x41":
                point = point[2:]
            cached = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
            self._ec_public[(tenant, version)] = cached
        return cached

    # -- submission key ------------------------------------------------------------------------
    def submission_public_key(self, tenant: str, version: int) -> rsa.RSAPublicKey:
        cached = self._rsa_public.get((tenant, version))
        if cached is None:
            public = self._get(tenant, KeyKind.SUBMISSION, version, ObjectClass.PUBLIC_KEY)
            with self._lock:
                n = int.from_bytes(bytes(public[Attribute.MODULUS]), "big")
                e = int.from_bytes(bytes(public[Attribute.PUBLIC_EXPONENT]), "big")
            cached = rsa.RSAPublicNumbers(e, n).public_key()
            self._rsa_public[(tenant, version)] = cached
        return cached

    def submission_decrypt(self, tenant: str, version: int, ciphertext: bytes) -> bytes:
        private = self._get(tenant, KeyKind.SUBMISSION, version, ObjectClass.PRIVATE_KEY)
        k = (self.submission_public_key(tenant, version).key_size + 7) // 8
        if self._native_oaep is None:
            self._native_oaep = self._probe_native_oaep(tenant, version, private)
        try:
            if len(ciphertext) != k:
                raise OaepDecodingError("wrong ciphertext length")
            with self._lock:
                if self._native_oaep:
                    return bytes(
                        private.decrypt(
                            ciphertext,
                            mechanism=Mechanism.RSA_PKCS_OAEP,
                            mechanism_param=(Mechanism.SHA256, pkcs11.MGF.SHA256, None),
                        )
                    )
                block = bytes(private.decrypt(ciphertext, mechanism=Mechanism.RSA_X_509))
            return oaep_sha256_decode(block, k)
        except (pkcs11.PKCS11Error, OaepDecodingError):
            raise KeystoreError(
                f"a submission for tenant {tenant} does not decrypt with submission key {version}"
            ) from None

    def _probe_native_oaep(self, tenant: str, version: int, private: Any) -> bool:
        probe = os.urandom(32)
        ciphertext = self.submission_public_key(tenant, version).encrypt(probe, OAEP_SHA256)
        try:
            with self._lock:
                result = private.decrypt(
                    ciphertext,
                    mechanism=Mechanism.RSA_PKCS_OAEP,
                    mechanism_param=(Mechanism.SHA256, pkcs11.MGF.SHA256, None),
                )
        except pkcs11.PKCS11Error:
            return False
        return bool(bytes(result) == probe)

    # -- secrets -------------------------------------------------------------------------------
    def put_secret(self, tenant: str, name: str, value: bytes) -> None:
        check_name("secret name", name)
        if not self.has_tenant(tenant):
            raise KeystoreError(f"tenant {tenant} has no keys in PKCS#11 token {self.token_label!r}")
        label = _label(tenant, "secret", name)
        with self._lock:
            old = self._find(label, ObjectClass.DATA)
            self._session.create_object(
                {
                    Attribute.CLASS: ObjectClass.DATA,
                    Attribute.LABEL: label,
                    Attribute.APPLICATION: _APPLICATION,
                    Attribute.VALUE: value,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                }
            )
            if old is not None:
                old.destroy()
            self._objects.pop((label, ObjectClass.DATA), None)

    def get_secret(self, tenant: str, name: str) -> bytes:
        obj = self._find(_label(tenant, "secret", name), ObjectClass.DATA)
        if obj is None:
            if not self.has_tenant(tenant):
                raise KeystoreError(f"tenant {tenant} has no keys in PKCS#11 token {self.token_label!r}")
            raise KeystoreError(f"tenant {tenant} has no secret {name!r} in the {self.zone} HSM")
        with self._lock:
            return bytes(obj[Attribute.VALUE])
