"""A JPKI-style test certificate authority (公的個人認証サービスの試験用認証局).

It plays the part of J-LIS for development, demos and tests: a self-signed root (RSA, SHA-256) that
issues to residents

- 署名用電子証明書 (signing): RSA-2048, sha256WithRSAEncryption, keyUsage digitalSignature +
  nonRepudiation (critical), the basic four facts in the subjectAltName as ``otherName`` entries
  (OIDs ``1.2.392.200149.8.5.5.1`` 氏名, ``.3`` 性別, ``.4`` 生年月日, ``.5`` 住所, each a
  UTF8String; see :mod:`jichitai.platform.pki.profile`). Not issued to children under 15.
- 利用者証明用電子証明書 (authentication): RSA-2048, keyUsage digitalSignature only, no personal
  facts anywhere.

Both run until the 5th birthday after the day of issue, carry a CRL distribution point taken from
the CA configuration, and have random serial numbers of 159 bits. The subject is ``C=JP`` plus an
opaque identifier, as in the J-LIS profile.

Nothing here is trusted by itself: verifiers trust whatever CA certificates their configuration lists
(:class:`jichitai.platform.pki.verify.TrustStore`). Production lists the real J-LIS CA certificates.

State lives in one directory::

    ca.json        configuration (names, CRL distribution URL, CRL lifetime)
    ca-key.pem     the CA private key, PKCS#8 encrypted with the passphrase
    ca-cert.pem    the self-signed CA certificate
    index.json     issued certificates: serial, kind, holder reference, validity, revocation
    certs/<SERIAL>.pem
    crl.der, crl.pem   the latest published CRL

Every file is replaced atomically (temporary file + ``os.replace``) under an exclusive lock.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from jichitai.platform.errors import ConfigurationError, Conflict, NotFound, ValidationError
from jichitai.platform.files import locked, read_json, write_atomic, write_json_atomic
from jichitai.platform.pki.profile import facts_from_certificate, facts_to_san
from jichitai.platform.pki.rules import (
    JST,
    BasicFacts,
    CertificateKind,
    changed_facts,
    check_signing_eligible,
    validity_end,
)

#: Revocation reasons the CA uses, with what they mean for a My Number Card.
REVOCATION_REASONS_JA: dict[x509.ReasonFlags, str] = {
    x509.ReasonFlags.unspecified: "理由の指定なし",
    x509.ReasonFlags.key_compromise: "カードの紛失・盗難（鍵の危殆化）",
    x509.ReasonFlags.affiliation_changed: "基本4情報（氏名・住所・生年月日・性別）の変更",
    x509.ReasonFlags.superseded: "電子証明書の更新",
    x509.ReasonFlags.cessation_of_operation: "廃止（死亡・カードの返納など）",
}


def parse_reason(text: str | x509.ReasonFlags) -> x509.ReasonFlags:
    """``key_compromise`` / ``keyCompromise`` / a ReasonFlags member → ReasonFlags."""
    if isinstance(text, x509.ReasonFlags):
        reason = text
    else:
        key = text.strip().replace("-", "_")
        by_name = {r.name: r for r in REVOCATION_REASONS_JA} | {r.value: r for r in REVOCATION_REASONS_JA}
        if key not in by_name:
            allowed = ", ".join(r.name for r in REVOCATION_REASONS_JA)
            raise ValidationError(
                f"unknown revocation reason {text!r}",
                hint=f"one of: {allowed}",
                message_ja="失効理由が不明です",
            )
        reason = by_name[key]
    if reason not in REVOCATION_REASONS_JA:
        raise ValidationError(f"revocation reason {reason.name} is not used by this CA")
    return reason


def serial_hex(serial: int) -> str:
    """Serial numbers are shown and stored as upper-case hex, as JPKI tools show them."""
    return f"{serial:X}"


def parse_serial(text: str) -> int:
    try:
        value = int(text.strip().removeprefix("0x").removeprefix("0X"), 16)
    except ValueError as exc:
        raise ValidationError(
            f"not a hex serial number: {text!r}", message_ja="シリアル番号が正しくありません"
        ) from exc
    if value <= 0:
        raise ValidationError("serial numbers are positive", message_ja="シリアル番号が正しくありません")
    return value


@dataclass(frozen=True)
class CAConfig:
    """How the test CA names itself and publishes revocation."""

    common_name: str = "jichitai JPKI test CA"
    organization: str = "jichitai (test, not J-LIS)"
    crl_distribution_url: str = "http://127.0.0.1:8700/pki/crl.der"
    crl_validity_hours: int = 24
    ca_key_size: int = 2048
    ca_validity_days: int = 3650

    def __post_init__(self) -> None:
        if self.ca_key_size not in (2048, 3072, 4096):
            raise ValidationError("CA key size must be 2048, 3072 or 4096 bits")
        if self.crl_validity_hours <= 0:
            raise ValidationError("CRL validity must be positive")
        if not self.crl_distribution_url:
            raise ValidationError("a CRL distribution point is required")


@dataclass
class IssuedRecord:
    """One line of the CA's index. Personal facts are in the certificate, not repeated here."""

    serial: str
    kind: CertificateKind
    subject_id: str
    not_before: str
    not_after: str
    issued_at: str
    holder_ref: str | None = None
    card_id: str | None = None
    revoked_at: str | None = None
    reason: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def status(self, at: datetime | None = None) -> str:
        at = at or datetime.now(UTC)
        if self.revoked:
            return "revoked"
        if datetime.fromisoformat(self.not_after) < at:
            return "expired"
        return "valid"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IssuedRecord:
        return cls(**{**data, "kind": CertificateKind(data["kind"])})


