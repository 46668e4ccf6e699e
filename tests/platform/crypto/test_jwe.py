"""JWE (RSA-OAEP-256 + A256GCM, compact): interop with jwcrypto both ways, and tampering."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwcrypto import jwe as jwcrypto_jwe
from jwcrypto import jwk as jwcrypto_jwk

from jichitai.platform.crypto import jwe

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
PAYLOAD = json.dumps({"procedure": "child_allowance", "氏名": "山田 太郎"}, ensure_ascii=False).encode()


def unwrap(kid: str, encrypted_key: bytes) -> bytes:
    assert kid == "131016-1"
    return KEY.decrypt(encrypted_key, OAEP)


def _jwcrypto_key() -> jwcrypto_jwk.JWK:
    pem = KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return jwcrypto_jwk.JWK.from_pem(pem)


def test_round_trip_keeps_headers() -> None:
    token = jwe.encrypt(PAYLOAD, KEY.public_key(), "131016-1", {"typ": "submission", "cty": "json"})
    assert token.count(".") == 4
    headers, plaintext = jwe.decrypt(token, unwrap)
    assert plaintext == PAYLOAD
    assert headers == {
        "alg": "RSA-OAEP-256",
        "enc": "A256GCM",
        "kid": "131016-1",
        "typ": "submission",
        "cty": "json",
    }


def test_jwcrypto_decrypts_ours() -> None:
    token = jwe.encrypt(PAYLOAD, KEY.public_key(), "131016-1")
    theirs = jwcrypto_jwe.JWE()
    theirs.deserialize(token, key=_jwcrypto_key())
    assert theirs.payload == PAYLOAD
    assert json.loads(theirs.objects["protected"])["kid"] == "131016-1"


@pytest.mark.parametrize(
    "pieces",
    [
        [PAYLOAD[:10], b"", PAYLOAD[10:]],
        [bytes(range(256)) * 1200, b'"', b"x" * 70_001, b'"}'],  # several hundred KB, odd sizes
        [b"{", b"}"],
    ],
)
def test_plaintext_in_pieces_encrypts_as_the_pieces_joined(pieces: list[bytes]) -> None:
    parts = jwe.encrypt_parts(pieces, KEY.public_key(), "131016-1")
    assert len(parts.ciphertext) == sum(len(p) for p in pieces)
    _, plaintext = jwe.decrypt(parts.compact(), unwrap)
    assert plaintext == b"".join(pieces)
    theirs = jwcrypto_jwe.JWE()
    theirs.deserialize(parts.compact(), key=_jwcrypto_key())
    assert theirs.payload == b"".join(pieces)


def test_we_decrypt_jwcrypto() -> None:
    public = jwcrypto_jwk.JWK.from_json(json.dumps(jwe.rsa_public_jwk(KEY.public_key(), "131016-1")))
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "131016-1"}
    theirs = jwcrypto_jwe.JWE(PAYLOAD, json.dumps(header))
    theirs.add_recipient(public)
    headers, plaintext = jwe.decrypt(theirs.serialize(compact=True), unwrap)
    assert plaintext == PAYLOAD
    assert headers["kid"] == "131016-1"


@pytest.mark.parametrize("part", range(5))
def test_tampering_any_part_is_detected(part: int) -> None:
    token = jwe.encrypt(PAYLOAD, KEY.public_key(), "131016-1")
    parts = token.split(".")
    raw = bytearray(jwe.b64url_decode(parts[part], "part"))
    if part == 0:  # keep the header parseable: change a value inside it
        raw = bytearray(raw.replace(b'"A256GCM"', b'"A256GCM" ', 1))
    else:
        raw[len(raw) // 2] ^= 0x01
    parts[part] = jwe.b64url_encode(bytes(raw))
    with pytest.raises(jwe.JweError, match="integrity check failed"):
        jwe.decrypt(".".join(parts), unwrap)


def test_wrong_key_fails_like_tampering() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwe.encrypt(PAYLOAD, other.public_key(), "131016-1")
    with pytest.raises(jwe.JweError, match="integrity check failed"):
        jwe.decrypt(token, unwrap)


def test_malformed_and_unsupported_tokens() -> None:
    token = jwe.encrypt(PAYLOAD, KEY.public_key(), "131016-1")
    with pytest.raises(jwe.JweError, match="4 parts instead of 5"):
        jwe.decrypt(token.rsplit(".", 1)[0], unwrap)
    with pytest.raises(jwe.JweError, match="not valid base64url"):
        jwe.decrypt("!!!" + token[3:], unwrap)
    for header in ({"alg": "RSA1_5", "enc": "A256GCM", "kid": "k"}, {"alg": "dir", "enc": "A256GCM"}):
        forged = jwe.b64url_encode(json.dumps(header).encode()) + token[token.index(".") :]
        with pytest.raises(jwe.JweError, match="unsupported JWE algorithms"):
            jwe.decrypt(forged, unwrap)
    zipped = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "131016-1", "zip": "DEF"}
    with pytest.raises(jwe.JweError, match="'zip' and 'crit'"):
        jwe.decrypt(jwe.b64url_encode(json.dumps(zipped).encode()) + token[token.index(".") :], unwrap)
    with pytest.raises(jwe.JweError, match="may not set"):
        jwe.encrypt(PAYLOAD, KEY.public_key(), "k", {"alg": "none"})


def test_jwk_round_trip() -> None:
    jwk = jwe.rsa_public_jwk(KEY.public_key(), "131016-1")
    assert jwe.rsa_public_key_from_jwk(jwk).public_numbers() == KEY.public_key().public_numbers()
    assert jwcrypto_jwk.JWK.from_json(json.dumps(jwk)).thumbprint() == _jwcrypto_key().thumbprint()
