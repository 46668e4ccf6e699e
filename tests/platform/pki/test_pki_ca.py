from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

from jichitai.platform.errors import ConfigurationError, Conflict, NotFound, ValidationError
from jichitai.platform.pki.ca import TestCA
from jichitai.platform.pki.card import CardStore
from jichitai.platform.pki.errors import NoSigningCertificate
from jichitai.platform.pki.issuance import Resident, issue_card
from jichitai.platform.pki.profile import facts_from_certificate
from jichitai.platform.pki.rules import JST, BasicFacts, Sex

from .conftest import ADULT, AUTH_PIN, CA_PASSPHRASE, NOW, SIGN_PIN


def _ku(cert: x509.Certificate) -> x509.Extension[x509.KeyUsage]:
    return cert.extensions.get_extension_for_class(x509.KeyUsage)


def test_root_profile(ca: TestCA) -> None:
    root = ca.certificate
    assert root.subject == root.issuer
    root.verify_directly_issued_by(root)
    bc = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical
    assert bc.value.ca
    assert _ku(ca.certificate).value.key_cert_sign
    assert _ku(ca.certificate).value.crl_sign
    assert isinstance(root.signature_hash_algorithm, hashes.SHA256)
    key = root.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size >= 2048
    assert (ca.directory / "ca-key.pem").read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")


def test_signing_certificate_profile(ca: TestCA, key_pool: list[rsa.RSAPrivateKey]) -> None:
    cert = ca.issue_signing_certificate(key_pool[3].public_key(), ADULT.facts, now=NOW)
    ku = _ku(cert)
    assert ku.critical
    assert ku.value.digital_signature
    assert ku.value.content_commitment
    assert not ku.value.key_encipherment
    assert not ku.value.key_cert_sign
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    cert.verify_directly_issued_by(ca.certificate)

    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    others = san.get_values_for_type(x509.OtherName)
    assert {o.type_id.dotted_string for o in others} == {
        "1.2.392.200149.8.5.5.1",
        "1.2.392.200149.8.5.5.3",
        "1.2.392.200149.8.5.5.4",
        "1.2.392.200149.8.5.5.5",
    }
    by_oid = {o.type_id.dotted_string: o.value for o in others}
    assert all(v[0] == 0x0C for v in by_oid.values())  # UTF8String
    assert by_oid["1.2.392.200149.8.5.5.1"].endswith("山田　花子".encode())
    assert by_oid["1.2.392.200149.8.5.5.4"] == b"\x0c\x09419900102"
    assert by_oid["1.2.392.200149.8.5.5.3"] == b"\x0c\x012"
    assert facts_from_certificate(cert) == ADULT.facts

    # The subject holds no personal fact: C=JP and an opaque identifier only.
    assert {a.oid for a in cert.subject} == {NameOID.COUNTRY_NAME, NameOID.COMMON_NAME}
    assert "山田" not in cert.subject.rfc4514_string()

    dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert dp[0].full_name == [x509.UniformResourceIdentifier("http://127.0.0.1:9999/crl.der")]
    assert cert.not_valid_after_utc == datetime(2031, 1, 2, 23, 59, 59, tzinfo=JST)
    assert cert.not_valid_before_utc == NOW
    assert cert.serial_number.bit_length() > 64


def test_authentication_certificate_has_no_facts(ca: TestCA, key_pool: list[rsa.RSAPrivateKey]) -> None:
    cert = ca.issue_authentication_certificate(key_pool[2].public_key(), ADULT.facts.birth_date, now=NOW)
    ku = _ku(cert).value
    assert ku.digital_signature
    assert not ku.content_commitment
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert facts_from_certificate(cert) is None
    der = cert.tbs_certificate_bytes
    for fact in (ADULT.facts.name, ADULT.facts.address, "419900102"):
        assert fact.encode() not in der
    assert cert.not_valid_after_utc == datetime(2031, 1, 2, 23, 59, 59, tzinfo=JST)


def test_only_rsa_2048_keys_are_certified(ca: TestCA) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    with pytest.raises(ValidationError):
        ca.issue_authentication_certificate(
            ec.generate_private_key(ec.SECP256R1()).public_key(),  # type: ignore[arg-type]
            date(1990, 1, 2),
            now=NOW,
        )


