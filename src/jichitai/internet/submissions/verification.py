"""Checking what the card signed: certificate (chain, validity, key usage, CRL) and signature.

The checks themselves are :func:`jichitai.platform.pki.verify_certificate`, unchanged from what
runs against the real J-LIS trust anchors. This module adds what a busy portal needs around them:

- one :class:`TrustStore` and :class:`CrlStore` per process and configuration, reloaded when one of
  the configured files changes (a CRL fetch replaces ``crl.pem``; the next submission sees it);
- a small LRU of certificates that passed, per (certificate, purpose), each entry valid only for
  the time window in which the same checks must give the same answer (inside the validity of the
  certificate and the anchors, and between the CRLs' thisUpdate and nextUpdate). A CRL reload
  empties it, so a revocation is honoured from the first submission after the new CRL arrives.

The RSA signature over the data is checked on every call; only certificate path work is cached.
"""

from __future__ import annotations

import os
import stat
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jichitai.platform.pki import CrlStore, TrustStore, VerifiedCertificate, verify_certificate
from jichitai.platform.pki.errors import BadSignature
from jichitai.platform.pki.rules import CertificateKind
from jichitai.platform.storage import Storage

CACHE_SIZE = 2048
_PKCS1 = padding.PKCS1v15()


def _signature_of(paths: Sequence[Path]) -> tuple[tuple[str, int, int], ...]:
    """What changes when a configured file (or a file in a configured directory) changes."""
    found: list[tuple[str, int, int]] = []
    for p in paths:
        try:
            st = os.stat(p)
        except FileNotFoundError:
            found.append((str(p), -1, -1))
            continue
        # the inode too: a CRL fetch renames a new file over the old one, maybe within one tick
        found.append((str(p), st.st_mtime_ns, st.st_size ^ (st.st_ino << 20)))
        if stat.S_ISDIR(st.st_mode):  # one stat per configured path, not two
            for child in sorted(p.iterdir()):
                cst = child.stat()
                found.append((str(child), cst.st_mtime_ns, cst.st_size))
    return tuple(found)


@dataclass
class _Entry:
    verified: VerifiedCertificate
    public_key: rsa.RSAPublicKey
    valid_from: datetime
    valid_until: datetime


@dataclass
class TrustMaterial:
    """Trust anchors and CRLs loaded from one configuration, with their verification cache."""

    anchor_paths: tuple[Path, ...]
    crl_paths: tuple[Path, ...]
    trust_store: TrustStore
    crls: CrlStore
    stamp: tuple[tuple[str, int, int], ...]
    valid_from: datetime  # the window in which anchors and CRLs give the same answers
    valid_until: datetime
    cache: OrderedDict[tuple[str, CertificateKind], _Entry] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, anchor_paths: Sequence[Path], crl_paths: Sequence[Path]) -> TrustMaterial:
        stamp = _signature_of([*anchor_paths, *crl_paths])
        trust_store = TrustStore.from_paths(anchor_paths)
        crl_files = [p for p in crl_paths if p.exists()]
        crls = CrlStore.from_paths(crl_files)
        starts = [a.not_valid_before_utc for a in trust_store.anchors]
        ends = [a.not_valid_after_utc for a in trust_store.anchors]
        for crl in _all_crls(crls, trust_store):
            starts.append(crl.last_update_utc)
            if crl.next_update_utc is not None:
                ends.append(crl.next_update_utc)
        return cls(tuple(anchor_paths), tuple(crl_paths), trust_store, crls, stamp, max(starts), min(ends))

    def verify(
        self, certificate_pem: str, purpose: CertificateKind, at: datetime
    ) -> tuple[VerifiedCertificate, rsa.RSAPublicKey]:
        key = (certificate_pem, purpose)
        with self.lock:
            hit = self.cache.get(key)
            if hit is not None:
                self.cache.move_to_end(key)
        if hit is not None and hit.valid_from <= at <= hit.valid_until:
            return hit.verified, hit.public_key
        verified = verify_certificate(
            certificate_pem, purpose, trust_store=self.trust_store, crls=self.crls, at=at
        )
        public_key = verified.certificate.public_key()
        assert isinstance(public_key, rsa.RSAPublicKey)  # the profile check refuses anything else
        entry = _Entry(
            verified,
            public_key,
            max(self.valid_from, verified.not_before),
            min(self.valid_until, verified.not_after),
        )
        with self.lock:
            self.cache[key] = entry
            self.cache.move_to_end(key)
            while len(self.cache) > CACHE_SIZE:
                self.cache.popitem(last=False)
        return verified, public_key


def _all_crls(crls: CrlStore, trust_store: TrustStore) -> list[x509.CertificateRevocationList]:
    found: list[x509.CertificateRevocationList] = []
    for anchor in trust_store.anchors:
        found.extend(crls.for_issuer(anchor.subject))
    return found


_materials: dict[tuple[tuple[Path, ...], tuple[Path, ...]], TrustMaterial] = {}
_materials_lock = threading.Lock()


def trust_material(anchor_paths: Sequence[Path], crl_paths: Sequence[Path]) -> TrustMaterial:
    """The loaded trust for this configuration, reloaded when any of its files changed."""
    key = (tuple(anchor_paths), tuple(crl_paths))
    current = _materials.get(key)
    if current is not None and current.stamp == _signature_of([*key[0], *key[1]]):
        return current
    with _materials_lock:
        current = _materials.get(key)
        if current is None or current.stamp != _signature_of([*key[0], *key[1]]):
            current = TrustMaterial.load(*key)
            _materials[key] = current
        return current


_configured: weakref.WeakKeyDictionary[Storage, tuple[tuple[Path, ...], tuple[Path, ...]]] = (
    weakref.WeakKeyDictionary()
)


def configured_trust_material(storage: Storage) -> TrustMaterial:
    """:func:`trust_material` for the anchors and CRLs the storage's settings configure, their
    paths worked out once per storage instead of on every submission."""
    paths = _configured.get(storage)
    if paths is None:
        settings = storage.settings
        paths = _configured[storage] = (tuple(settings.trust_anchor_paths()), tuple(settings.crl_paths()))
    return trust_material(*paths)


def forget_trust_material() -> None:
    """Drop every loaded trust store and cached verification (tests, or after a configuration change)."""
    with _materials_lock:
        _materials.clear()
        _configured.clear()


def verify_signed_data(
    material: TrustMaterial,
    certificate_pem: str,
    data: bytes,
    signature: bytes,
    purpose: CertificateKind,
    at: datetime,
) -> VerifiedCertificate:
    """Certificate for ``purpose`` (cached while valid) and PKCS#1 v1.5 SHA-256 signature (always)."""
    verified, public_key = material.verify(certificate_pem, purpose, at)
    try:
        public_key.verify(signature, data, _PKCS1, hashes.SHA256())
    except InvalidSignature as exc:
        raise BadSignature("the signature does not match the data and certificate") from exc
    return verified


__all__ = [
    "TrustMaterial",
    "configured_trust_material",
    "forget_trust_material",
    "trust_material",
    "verify_signed_data",
]
