from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jichitai.platform.errors import ConfigurationError
from jichitai.platform.pki.ca import CAConfig, TestCA
from jichitai.platform.pki.card import VirtualCard
from jichitai.platform.pki.errors import (
    BadSignature,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRejected,
    CertificateRevoked,
    CrlInvalid,
    CrlMissing,
    CrlStale,
    MalformedCertificate,
    RejectReason,
    UnknownIssuer,
    WrongCertificateType,
)
from jichitai.platform.pki.rules import CertificateKind
from jichitai.platform.pki.verify import CrlStore, TrustStore, verify_certificate, verify_signature

from .conftest import ADULT, AUTH_PIN, NOW, SIGN_PIN

FORM = "児童手当認定請求書 canonical bytes".encode()
AT = NOW + timedelta(hours=1)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_sign_then_verify(card: VirtualCard, trust_store: TrustStore, crls: CrlStore) -> None:
    signature, cert = card.sign_with_certificate(SIGN_PIN, FORM)
    result = verify_signature(
        _pem(cert), FORM, signature, CertificateKind.SIGNING, trust_store=trust_store, crls=crls, at=AT
    )
    assert result.serial == f"{cert.serial_number:X}"
    assert result.kind is CertificateKind.SIGNING
    assert result.facts == ADULT.facts
    assert result.certificate_pem == _pem(cert)


def test_authenticate_then_verify(card: VirtualCard, trust_store: TrustStore, crls: CrlStore) -> None:
    challenge = b"server-nonce-0123456789"
    signature = card.authenticate(AUTH_PIN, challenge)
    cert = card.authentication_certificate()
    result = verify_signature(
        cert.public_bytes(serialization.Encoding.DER),
        challenge,
        signature,
        CertificateKind.AUTHENTICATION,
        trust_store=trust_store,
        crls=crls,
        at=AT,
    )
    assert result.kind is CertificateKind.AUTHENTICATION
    assert result.facts is None
    assert result.serial == f"{cert.serial_number:X}"


def test_expired_at_a_later_time(card: VirtualCard, trust_store: TrustStore, crls: CrlStore) -> None:
    cert = card.authentication_certificate()
    with pytest.raises(CertificateExpired) as info:
        verify_certificate(
            cert,
            CertificateKind.AUTHENTICATION,
            trust_store=trust_store,
            crls=crls,
            at=NOW + timedelta(days=365 * 6),
        )
    assert info.value.reason is RejectReason.EXPIRED
    assert info.value.message_ja is not None
    assert "有効期限" in info.value.message_ja


def test_expired_when_issued_long_ago(
    ca: TestCA, trust_store: TrustStore, crls: CrlStore, key_pool: list[rsa.RSAPrivateKey]
) -> None:
    old = ca.issue_authentication_certificate(
        key_pool[2].public_key(), ADULT.facts.birth_date, now=NOW - timedelta(days=365 * 6)
    )
    assert old.not_valid_after_utc < NOW
    with pytest.raises(CertificateExpired):
        verify_certificate(old, CertificateKind.AUTHENTICATION, trust_store=trust_store, crls=crls, at=AT)


def test_not_yet_valid(card: VirtualCard, trust_store: TrustStore, crls: CrlStore) -> None:
    with pytest.raises(CertificateNotYetValid) as info:
        verify_certificate(
            card.authentication_certificate(),
            CertificateKind.AUTHENTICATION,
            trust_store=trust_store,
            crls=crls,
            at=NOW - timedelta(days=1),
        )
    assert info.value.reason is RejectReason.NOT_YET_VALID


def test_revoked_via_crl(ca: TestCA, card: VirtualCard, trust_store: TrustStore) -> None:
    signature, cert = card.sign_with_certificate(SIGN_PIN, FORM)
    ok_crl = ca.publish_crl(now=NOW)
    verify_signature(
        cert, FORM, signature, CertificateKind.SIGNING, trust_store=trust_store, crls=[ok_crl], at=AT
    )

    ca.revoke(cert.serial_number, "affiliation_changed", now=NOW + timedelta(minutes=10))
    crl = ca.publish_crl(now=NOW + timedelta(minutes=20))
    with pytest.raises(CertificateRevoked) as info:
        verify_signature(
            cert, FORM, signature, CertificateKind.SIGNING, trust_store=trust_store, crls=[ok_crl, crl], at=AT
        )
    assert info.value.reason is RejectReason.REVOKED
    assert "affiliation_changed" in info.value.message
    assert info.value.message_ja is not None
    assert "失効" in info.value.message_ja


