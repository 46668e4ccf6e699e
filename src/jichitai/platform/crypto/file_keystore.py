"""The default keystore: one passphrase-encrypted JSON file per zone, holding every tenant's keys.

File layout (``format`` = ``jichitai-keystore/1``)::

    {"format": ..., "zone": "lgwan",
     "kdf": {"name": "scrypt", "salt": b64, "n": 32768, "r": 8, "p": 1},
     "check": b64(nonce | AES-GCM(master, KEY_CHECK)),
     "tenants": {"131016": {"kek": {"1": {"created_at": iso, "sealed": b64}}, "signing": {...},
                            "submission": {...}, "secrets": {"db_password": {...}}}}}

The master key is derived from the passphrase with scrypt once per open. Each key item is sealed
with AES-256-GCM under it, the associated data being ``zone|tenant|kind|version`` (or
``zone|tenant|secret|name``), so an item copied to another tenant, kind or version fails to open.
The key-check value tells a wrong passphrase apart from a damaged file.

Writers take an ``fcntl`` lock on a side file, re-read the file, apply their change and replace
the file atomically (temporary file, fsync, ``os.replace``, fsync of the directory); readers never
see a half-written store. Opened keys stay in memory for the life of the object.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from hashlib import scrypt
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jichitai.platform.crypto.keystore import KeyKind, Keystore, KeystoreError
from jichitai.platform.zones import Zone

FORMAT = "jichitai-keystore/1"
KEY_CHECK = b"jichitai keystore key check v1"
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SUBMISSION_KEY_BITS = 3072
PASSPHRASE_ENV = "JICHITAI_KEYSTORE_PASSPHRASE"  # noqa: S105 - the variable name only
_SECRETS = "secrets"

OAEP_SHA256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def _b64e(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64d(text: object) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not a base64 string")
    return base64.b64decode(text, validate=True)


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # scrypt needs 128·n·r bytes; give OpenSSL a ceiling just above that.
    return scrypt(passphrase.encode(), salt=salt, n=n, r=r, p=p, maxmem=130 * n * r + 2**20, dklen=32)


def _item_aad(zone: Zone, tenant: str, kind: str, version: str) -> bytes:
    return f"{zone}|{tenant}|{kind}|{version}".encode()


_NAME = re.compile(r"[0-9A-Za-z_.-]{1,64}")


def check_name(what: str, name: str) -> str:
    """Tenant codes and secret names become labels and associated data: keep them plain."""
    if not _NAME.fullmatch(name):
        raise KeystoreError(f"invalid {what} for the keystore: {name!r} (letters, digits, '_', '.', '-')")
    return name


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class FileKeystore(Keystore):
    """Keys of one zone in an encrypted JSON file (see the module docstring for the format)."""

    def __init__(self, path: Path, zone: Zone, passphrase: str) -> None:
        self.path = Path(path)
        self.zone = zone
        self._passphrase = passphrase
        self._master: AESGCM | None = None
        self._kdf: dict[str, Any] | None = None
        self._doc: dict[str, Any] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._keks: dict[tuple[str, int], AESGCM] = {}
        self._signers: dict[tuple[str, int], ec.EllipticCurvePrivateKey] = {}
        self._decrypters: dict[tuple[str, int], rsa.RSAPrivateKey] = {}
        self._load()

    # -- creation ------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path, zone: Zone, passphrase: str, *, scrypt_n: int = SCRYPT_N) -> FileKeystore:
        """Write a new, empty keystore; refuses to overwrite an existing one."""
        path = Path(path)
        if not passphrase:
            raise KeystoreError("an empty keystore passphrase is not allowed", hint=f"set {PASSPHRASE_ENV}")
        if path.exists():
            raise KeystoreError(f"a keystore already exists at {path}", hint="open it, or move it away first")
        salt = os.urandom(16)
        master = AESGCM(_derive(passphrase, salt, scrypt_n, SCRYPT_R, SCRYPT_P))
        nonce = os.urandom(12)
        doc = {
            "format": FORMAT,
            "zone": str(zone),
            "created_at": _now(),
            "kdf": {"name": "scrypt", "salt": _b64e(salt), "n": scrypt_n, "r": SCRYPT_R, "p": SCRYPT_P},
            "check": _b64e(nonce + master.encrypt(nonce, KEY_CHECK, f"check|{zone}".encode())),
            "tenants": {},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with _writer_lock(path):
            if path.exists():
                raise KeystoreError(f"a keystore already exists at {path}")
            _atomic_write(path, doc)
        return cls(path, zone, passphrase)

    # -- file I/O ------------------------------------------------------------------------------
    def _load(self) -> None:
        doc, stamp = self._read()
        self._adopt(doc, stamp)

    def _read(self) -> tuple[dict[str, Any], tuple[int, int, int]]:
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                raw = f.read()
        except FileNotFoundError:
            raise KeystoreError(f"keystore not found at {self.path}", hint="run `jichitai init`") from None
        except OSError as exc:
            raise KeystoreError(f"keystore at {self.path} cannot be read: {exc.strerror}") from None
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise self._corrupt("it is not valid JSON") from None
        return doc, (st.st_ino, st.st_mtime_ns, st.st_size)

    def _corrupt(self, why: str) -> KeystoreError:
        return KeystoreError(
            f"keystore at {self.path} is corrupted: {why}",
            hint="restore it from a backup; do not edit it by hand",
        )

    def _adopt(self, doc: Any, stamp: tuple[int, int, int]) -> None:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise self._corrupt(f"not a {FORMAT} file")
        if doc.get("zone") != str(self.zone):
            raise KeystoreError(
                f"keystore at {self.path} belongs to zone {doc.get('zone')!r}, not {self.zone}",
                hint="each zone has its own keystore file",
            )
        kdf, tenants = doc.get("kdf"), doc.get("tenants")
        if not isinstance(kdf, dict) or not isinstance(tenants, dict):
            raise self._corrupt("the kdf or tenants section is missing")
        if kdf != self._kdf:
            self._master = self._unlock(kdf, doc.get("check"))
            self._kdf = kdf
        for tenant, kinds in tenants.items():
            if not isinstance(kinds, dict) or not all(isinstance(v, dict) for v in kinds.values()):
                raise self._corrupt(f"the entry of tenant {tenant} is malformed")
        self._doc = doc
        self._stamp = stamp

    def _unlock(self, kdf: dict[str, Any], check: object) -> AESGCM:
        try:
            if kdf.get("name") != "scrypt":
                raise ValueError("unknown kdf")
            n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
            if not (2**10 <= n <= 2**22 and 1 <= r <= 32 and 1 <= p <= 16):
                raise ValueError("kdf parameters out of range")
            salt, sealed = _b64d(kdf["salt"]), _b64d(check)
        except (KeyError, ValueError, TypeError, binascii.Error):
            raise self._corrupt("the kdf parameters or key check are unreadable") from None
        master = AESGCM(_derive(self._passphrase, salt, n, r, p))
        try:
            ok = master.decrypt(sealed[:12], sealed[12:], f"check|{self.zone}".encode()) == KEY_CHECK
        except InvalidTag:
            ok = False
        if not ok:
            raise KeystoreError(
                "wrong keystore passphrase",
                hint=f"set {PASSPHRASE_ENV} to the passphrase given at `jichitai init`",
                message_ja="鍵ストアのパスフレーズが違います",
            )
        return master

    def _refresh(self) -> None:
        """Pick up changes another process wrote since we last read the file."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise KeystoreError(f"keystore not found at {self.path}", hint="run `jichitai init`") from None
        if (st.st_ino, st.st_mtime_ns, st.st_size) != self._stamp:
            self._load()

    def _mutate(self, change: Callable[[dict[str, Any]], None]) -> None:
        with _writer_lock(self.path):
            doc, _ = self._read()
            self._adopt(doc, (0, 0, 0))
            try:
                change(self._doc)
            except BaseException:
                self._stamp = None  # memory may be half-changed: re-read before the next use
                raise
            _atomic_write(self.path, self._doc)
            st = os.stat(self.path)
            self._stamp = (st.st_ino, st.st_mtime_ns, st.st_size)

    # -- items ---------------------------------------------------------------------------------
    def _seal(self, tenant: str, kind: str, version: str, value: bytes) -> dict[str, str]:
        assert self._master is not None
        nonce = os.urandom(12)
        sealed = self._master.encrypt(nonce, value, _item_aad(self.zone, tenant, kind, version))
        return {"created_at": _now(), "sealed": _b64e(nonce + sealed)}

    def _open_item(self, tenant: str, kind: str, version: str) -> bytes:
        item = self._item(tenant, kind, version)
        assert self._master is not None
        try:
            sealed = _b64d(item["sealed"])
            return self._master.decrypt(sealed[:12], sealed[12:], _item_aad(self.zone, tenant, kind, version))
        except (KeyError, TypeError, ValueError, binascii.Error, InvalidTag):
            raise self._corrupt(f"the {kind} key {version} of tenant {tenant} does not decrypt") from None

    def _item(self, tenant: str, kind: str, version: str) -> dict[str, Any]:
        for attempt in (0, 1):
            entry = self._doc["tenants"].get(tenant, {}).get(kind, {}).get(version)
            if isinstance(entry, dict):
                return entry
            if attempt == 0:
                self._refresh()
        self._require_tenant(tenant)
        what = f"secret {version!r}" if kind == _SECRETS else f"{kind} key version {version}"
        raise KeystoreError(f"tenant {tenant} has no {what} in the {self.zone} keystore")

    def _require_tenant(self, tenant: str) -> None:
        if tenant not in self._doc["tenants"]:
            raise KeystoreError(
                f"tenant {tenant} has no keys in the {self.zone} keystore at {self.path}",
                hint="add the tenant with `jichitai tenant add`",
            )

    # -- tenants -------------------------------------------------------------------------------
    def create_tenant(self, tenant: str, *, with_submission_key: bool) -> None:
        check_name("tenant code", tenant)
        items: dict[str, dict[str, dict[str, str]]] = {
            KeyKind.KEK: {"1": self._seal(tenant, KeyKind.KEK, "1", _new_key(KeyKind.KEK))},
            KeyKind.SIGNING: {"1": self._seal(tenant, KeyKind.SIGNING, "1", _new_key(KeyKind.SIGNING))},
            _SECRETS: {},
        }
        if with_submission_key:
            material = _new_key(KeyKind.SUBMISSION)
            items[KeyKind.SUBMISSION] = {"1": self._seal(tenant, KeyKind.SUBMISSION, "1", material)}

        def change(doc: dict[str, Any]) -> None:
            if tenant in doc["tenants"]:
                raise KeystoreError(f"tenant {tenant} already has keys in the {self.zone} keystore")
            doc["tenants"][tenant] = items

        self._mutate(change)

    def delete_tenant(self, tenant: str) -> None:
        self._mutate(lambda doc: doc["tenants"].pop(tenant, None))
        for cache in (self._keks, self._signers, self._decrypters):
            for key in [k for k in cache if k[0] == tenant]:
                del cache[key]

    def has_tenant(self, tenant: str) -> bool:
        self._refresh()
        return tenant in self._doc["tenants"]

    # -- versions ------------------------------------------------------------------------------
    def versions(self, tenant: str, kind: KeyKind) -> list[int]:
        self._refresh()
        self._require_tenant(tenant)
        found = sorted(int(v) for v in self._doc["tenants"][tenant].get(str(kind), {}))
        if not found:
            raise KeystoreError(f"tenant {tenant} has no {kind} key in the {self.zone} keystore")
        return found

    def add_version(self, tenant: str, kind: KeyKind) -> int:
        material = _new_key(kind)
        added: list[int] = []

        def change(doc: dict[str, Any]) -> None:
            if tenant not in doc["tenants"]:
                self._require_tenant(tenant)
            existing = doc["tenants"][tenant].setdefault(str(kind), {})
            version = max((int(v) for v in existing), default=0) + 1
            existing[str(version)] = self._seal(tenant, kind, str(version), material)
            added.append(version)

        self._mutate(change)
        return added[0]

    # -- KEK -----------------------------------------------------------------------------------
    def _kek(self, tenant: str, version: int) -> AESGCM:
        aead = self._keks.get((tenant, version))
        if aead is None:
            aead = AESGCM(self._open_item(tenant, KeyKind.KEK, str(version)))
            self._keks[(tenant, version)] = aead
        return aead

    def wrap(self, tenant: str, version: int, key: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._kek(tenant, version).encrypt(nonce, key, aad)

    def unwrap(self, tenant: str, version: int, wrapped: bytes, aad: bytes) -> bytes:
        aead = self._kek(tenant, version)
        try:
            return aead.decrypt(wrapped[:12], wrapped[12:], aad)
        except InvalidTag:
            raise KeystoreError(
                f"a data key of tenant {tenant} does not unwrap under KEK version {version}: "
                "it was altered or belongs to another tenant or purpose"
            ) from None

    # -- signing key ---------------------------------------------------------------------------
    def _signer(self, tenant: str, version: int) -> ec.EllipticCurvePrivateKey:
        key = self._signers.get((tenant, version))
        if key is None:
            loaded = serialization.load_der_private_key(
                self._open_item(tenant, KeyKind.SIGNING, str(version)), password=None
            )
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise self._corrupt(f"signing key {version} of tenant {tenant} is not an EC key")
            key = self._signers[(tenant, version)] = loaded
        return key

    def sign(self, tenant: str, version: int, data: bytes) -> bytes:
        return self._signer(tenant, version).sign(data, _ECDSA_SHA256)

    def signing_public_key(self, tenant: str, version: int) -> ec.EllipticCurvePublicKey:
        return self._signer(tenant, version).public_key()

    # -- submission key ------------------------------------------------------------------------
    def _decrypter(self, tenant: str, version: int) -> rsa.RSAPrivateKey:
        key = self._decrypters.get((tenant, version))
        if key is None:
            loaded = serialization.load_der_private_key(
                self._open_item(tenant, KeyKind.SUBMISSION, str(version)), password=None
            )
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise self._corrupt(f"submission key {version} of tenant {tenant} is not an RSA key")
            key = self._decrypters[(tenant, version)] = loaded
        return key

    def submission_public_key(self, tenant: str, version: int) -> rsa.RSAPublicKey:
        return self._decrypter(tenant, version).public_key()

    def submission_decrypt(self, tenant: str, version: int, ciphertext: bytes) -> bytes:
        try:
            return self._decrypter(tenant, version).decrypt(ciphertext, OAEP_SHA256)
        except ValueError:
            raise KeystoreError(
                f"a submission for tenant {tenant} does not decrypt with submission key {version}"
            ) from None

    # -- secrets -------------------------------------------------------------------------------
    def put_secret(self, tenant: str, name: str, value: bytes) -> None:
        check_name("secret name", name)
        item = self._seal(tenant, _SECRETS, name, value)

        def change(doc: dict[str, Any]) -> None:
            if tenant not in doc["tenants"]:
                self._require_tenant(tenant)
            doc["tenants"][tenant].setdefault(_SECRETS, {})[name] = item

        self._mutate(change)

    def get_secret(self, tenant: str, name: str) -> bytes:
        return self._open_item(tenant, _SECRETS, name)


def _new_key(kind: KeyKind) -> bytes:
    """Fresh key material of a kind, as stored: raw AES key or PKCS#8 DER private key."""
    if kind is KeyKind.KEK:
        return os.urandom(32)
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if kind is KeyKind.SIGNING:
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=SUBMISSION_KEY_BITS)
    return private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@contextlib.contextmanager
def _writer_lock(path: Path) -> Iterator[None]:
    """Exclusive lock for writers, on a side file so that ``os.replace`` cannot drop it."""
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _atomic_write(path: Path, doc: dict[str, Any]) -> None:
    data = json.dumps(doc, indent=1, sort_keys=True).encode()
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
