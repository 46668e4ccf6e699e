"""The municipality's electronic seal (電子公印) for certificates, backed by the zone keystore.

The private key is the tenant's signing key in the My Number zone keystore (file or PKCS#11): this
module never sees it, it asks the keystore to sign. What it adds is the seal *certificate* that
binds that key to the municipality, so that anyone holding the trust root can verify a PDF:

- Production: the certificate is issued by the government PKI (LGPKI, 組織認証局) for the
  tenant's public key and placed at ``<home>/pki/seal-ca/issued/<tenant>-v<version>.pem``; the
  LGPKI root is configured as trust root (``JICHITAI_SEAL_TRUST_ANCHORS``, paths separated by
  ``os.pathsep``, or a ``seal_trust_anchors`` setting when the installation has one).
- Development and tests: a platform test CA (LGPKI stand-in) kept in ``<home>/pki/seal-ca/``
  (``ca-key.pem`` encrypted with the keystore passphrase, ``ca-cert.pem``) issues the certificate
  the first time a tenant seals something, and it is kept under ``issued/`` as above.

A :class:`PdfSealer` is prepared once per tenant key version and process (pyHanko setup is the
expensive part of a signature), see :func:`tenant_sealer`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from jichitai.platform.config import Settings
from jichitai.platform.crypto.keystore import KeyKind, Keystore
from jichitai.platform.errors import ConfigurationError
from jichitai.platform.files import locked, write_atomic
from jichitai.platform.pdf.signing import (
    CertificateAuthority,
    PdfSealer,
    create_test_ca,
    issue_seal_certificate,
    prepare_sealer,
)
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import Tenant
from jichitai.platform.zones import Zone

SEAL_CA_DIR = "seal-ca"
TRUST_ENV = "JICHITAI_SEAL_TRUST_ANCHORS"
_CA_NAME = "jichitai Test LGPKI-like Seal Root CA"


@dataclass(eq=False)  # identity semantics: prepared sealers are cached per signer object
class KeystoreRawSigner:
    """A :class:`~jichitai.platform.pdf.signing.RawSigner` whose key stays in the keystore."""

    keystore: Keystore
    tenant: str
    version: int
    certificate: x509.Certificate
    chain: Sequence[x509.Certificate] = ()

    def sign(self, data: bytes) -> bytes:
        # the keystore hashes with SHA-256 and returns a DER ECDSA signature, as RawSigner asks
        return self.keystore.sign(self.tenant, self.version, data)


@dataclass(frozen=True)
class TenantSeal:
    sealer: PdfSealer
    key_version: int
    certificate: x509.Certificate


def seal_dir(settings: Settings) -> Path:
    return settings.pki_dir / SEAL_CA_DIR


def trust_root_paths(settings: Settings) -> list[Path]:
    """Where the seal trust roots are read from (see the module docstring)."""
    env = os.environ.get(TRUST_ENV, "").strip()
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    configured = getattr(settings, "seal_trust_anchors", None)
    if configured:
        return [Path(p) for p in configured]
    return [seal_dir(settings) / "ca-cert.pem"]


def trust_roots(settings: Settings) -> list[x509.Certificate]:
    """The certificates a seal must chain to; the test CA is created when none is configured."""
    paths = trust_root_paths(settings)
    if paths == [seal_dir(settings) / "ca-cert.pem"]:
        _test_ca(settings)  # make sure it exists
    roots: list[x509.Certificate] = []
    for path in paths:
        try:
            roots += x509.load_pem_x509_certificates(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot read the seal trust root {path}: {exc}",
                hint=f"set {TRUST_ENV} to the PEM file(s) of the seal CA",
            ) from None
    return roots


# -- files ----------------------------------------------------------------------------------------


def _ca_password(settings: Settings) -> bytes | None:
    if settings.keystore == "file" and settings.keystore_passphrase is not None:
        return settings.passphrase().encode()
    return None


def _test_ca(settings: Settings) -> CertificateAuthority:
    directory = seal_dir(settings)
    key_path, cert_path = directory / "ca-key.pem", directory / "ca-cert.pem"
    password = _ca_password(settings)
    with locked(directory):
        if not key_path.exists():
            ca = create_test_ca(_CA_NAME)
            encryption: serialization.KeySerializationEncryption = (
                serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
            )
            pem = ca.private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
            )
            write_atomic(key_path, pem)
            write_atomic(cert_path, ca.certificate.public_bytes(serialization.Encoding.PEM), mode=0o644)
            return ca
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=password)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError(f"the seal test CA key {key_path} is not an EC key")
    return CertificateAuthority(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))


def _same_key(cert: x509.Certificate, public: ec.EllipticCurvePublicKey) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == public.public_bytes(*fmt)


def seal_certificate(
    settings: Settings, keystore: Keystore, tenant: Tenant, version: int
) -> x509.Certificate:
    """The seal certificate of a tenant's signing key version (issued by the test CA if missing)."""
    public = keystore.signing_public_key(tenant.code, version)
    path = seal_dir(settings) / "issued" / f"{tenant.code}-v{version}.pem"
    if path.exists():
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        if _same_key(cert, public):
            return cert
    if trust_root_paths(settings) != [seal_dir(settings) / "ca-cert.pem"]:
        raise ConfigurationError(
            f"no seal certificate for tenant {tenant.code} key version {version} at {path}",
            hint="place the certificate issued by the seal CA for the tenant's signing key there",
        )
    ca = _test_ca(settings)
    with locked(seal_dir(settings)):
        if path.exists():
            cert = x509.load_pem_x509_certificate(path.read_bytes())
            if _same_key(cert, public):
                return cert
        cert = issue_seal_certificate(ca, public, tenant.name, tenant_code=tenant.code)
        write_atomic(path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return cert


# -- per-process cache ----------------------------------------------------------------------------

_cache: dict[tuple[str, str, int], TenantSeal] = {}
_cache_lock = threading.Lock()


def tenant_sealer(storage: Storage, tenant: Tenant) -> TenantSeal:
    """The prepared sealer of the tenant's current signing key (cached per process)."""
    keystore = storage.keystore(Zone.MYNUMBER)
    version = keystore.current_version(tenant.code, KeyKind.SIGNING)
    key = (str(storage.settings.home.resolve()), tenant.code, version)
    seal = _cache.get(key)
    if seal is not None:
        return seal
    with _cache_lock:
        seal = _cache.get(key)
        if seal is None:
            cert = seal_certificate(storage.settings, keystore, tenant, version)
            raw = KeystoreRawSigner(keystore, tenant.code, version, cert)
            seal = _cache[key] = TenantSeal(prepare_sealer(raw), version, cert)
        return seal


def forget_sealers() -> None:
    """Drop the cached sealers (after a key rotation, or between tests)."""
    with _cache_lock:
        _cache.clear()
