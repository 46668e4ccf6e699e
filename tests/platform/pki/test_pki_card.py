from __future__ import annotations

import json

import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jichitai.platform.errors import ConfigurationError, ValidationError
from jichitai.platform.pki.ca import TestCA
from jichitai.platform.pki.card import CardStore, VirtualCard
from jichitai.platform.pki.errors import CardLocked, CardNotFound, PinFormatError, WrongPin
from jichitai.platform.pki.issuance import issue_card
from jichitai.platform.pki.rules import CertificateKind

from .conftest import ADULT, AUTH_PIN, CARD_PASSPHRASE, NOW, SIGN_PIN

AUTH = CertificateKind.AUTHENTICATION
SIGN = CertificateKind.SIGNING


def test_wrong_auth_pin_counts_down_and_locks_after_3(card: VirtualCard) -> None:
    assert card.remaining_tries(AUTH) == 3
    for left in (2, 1):
        with pytest.raises(WrongPin) as info:
            card.authenticate("0000", b"c")
        assert info.value.remaining_tries == left
        assert info.value.message_ja is not None
        assert f"残り{left}回" in info.value.message_ja
    with pytest.raises(CardLocked) as locked:
        card.authenticate("0000", b"c")
    assert locked.value.remaining_tries == 0
    assert locked.value.message_ja is not None
    assert "ロック" in locked.value.message_ja
    # Locked: even the right PIN is refused, and the count stays at zero.
    with pytest.raises(CardLocked):
        card.authenticate(AUTH_PIN, b"c")
    assert card.remaining_tries(AUTH) == 0
    assert card.summary().auth_locked
    # The signing PIN is a separate counter.
    assert card.sign(SIGN_PIN, b"data")


def test_wrong_sign_pin_locks_after_5(card: VirtualCard) -> None:
    for left in (4, 3, 2, 1):
        with pytest.raises(WrongPin) as info:
            card.sign("WRONG1", b"d")
        assert info.value.remaining_tries == left
    with pytest.raises(CardLocked):
        card.sign("WRONG1", b"d")
    with pytest.raises(CardLocked):
        card.sign(SIGN_PIN, b"d")
    with pytest.raises(CardLocked):
        card.signing_certificate(SIGN_PIN)
    assert card.summary().sign_locked
    assert not card.summary().auth_locked
    assert card.authenticate(AUTH_PIN, b"c")


def test_right_pin_restores_the_count(card: VirtualCard) -> None:
    with pytest.raises(WrongPin):
        card.authenticate("9999", b"c")
    assert card.remaining_tries(AUTH) == 2
    card.authenticate(AUTH_PIN, b"c")
    assert card.remaining_tries(AUTH) == 3


@pytest.mark.parametrize(("kind", "pin"), [(AUTH, "123"), (AUTH, "abcd"), (SIGN, "abc123"), (SIGN, "AB12")])
def test_invalid_pin_format_costs_no_try(card: VirtualCard, kind: CertificateKind, pin: str) -> None:
    use = card.authenticate if kind is AUTH else card.sign
    with pytest.raises(PinFormatError) as info:
        use(pin, b"data")
    assert info.value.message_ja is not None
    assert card.remaining_tries(kind) == (3 if kind is AUTH else 5)


def test_signature_is_pkcs1v15_sha256_with_the_card_key(card: VirtualCard) -> None:
    signature, cert = card.sign_with_certificate(SIGN_PIN, b"payload")
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, b"payload", padding.PKCS1v15(), hashes.SHA256())
    auth_sig = card.authenticate(AUTH_PIN, b"nonce")
    auth_key = card.authentication_certificate().public_key()
    assert isinstance(auth_key, rsa.RSAPublicKey)
    auth_key.verify(auth_sig, b"nonce", padding.PKCS1v15(), hashes.SHA256())
    assert auth_sig != card.sign(SIGN_PIN, b"nonce")  # two different keys


def test_counters_persist_across_store_instances(
    card: VirtualCard, store: CardStore, fast_hasher: PasswordHasher
) -> None:
    with pytest.raises(WrongPin):
        card.authenticate("0000", b"c")
    again = CardStore(store.directory, CARD_PASSPHRASE, pin_hasher=fast_hasher).open(card.card_id)
    assert again.remaining_tries(AUTH) == 2


def test_secrets_at_rest(card: VirtualCard, store: CardStore) -> None:
    raw = (store.directory / card.card_id / "card.json").read_text(encoding="utf-8")
    assert SIGN_PIN not in raw
    assert f'"{AUTH_PIN}"' not in raw
    assert "BEGIN PRIVATE KEY" not in raw
    assert "BEGIN RSA PRIVATE KEY" not in raw
    state = json.loads(raw)
    for slot in ("auth", "sign"):
        assert state[slot]["pin_hash"].startswith("$argon2id$")
        assert state[slot]["key"].startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert not list((store.directory / card.card_id).glob(".*.tmp"))


def test_wrong_store_passphrase_cannot_use_keys(
    card: VirtualCard, store: CardStore, fast_hasher: PasswordHasher
) -> None:
    other = CardStore(store.directory, b"another-passphrase", pin_hasher=fast_hasher).open(card.card_id)
    with pytest.raises(ConfigurationError):
        other.sign(SIGN_PIN, b"d")


def test_reset_pin_unlocks(card: VirtualCard, store: CardStore) -> None:
    for _ in range(3):
        with pytest.raises((WrongPin, CardLocked)):
            card.authenticate("0000", b"c")
    store.reset_pin(card.card_id, AUTH, "4321")
    with pytest.raises(WrongPin):
        card.authenticate(AUTH_PIN, b"c")
    assert card.authenticate("4321", b"c")
    with pytest.raises(PinFormatError):
        store.reset_pin(card.card_id, SIGN, "short")


def test_store_listing_and_lookup(
    ca: TestCA, store: CardStore, card: VirtualCard, key_pool: list[rsa.RSAPrivateKey]
) -> None:
    second = issue_card(
        ca, store, ADULT, auth_pin="5555", sign_pin="ZZZ999", now=NOW, keys=(key_pool[4], key_pool[5])
    )
    ids = {c.card_id for c in store.list_cards()}
    assert ids == {card.card_id, second.card_id}
    assert store.open(second.card_id).holder_name == ADULT.facts.name
    with pytest.raises(CardNotFound):
        store.open("NOPE")
    with pytest.raises(ValidationError):
        store.open("../etc")


def test_issue_card_checks_pins_before_issuing(
    ca: TestCA, store: CardStore, key_pool: list[rsa.RSAPrivateKey]
) -> None:
    before = len(ca.records())
    with pytest.raises(PinFormatError):
        issue_card(
            ca, store, ADULT, auth_pin="12", sign_pin=SIGN_PIN, now=NOW, keys=(key_pool[2], key_pool[3])
        )
    with pytest.raises(PinFormatError):
        issue_card(
            ca, store, ADULT, auth_pin=AUTH_PIN, sign_pin=None, now=NOW, keys=(key_pool[2], key_pool[3])
        )
    assert len(ca.records()) == before
    assert store.list_cards() == []


def test_certificate_must_match_key(ca: TestCA, store: CardStore, key_pool: list[rsa.RSAPrivateKey]) -> None:
    cert = ca.issue_authentication_certificate(key_pool[2].public_key(), ADULT.facts.birth_date, now=NOW)
    with pytest.raises(ValidationError, match="does not belong"):
        store.create_card(
            holder_name="x",
            holder_kana="エックス",
            auth_key=key_pool[3],
            auth_certificate=cert,
            auth_pin=AUTH_PIN,
        )
