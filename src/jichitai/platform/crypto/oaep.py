"""EME-OAEP decoding (RFC 8017 §7.1.2) with SHA-256 and MGF1-SHA-256, for tokens that lack it.

SoftHSM 2.6 implements CKM_RSA_PKCS_OAEP with SHA-1 only. For such tokens the PKCS#11 keystore
does the private-key operation in the token with raw RSA (CKM_RSA_X_509) and removes the OAEP
padding here: the private key still never leaves the token, and the result is exactly
RSA-OAEP-SHA-256. Every check runs to the end and all failures raise the same error, so the
decoder does not tell an attacker which check failed (Manger's attack needs that distinction).
"""

from __future__ import annotations

import hashlib
import hmac

_HLEN = 32
_EMPTY_LABEL_HASH = hashlib.sha256(b"").digest()


class OaepDecodingError(ValueError):
    """The decrypted block is not a valid OAEP encoding (wrong key, or altered ciphertext)."""


def mgf1_sha256(seed: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(out[:length])


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def oaep_sha256_decode(em: bytes, k: int) -> bytes:
    """The message inside the encoded block ``em`` of a ``k``-byte modulus (empty label)."""
    if k < 2 * _HLEN + 2:
        raise OaepDecodingError("modulus too small for OAEP-SHA-256")
    # Raw RSA output may come back without its leading zero bytes.
    if len(em) > k:
        raise OaepDecodingError("decryption error")
    em = em.rjust(k, b"\0")
    y, masked_seed, masked_db = em[0], em[1 : 1 + _HLEN], em[1 + _HLEN :]
    seed = _xor(masked_seed, mgf1_sha256(masked_db, _HLEN))
    db = _xor(masked_db, mgf1_sha256(seed, k - _HLEN - 1))
    good = hmac.compare_digest(db[:_HLEN], _EMPTY_LABEL_HASH) & (y == 0)
    # The first non-zero byte after the label hash must be the 0x01 separator; scan the whole
    # block rather than stopping there. ``separator`` stays 0 if that byte is anything else.
    separator = 0
    looking = True
    for i in range(_HLEN, len(db)):
        byte = db[i]
        separator |= i * (looking & (byte == 1))
        looking &= byte == 0
    good &= separator != 0
    if not good:
        raise OaepDecodingError("decryption error")
    return db[separator + 1 :]