def test_foreign_ca_with_the_same_name(
    foreign_ca: TestCA, ca: TestCA, trust_store: TrustStore, crls: CrlStore, key_pool: list[rsa.RSAPrivateKey]
) -> None:
    assert foreign_ca.certificate.subject == ca.certificate.subject
    forged = foreign_ca.issue_signing_certificate(key_pool[3].public_key(), ADULT.facts, now=NOW)
    with pytest.raises(UnknownIssuer, match="did not sign") as info:
        verify_certificate(forged, CertificateKind.SIGNING, trust_store=trust_store, crls=crls, at=AT)
    assert info.value.reason is RejectReason.UNKNOWN_CA


def test_foreign_ca_with_another_name(
    tmp_path: Path, trust_store: TrustStore, crls: CrlStore, key_pool: list[rsa.RSAPrivateKey]
) -> None:
    other = TestCA.create(
        tmp_path / "other",
        b"other-passphrase",
        CAConfig(common_name="Other CA"),
        now=NOW - timedelta(days=1),
        key=key_pool[4],
    )
    cert = other.issue_authentication_certificate(key_pool[2].public_key(), ADULT.facts.birth_date, now=NOW)
    with pytest.raises(UnknownIssuer, match="not a trusted CA"):
        verify_certificate(cert, CertificateKind.AUTHENTICATION, trust_store=trust_store, crls=crls, at=AT)
    # Self-signed root presented as a resident's certificate: not a leaf, refused.
    with pytest.raises(MalformedCertificate):
        verify_certificate(
            other.certificate, CertificateKind.SIGNING, trust_store=trust_store, crls=crls, at=AT
        )


def test_signature_over_other_bytes(card: VirtualCard, trust_store: TrustStore, crls: CrlStore) -> None:
    signature, cert = card.sign_with_certificate(SIGN_PIN, FORM)
    with pytest.raises(BadSignature) as info:
        verify_signature(
            cert,
            FORM + b" changed",
            signature,
            CertificateKind.SIGNING,
            trust_store=trust_store,
            crls=crls,
            at=AT,
        )
    assert info.value.reason is RejectReason.BAD_SIGNATURE
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    with pytest.raises(BadSignature):
        verify_signature(
            cert, FORM, tampered, CertificateKind.SIGNING, trust_store=trust_store, crls=crls, at=AT
        )


def test_auth_certificate_used_for_signing(
    card: VirtualCard, trust_store: TrustStore, crls: CrlStore
) -> None:
    signature = card.authenticate(AUTH_PIN, FORM)
    with pytest.raises(WrongCertificateType) as info:
        verify_signature(
            card.authentication_certificate(),
            FORM,
            signature,
            CertificateKind.SIGNING,
            trust_store=trust_store,
            crls=crls,
            at=AT,
        )
    assert info.value.reason is RejectReason.WRONG_CERTIFICATE_TYPE
    assert (
        info.value.message_ja
        == "この用途には署名用電子証明書を使ってください（利用者証明用電子証明書が使われました）"
    )


def test_signing_certificate_used_for_login(
    card: VirtualCard, trust_store: TrustStore, crls: CrlStore
) -> None:
    cert = card.signing_certificate(SIGN_PIN)
    with pytest.raises(WrongCertificateType):
        verify_certificate(cert, CertificateKind.AUTHENTICATION, trust_store=trust_store, crls=crls, at=AT)


def test_stale_crl(ca: TestCA, card: VirtualCard, trust_store: TrustStore) -> None:
    old = ca.publish_crl(now=NOW - timedelta(hours=48))  # nextUpdate NOW - 24 h
    with pytest.raises(CrlStale) as info:
        verify_certificate(
            card.authentication_certificate(),
            CertificateKind.AUTHENTICATION,
            trust_store=trust_store,
            crls=[old],
            at=AT,
        )
    assert info.value.reason is RejectReason.CRL_STALE


