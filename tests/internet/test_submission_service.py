"""Receiving a submission: what is stored, what is refused, and that nothing is stored half."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from jichitai.contracts.submission import CertificateUse, SubmissionPayload, SubmissionStatus
from jichitai.internet.models import Application, ApplicationCiphertext
from jichitai.internet.submissions import (
    AttachmentUpload,
    IdempotencyConflict,
    ProcedureNotOffered,
    SignedBytesMismatch,
    SubmissionInvalid,
    ciphertexts,
    submit,
)
from jichitai.internet.submissions.encryption import split_compact
from jichitai.internet.submissions.procedures import tenant_procedures
from jichitai.platform.audit.models import AuditEntry
from jichitai.platform.context import KEY_MANAGEMENT, TenantContext, operator
from jichitai.platform.pki.errors import (
    BadSignature,
    CertificateExpired,
    CertificateRevoked,
    UnknownIssuer,
    WrongCertificateType,
)
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from jichitai.procedures import canonical_form_bytes
from tests.internet.conftest import NOW, Pki
from tests.internet.factories import CLAIM, PDF, PRESUBMISSION, submission

CHIYODA = "131016"


def admin() -> TenantContext:
    return TenantContext.of(CHIYODA, operator(), KEY_MANAGEMENT.code)


def counts(storage: Storage) -> tuple[int, int]:
    with storage.unit_of_work(admin(), Zone.INTERNET) as uow:
        apps = uow.session.scalar(select(func.count()).select_from(Application)) or 0
        blobs = len(ciphertexts.stored(uow))
    return apps, blobs


def decrypt(storage: Storage, token: str) -> tuple[dict[str, Any], SubmissionPayload]:
    with storage.unit_of_work(admin(), Zone.LGWAN) as uow:
        header, plaintext = uow.keyring.decrypt_submission(token)
    return header, SubmissionPayload.model_validate_json(plaintext)


def stored_token(storage: Storage, receipt_number: str) -> str:
    with storage.unit_of_work(admin(), Zone.INTERNET) as uow:
        token = ciphertexts.token(uow, receipt_number)
        assert token is not None
        return token


def test_a_signed_claim_is_stored_encrypted_and_only_lgwan_reads_it(internet: Storage, pki: Pki) -> None:
    kwargs = submission(pki)
    receipt = submit(internet, CHIYODA, **kwargs)

    assert receipt.status is SubmissionStatus.RECEIVED
    assert receipt.receipt_number.split("-")[1] == CHIYODA
    with internet.unit_of_work(admin(), Zone.INTERNET) as uow:
        row = uow.session.get(Application, receipt.receipt_number)
        assert row is not None
        assert (row.procedure_id, row.procedure_version, row.kid) == (CLAIM, f"{CLAIM}@1", f"{CHIYODA}-1")
        actions = [e.action for e in uow.session.scalars(select(AuditEntry))]
    assert "create" in actions  # the audited routing row, in the same transaction

    header, payload = decrypt(internet, stored_token(internet, receipt.receipt_number))
    assert header["alg"] == "RSA-OAEP-256" and header["enc"] == "A256GCM"
    assert header["receipt_number"] == receipt.receipt_number
    assert payload.form == kwargs["form"]
    assert payload.form_sha256 == hashlib.sha256(canonical_form_bytes(kwargs["form"])).hexdigest()
    assert payload.certificate_use is CertificateUse.SIGNING
    [part] = payload.attachments
    assert part.sha256 == hashlib.sha256(kwargs["attachments"][0].data).hexdigest()
    assert payload.receipt_number == receipt.receipt_number


def test_a_procedure_for_login_certificates_takes_the_authentication_certificate(
    internet: Storage, pki: Pki
) -> None:
    receipt = submit(internet, CHIYODA, **submission(pki, PRESUBMISSION))
    _, payload = decrypt(internet, stored_token(internet, receipt.receipt_number))
    assert payload.certificate_use is CertificateUse.AUTHENTICATION


def test_the_internet_zone_cannot_decrypt(internet: Storage, pki: Pki) -> None:
    from jichitai.platform.crypto.jwe import JweError
    from jichitai.platform.crypto.keystore import KeyKind, KeystoreError

    kwargs = submission(pki)
    marker = "ユニーク申請者マーカー漢字"
    kwargs = submission(
        pki, form={**kwargs["form"], "claimant": {**kwargs["form"]["claimant"], "name": marker}}
    )
    receipt = submit(internet, CHIYODA, **kwargs)
    token = stored_token(internet, receipt.receipt_number)

    keystore = internet.keystore(Zone.INTERNET)
    with pytest.raises(KeystoreError):
        keystore.submission_decrypt(CHIYODA, 1, b"\x00" * 384)
    with pytest.raises(KeystoreError):
        keystore.versions(CHIYODA, KeyKind.SUBMISSION)
    with internet.unit_of_work(admin(), Zone.INTERNET) as uow, pytest.raises((KeystoreError, JweError)):
        uow.keyring.decrypt_submission(token)

    # the form's text is nowhere in the internet zone's stored bytes (SQLite file, its WAL and the
    # segment file that holds the ciphertext)
    if internet.settings.backend == "sqlite":
        zone_dir = Path(internet.settings.home, "zones", "internet")
        files = list(zone_dir.glob(f"{CHIYODA}.sqlite3*"))
        segment_files = list((zone_dir / f"{CHIYODA}.blobs").glob("*.seg"))
        assert files and len(segment_files) == 1
        raw_ciphertext = split_compact(token)[1]
        assert raw_ciphertext in segment_files[0].read_bytes()
        for path in files + segment_files:
            raw = path.read_bytes()
            assert marker.encode("utf-8") not in raw
            assert json.dumps(marker).encode() not in raw
    else:
        with internet.unit_of_work(admin(), Zone.INTERNET) as uow:
            blob = uow.session.get(ApplicationCiphertext, receipt.receipt_number)
            assert blob is not None and marker.encode() not in blob.ciphertext + blob.head.encode()
    _, payload = decrypt(internet, token)
    assert payload.form["claimant"]["name"] == marker


def test_the_same_idempotency_key_gives_the_same_receipt_and_one_application(
    internet: Storage, pki: Pki
) -> None:
    kwargs = submission(pki)
    first = submit(internet, CHIYODA, **kwargs)
    again = submit(internet, CHIYODA, **kwargs)
    assert again.receipt_number == first.receipt_number and again.replayed
    assert counts(internet) == (1, 1)


def test_the_same_idempotency_key_with_another_form_is_refused(internet: Storage, pki: Pki) -> None:
    kwargs = submission(pki)
    submit(internet, CHIYODA, **kwargs)
    other = submission(pki, idempotency_key=kwargs["idempotency_key"])
    other["form"]["claimant"]["name"] = "山田　太郎"
    other = submission(pki, form=other["form"], idempotency_key=kwargs["idempotency_key"])
    with pytest.raises(IdempotencyConflict):
        submit(internet, CHIYODA, **other)
    assert counts(internet) == (1, 1)


def test_a_schema_violation_gives_one_japanese_message_per_field(internet_sqlite: Storage, pki: Pki) -> None:
    kwargs = submission(pki)
    kwargs["form"]["claimant"]["postal_code"] = "12-345"
    del kwargs["form"]["claimant"]["name"]
    with pytest.raises(SubmissionInvalid) as caught:
        submit(internet_sqlite, CHIYODA, **submission(pki, form=kwargs["form"]))
    pointers = {e.pointer: e.message for e in caught.value.errors}
    assert "/claimant/postal_code" in pointers and "/claimant/name" in pointers
    assert all(
        any("\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" for c in m) for m in pointers.values()
    )
    assert counts(internet_sqlite) == (0, 0)


def test_a_signature_over_other_bytes_is_refused(internet_sqlite: Storage, pki: Pki) -> None:
    kwargs = submission(pki)
    kwargs["signed_bytes"] = canonical_form_bytes({"something": "else"})
    with pytest.raises(SignedBytesMismatch):
        submit(internet_sqlite, CHIYODA, **kwargs)
    tampered = submission(pki)
    tampered["form"]["claimant"]["name"] = "改ざん　太郎"  # the signature was made over the original
    tampered["signed_bytes"] = canonical_form_bytes(tampered["form"])
    with pytest.raises(BadSignature):
        submit(internet_sqlite, CHIYODA, **tampered)
    assert counts(internet_sqlite) == (0, 0)


@pytest.mark.parametrize(
    ("which", "error"),
    [
        ("expired_cert", CertificateExpired),
        ("revoked_cert", CertificateRevoked),
        ("foreign_cert", UnknownIssuer),
    ],
)
def test_certificates_that_must_not_be_trusted_are_refused(
    internet_sqlite: Storage, pki: Pki, which: str, error: type[Exception]
) -> None:
    key = pki.foreign_key if which == "foreign_cert" else pki.sign_key
    kwargs = submission(pki, key=key, cert=getattr(pki, which))
    with pytest.raises(error):
        submit(internet_sqlite, CHIYODA, **kwargs)
    assert counts(internet_sqlite) == (0, 0)


def test_a_login_certificate_cannot_sign_a_claim(internet_sqlite: Storage, pki: Pki) -> None:
    as_signing = submission(pki, key=pki.auth_key, cert=pki.auth_cert)
    with pytest.raises(WrongCertificateType):
        submit(internet_sqlite, CHIYODA, **as_signing)
    declared = submission(pki, use=CertificateUse.AUTHENTICATION)
    with pytest.raises(WrongCertificateType):
        submit(internet_sqlite, CHIYODA, **declared)


def test_a_revocation_is_honoured_from_the_next_crl_on(internet_sqlite: Storage, pki: Pki) -> None:
    fresh = pki.ca.issue_signing_certificate(pki.sign_key.public_key(), _facts(), now=NOW - timedelta(days=1))
    submit(internet_sqlite, CHIYODA, **submission(pki, cert=fresh))  # verified and cached
    pki.ca.revoke(fresh.serial_number, "key_compromise", now=NOW - timedelta(minutes=30))
    pki.ca.publish_crl(now=NOW - timedelta(minutes=20))
    pki.install(internet_sqlite)  # the new CRL lands where the settings point
    with pytest.raises(CertificateRevoked):
        submit(internet_sqlite, CHIYODA, **submission(pki, cert=fresh))


def _facts() -> Any:
    from tests.internet.conftest import RESIDENT

    return RESIDENT.facts


@pytest.mark.parametrize(
    ("files", "keyword"),
    [
        (
            [AttachmentUpload("passbook_copy", "big.pdf", "application/pdf", PDF + bytes(10 * 1024 * 1024))],
            "max_size",
        ),
        (
            [AttachmentUpload("passbook_copy", "x.exe", "application/x-msdownload", b"MZ" + bytes(100))],
            "content_type",
        ),
        (
            [AttachmentUpload("passbook_copy", "fake.pdf", "application/pdf", b"MZ" + bytes(100))],
            "content_mismatch",
        ),
        ([AttachmentUpload("virus", "a.pdf", "application/pdf", PDF)], "kind"),
        ([AttachmentUpload("passbook_copy", "a.pdf", "application/pdf", PDF)] * 2, "max_count"),
        ([], "min_count"),
    ],
)
def test_oversized_or_disallowed_attachments_are_refused(
    internet_sqlite: Storage, pki: Pki, files: list[AttachmentUpload], keyword: str
) -> None:
    with pytest.raises(SubmissionInvalid) as caught:
        submit(internet_sqlite, CHIYODA, **submission(pki, attachments=files))
    assert keyword in {e.keyword for e in caught.value.errors}
    assert all(e.pointer.startswith("/attachments/") for e in caught.value.errors)
    assert counts(internet_sqlite) == (0, 0)


def test_a_disabled_procedure_or_unknown_version_is_refused(internet_sqlite: Storage, pki: Pki) -> None:
    kwargs = submission(pki)
    with pytest.raises(ProcedureNotOffered):
        submit(internet_sqlite, CHIYODA, **{**kwargs, "procedure_version": f"{CLAIM}@99"})
    with pytest.raises(ProcedureNotOffered):
        submit(internet_sqlite, CHIYODA, **{**kwargs, "procedure_version": "pregnancy_notification@1"})
    tenant_procedures(internet_sqlite).disable(CHIYODA, CLAIM)
    with pytest.raises(ProcedureNotOffered):
        submit(internet_sqlite, CHIYODA, **kwargs)
    assert counts(internet_sqlite) == (0, 0)


def test_a_storage_failure_leaves_nothing_behind(
    internet_sqlite: Storage, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jichitai.platform.audit import log

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(log, "append", broken)
    with pytest.raises(RuntimeError):
        submit(internet_sqlite, CHIYODA, **submission(pki))
    monkeypatch.undo()
    assert counts(internet_sqlite) == (0, 0)
