"""PKI for the internet zone's tests: a test CA, a virtual card and certificates for each refusal.

RSA key generation is the slow part, so keys, CA and certificates are made once per session; each
test's storage gets the CA certificate and CRL written where the settings look for them
(``<home>/pki/``), exactly as ``jichitai pki init-ca`` leaves them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jichitai.internet.submissions.encryption import forget_submission_keys
from jichitai.internet.submissions.verification import forget_trust_material
from jichitai.platform.pki import CardStore, Resident, TestCA, VirtualCard, issue_card
from jichitai.platform.pki.ca import new_rsa_key
from jichitai.platform.pki.rules import BasicFacts, Sex
from jichitai.platform.storage import Storage

CA_PASSPHRASE = b"internet-test-ca-passphrase"
CARD_PASSPHRASE = b"internet-test-card-passphrase"
AUTH_PIN = "1234"
SIGN_PIN = "ABC123XYZ"
NOW = datetime.now(UTC).replace(microsecond=0)

RESIDENT = Resident(
    facts=BasicFacts(
        name="山田　花子",
        address="東京都千代田区霞が関二丁目1番2号",
        birth_date=date(1990, 1, 2),
        sex=Sex.FEMALE,
    ),
    name_kana="ヤマダ　ハナコ",
)


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass(frozen=True)
class Pki:
    """Everything a test needs to sign like a resident, and to fail like one."""

    ca: TestCA
    card: VirtualCard
    sign_key: rsa.RSAPrivateKey
    auth_key: rsa.RSAPrivateKey
    sign_cert: x509.Certificate
    auth_cert: x509.Certificate
    expired_cert: x509.Certificate  # signing certificate of sign_key whose validity ended
    revoked_cert: x509.Certificate  # signing certificate of sign_key, revoked (key compromise)
    foreign_cert: x509.Certificate  # same CA name, another CA key: must not chain
    foreign_key: rsa.RSAPrivateKey

    def install(self, storage: Storage) -> None:
        """Write the CA certificate and its CRL where the installation's settings look for them."""
        target = storage.settings.pki_dir
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.ca.directory / TestCA.CERT_FILE, target / "ca-cert.pem")
        shutil.copyfile(self.ca.directory / "crl.pem", target / "crl.pem")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    keys = [new_rsa_key() for _ in range(5)]
    ca = TestCA.create(
        tmp_path_factory.mktemp("ca"), CA_PASSPHRASE, now=NOW - timedelta(days=30), key=keys[0]
    )
    foreign = TestCA.create(
        tmp_path_factory.mktemp("foreign"), CA_PASSPHRASE, now=NOW - timedelta(days=30), key=keys[1]
    )
    store = CardStore(
        tmp_path_factory.mktemp("cards"),
        CARD_PASSPHRASE,
        pin_hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
    )
    card = issue_card(
        ca,
        store,
        RESIDENT,
        auth_pin=AUTH_PIN,
        sign_pin=SIGN_PIN,
        now=NOW - timedelta(days=1),
        keys=(keys[2], keys[3]),
    )
    sign_cert = card.signing_certificate(SIGN_PIN)
    expired = ca.issue_signing_certificate(
        keys[3].public_key(), RESIDENT.facts, now=NOW - timedelta(days=6 * 366)
    )
    revoked = ca.issue_signing_certificate(keys[3].public_key(), RESIDENT.facts, now=NOW - timedelta(days=2))
    ca.revoke(revoked.serial_number, "key_compromise", now=NOW - timedelta(hours=2))
    ca.publish_crl(now=NOW - timedelta(hours=1))
    foreign_cert = foreign.issue_signing_certificate(
        keys[4].public_key(), RESIDENT.facts, now=NOW - timedelta(days=1)
    )
    return Pki(
        ca=ca,
        card=card,
        sign_key=keys[3],
        auth_key=keys[2],
        sign_cert=sign_cert,
        auth_cert=card.authentication_certificate(),
        expired_cert=expired,
        revoked_cert=revoked,
        foreign_cert=foreign_cert,
        foreign_key=keys[4],
    )


@pytest.fixture
def internet(storage: Storage, pki: Pki) -> Iterator[Storage]:
    """The ``storage`` fixture (SQLite and PostgreSQL) with the test CA as trust anchor."""
    pki.install(storage)
    yield storage
    forget_trust_material()
    forget_submission_keys()


@pytest.fixture
def internet_sqlite(sqlite_storage: Storage, pki: Pki) -> Iterator[Storage]:
    pki.install(sqlite_storage)
    yield sqlite_storage
    forget_trust_material()
    forget_submission_keys()


def pki_dir(storage: Storage) -> Path:
    return storage.settings.pki_dir