def test_missing_crl(card: VirtualCard, trust_store: TrustStore) -> None:
    cert = card.authentication_certificate()
    with pytest.raises(CrlMissing):
        verify_certificate(cert, CertificateKind.AUTHENTICATION, trust_store=trust_store, crls=None, at=AT)
    with pytest.raises(CrlMissing):
        verify_certificate(
            cert, CertificateKind.AUTHENTICATION, trust_store=trust_store, crls=CrlStore(), at=AT
        )


def test_crl_from_the_future_is_not_used(ca: TestCA, card: VirtualCard, trust_store: TrustStore) -> None:
    later = ca.publish_crl(now=AT + timedelta(hours=2))
    with pytest.raises(CrlMissing):
        verify_certificate(
            card.authentication_certificate(),
            CertificateKind.AUTHENTICATION,
            trust_store=trust_store,
            crls=[later],
            at=AT,
        )


def test_crl_signed_by_a_foreign_ca_is_refused(
    foreign_ca: TestCA, card: VirtualCard, trust_store: TrustStore
) -> None:
    # Same issuer name, wrong key: a forged "nothing is revoked" CRL.
    forged = foreign_ca.publish_crl(now=NOW)
    with pytest.raises(CrlInvalid) as info:
        verify_certificate(
            card.authentication_certificate(),
            CertificateKind.AUTHENTICATION,
            trust_store=trust_store,
            crls=[forged],
            at=AT,
        )
    assert info.value.reason is RejectReason.CRL_INVALID


def test_malformed_input(trust_store: TrustStore, crls: CrlStore) -> None:
    with pytest.raises(MalformedCertificate):
        verify_certificate(
            b"not a certificate", CertificateKind.SIGNING, trust_store=trust_store, crls=crls, at=AT
        )
    with pytest.raises(MalformedCertificate):
        verify_certificate(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            CertificateKind.SIGNING,
            trust_store=trust_store,
            crls=crls,
            at=AT,
        )


def test_every_reason_is_distinct_and_in_japanese() -> None:
    classes = [
        MalformedCertificate,
        CertificateExpired,
        CertificateNotYetValid,
        CertificateRevoked,
        UnknownIssuer,
        BadSignature,
        WrongCertificateType,
        CrlMissing,
        CrlStale,
        CrlInvalid,
    ]
    reasons = {cls.reason for cls in classes}
    assert len(reasons) == len(classes)
    for cls in classes:
        err: CertificateRejected = cls("x")
        assert err.message_ja
        assert any("\u3040" <= ch <= "\u9fff" for ch in err.message_ja)


def test_trust_store_from_configuration(tmp_path: Path, ca: TestCA, foreign_ca: TestCA) -> None:
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    (anchors / "jpki-sign.pem").write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
    (anchors / "other.cer").write_bytes(foreign_ca.certificate.public_bytes(serialization.Encoding.DER))
    (anchors / "README.txt").write_text("ignored")
    store = TrustStore.from_paths([anchors])
    assert len(store.anchors) == 2
    with pytest.raises(ConfigurationError):
        TrustStore.from_paths([tmp_path / "missing.pem"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigurationError, match="empty"):
        TrustStore.from_paths([empty])


def test_crl_store_from_files_and_replace(ca: TestCA, card: VirtualCard, trust_store: TrustStore) -> None:
    ca.publish_crl(now=NOW - timedelta(hours=48))
    crls = CrlStore.from_paths([ca.directory / "crl.der"])
    cert = card.authentication_certificate()
    with pytest.raises(CrlStale):
        verify_certificate(cert, CertificateKind.AUTHENTICATION, trust_store=trust_store, crls=crls, at=AT)
    crls.replace(ca.publish_crl(now=NOW))
    verify_certificate(cert, CertificateKind.AUTHENTICATION, trust_store=trust_store, crls=crls, at=AT)


def test_child_certificate_still_verifies(
    ca: TestCA, trust_store: TrustStore, key_pool: list[rsa.RSAPrivateKey]
) -> None:
    cert = ca.issue_authentication_certificate(key_pool[2].public_key(), date(2020, 1, 1), now=NOW)
    result = verify_certificate(
        cert, CertificateKind.AUTHENTICATION, trust_store=trust_store, crls=[ca.publish_crl(now=NOW)], at=AT
    )
    assert result.not_after.date() == date(2031, 1, 1)