def test_child_under_15_gets_no_signing_certificate(
    ca: TestCA, store: CardStore, key_pool: list[rsa.RSAPrivateKey]
) -> None:
    child = Resident(
        BasicFacts("山田　一郎", "東京都千代田区1", date(2015, 6, 1), Sex.MALE), "ヤマダ　イチロウ"
    )
    with pytest.raises(ValidationError, match="under 15"):
        ca.issue_signing_certificate(key_pool[3].public_key(), child.facts, now=NOW)
    card = issue_card(
        ca, store, child, auth_pin=AUTH_PIN, sign_pin=None, now=NOW, keys=(key_pool[2], key_pool[3])
    )
    assert not card.has_signing_certificate
    assert card.authentication_certificate().not_valid_after_utc.date() == date(2030, 6, 1)
    with pytest.raises(NoSigningCertificate):
        card.sign(SIGN_PIN, b"x")


def test_state_persists_and_passphrase_is_needed(ca: TestCA, key_pool: list[rsa.RSAPrivateKey]) -> None:
    cert = ca.issue_authentication_certificate(
        key_pool[2].public_key(), date(1990, 1, 2), holder_ref="R-1", card_id="C1", now=NOW
    )
    reopened = TestCA.open(ca.directory, CA_PASSPHRASE)
    rec = reopened.record(f"{cert.serial_number:x}")  # lower-case hex is accepted too
    assert rec.holder_ref == "R-1"
    assert rec.card_id == "C1"
    assert reopened.get_certificate(rec.serial) == cert
    assert not list(ca.directory.glob(".*.tmp"))
    with pytest.raises(ConfigurationError, match="cannot unlock"):
        TestCA.open(ca.directory, b"wrong-passphrase")
    with pytest.raises(Conflict):
        TestCA.create(ca.directory, CA_PASSPHRASE, key=key_pool[0])


def test_open_missing_ca(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no CA") as info:
        TestCA.open(tmp_path, CA_PASSPHRASE)
    assert info.value.hint is not None
    assert "init-ca" in info.value.hint


def test_revoke_and_publish_crl(ca: TestCA, key_pool: list[rsa.RSAPrivateKey]) -> None:
    cert = ca.issue_signing_certificate(key_pool[3].public_key(), ADULT.facts, now=NOW)
    before = ca.publish_crl(now=NOW)
    assert before.get_revoked_certificate_by_serial_number(cert.serial_number) is None

    rec = ca.revoke(f"{cert.serial_number:X}", "key_compromise", now=NOW + timedelta(minutes=1))
    assert rec.revoked
    assert rec.status() == "revoked"
    crl = ca.publish_crl(now=NOW + timedelta(minutes=2))
    assert crl.is_signature_valid(ca.certificate.public_key())  # type: ignore[arg-type]
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        is x509.ReasonFlags.key_compromise
    )
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number == before.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
    assert crl.next_update_utc == NOW + timedelta(minutes=2, hours=24)
    assert x509.load_pem_x509_crl((ca.directory / "crl.pem").read_bytes()) == crl
    assert ca.latest_crl() == crl

    with pytest.raises(Conflict):
        ca.revoke(cert.serial_number, "superseded")
    with pytest.raises(NotFound):
        ca.revoke("ABCDEF", "superseded")
    with pytest.raises(ValidationError, match="unknown revocation reason"):
        ca.revoke(cert.serial_number, "because")


def test_revoke_for_change(ca: TestCA, key_pool: list[rsa.RSAPrivateKey]) -> None:
    cert = ca.issue_signing_certificate(key_pool[3].public_key(), ADULT.facts, now=NOW)
    assert ca.revoke_for_change(cert.serial_number, ADULT.facts, now=NOW) == []
    assert not ca.record(cert.serial_number).revoked

    moved = BasicFacts(ADULT.facts.name, "大阪府大阪市北区1", ADULT.facts.birth_date, ADULT.facts.sex)
    assert ca.revoke_for_change(cert.serial_number, moved, now=NOW) == ["address"]
    rec = ca.record(cert.serial_number)
    assert rec.revoked
    assert rec.reason == "affiliation_changed"
    entry = ca.publish_crl(now=NOW).get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.affiliation_changed

    auth = ca.issue_authentication_certificate(key_pool[2].public_key(), ADULT.facts.birth_date, now=NOW)
    with pytest.raises(ValidationError, match="only a signing certificate"):
        ca.revoke_for_change(auth.serial_number, moved, now=NOW)
    assert not ca.record(auth.serial_number).revoked


def test_unknown_oid_is_not_a_fact() -> None:
    # Guard the OID table: the arc is J-LIS's, the sub-arcs are the documented ones.
    from jichitai.platform.pki import profile

    assert ObjectIdentifier("1.2.392.200149.8.5.5.1") == profile.OID_NAME
    assert ObjectIdentifier("1.2.392.200149.8.5.5.5") == profile.OID_ADDRESS
