"""OAEP-SHA-256 decoding on the host, checked against `cryptography`'s encryption."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jichitai.platform.crypto.oaep import OaepDecodingError, oaep_sha256_decode

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
K = 256


def _raw_decrypt(ciphertext: bytes) -> bytes:
    """What CKM_RSA_X_509 returns: c^d mod n, big-endian, leading zeros dropped."""
    numbers = KEY.private_numbers()
    m = pow(int.from_bytes(ciphertext, "big"), numbers.d, numbers.public_numbers.n)
    return m.to_bytes((m.bit_length() + 7) // 8, "big")


def _encrypt(
    message: bytes, algorithm: hashes.HashAlgorithm | None = None, label: bytes | None = None
) -> bytes:
    alg = algorithm or hashes.SHA256()
    return KEY.public_key().encrypt(message, padding.OAEP(mgf=padding.MGF1(alg), algorithm=alg, label=label))


@pytest.mark.parametrize("size", [0, 1, 32, 190])
def test_decodes_what_cryptography_encrypts(size: int) -> None:
    message = os.urandom(size)
    assert oaep_sha256_decode(_raw_decrypt(_encrypt(message)), K) == message


def test_rejects_other_hash_label_and_garbage() -> None:
    with pytest.raises(OaepDecodingError):
        oaep_sha256_decode(_raw_decrypt(_encrypt(b"x" * 32, hashes.SHA1())), K)
    with pytest.raises(OaepDecodingError):
        oaep_sha256_decode(_raw_decrypt(_encrypt(b"x" * 32, label=b"other")), K)
    with pytest.raises(OaepDecodingError):
        oaep_sha256_decode(os.urandom(K), K)
    with pytest.raises(OaepDecodingError):
        oaep_sha256_decode(b"\x00" * (K + 1), K)