@dataclass
class _Index:
    certificates: dict[str, IssuedRecord] = field(default_factory=dict)
    crl_number: int = 0


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValidationError("times must be timezone-aware")
    return now


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


class TestCA:
    """A JPKI-style CA kept in a directory. Open with :meth:`create` or :meth:`open`."""

    __test__ = False  # not a pytest test class, despite the name

    KEY_FILE = "ca-key.pem"
    CERT_FILE = "ca-cert.pem"
    CONFIG_FILE = "ca.json"
    INDEX_FILE = "index.json"

    def __init__(
        self, directory: Path, config: CAConfig, key: rsa.RSAPrivateKey, certificate: x509.Certificate
    ) -> None:
        self.directory = directory
        self.config = config
        self._key = key
        self.certificate = certificate

    # --- life cycle ------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        directory: Path | str,
        passphrase: bytes,
        config: CAConfig | None = None,
        *,
        now: datetime | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> TestCA:
        """Create the root key and self-signed certificate; refuses a directory that already has a CA."""
        directory = Path(directory)
        config = config or CAConfig()
        if len(passphrase) < 8:
            raise ValidationError("the CA passphrase must have at least 8 characters")
        with locked(directory):
            if (directory / cls.KEY_FILE).exists():
                raise Conflict(f"a CA already exists in {directory}", hint="use another --dir")
            key = key or new_rsa_key(config.ca_key_size)
            if key.key_size < 2048:
                raise ValidationError("the CA key must have at least 2048 bits")
            start = _now(now) - timedelta(minutes=5)
            name = x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, config.organization),
                    x509.NameAttribute(NameOID.COMMON_NAME, config.common_name),
                ]
            )
            ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(start)
                .not_valid_after(start + timedelta(days=config.ca_validity_days))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=False,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=True,
                        crl_sign=True,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .add_extension(ski, critical=False)
                .sign(key, hashes.SHA256())
            )
            write_atomic(
                directory / cls.KEY_FILE,
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.BestAvailableEncryption(passphrase),
                ),
            )
            write_atomic(directory / cls.CERT_FILE, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
            write_json_atomic(directory / cls.CONFIG_FILE, asdict(config))
            ca = cls(directory, config, key, cert)
            ca._save_index(_Index())
        return ca

    @classmethod
    def open(cls, directory: Path | str, passphrase: bytes) -> TestCA:
        directory = Path(directory)
        if not (directory / cls.KEY_FILE).exists():
            raise ConfigurationError(f"no CA in {directory}", hint="run `jichitai pki init-ca` first")
        try:
            key = serialization.load_pem_private_key((directory / cls.KEY_FILE).read_bytes(), passphrase)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError("cannot unlock the CA key", hint="check the CA passphrase") from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigurationError("the CA key is not an RSA key")
        cert = x509.load_pem_x509_certificate((directory / cls.CERT_FILE).read_bytes())
        config = CAConfig(**read_json(directory / cls.CONFIG_FILE))
        return cls(directory, config, key, cert)

    @staticmethod
    def load_certificate(directory: Path | str) -> x509.Certificate:
        """The CA certificate only (no passphrase needed): what a verifier's configuration points at."""
        return x509.load_pem_x509_certificate((Path(directory) / TestCA.CERT_FILE).read_bytes())

    # --- index -----------------------------------------------------------------------------------

    def _load_index(self) -> _Index:
        path = self.directory / self.INDEX_FILE
        if not path.exists():
            return _Index()
        raw = read_json(path)
        return _Index(
            certificates={k: IssuedRecord.from_json(v) for k, v in raw["certificates"].items()},
            crl_number=int(raw["crl_number"]),
        )

    def _save_index(self, index: _Index) -> None:
        write_json_atomic(
            self.directory / self.INDEX_FILE,
            {
                "certificates": {k: v.to_json() for k, v in index.certificates.items()},
                "crl_number": index.crl_number,
            },
        )

    def records(self) -> list[IssuedRecord]:
        """Every certificate issued, oldest first."""
        return self.read_records(self.directory)

    @classmethod
    def read_records(cls, directory: Path | str) -> list[IssuedRecord]:
        """The index without the passphrase: it holds no secrets and no personal facts."""
        path = Path(directory) / cls.INDEX_FILE
        if not path.exists():
            raise ConfigurationError(f"no CA in {directory}", hint="run `jichitai pki init-ca` first")
        raw = read_json(path)
        records = (IssuedRecord.from_json(v) for v in raw["certificates"].values())
        return sorted(records, key=lambda r: r.issued_at)

    def record(self, serial: str | int) -> IssuedRecord:
        key = serial_hex(serial if isinstance(serial, int) else parse_serial(serial))
        found = self._load_index().certificates.get(key)
        if found is None:
            raise NotFound(f"no certificate with serial {key}", message_ja="該当する電子証明書がありません")
        return found

    def get_certificate(self, serial: str | int) -> x509.Certificate:
        rec = self.record(serial)
        return x509.load_pem_x509_certificate((self.directory / "certs" / f"{rec.serial}.pem").read_bytes())

    # --- issuing ---------------------------------------------------------------------------------

    def issue_signing_certificate(
        self,
        public_key: rsa.RSAPublicKey,
        facts: BasicFacts,
        *,
        holder_ref: str | None = None,
        card_id: str | None = None,
        now: datetime | None = None,
    ) -> x509.Certificate:
        """署名用電子証明書 with the basic four facts in the SAN; refused under 15."""
        issued_at = _now(now)
        check_signing_eligible(facts.birth_date, issued_at.astimezone(JST).date())
        return self._issue(
            CertificateKind.SIGNING, public_key, facts.birth_date, facts, holder_ref, card_id, issued_at
        )

    def issue_authentication_certificate(
        self,
        public_key: rsa.RSAPublicKey,
        birth_date: date,
        *,
        holder_ref: str | None = None,
        card_id: str | None = None,
        now: datetime | None = None,
    ) -> x509.Certificate:
        """利用者証明用電子証明書: no personal facts; the birth date only sets the validity."""
        return self._issue(
            CertificateKind.AUTHENTICATION, public_key, birth_date, None, holder_ref, card_id, _now(now)
        )

    def _issue(
        self,
        kind: CertificateKind,
        public_key: rsa.RSAPublicKey,
        birth_date: date,
        facts: BasicFacts | None,
        holder_ref: str | None,
        card_id: str | None,
        issued_at: datetime,
    ) -> x509.Certificate:
        if not isinstance(public_key, rsa.RSAPublicKey) or public_key.key_size != 2048:
            raise ValidationError("JPKI certificates are issued for RSA-2048 keys only")
        not_after = validity_end(birth_date, issued_at)
        # The subject identifies the certificate, not the person: C=JP and an opaque identifier.
        subject_id = issued_at.astimezone(JST).strftime("%Y%m%d%H%M") + secrets.token_hex(8).upper()
        serial = x509.random_serial_number()
        signing = kind is CertificateKind.SIGNING
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                        x509.NameAttribute(NameOID.COMMON_NAME, subject_id),
                    ]
                )
            )
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(serial)
            .not_valid_before(issued_at)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=signing,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            full_name=[x509.UniformResourceIdentifier(self.config.crl_distribution_url)],
                            relative_name=None,
                            reasons=None,
                            crl_issuer=None,
                        )
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
        )
        if facts is not None:
            builder = builder.add_extension(facts_to_san(facts), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        record = IssuedRecord(
            serial=serial_hex(serial),
            kind=kind,
            subject_id=subject_id,
            not_before=cert.not_valid_before_utc.isoformat(),
            not_after=cert.not_valid_after_utc.isoformat(),
            issued_at=issued_at.astimezone(UTC).isoformat(),
            holder_ref=holder_ref,
            card_id=card_id,
        )
        with locked(self.directory):
            write_atomic(
                self.directory / "certs" / f"{record.serial}.pem",
                cert.public_bytes(serialization.Encoding.PEM),
                mode=0o644,
            )
            index = self._load_index()
            index.certificates[record.serial] = record
            self._save_index(index)
        return cert

    # --- revocation ------------------------------------------------------------------------------

    def revoke(
        self, serial: str | int, reason: str | x509.ReasonFlags, *, now: datetime | None = None
    ) -> IssuedRecord:
        """Mark a certificate revoked; it appears on the next CRL published."""
        flag = parse_reason(reason)
        at = _now(now)
        with locked(self.directory):
            index = self._load_index()
            key = serial_hex(serial if isinstance(serial, int) else parse_serial(serial))
            rec = index.certificates.get(key)
            if rec is None:
                raise NotFound(
                    f"no certificate with serial {key}", message_ja="該当する電子証明書がありません"
                )
            if rec.revoked:
                raise Conflict(
                    f"certificate {key} is already revoked", message_ja="この電子証明書は失効済みです"
                )
            rec.revoked_at = at.astimezone(UTC).isoformat()
            rec.reason = flag.name
            self._save_index(index)
        return rec

    def revoke_for_change(
        self, serial: str | int, new_facts: BasicFacts, *, now: datetime | None = None
    ) -> list[str]:
        """Revoke a 署名用 certificate when any of its four facts no longer matches the registry.

        Returns the facts that changed (empty: nothing changed, the certificate stays valid). The
        利用者証明用 certificate holds no facts and survives moves and marriage, so it is refused here.
        """
        cert = self.get_certificate(serial)
        old = facts_from_certificate(cert)
        if old is None:
            raise ValidationError(
                "only a signing certificate carries the basic four facts",
                message_ja="利用者証明用電子証明書は基本4情報の変更では失効しません",
            )
        changed = changed_facts(old, new_facts)
        if changed:
            self.revoke(serial, x509.ReasonFlags.affiliation_changed, now=now)
        return changed

    def publish_crl(self, *, now: datetime | None = None) -> x509.CertificateRevocationList:
        """Sign a CRL of everything revoked so far and write it as crl.der and crl.pem."""
        at = _now(now)
        with locked(self.directory):
            index = self._load_index()
            index.crl_number += 1
            builder = (
                x509.CertificateRevocationListBuilder()
                .issuer_name(self.certificate.subject)
                .last_update(at)
                .next_update(at + timedelta(hours=self.config.crl_validity_hours))
                .add_extension(x509.CRLNumber(index.crl_number), critical=False)
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
                )
            )
            for rec in index.certificates.values():
                if not rec.revoked or rec.revoked_at is None or rec.reason is None:
                    continue
                entry = (
                    x509.RevokedCertificateBuilder()
                    .serial_number(int(rec.serial, 16))
                    .revocation_date(datetime.fromisoformat(rec.revoked_at))
                )
                flag = x509.ReasonFlags[rec.reason]
                if flag is not x509.ReasonFlags.unspecified:  # RFC 5280 5.3.1: omit rather than say it
                    entry = entry.add_extension(x509.CRLReason(flag), critical=False)
                builder = builder.add_revoked_certificate(entry.build())
            crl = builder.sign(self._key, hashes.SHA256())
            write_atomic(self.directory / "crl.der", crl.public_bytes(serialization.Encoding.DER), mode=0o644)
            write_atomic(self.directory / "crl.pem", crl.public_bytes(serialization.Encoding.PEM), mode=0o644)
            self._save_index(index)
        return crl

    def latest_crl(self) -> x509.CertificateRevocationList | None:
        path = self.directory / "crl.der"
        return x509.load_der_x509_crl(path.read_bytes()) if path.exists() else None
