"""The Keystore contract, run against both backends (encrypted file and SoftHSM2)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from jichitai.platform.crypto.keystore import KeyKind, Keystore, KeystoreError

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


@pytest.fixture(scope="module")
def lgwan_tenant(keystore: Keystore, new_tenant: Callable[[], str]) -> str:
    """One tenant with a submission key per backend (RSA-3072 generation is the slow part)."""
    tenant = new_tenant()
    keystore.create_tenant(tenant, with_submission_key=True)
    return tenant


def test_new_tenant_has_version_one_of_each_kind(keystore: Keystore, lgwan_tenant: str) -> None:
    assert keystore.has_tenant(lgwan_tenant)
    for kind in KeyKind:
        assert keystore.versions(lgwan_tenant, kind) == [1]
        assert keystore.current_version(lgwan_tenant, kind) == 1


def test_tenant_without_submission_key(keystore: Keystore, new_tenant: Callable[[], str]) -> None:
    tenant = new_tenant()
    keystore.create_tenant(tenant, with_submission_key=False)
    with pytest.raises(KeystoreError, match="no submission key"):
        keystore.versions(tenant, KeyKind.SUBMISSION)
    with pytest.raises(KeystoreError, match="submission key version 1"):
        keystore.submission_public_key(tenant, 1)


def test_create_twice_is_refused(keystore: Keystore, lgwan_tenant: str) -> None:
    with pytest.raises(KeystoreError, match="already has keys"):
        keystore.create_tenant(lgwan_tenant, with_submission_key=False)


def test_unknown_tenant_is_named(keystore: Keystore) -> None:
    assert not keystore.has_tenant("999999")
    with pytest.raises(KeystoreError, match="tenant 999999 has no keys") as err:
        keystore.versions("999999", KeyKind.KEK)
    assert "jichitai tenant add" in err.value.one_line()
    with pytest.raises(KeystoreError, match="999999"):
        keystore.wrap("999999", 1, os.urandom(32), b"aad")


def test_invalid_tenant_code_is_refused(keystore: Keystore) -> None:
    with pytest.raises(KeystoreError, match="invalid tenant code"):
        keystore.create_tenant("13/kek", with_submission_key=False)


def test_wrap_unwrap_round_trip_and_aad_binding(keystore: Keystore, lgwan_tenant: str) -> None:
    key = os.urandom(32)
    wrapped = keystore.wrap(lgwan_tenant, 1, key, b"field|1")
    assert len(wrapped) == 12 + 32 + 16
    assert key not in wrapped
    assert keystore.unwrap(lgwan_tenant, 1, wrapped, b"field|1") == key
    with pytest.raises(KeystoreError, match="does not unwrap"):
        keystore.unwrap(lgwan_tenant, 1, wrapped, b"blind_index|1")
    tampered = bytearray(wrapped)
    tampered[20] ^= 1
    with pytest.raises(KeystoreError, match="does not unwrap"):
        keystore.unwrap(lgwan_tenant, 1, bytes(tampered), b"field|1")


def test_wrapped_key_does_not_unwrap_for_another_tenant(
    keystore: Keystore, lgwan_tenant: str, new_tenant: Callable[[], str]
) -> None:
    other = new_tenant()
    keystore.create_tenant(other, with_submission_key=False)
    wrapped = keystore.wrap(lgwan_tenant, 1, os.urandom(32), b"aad")
    with pytest.raises(KeystoreError, match="does not unwrap"):
        keystore.unwrap(other, 1, wrapped, b"aad")


def test_add_version_keeps_old_versions(keystore: Keystore, new_tenant: Callable[[], str]) -> None:
    tenant = new_tenant()
    keystore.create_tenant(tenant, with_submission_key=False)
    key = os.urandom(32)
    old = keystore.wrap(tenant, 1, key, b"a")
    assert keystore.add_version(tenant, KeyKind.KEK) == 2
    assert keystore.versions(tenant, KeyKind.KEK) == [1, 2]
    assert keystore.current_version(tenant, KeyKind.KEK) == 2
    new = keystore.wrap(tenant, 2, key, b"a")
    assert keystore.unwrap(tenant, 1, old, b"a") == key
    assert keystore.unwrap(tenant, 2, new, b"a") == key
    with pytest.raises(KeystoreError):
        keystore.unwrap(tenant, 2, old, b"a")
    with pytest.raises(KeystoreError, match="version 3"):
        keystore.wrap(tenant, 3, key, b"a")


def test_sign_gives_der_ecdsa_p256(keystore: Keystore, lgwan_tenant: str) -> None:
    data = "監査チェックポイント".encode()
    signature = keystore.sign(lgwan_tenant, 1, data)
    public = keystore.signing_public_key(lgwan_tenant, 1)
    assert isinstance(public.curve, ec.SECP256R1)
    public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public.verify(signature, data + b"x", ec.ECDSA(hashes.SHA256()))


def test_signing_versions_have_distinct_keys(keystore: Keystore, new_tenant: Callable[[], str]) -> None:
    tenant = new_tenant()
    keystore.create_tenant(tenant, with_submission_key=False)
    assert keystore.add_version(tenant, KeyKind.SIGNING) == 2
    sig1 = keystore.sign(tenant, 1, b"x")
    keystore.signing_public_key(tenant, 1).verify(sig1, b"x", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        keystore.signing_public_key(tenant, 2).verify(sig1, b"x", ec.ECDSA(hashes.SHA256()))


def test_submission_decrypt_is_rsa3072_oaep_sha256(keystore: Keystore, lgwan_tenant: str) -> None:
    public = keystore.submission_public_key(lgwan_tenant, 1)
    assert public.key_size == 3072
    cek = os.urandom(32)
    assert keystore.submission_decrypt(lgwan_tenant, 1, public.encrypt(cek, OAEP)) == cek
    short = public.encrypt(b"", OAEP)
    assert keystore.submission_decrypt(lgwan_tenant, 1, short) == b""


def test_submission_decrypt_rejects_altered_or_foreign_ciphertext(
    keystore: Keystore, lgwan_tenant: str
) -> None:
    public = keystore.submission_public_key(lgwan_tenant, 1)
    ciphertext = bytearray(public.encrypt(os.urandom(32), OAEP))
    ciphertext[-1] ^= 1
    with pytest.raises(KeystoreError, match="does not decrypt"):
        keystore.submission_decrypt(lgwan_tenant, 1, bytes(ciphertext))
    sha1 = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    with pytest.raises(KeystoreError, match="does not decrypt"):
        keystore.submission_decrypt(lgwan_tenant, 1, public.encrypt(b"k" * 32, sha1))
    with pytest.raises(KeystoreError, match="does not decrypt"):
        keystore.submission_decrypt(lgwan_tenant, 1, b"\x01" * 10)


def test_secrets(keystore: Keystore, lgwan_tenant: str) -> None:
    keystore.put_secret(lgwan_tenant, "db_password", b"s3cret")
    assert keystore.get_secret(lgwan_tenant, "db_password") == b"s3cret"
    keystore.put_secret(lgwan_tenant, "db_password", b"rotated")
    assert keystore.get_secret(lgwan_tenant, "db_password") == b"rotated"
    with pytest.raises(KeystoreError, match="no secret 'missing'"):
        keystore.get_secret(lgwan_tenant, "missing")
    with pytest.raises(KeystoreError, match="no keys"):
        keystore.put_secret("999998", "db_password", b"x")


def test_delete_tenant_removes_every_key(keystore: Keystore, new_tenant: Callable[[], str]) -> None:
    tenant = new_tenant()
    keystore.create_tenant(tenant, with_submission_key=False)
    keystore.put_secret(tenant, "x", b"y")
    keystore.delete_tenant(tenant)
    assert not keystore.has_tenant(tenant)
    with pytest.raises(KeystoreError, match="no keys"):
        keystore.versions(tenant, KeyKind.SIGNING)
    with pytest.raises(KeystoreError):
        keystore.get_secret(tenant, "x")
    keystore.create_tenant(tenant, with_submission_key=False)  # the code can be used again
    assert keystore.versions(tenant, KeyKind.KEK) == [1]
