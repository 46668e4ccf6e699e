"""Builders of signed submissions for tests, with named variations (wrong bytes, other certificate …)."""

from __future__ import annotations

import base64
import secrets
from copy import deepcopy
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jichitai.contracts.submission import CertificateUse
from jichitai.internet.submissions import AttachmentUpload
from jichitai.platform.storage import UnitOfWork
from jichitai.procedures import canonical_form_bytes, default_catalog, sample_application, sample_attachments
from tests.internet.conftest import Pki, pem

CLAIM = "child_allowance_claim"  # 児童手当 認定請求: needs the 署名用 certificate
PRESUBMISSION = "child_rearing_allowance_status_presubmission"  # 利用者証明用 is enough
PDF = b"%PDF-1.4\n" + b"%" * 2000 + b"\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0" + bytes(2000)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(2000)
_CONTENT = {"application/pdf": PDF, "image/jpeg": JPEG, "image/png": PNG}


def sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def sample_form(procedure_id: str = CLAIM) -> dict[str, Any]:
    return sample_application(default_catalog().get(procedure_id))


def sample_files(procedure_id: str, form: dict[str, Any]) -> list[AttachmentUpload]:
    metas = sample_attachments(default_catalog().get(procedure_id), form)
    return [AttachmentUpload(m.kind, m.filename, m.content_type, _CONTENT[m.content_type]) for m in metas]


def submission(
    pki: Pki,
    procedure_id: str = CLAIM,
    *,
    form: dict[str, Any] | None = None,
    key: rsa.RSAPrivateKey | None = None,
    cert: x509.Certificate | None = None,
    use: CertificateUse | None = None,
    attachments: list[AttachmentUpload] | None = None,
    idempotency_key: str | None = None,
    resident_key: str | None = "resident-yamada",
) -> dict[str, Any]:
    """Keyword arguments for :func:`submit`: a valid signed submission unless told otherwise."""
    definition = default_catalog().get(procedure_id)
    form = deepcopy(form) if form is not None else sample_form(procedure_id)
    signing = definition.requires_signature
    key = key or (pki.sign_key if signing else pki.auth_key)
    cert = cert or (pki.sign_cert if signing else pki.auth_cert)
    data = canonical_form_bytes(form)
    return {
        "procedure_id": procedure_id,
        "procedure_version": definition.ref,
        "form": form,
        "signed_bytes": data,
        "signature": sign(key, data),
        "certificate_pem": pem(cert),
        "certificate_use": use or (CertificateUse.SIGNING if signing else CertificateUse.AUTHENTICATION),
        "attachments": attachments if attachments is not None else sample_files(procedure_id, form),
        "idempotency_key": idempotency_key or "idem-" + secrets.token_hex(12),
        "resident_key": resident_key,
    }


def as_json_body(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The same submission as the portal page posts it to ``POST …/submissions``."""
    return {
        "procedure_id": kwargs["procedure_id"],
        "procedure_version": kwargs["procedure_version"],
        "form": kwargs["form"],
        "signed_data_b64": base64.b64encode(kwargs["signed_bytes"]).decode(),
        "signature_b64": base64.b64encode(kwargs["signature"]).decode(),
        "certificate_pem": kwargs["certificate_pem"],
        "certificate_use": str(kwargs["certificate_use"]),
        "attachments": [
            {
                "kind": a.kind,
                "filename": a.filename,
                "content_type": a.content_type,
                "data_b64": base64.b64encode(a.data).decode(),
            }
            for a in kwargs["attachments"]
        ],
        "idempotency_key": kwargs["idempotency_key"],
    }


def replace_stored_jwe(uow: UnitOfWork, receipt_number: str, token: str) -> None:
    """What someone with write access to the internet zone's database can do: make the
    application's JWE read as ``token`` (a row of its own, which readers take before a segment)."""
    from jichitai.internet.models import ApplicationCiphertext
    from jichitai.internet.submissions import ciphertexts
    from jichitai.internet.submissions.encryption import split_compact

    ciphertexts.delete(uow, [receipt_number])
    head, raw = split_compact(token)
    uow.session.add(ApplicationCiphertext(receipt_number=receipt_number, head=head, ciphertext=raw))
