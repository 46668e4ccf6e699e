"""Shared, session-scoped keys and CA: RSA-2048 key generation is the slow part, so it happens once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric import rsa

from jichitai.platform.pki.ca import CAConfig, TestCA, new_rsa_key
from jichitai.platform.pki.card import CardStore, VirtualCard
from jichitai.platform.pki.issuance import Resident, issue_card
from jichitai.platform.pki.rules import BasicFacts, Sex
from jichitai.platform.pki.verify import CrlStore, TrustStore

# A fixed clock keeps validity dates deterministic: 2026-04-01 12:00 JST.
NOW = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)
CA_PASSPHRASE = b"test-ca-passphrase"
CARD_PASSPHRASE = b"test-card-store-passphrase"
AUTH_PIN = "1234"
SIGN_PIN = "ABC123XYZ"

ADULT = Resident(
    facts=BasicFacts(
        name="山田　花子",
        address="東京都千代田区霞が関二丁目1番2号",
        birth_date=date(1990, 1, 2),
        sex=Sex.FEMALE,
    ),
    name_kana="ヤマダ　ハナコ",
)


@pytest.fixture(scope="session")
def key_pool() -> list[rsa.RSAPrivateKey]:
    return [new_rsa_key() for _ in range(6)]


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory, key_pool: list[rsa.RSAPrivateKey]) -> TestCA:
    return TestCA.create(
        tmp_path_factory.mktemp("ca"),
        CA_PASSPHRASE,
        CAConfig(crl_distribution_url="http://127.0.0.1:9999/crl.der"),
        now=NOW - timedelta(days=30),
        key=key_pool[0],
    )


@pytest.fixture(scope="session")
def foreign_ca(tmp_path_factory: pytest.TempPathFactory, key_pool: list[rsa.RSAPrivateKey]) -> TestCA:
    """Another CA with the very same name as ``ca`` but its own key: must never be trusted."""
    return TestCA.create(
        tmp_path_factory.mktemp("foreign"), CA_PASSPHRASE, now=NOW - timedelta(days=30), key=key_pool[1]
    )


@pytest.fixture(scope="session")
def trust_store(ca: TestCA) -> TrustStore:
    return TrustStore.from_paths([ca.directory / TestCA.CERT_FILE])


@pytest.fixture
def fast_hasher() -> PasswordHasher:
    # The real parameters cost ~30 ms a check; the PIN logic is the same with cheap ones.
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture
def store(tmp_path: Path, fast_hasher: PasswordHasher) -> CardStore:
    return CardStore(tmp_path / "cards", CARD_PASSPHRASE, pin_hasher=fast_hasher)


@pytest.fixture
def card(ca: TestCA, store: CardStore, key_pool: list[rsa.RSAPrivateKey]) -> VirtualCard:
    return issue_card(
        ca, store, ADULT, auth_pin=AUTH_PIN, sign_pin=SIGN_PIN, now=NOW, keys=(key_pool[2], key_pool[3])
    )


@pytest.fixture
def crls(ca: TestCA) -> CrlStore:
    return CrlStore([ca.publish_crl(now=NOW - timedelta(hours=1))])
