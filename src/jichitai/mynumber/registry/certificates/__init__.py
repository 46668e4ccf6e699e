"""Certificates of the resident registry: 住民票の写し (世帯連記式 / 個人票), 住民票の除票の写し and
住民票記載事項証明書, as PDF sealed with the municipality's 電子公印.

``issue_certificate(subject, options, sealer)`` renders and seals; ``verify_certificate(pdf, roots)``
checks a presented copy. Which optional items appear is decided by ``policy.decide_items``.
"""

from jichitai.mynumber.registry.certificates.issue import (
    CertificateCheck,
    IssuedCertificate,
    issue_certificate,
    render_certificate,
    verify_certificate,
)
from jichitai.mynumber.registry.certificates.model import (
    CertificateKind,
    CertifiedItem,
    ChangeNote,
    ForeignResidentFacts,
    HouseholdFacts,
    IssueOptions,
    Layout,
    OptionalItem,
    PersonFacts,
    Removal,
    RequesterKind,
    Sex,
)

__all__ = [
    "CertificateCheck",
    "CertificateKind",
    "CertifiedItem",
    "ChangeNote",
    "ForeignResidentFacts",
    "HouseholdFacts",
    "IssueOptions",
    "IssuedCertificate",
    "Layout",
    "OptionalItem",
    "PersonFacts",
    "Removal",
    "RequesterKind",
    "Sex",
    "issue_certificate",
    "render_certificate",
    "verify_certificate",
]
