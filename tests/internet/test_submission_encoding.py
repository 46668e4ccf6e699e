"""The stored form of a submission: base64 text reused only when canonical, JWE sealed straight
into (head, ciphertext) and still read by the platform's JWE decryption."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jichitai.contracts.submission import AttachmentPart, CertificateUse, SubmissionPayload
from jichitai.internet.submissions.encryption import SubmissionKey, join_compact, seal_for_tenant
from jichitai.internet.submissions.service import AttachmentUpload, attachment_placeholders, payload_json
from jichitai.platform.crypto import jwe
from jichitai.platform.crypto.fields import BlindIndexer


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 6, 1000, 1001, 1002])
def test_canonical_base64_text_is_kept(size: int) -> None:
    data = bytes(range(256)) * 4
    data = data[:size]
    text = base64.b64encode(data).decode()
    upload = AttachmentUpload("k", "a.pdf", "application/pdf", data, text)
    assert upload.base64() is text


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("QR==", b"A"),  # unused bits set: decodes to b"A" but is not its encoding
        ("QUJ=", b"AB"),
        ("QUJD", b"ABX"),  # not what the data decodes from at all
        ("QUJDRA==", b"ABC"),  # longer text
    ],
)
def test_other_base64_text_is_encoded_again(text: str, data: bytes) -> None:
    upload = AttachmentUpload("k", "a.pdf", "application/pdf", data, text)
    assert upload.base64() == base64.b64encode(data).decode()


def test_sealed_submission_decrypts_with_the_platform_jwe() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = SubmissionKey("131016-1", 1, private.public_key(), BlindIndexer("131016", b"\x01" * 32))
    plaintext = json.dumps({"form": "申請", "blob": "x" * 5000}).encode()
    sealed = seal_for_tenant(plaintext, key, "submission", "20260401-131016-7QK2M9XD")
    token = join_compact(sealed.head, sealed.ciphertext)
    assert sealed.token_size == len(token)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    header, out = jwe.decrypt(token, lambda kid, ek: private.decrypt(ek, oaep))
    assert out == plaintext
    assert header["kid"] == "131016-1"
    assert header["receipt_number"] == "20260401-131016-7QK2M9XD"
    assert header["jichitai_type"] == "submission"


def _payload(form: dict[str, object], attachments: list[tuple[str, str]]) -> SubmissionPayload:
    return SubmissionPayload(
        receipt_number="20260401-131016-7QK2M9XD",
        tenant="131016",
        procedure_id="p",
        procedure_version="p@1",
        form=form,
        form_sha256="0" * 64,
        signed_sha256="0" * 64,
        signature_b64="c2ln",
        certificate_pem="-----BEGIN CERTIFICATE-----",
        certificate_use=CertificateUse.SIGNING,
        attachments=[
            AttachmentPart(
                attachment_id=f"a{i + 1}",
                kind="k",
                filename=name,
                content_type="application/pdf",
                size=1,
                sha256="1" * 64,
                data_b64=text,
            )
            for i, (name, text) in enumerate(attachments)
        ],
        submitted_at=datetime(2026, 4, 1, tzinfo=UTC),
        idempotency_key="key-00000001",
    )


def test_the_spliced_payload_is_the_payload_serialised_whole() -> None:
    """The attachments' base64 text goes into the payload JSON after serialisation, in place of
    placeholders; the bytes are those of serialising the whole payload, even when the form holds
    keys and texts that look like a placeholder or an attachment field."""
    texts = [base64.b64encode(bytes(range(256)) * 40).decode(), "", base64.b64encode(b"x").decode()]
    placeholders = attachment_placeholders(len(texts))
    form: dict[str, object] = {
        "data_b64": "",
        "note": 'say "data_b64":"" and \\ and \x00attachment-0-',
        "same": placeholders[0].replace("\x00", ""),
    }
    names = ["a.pdf", "b.pdf", "c.pdf"]
    light = _payload(form, list(zip(names, placeholders, strict=True)))
    whole = _payload(form, list(zip(names, texts, strict=True)))
    spliced = payload_json(light, placeholders, texts)
    assert spliced == whole.__pydantic_serializer__.to_json(whole)
    assert SubmissionPayload.model_validate_json(spliced) == whole
    assert len(set(placeholders)) == 3 and attachment_placeholders(1) != placeholders[:1]
    with pytest.raises(ValueError, match="not plain base64"):
        payload_json(light, placeholders, ['QUJD"', "", ""])
