"""The portal's own tables on SQLite and PostgreSQL: drafts with files, receipts, login sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from jichitai.internet.portal import drafts, receipts, sessions
from jichitai.internet.portal.formfields import SummaryGroup
from jichitai.internet.submissions import ApplicationNotFound, AttachmentUpload
from jichitai.platform.storage import Storage
from tests.internet.conftest import Pki, pem
from tests.internet.factories import PDF

TENANT = "131016"


def test_a_draft_keeps_data_and_files_per_resident(internet: Storage) -> None:
    drafts.save_draft(
        internet, TENANT, "resident-a", "child_allowance_claim", "child_allowance_claim@1", {"x": 1}
    )
    drafts.add_files(
        internet,
        TENANT,
        "resident-a",
        "child_allowance_claim",
        [AttachmentUpload("other", "a.pdf", "application/pdf", PDF)],
    )
    got = drafts.load_draft(internet, TENANT, "resident-a", "child_allowance_claim")
    assert got is not None and got.data == {"x": 1} and [f.filename for f in got.files] == ["a.pdf"]
    assert drafts.load_draft(internet, TENANT, "resident-b", "child_allowance_claim") is None
    files = drafts.draft_attachments(internet, TENANT, "resident-a", "child_allowance_claim")
    assert files[0].data == PDF
    drafts.delete_draft(internet, TENANT, "resident-a", "child_allowance_claim")
    assert drafts.load_draft(internet, TENANT, "resident-a", "child_allowance_claim") is None


def test_a_receipt_summary_is_only_the_residents_own(internet: Storage) -> None:
    now = datetime(2026, 4, 1, 5, 5, tzinfo=UTC)
    group = SummaryGroup("請求者", (("氏名", "山田 太郎"),))
    receipts.store_summary(
        internet, TENANT, "resident-a", receipt_number="20260401-131016-AAAAAAAA",
        procedure_id="child_allowance_claim", received_at=now, groups=[group],
    )  # fmt: skip
    got = receipts.load_summary(internet, TENANT, "resident-a", "20260401-131016-AAAAAAAA")
    assert got.groups == (group,) and receipts.wareki_time(got.received_at) == "令和8年4月1日 14時05分"
    with pytest.raises(ApplicationNotFound):
        receipts.load_summary(internet, TENANT, "resident-b", "20260401-131016-AAAAAAAA")


def test_a_session_opens_on_a_signed_challenge_and_ends(internet: Storage, pki: Pki) -> None:
    challenge = sessions.new_challenge(internet, TENANT)
    signature = pki.auth_key.sign(challenge.challenge, padding.PKCS1v15(), hashes.SHA256())
    result = sessions.log_in(
        internet,
        TENANT,
        challenge_id=challenge.challenge_id,
        signature=signature,
        certificate_pem=pem(pki.auth_cert),
    )
    again = sessions.current_session(internet, TENANT, result.token)
    assert again is not None and again.resident_key == result.session.resident_key
    assert again.resident_key.startswith("jpki-auth:")
    later = datetime.now(UTC) + sessions.SESSION_TTL + timedelta(minutes=1)
    assert sessions.current_session(internet, TENANT, result.token, now=later) is None
    stale = sessions.new_challenge(internet, TENANT, now=datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(sessions.LoginFailed):
        sessions.log_in(
            internet, TENANT, challenge_id=stale.challenge_id,
            signature=pki.auth_key.sign(stale.challenge, padding.PKCS1v15(), hashes.SHA256()),
            certificate_pem=pem(pki.auth_cert),
        )  # fmt: skip
