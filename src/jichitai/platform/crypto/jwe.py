"""JWE compact serialization (RFC 7516) with ``alg`` RSA-OAEP-256 and ``enc`` A256GCM.

Decryption takes a callback that turns the encrypted key into the content-encryption key, so the
RSA private key can stay inside a keystore or HSM (``Keystore.submission_decrypt``). The callback
gets the ``kid`` of the protected header to pick the key version.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jichitai.platform.errors import JichitaiError

ALG = "RSA-OAEP-256"
ENC = "A256GCM"
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
_RESERVED = frozenset({"alg", "enc", "kid", "zip", "crit"})


class JweError(JichitaiError):
    """A JWE token is malformed, uses unsupported algorithms, or fails its integrity check."""


def b64url_encode(raw: bytes | bytearray) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, what: str) -> bytes:
    if "=" in text:
        raise JweError(f"JWE {what} is not unpadded base64url")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise JweError(f"JWE {what} is not valid base64url") from None


def rsa_public_jwk(key: rsa.RSAPublicKey, kid: str) -> dict[str, str]:
    """The public key as an encryption JWK (RFC 7517/7518) for RSA-OAEP-256."""
    numbers = key.public_numbers()
    return {
        "kty": "RSA",
        "kid": kid,
        "use": "enc",
        "alg": ALG,
        "n": b64url_encode(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        "e": b64url_encode(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
    }


def rsa_public_key_from_jwk(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey:
    if jwk.get("kty") != "RSA":
        raise JweError("the JWK is not an RSA key")
    n = int.from_bytes(b64url_decode(str(jwk.get("n", "")), "JWK modulus"), "big")
    e = int.from_bytes(b64url_decode(str(jwk.get("e", "")), "JWK exponent"), "big")
    return rsa.RSAPublicNumbers(e, n).public_key()


@dataclass(frozen=True)
class JweParts:
    """The five parts of a compact JWE; the ciphertext stays raw bytes (callers storing large
    payloads keep it so, instead of encoding it to base64url only to decode it again)."""

    protected: str  # base64url of the protected header
    encrypted_key: bytes
    iv: bytes
    ciphertext: bytes | bytearray  # bytearray when encrypted from pieces (see encrypt_parts)
    tag: bytes

    def compact(self) -> str:
        return ".".join(
            (
                self.protected,
                b64url_encode(self.encrypted_key),
                b64url_encode(self.iv),
                b64url_encode(self.ciphertext),
                b64url_encode(self.tag),
            )
        )


def encrypt_parts(
    plaintext: bytes | Sequence[bytes],
    public_key: rsa.RSAPublicKey,
    kid: str,
    extra_headers: Mapping[str, Any] | None = None,
) -> JweParts:
    """Encrypt ``plaintext`` to ``public_key``; ``extra_headers`` go into the protected header.

    ``plaintext`` may be given as pieces, encrypted as if joined: a large payload is then never
    copied into one buffer first, and the ciphertext is written into one buffer as it is made
    (two copies of a few hundred KB fewer per submission; too little to tell apart in the
    submission checks' timing on this machine).
    """
    extra = dict(extra_headers or {})
    clash = _RESERVED & extra.keys()
    if clash:
        raise JweError(f"extra JWE headers may not set {sorted(clash)}")
    header = {"alg": ALG, "enc": ENC, "kid": kid, **extra}
    protected = b64url_encode(json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode())
    cek = AESGCM.generate_key(bit_length=256)
    iv = os.urandom(12)
    ciphertext, tag = _seal(cek, iv, plaintext, protected.encode("ascii"))
    return JweParts(protected, public_key.encrypt(cek, _OAEP), iv, ciphertext, tag)


def _seal(
    cek: bytes, iv: bytes, plaintext: bytes | Sequence[bytes], aad: bytes
) -> tuple[bytes | bytearray, bytes]:
    """AES-256-GCM: (ciphertext, tag), the same as ``AESGCM.encrypt`` gives joined."""
    encryptor = Cipher(algorithms.AES(cek), modes.GCM(iv)).encryptor()
    encryptor.authenticate_additional_data(aad)
    if isinstance(plaintext, bytes):
        ciphertext: bytes | bytearray = encryptor.update(plaintext)
    else:
        total = sum(len(piece) for piece in plaintext)
        # update_into wants room for a block more than it writes; GCM writes exactly its input
        out = bytearray(total + 15)
        with memoryview(out) as view:
            at = 0
            for piece in plaintext:
                at += encryptor.update_into(piece, view[at:])
        del out[total:]
        ciphertext = out
    encryptor.finalize()
    return ciphertext, encryptor.tag


def encrypt(
    plaintext: bytes,
    public_key: rsa.RSAPublicKey,
    kid: str,
    extra_headers: Mapping[str, Any] | None = None,
) -> str:
    """Encrypt ``plaintext`` to ``public_key`` as a compact JWE."""
    return encrypt_parts(plaintext, public_key, kid, extra_headers).compact()


def parse_header(token: str) -> dict[str, Any]:
    """The protected header, unverified (e.g. to route by ``kid`` before decrypting)."""
    parts = token.split(".")
    if len(parts) != 5:
        raise JweError(f"not a JWE compact serialization: {len(parts)} parts instead of 5")
    try:
        header = json.loads(b64url_decode(parts[0], "protected header"))
    except ValueError:
        raise JweError("JWE protected header is not JSON") from None
    if not isinstance(header, dict):
        raise JweError("JWE protected header is not a JSON object")
    return header


def decrypt(token: str, unwrap_cek: Callable[[str, bytes], bytes]) -> tuple[dict[str, Any], bytes]:
    """Check and decrypt a token; ``unwrap_cek(kid, encrypted_key)`` performs RSA-OAEP-256.

    Any failure of ``unwrap_cek`` is not reported as such: a random key is used instead and the
    token then fails its integrity check, so the answer does not reveal whether the RSA padding or
    the content was wrong (RFC 7516 §11.5).
    """
    header = parse_header(token)
    protected, ek_b64, iv_b64, ct_b64, tag_b64 = token.split(".")
    if header.get("alg") != ALG or header.get("enc") != ENC:
        raise JweError(
            f"unsupported JWE algorithms alg={header.get('alg')!r} enc={header.get('enc')!r}; "
            f"only {ALG} with {ENC} is accepted"
        )
    if "zip" in header or "crit" in header:
        raise JweError("JWE headers 'zip' and 'crit' are not supported")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise JweError("JWE header has no 'kid' naming the key")
    encrypted_key = b64url_decode(ek_b64, "encrypted key")
    iv = b64url_decode(iv_b64, "initialization vector")
    ciphertext = b64url_decode(ct_b64, "ciphertext")
    tag = b64url_decode(tag_b64, "authentication tag")
    if len(iv) != 12 or len(tag) != 16:
        raise JweError("JWE initialization vector or tag has the wrong length for A256GCM")
    try:
        cek = unwrap_cek(kid, encrypted_key)
        if len(cek) != 32:
            raise ValueError("wrong CEK length")
    except (JichitaiError, ValueError):
        cek = os.urandom(32)
    try:
        plaintext = AESGCM(cek).decrypt(iv, ciphertext + tag, protected.encode("ascii"))
    except InvalidTag:
        raise JweError(
            "JWE integrity check failed: the token was altered or is not encrypted to this key"
        ) from None
    return header, plaintext
