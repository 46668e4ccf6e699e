"""JPKI-style identity (公的個人認証): test CA, certificate and signature verification, virtual cards.

Public API (see each module's docstring):

- :class:`TestCA` (``ca``): create/open a CA directory, issue 署名用 / 利用者証明用 certificates,
  revoke, ``revoke_for_change``, ``publish_crl``.
- :func:`issue_card` (``issuance``): new keys + both certificates + the card in a :class:`CardStore`.
- :class:`CardStore`, :class:`VirtualCard` (``card``): PIN-protected ``authenticate`` and ``sign``.
- :func:`verify_signature`, :func:`verify_certificate`, :class:`TrustStore`, :class:`CrlStore`
  (``verify``): the checks that run unchanged against the real J-LIS trust anchors.
- :func:`create_app` (``card_reader``): the loopback card-reader helper.
"""

from jichitai.platform.pki.ca import CAConfig, IssuedRecord, TestCA
from jichitai.platform.pki.card import CardStore, CardSummary, VirtualCard
from jichitai.platform.pki.errors import (
    CardLocked,
    CertificateRejected,
    PinFormatError,
    RejectReason,
    WrongPin,
)
from jichitai.platform.pki.issuance import Resident, issue_card
from jichitai.platform.pki.rules import BasicFacts, CertificateKind, Sex
from jichitai.platform.pki.verify import (
    CrlStore,
    TrustStore,
    VerifiedCertificate,
    verify_certificate,
    verify_signature,
)

__all__ = [
    "BasicFacts",
    "CAConfig",
    "CardLocked",
    "CardStore",
    "CardSummary",
    "CertificateKind",
    "CertificateRejected",
    "CrlStore",
    "IssuedRecord",
    "PinFormatError",
    "RejectReason",
    "Resident",
    "Sex",
    "TestCA",
    "TrustStore",
    "VerifiedCertificate",
    "VirtualCard",
    "WrongPin",
    "issue_card",
    "verify_certificate",
    "verify_signature",
]
