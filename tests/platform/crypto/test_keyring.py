"""TenantKeyring: provisioning, field encryption across tenants, rotation, signatures, JWK."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from jwcrypto import jwk as jwcrypto_jwk
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from jichitai.platform.crypto import jwe
from jichitai.platform.crypto.fields import FieldCryptoError, blob_key_id
from jichitai.platform.crypto.keyring import TenantKeyring, clear_data_key_cache, data_key_aad
from jichitai.platform.crypto.keystore import KeyKind, Keystore, KeystoreError
from jichitai.platform.crypto.models import DataKey, PublicKey
from jichitai.platform.zones import Zone

MY_NUMBER = "123456789018"


def _db() -> Session:
    engine = create_engine("sqlite://")
    DataKey.__table__.create(engine)  # type: ignore[attr-defined]
    PublicKey.__table__.create(engine)  # type: ignore[attr-defined]
    return Session(engine)


@pytest.fixture
def make_keyring(keystore: Keystore, new_tenant: Callable[[], str]) -> Iterator[Callable[..., TenantKeyring]]:
    """Builds provisioned keyrings of fresh tenants, each with its own database."""
    sessions: list[Session] = []

    def make(with_submission_key: bool = False) -> TenantKeyring:
        tenant = new_tenant()
        keystore.create_tenant(tenant, with_submission_key=with_submission_key)
        session = _db()
        sessions.append(session)
        keyring = TenantKeyring(keystore, session, tenant, Zone.LGWAN)
        keyring.provision()
        session.commit()
        return keyring

    clear_data_key_cache()
    yield make
    for s in sessions:
        s.close()


def _fresh(keyring: TenantKeyring) -> TenantKeyring:
    """Another unit of work of the same tenant, with the process cache emptied."""
    clear_data_key_cache()
    return TenantKeyring(keyring.keystore, keyring.session, keyring.tenant, keyring.zone)


def test_provision_creates_data_keys_and_public_keys(make_keyring: Callable[..., TenantKeyring]) -> None:
    keyring = make_keyring()
    rows = keyring.session.scalars(select(DataKey).order_by(DataKey.purpose)).all()
    assert [(r.purpose, r.version, r.kek_version, r.status) for r in rows] == [
        ("blind_index", 1, 1, "active"),
        ("field", 1, 1, "active"),
    ]
    assert all(len(r.wrapped) == 60 for r in rows)
    public = keyring.session.scalars(select(PublicKey)).all()
    assert [(p.kind, p.version, p.format) for p in public] == [("signing", 1, "pem")]
    assert public[0].public_key.startswith("-----BEGIN PUBLIC KEY-----")
    with pytest.raises(KeystoreError, match="already has data keys"):
        keyring.provision()


def test_provision_needs_keystore_keys(keystore: Keystore) -> None:
    with pytest.raises(KeystoreError, match="no keys in the lgwan keystore yet"):
        TenantKeyring(keystore, _db(), "999997", Zone.LGWAN).provision()


def test_keyring_refuses_another_zones_keystore(keystore: Keystore) -> None:
    with pytest.raises(KeystoreError, match="belongs to zone lgwan, not mynumber"):
        TenantKeyring(keystore, _db(), "131016", Zone.MYNUMBER)


def test_field_round_trip_and_row_binding(make_keyring: Callable[..., TenantKeyring]) -> None:
    keyring = make_keyring()
    blob = keyring.field_encrypt("residents", "my_number", 42, MY_NUMBER)
    assert keyring.field_decrypt("residents", "my_number", 42, blob) == MY_NUMBER
    assert _fresh(keyring).field_decrypt("residents", "my_number", 42, blob) == MY_NUMBER
    with pytest.raises(FieldCryptoError, match="another row, column or tenant"):
        keyring.field_decrypt("residents", "my_number", 43, blob)
    with pytest.raises(FieldCryptoError, match="another row, column or tenant"):
        keyring.field_decrypt("residents", "phone", 42, blob)


def test_ciphertext_moved_to_another_tenant_fails(make_keyring: Callable[..., TenantKeyring]) -> None:
    a, b = make_keyring(), make_keyring()
    blob_a = a.field_encrypt("residents", "my_number", 1, MY_NUMBER)
    blob_b = b.field_encrypt("residents", "my_number", 1, MY_NUMBER)
    # Both databases number their first data key alike: the cache must still keep them apart.
    assert blob_key_id(blob_a) == blob_key_id(blob_b)
    with pytest.raises(FieldCryptoError, match="another row, column or tenant"):
        b.field_decrypt("residents", "my_number", 1, blob_a)
    with pytest.raises(FieldCryptoError, match="another row, column or tenant"):
        a.field_decrypt("residents", "my_number", 1, blob_b)
    assert a.field_decrypt("residents", "my_number", 1, blob_a) == MY_NUMBER
    assert b.field_decrypt("residents", "my_number", 1, blob_b) == MY_NUMBER


def test_unknown_data_key_id_is_named(make_keyring: Callable[..., TenantKeyring]) -> None:
    keyring = make_keyring()
    blob = keyring.field_encrypt("residents", "my_number", 1, MY_NUMBER)
    foreign = blob[:1] + (99).to_bytes(4, "big") + blob[5:]
    with pytest.raises(FieldCryptoError, match="names data key 99, which tenant"):
        keyring.field_decrypt("residents", "my_number", 1, foreign)


def test_blind_index_equality_search(make_keyring: Callable[..., TenantKeyring]) -> None:
    a, b = make_keyring(), make_keyring()
    index = a.blind_index("my_number", MY_NUMBER)
    assert index == _fresh(a).blind_index("my_number", MY_NUMBER)
    assert index != a.blind_index("my_number", "123456789026")
    assert index != a.blind_index("applicant_my_number", MY_NUMBER)
    assert index != b.blind_index("my_number", MY_NUMBER)


def test_swapped_wrapped_data_key_does_not_unwrap(make_keyring: Callable[..., TenantKeyring]) -> None:
    keyring = make_keyring()
    field, blind = (
        keyring.session.scalars(select(DataKey).where(DataKey.purpose == p)).one()
        for p in ("field", "blind_index")
    )
    field.wrapped, blind.wrapped = blind.wrapped, field.wrapped
    with pytest.raises(KeystoreError, match="does not unwrap"):
        _fresh(keyring).field_encrypt("residents", "my_number", 1, MY_NUMBER)


def test_rotation_rewraps_and_old_ciphertext_still_decrypts(
    make_keyring: Callable[..., TenantKeyring], keystore: Keystore
) -> None:
    keyring = make_keyring()
    old_blob = keyring.field_encrypt("residents", "my_number", 1, MY_NUMBER)
    old_index = keyring.blind_index("my_number", MY_NUMBER)
    old_wrapped = {r.id: r.wrapped for r in keyring.session.scalars(select(DataKey))}

    report = keyring.rotate()
    keyring.session.commit()

    assert (report.old_kek_version, report.new_kek_version) == (1, 2)
    assert report.rewrapped == 2
    assert report.new_field_key_version == 2
    assert keystore.versions(keyring.tenant, KeyKind.KEK) == [1, 2]
    rows = keyring.session.scalars(select(DataKey).order_by(DataKey.id)).all()
    assert all(r.kek_version == 2 for r in rows)
    assert all(r.wrapped != old_wrapped[r.id] for r in rows if r.id in old_wrapped)
    assert [(r.purpose, r.version, r.status) for r in rows] == [
        ("field", 1, "retired"),
        ("blind_index", 1, "active"),
        ("field", 2, "active"),
    ]
    # each row now unwraps under KEK 2 and no longer under KEK 1
    for r in rows:
        aad = data_key_aad(keyring.zone, keyring.tenant, r.purpose, r.version)
        assert len(keystore.unwrap(keyring.tenant, 2, r.wrapped, aad)) == 32
        with pytest.raises(KeystoreError):
            keystore.unwrap(keyring.tenant, 1, r.wrapped, aad)

    later = _fresh(keyring)
    assert later.field_decrypt("residents", "my_number", 1, old_blob) == MY_NUMBER
    new_blob = later.field_encrypt("residents", "my_number", 2, MY_NUMBER)
    assert blob_key_id(new_blob) == rows[2].id != blob_key_id(old_blob)
    assert later.field_decrypt("residents", "my_number", 2, new_blob) == MY_NUMBER
    assert later.blind_index("my_number", MY_NUMBER) == old_index  # search keeps working


def test_rotation_without_new_field_key(make_keyring: Callable[..., TenantKeyring]) -> None:
    keyring = make_keyring()
    blob = keyring.field_encrypt("t", "c", 1, "x")
    report = keyring.rotate(new_field_key=False)
    assert report.new_field_key_version is None
    assert blob_key_id(keyring.field_encrypt("t", "c", 1, "x")) == blob_key_id(blob)
    assert _fresh(keyring).field_decrypt("t", "c", 1, blob) == "x"


def test_rolled_back_rotation_leaves_keys_usable(make_keyring: Callable[..., TenantKeyring]) -> None:
    keyring = make_keyring()
    blob = keyring.field_encrypt("t", "c", 1, "x")
    keyring.rotate()
    keyring.session.rollback()
    rows = keyring.session.scalars(select(DataKey)).all()
    assert {r.kek_version for r in rows} == {1}
    assert len(rows) == 2
    assert _fresh(keyring).field_decrypt("t", "c", 1, blob) == "x"


def test_sign_verify_and_signing_rotation(make_keyring: Callable[..., TenantKeyring]) -> None:
    keyring = make_keyring()
    version, signature = keyring.sign(b"checkpoint 10")
    assert version == 1
    assert keyring.verify(1, b"checkpoint 10", signature)
    assert not keyring.verify(1, b"checkpoint 11", signature)
    assert not keyring.verify(1, b"checkpoint 10", signature[:-1] + bytes([signature[-1] ^ 1]))
    assert keyring.rotate_signing_key() == 2
    version2, signature2 = keyring.sign(b"checkpoint 20")
    assert version2 == 2
    assert keyring.verify(2, b"checkpoint 20", signature2)
    assert keyring.verify(1, b"checkpoint 10", signature)
    assert not keyring.verify(2, b"checkpoint 10", signature)
    kinds = keyring.session.execute(select(PublicKey.kind, PublicKey.version)).all()
    assert sorted(kinds) == [("signing", 1), ("signing", 2)]


def test_submission_jwk_and_decryption(make_keyring: Callable[..., TenantKeyring]) -> None:
    keyring = make_keyring(with_submission_key=True)
    jwk = keyring.submission_public_jwk()
    assert jwk["kid"] == f"{keyring.tenant}-1"
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RSA-OAEP-256", "enc")
    assert jwcrypto_jwk.JWK.from_json(json.dumps(jwk)).export_public(as_dict=True)["n"] == jwk["n"]
    published = keyring.session.scalars(select(PublicKey).where(PublicKey.kind == "submission")).one()
    assert json.loads(published.public_key) == jwk

    token = jwe.encrypt(
        "申請書".encode(), jwe.rsa_public_key_from_jwk(jwk), jwk["kid"], {"typ": "submission"}
    )
    headers, plaintext = keyring.decrypt_submission(token)
    assert plaintext.decode() == "申請書"
    assert headers["typ"] == "submission"

    other = make_keyring(with_submission_key=True)
    with pytest.raises(jwe.JweError, match=f"not to tenant {other.tenant}"):
        other.decrypt_submission(token)


def test_published_jwk_in_a_zone_without_the_key_pair(make_keyring: Callable[..., TenantKeyring]) -> None:
    lgwan = make_keyring(with_submission_key=True)
    jwk = lgwan.submission_public_jwk()
    # a zone whose keystore has no submission key for this tenant reads the published copy
    other = make_keyring()
    portal = TenantKeyring(other.keystore, other.session, other.tenant, Zone.LGWAN)
    with pytest.raises(KeystoreError, match="no submission public key"):
        portal.submission_public_jwk()
    relabelled = {**jwk, "kid": f"{other.tenant}-1"}
    portal.publish_submission_jwk(1, relabelled)
    assert portal.submission_public_jwk() == relabelled
    with pytest.raises(KeystoreError, match="is not"):
        portal.publish_submission_jwk(2, relabelled)
