"""The pull worker against the real internet zone: store, verify, identify, acknowledge."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from jichitai.contracts.submission import SubmissionStatus
from jichitai.lgwan.models import LgwanApplication, LgwanAttachment
from jichitai.lgwan.pull import pull_once
from jichitai.lgwan.purposes import APPLICATION_PULL
from jichitai.platform.context import TenantContext, system
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from tests.internet.api_support import CHIYODA
from tests.internet.conftest import Pki
from tests.lgwan.conftest import Portal


def lgwan_apps(storage: Storage) -> list[LgwanApplication]:
    ctx = TenantContext.of(CHIYODA, system("test"), APPLICATION_PULL.code)
    with storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        rows = list(uow.session.scalars(select(LgwanApplication).order_by(LgwanApplication.receipt_number)))
        uow.session.expunge_all()
        return rows


def portal_status(portal: Portal, receipt: str) -> str:
    from jichitai.internet.purposes import SUBMISSION_PULL
    from jichitai.internet.submissions import receiving

    ctx = TenantContext.of(CHIYODA, system("test"), SUBMISSION_PULL.code)
    info, _ = receiving.get_application(portal.storage, ctx, receipt)
    return info.envelope.status.value


def test_pull_stores_verifies_and_acknowledges(portal: Portal, pki: Pki) -> None:
    receipt = portal.submit(pki)
    report = pull_once(portal.storage, CHIYODA, http=portal.http)
    assert report.error == ""
    assert (report.listed, report.stored, report.verified, report.acked) == (1, 1, 1, 1)
    [app] = lgwan_apps(portal.storage)
    assert app.receipt_number == receipt
    assert app.verification == "verified", app.verification_notes
    assert app.status == SubmissionStatus.DELIVERED.value
    assert app.acked_at is not None and app.form is not None and app.raw_jwe is None
    assert app.signer_serial == f"{pki.sign_cert.serial_number:X}"
    assert b"\xe5\xb1\xb1\xe7\x94\xb0" not in (app.signer_facts or b"")  # 山田 is not stored in clear
    assert portal_status(portal, receipt) == "delivered"
    # pulling again finds nothing new and duplicates nothing
    again = pull_once(portal.storage, CHIYODA, http=portal.http)
    assert (again.listed, again.stored) == (0, 0)
    assert len(lgwan_apps(portal.storage)) == 1
    assert json.loads(app.verification_notes) == []


def _flip_ciphertext(portal: Portal, receipt: str) -> None:
    from jichitai.internet.models import ApplicationCiphertext
    from jichitai.internet.purposes import SUBMISSION_PULL

    ctx = TenantContext.of(CHIYODA, system("attacker"), SUBMISSION_PULL.code)
    with portal.storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        row = uow.session.get(ApplicationCiphertext, receipt)
        assert row is not None
        data = bytearray(row.ciphertext)
        data[len(data) // 2] ^= 0x01
        row.ciphertext = bytes(data)


def test_tampered_ciphertext_is_kept_as_failed_with_the_reason(portal: Portal, pki: Pki) -> None:
    good = portal.submit(pki)
    bad = portal.submit(pki)
    _flip_ciphertext(portal, bad)
    report = pull_once(portal.storage, CHIYODA, http=portal.http)
    assert (report.stored, report.verified, report.failed) == (2, 1, 1)
    apps = {a.receipt_number: a for a in lgwan_apps(portal.storage)}
    failed = apps[bad]
    assert failed.verification == "failed"
    assert "復号できませんでした" in json.loads(failed.verification_notes)[0]
    assert failed.raw_jwe is not None and failed.form is None  # the ciphertext as pulled, for the audit
    assert apps[good].verification == "verified"
    # kept and acknowledged: the portal does not offer it again, nothing is lost
    assert portal_status(portal, bad) == "delivered"


def test_certificate_revoked_after_submission_is_flagged(portal: Portal, pki: Pki) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.internet.conftest import RESIDENT

    now = datetime.now(UTC)
    cert = pki.ca.issue_signing_certificate(
        pki.sign_key.public_key(), RESIDENT.facts, now=now - timedelta(hours=1)
    )
    pki.ca.publish_crl(now=now - timedelta(seconds=60))  # a CRL current at the submission time
    pki.install(portal.storage)
    receipt = portal.submit(pki, cert=cert, at=now - timedelta(seconds=20))
    # the resident moves: the 署名用 certificate is revoked after the submission, before the pull
    pki.ca.revoke(cert.serial_number, "affiliation_changed", now=now - timedelta(seconds=10))
    pki.ca.publish_crl(now=now - timedelta(seconds=5))
    pki.install(portal.storage)
    report = pull_once(portal.storage, CHIYODA, http=portal.http)
    assert report.flagged == 1
    [app] = [a for a in lgwan_apps(portal.storage) if a.receipt_number == receipt]
    assert app.verification == "flagged"
    [note] = json.loads(app.verification_notes)
    assert "提出後に失効" in note and "基本4情報" in note


def test_lost_acknowledgement_is_repeated_without_a_duplicate(portal: Portal, pki: Pki) -> None:
    receipt = portal.submit(pki)

    class DropAcks:
        """The portal answers, but every acknowledgement is lost on the way."""

        def __init__(self, http: object) -> None:
            self.inner = http

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def post(self, url: str, **kw: object) -> object:
            return self.inner.post(url, **kw)  # type: ignore[attr-defined]

        def request(self, method: str, url: str, **kw: object) -> object:
            if url.endswith("/ack"):
                import httpx

                raise httpx.ConnectError("connection reset")
            return self.inner.request(method, url, **kw)  # type: ignore[attr-defined]

    first = pull_once(portal.storage, CHIYODA, http=DropAcks(portal.http))  # type: ignore[arg-type]
    assert first.stored == 1 and first.acked == 0 and first.ack_errors == 1
    assert portal_status(portal, receipt) == "received"  # the portal still offers it
    second = pull_once(portal.storage, CHIYODA, http=portal.http)
    assert (second.listed, second.stored, second.duplicates, second.acked) == (1, 0, 1, 1)
    assert [a.receipt_number for a in lgwan_apps(portal.storage)] == [receipt]
    assert portal_status(portal, receipt) == "delivered"


def test_attachments_are_kept_sealed_with_a_sanitized_copy(portal: Portal, pki: Pki) -> None:
    portal.submit(pki)
    pull_once(portal.storage, CHIYODA, http=portal.http)
    ctx = TenantContext.of(CHIYODA, system("test"), APPLICATION_PULL.code)
    with portal.storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        [att] = uow.session.scalars(select(LgwanAttachment)).all()
        assert att.hash_ok and att.sanitize_method == "reencoded_image"
        assert att.sanitized is not None and att.sanitized_type == "image/jpeg"
        assert not att.original.startswith(b"\xff\xd8")  # sealed, not the file itself


def test_trust_material_is_reused_until_a_file_changes(tmp_path: Path) -> None:
    from datetime import UTC, date, datetime, timedelta

    from jichitai.lgwan.verification import load_trust
    from jichitai.platform.pki import TestCA
    from jichitai.platform.pki.ca import new_rsa_key
    from jichitai.platform.pki.rules import BasicFacts, Sex

    now = datetime.now(UTC)
    ca = TestCA.create(tmp_path / "ca", b"trust-cache-passphrase", now=now - timedelta(days=1))
    facts = BasicFacts("山田　花子", "東京都千代田区霞が関二丁目1番2号", date(1990, 1, 2), Sex.FEMALE)
    cert = ca.issue_signing_certificate(new_rsa_key().public_key(), facts, now=now - timedelta(hours=2))
    ca.publish_crl(now=now - timedelta(minutes=5))
    anchors = [ca.directory / TestCA.CERT_FILE]
    crl_file = ca.directory / "crl.pem"
    first = load_trust(anchors, [crl_file])
    assert load_trust(anchors, [crl_file]) is first  # nothing changed: nothing parsed again
    ca.revoke(cert.serial_number, "affiliation_changed", now=now - timedelta(minutes=1))
    ca.publish_crl(now=now)
    second = load_trust(anchors, [crl_file])
    assert second is not first
    (crl,) = second[1].for_issuer(cert.issuer)
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None  # counts at once
