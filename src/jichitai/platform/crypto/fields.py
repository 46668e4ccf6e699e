"""Field encryption (AES-256-GCM bound to the row's identity) and keyed blind indexes.

A field ciphertext is compact binary::

    version (1 byte, 0x01) | data key id (4 bytes, big-endian) | nonce (12 bytes) | ciphertext + tag

The associated data is the 5-byte header followed by ``tenant␟table␟column␟row_id`` (␟ = 0x1F),
so a ciphertext copied into another row, column or tenant — or relabelled with another key id —
fails to decrypt instead of yielding a wrong but plausible value.

The blind index is HMAC-SHA256 under a per-column key derived from the tenant's blind-index data
key: equal values in one column give equal indexes, the same value in two columns does not.
Normalise values (e.g. strip the hyphens of a 個人番号) before indexing; the index compares bytes.

Both sit on hot paths (bulk imports, list screens), so the per-call work is kept to the AEAD call,
a few byte concatenations and two SHA-256 state copies; everything else is cached per key.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import secrets
from collections.abc import Callable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jichitai.platform.errors import JichitaiError

FORMAT_VERSION = 1
HEADER_LEN = 5
NONCE_LEN = 12
TAG_LEN = 16
MIN_BLOB_LEN = HEADER_LEN + NONCE_LEN + TAG_LEN
_BODY = HEADER_LEN + NONCE_LEN
_SEP = b"\x1f"
_BLIND_INDEX_DOMAIN = b"jichitai/blind-index/v1"


class FieldCryptoError(JichitaiError):
    """A field ciphertext is malformed, altered, or does not belong where it was read from."""


# -- nonces -----------------------------------------------------------------------------------
# 96-bit nonces are a process-wide counter started at a random point (NIST SP 800-38D §8.2.1
# allows any construction that never repeats a nonce under one key). Two processes repeat a nonce
# only if their random starts lie within the number of nonces they use of each other: for 2^40
# encryptions that is about 2^-54 per pair of processes, no worse than random nonces. ``next`` on
# ``itertools.count`` is atomic under the GIL, so threads never share a value, and a forked child
# draws a new start so that it does not replay its parent's sequence. It costs a fifth of an
# ``os.urandom`` call, which matters when the field itself is 12 bytes.
_NONCE_START_BITS = 95  # stays below 2^96 for 2^94 nonces


def _fresh_counter() -> Iterator[int]:
    return itertools.count(secrets.randbits(_NONCE_START_BITS))


_nonce_counter = _fresh_counter()


def new_nonce() -> bytes:
    """A 96-bit AES-GCM nonce that this process never hands out twice."""
    return next(_nonce_counter).to_bytes(NONCE_LEN, "big")


def _reseed_nonces() -> None:
    global _nonce_counter
    _nonce_counter = _fresh_counter()


os.register_at_fork(after_in_child=_reseed_nonces)


# -- field encryption -------------------------------------------------------------------------
def _check_label(kind: str, value: str) -> bytes:
    raw = value.encode()
    if not raw or _SEP in raw:
        raise FieldCryptoError(f"invalid {kind} name for field encryption: {value!r}")
    return raw


def pack_header(key_id: int) -> bytes:
    if not 0 < key_id < 2**32:
        raise FieldCryptoError(f"data key id out of range: {key_id}")
    return bytes((FORMAT_VERSION,)) + key_id.to_bytes(4, "big")


def blob_key_id(blob: bytes) -> int:
    """The data key id a field ciphertext was made with."""
    if len(blob) < MIN_BLOB_LEN or blob[0] != FORMAT_VERSION:
        raise FieldCryptoError("not a jichitai field ciphertext (wrong length or format version)")
    return int.from_bytes(blob[1:HEADER_LEN], "big")


class FieldCipher:
    """Field encryption for one tenant.

    ``current_key`` is ``(id, key)`` of the data key new ciphertext uses; ``load_key`` returns the
    32-byte data key for any other id found in a ciphertext (older versions after a rotation).
    """

    def __init__(
        self,
        tenant: str,
        current_key: tuple[int, bytes],
        load_key: Callable[[int], bytes] | None = None,
    ) -> None:
        self._tenant = _check_label("tenant", tenant) + _SEP
        self._load_key = load_key
        # Keyed by the 5-byte header rather than the id: decryption then needs one slice and one
        # dict lookup, and the same header bytes go straight into the associated data.
        self._aeads: dict[bytes, AESGCM] = {}
        # table -> column -> "tenant␟table␟column␟"; nested str-keyed dicts are cheaper than a
        # tuple key, which would be built and hashed on every call.
        self._prefixes: dict[str, dict[str, bytes]] = {}
        self._current_aads: dict[str, dict[str, bytes]] = {}
        key_id, key = current_key
        self._current_id = key_id
        self._current_header = pack_header(key_id)
        self._current_aead = self._add(key_id, key)

    @property
    def current_key_id(self) -> int:
        return self._current_id

    def _add(self, key_id: int, key: bytes) -> AESGCM:
        if len(key) != 32:
            raise FieldCryptoError(f"data key {key_id} is not a 256-bit key")
        aead = AESGCM(key)
        self._aeads[pack_header(key_id)] = aead
        return aead

    def _aead(self, blob: bytes) -> AESGCM:
        key_id = blob_key_id(blob)
        aead = self._aeads.get(blob[:HEADER_LEN])
        if aead is not None:
            return aead
        if self._load_key is None:
            raise FieldCryptoError(f"data key {key_id} is unknown to this tenant")
        return self._add(key_id, self._load_key(key_id))

    def _prefix(self, table: str, column: str) -> bytes:
        columns = self._prefixes.setdefault(table, {})
        prefix = columns.get(column)
        if prefix is None:
            prefix = (
                self._tenant + _check_label("table", table) + _SEP + _check_label("column", column) + _SEP
            )
            columns[column] = prefix
        return prefix

    def _current_aad(self, table: str, column: str) -> bytes:
        aad = self._current_header + self._prefix(table, column)
        self._current_aads.setdefault(table, {})[column] = aad
        return aad

    def encrypt(self, table: str, column: str, row_id: str | int, plaintext: str) -> bytes:
        try:
            aad_prefix = self._current_aads[table][column]
        except KeyError:
            aad_prefix = self._current_aad(table, column)
        nonce = next(_nonce_counter).to_bytes(12, "big")  # new_nonce(), inlined on the hot path
        sealed = self._current_aead.encrypt(nonce, plaintext.encode(), aad_prefix + str(row_id).encode())
        return self._current_header + nonce + sealed

    def decrypt(self, table: str, column: str, row_id: str | int, blob: bytes) -> str:
        header = blob[:HEADER_LEN]
        aead = self._aeads.get(header) or self._aead(blob)
        try:
            prefix = self._prefixes[table][column]
        except KeyError:
            prefix = self._prefix(table, column)
        try:
            plain = aead.decrypt(blob[HEADER_LEN:_BODY], blob[_BODY:], header + prefix + str(row_id).encode())
        except (InvalidTag, ValueError):
            # ValueError: a truncated blob leaves too short a nonce; checked here, off the fast path.
            if len(blob) < MIN_BLOB_LEN:
                raise FieldCryptoError("not a jichitai field ciphertext (too short)") from None
            raise FieldCryptoError(
                f"field {table}.{column} of row {row_id} does not decrypt: the ciphertext was altered "
                "or belongs to another row, column or tenant",
                hint="restore the value from its original row; never copy ciphertext between rows",
            ) from None
        return plain.decode()


# -- blind index ------------------------------------------------------------------------------
def _hmac_states(key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    """SHA-256 states after absorbing the HMAC inner and outer padded keys (RFC 2104).

    Copying a pre-keyed state skips HMAC's per-call key schedule, which is most of the cost of
    ``hmac.digest`` on a 12-byte message; the output is the same HMAC-SHA256.
    """
    block = key.ljust(64, b"\0") if len(key) <= 64 else hashlib.sha256(key).digest().ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    return inner, outer


class BlindIndexer:
    """Keyed blind indexes (HMAC-SHA256) of one tenant, one derived key per column."""

    def __init__(self, tenant: str, key: bytes) -> None:
        if len(key) != 32:
            raise FieldCryptoError("blind-index key is not a 256-bit key")
        self._tenant = _check_label("tenant", tenant)
        self._key = key
        self._states: dict[str, tuple[hashlib._Hash, hashlib._Hash]] = {}

    def column_key(self, column: str) -> bytes:
        """The column's HMAC key: HMAC-SHA256(blind-index key, domain ␟ tenant ␟ column)."""
        label = _BLIND_INDEX_DOMAIN + _SEP + self._tenant + _SEP + _check_label("column", column)
        return hmac.digest(self._key, label, "sha256")

    def index(self, column: str, value: str) -> bytes:
        states = self._states.get(column)
        if states is None:
            states = _hmac_states(self.column_key(column))
            self._states[column] = states
        inner = states[0].copy()
        inner.update(value.encode())
        outer = states[1].copy()
        outer.update(inner.digest())
        return outer.digest()
