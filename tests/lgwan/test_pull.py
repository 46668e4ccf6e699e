"""The pull worker against the real internet zone: store, verify, identify, acknowledge."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from tests.internet.factories import replace_stored_jwe
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
    from jichitai.internet.purposes import SUBMISSION_PULL
    from jichitai.internet.submissions import ciphertexts
    from jichitai.internet.submissions.encryption import join_compact, split_compact

    ctx = TenantContext.of(CHIYODA, system("attacker"), SUBMISSION_PULL.code)
    with portal.storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        token = ciphertexts.token(uow, receipt)
        assert token is not None
        head, raw = split_compact(token)
        data = bytearray(raw)
        data[len(data) // 2] ^= 0x01
        replace_stored_jwe(uow, receipt, join_compact(head, bytes(data)))


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


def test_worker_processes_and_batches_keep_a_bad_application_apart(portal: Portal, pki: Pki) -> None:
    from jichitai.lgwan.pull import shutdown_worker_pools

    receipts = [portal.submit(pki) for _ in range(4)]
    _flip_ciphertext(portal, receipts[1])
    try:
        report = pull_once(
            portal.storage, CHIYODA, http=portal.http, batch_size=2, processes=2, min_for_processes=1
        )
    finally:
        shutdown_worker_pools()
    assert report.error == ""
    assert (report.stored, report.verified, report.failed, report.acked) == (4, 3, 1, 4)
    assert report.seconds.get("decrypt", 0) > 0  # the worker processes did the decrypting
    apps = {a.receipt_number: a for a in lgwan_apps(portal.storage)}
    assert apps[receipts[1]].verification == "failed" and apps[receipts[1]].raw_jwe is not None
    assert all(apps[r].verification == "verified" for r in receipts if r != receipts[1])
    assert all(portal_status(portal, r) == "delivered" for r in receipts)
    ctx = TenantContext.of(CHIYODA, system("test"), APPLICATION_PULL.code)
    with portal.storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        atts = uow.session.scalars(select(LgwanAttachment)).all()
        # the sanitized copies made in the workers were taken for the verified applications
        assert len(atts) == 3 and all(a.sanitize_method == "reencoded_image" and a.sanitized for a in atts)


def test_a_portal_without_batch_routes_is_served_one_by_one(portal: Portal, pki: Pki) -> None:
    import httpx

    receipts = [portal.submit(pki) for _ in range(2)]
    calls: list[str] = []

    class OlderPortal:
        """A portal of a version before the batch routes: they answer 404."""

        def __init__(self, http: object) -> None:
            self.inner = http

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def request(self, method: str, url: str, **kw: object) -> object:
            calls.append(url)
            if "/applications-batch/" in url:
                return httpx.Response(404, json={"detail": "Not Found"})
            return self.inner.request(method, url, **kw)  # type: ignore[attr-defined]

    report = pull_once(portal.storage, CHIYODA, http=OlderPortal(portal.http))  # type: ignore[arg-type]
    assert (report.stored, report.verified, report.acked) == (2, 2, 2)
    assert all(portal_status(portal, r) == "delivered" for r in receipts)
    assert sum("/applications-batch/" in c for c in calls) == 1  # asked once, then one by one


def test_a_worker_process_that_died_loses_nothing(portal: Portal, pki: Pki) -> None:
    import os

    from jichitai.lgwan.pull import shutdown_worker_pools, worker_pool

    receipts = [portal.submit(pki) for _ in range(3)]
    broken = worker_pool(portal.storage, 2)
    try:
        broken.submit(os._exit, 1).exception()  # a worker dies (out of memory, killed): the pool breaks
        report = pull_once(portal.storage, CHIYODA, http=portal.http, processes=2, min_for_processes=1)
    finally:
        shutdown_worker_pools()
    # whatever the workers could not do was done by the pull itself
    assert (report.stored, report.verified, report.acked) == (3, 3, 3)
    assert all(portal_status(portal, r) == "delivered" for r in receipts)


def _rewrite_payload(portal: Portal, receipt: str, change: Callable[[dict[str, Any]], None]) -> bytes:
    """Decrypt a stored submission, change its payload and encrypt it again for the tenant.

    What a forger holding the tenant's public submission key could place at the portal past its
    own checks: only application management's checks stand between it and the staff.
    """
    from jichitai.internet.purposes import SUBMISSION_PULL
    from jichitai.internet.submissions import ciphertexts
    from jichitai.internet.submissions.encryption import SUBMISSION_TYPE, seal_for_tenant, submission_key

    ctx = TenantContext.of(CHIYODA, system("attacker"), SUBMISSION_PULL.code)
    with portal.storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        token = ciphertexts.token(uow, receipt)
        assert token is not None
    with portal.storage.unit_of_work(
        TenantContext.of(CHIYODA, system("test"), APPLICATION_PULL.code), Zone.LGWAN
    ) as uow:
        _, plaintext = uow.keyring.decrypt_submission(token)
    payload = json.loads(plaintext)
    change(payload)
    changed = json.dumps(payload, ensure_ascii=False).encode()
    sealed = seal_for_tenant(changed, submission_key(portal.storage, CHIYODA), SUBMISSION_TYPE, receipt)
    with portal.storage.unit_of_work(ctx, Zone.INTERNET) as uow:
        replace_stored_jwe(uow, receipt, sealed.token)
    return changed


def _notes_in_process(portal: Portal, plaintext: bytes, receipt: str) -> list[str]:
    """The notes the whole check gives when made in this process, from scratch."""
    from datetime import UTC, datetime

    from jichitai.lgwan.verification import Verifier, load_trust
    from jichitai.procedures.store import tenant_procedures

    settings = portal.storage.settings
    anchors, crls = load_trust(settings.trust_anchor_paths(), settings.crl_paths())
    with portal.storage.unit_of_work(
        TenantContext.of(CHIYODA, system("test"), APPLICATION_PULL.code), Zone.LGWAN
    ) as uow:
        verifier = Verifier(CHIYODA, tenant_procedures(uow), anchors, crls, datetime.now(UTC))
        return verifier.check(plaintext, receipt).notes


def test_a_bad_signature_checked_in_a_worker_is_refused_as_in_this_process(portal: Portal, pki: Pki) -> None:
    import base64

    from jichitai.lgwan.pull import shutdown_worker_pools

    receipts = [portal.submit(pki) for _ in range(4)]

    def forge(payload: dict[str, Any]) -> None:
        signature = bytearray(base64.b64decode(payload["signature_b64"]))
        signature[7] ^= 0x01
        payload["signature_b64"] = base64.b64encode(bytes(signature)).decode()

    def other_use(payload: dict[str, Any]) -> None:
        payload["certificate_use"] = "authentication"  # the procedure requires 署名用

    forged = _rewrite_payload(portal, receipts[2], forge)
    misused = _rewrite_payload(portal, receipts[3], other_use)
    try:
        report = pull_once(
            portal.storage, CHIYODA, http=portal.http, batch_size=4, processes=2, min_for_processes=1
        )
    finally:
        shutdown_worker_pools()
    assert report.error == ""
    assert report.seconds.get("precheck", 0) > 0  # the worker processes made the checks
    assert (report.stored, report.verified, report.failed, report.acked) == (4, 2, 2, 4)
    apps = {a.receipt_number: a for a in lgwan_apps(portal.storage)}
    notes = json.loads(apps[receipts[2]].verification_notes)
    assert apps[receipts[2]].verification == "failed"
    assert notes == ["電子署名を検証できません(申請内容が署名後に変更された可能性)"]
    assert notes == _notes_in_process(portal, forged, receipts[2])
    # the certificate is checked again here for the use the procedure requires
    misuse_notes = json.loads(apps[receipts[3]].verification_notes)
    assert apps[receipts[3]].verification == "failed"
    assert any("署名用電子証明書が必要" in n for n in misuse_notes), misuse_notes
    assert misuse_notes == _notes_in_process(portal, misused, receipts[3])
    for good in receipts[:2]:
        assert apps[good].verification == "verified"
    assert all(portal_status(portal, r) == "delivered" for r in receipts)


def test_a_form_against_its_definition_checked_in_a_worker_is_refused_as_in_this_process(
    portal: Portal, pki: Pki
) -> None:
    import base64
    import hashlib
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from jichitai.lgwan.pull import shutdown_worker_pools
    from jichitai.lgwan.verification import CryptoChecks, Verifier, load_trust
    from jichitai.procedures import canonical_form_bytes
    from jichitai.procedures.store import tenant_procedures

    receipts = [portal.submit(pki) for _ in range(4)]

    def off_the_form(payload: dict[str, Any]) -> None:
        # the resident's own card signs a form its definition does not allow
        form = payload["form"]
        form[sorted(form)[0]] = [1, 2, 3]
        signed = canonical_form_bytes(form)
        payload["form_sha256"] = payload["signed_sha256"] = hashlib.sha256(signed).hexdigest()
        signature = pki.sign_key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
        payload["signature_b64"] = base64.b64encode(signature).decode()

    # in the second batch: the first one's stored definitions go to the workers with it
    forged = _rewrite_payload(portal, receipts[3], off_the_form)
    try:
        report = pull_once(
            portal.storage, CHIYODA, http=portal.http, batch_size=2, processes=2, min_for_processes=1
        )
    finally:
        shutdown_worker_pools()
    assert (report.stored, report.verified, report.failed) == (4, 3, 1)
    app = {a.receipt_number: a for a in lgwan_apps(portal.storage)}[receipts[3]]
    notes = json.loads(app.verification_notes)
    assert app.verification == "failed"
    assert notes and all("申請内容が手続の定義に合いません" in n for n in notes), notes
    assert notes == _notes_in_process(portal, forged, receipts[3])

    # the same through the two halves, the form validated by the database-free half
    settings = portal.storage.settings
    anchors, crls = load_trust(settings.trust_anchor_paths(), settings.crl_paths())
    now = datetime.now(UTC)
    with portal.storage.unit_of_work(
        TenantContext.of(CHIYODA, system("test"), APPLICATION_PULL.code), Zone.LGWAN
    ) as uow:
        verifier = Verifier(CHIYODA, tenant_procedures(uow), anchors, crls, now)
        whole = verifier.check(forged, receipts[3])
        pre = CryptoChecks(anchors, crls).precheck(
            forged, CHIYODA, receipts[3], None, now, definitions=verifier.definitions()
        )
        assert pre.validated is not None and pre.schema_errors
        halves = verifier.complete(pre, forged, receipts[3])
    assert (halves.verification, halves.notes) == (whole.verification, whole.notes)


def test_runs_of_the_pull_share_one_access_token(portal: Portal, pki: Pki) -> None:
    # the portal checks the client secret with argon2 at every login: a pull every few seconds
    # reuses the token it has until shortly before it expires
    import httpx

    logins: list[str] = []

    def count(request: httpx.Request) -> None:
        if request.url.path.endswith("/token"):
            logins.append(request.url.path)

    portal.http.event_hooks["request"].append(count)
    portal.submit(pki)
    first = pull_once(portal.storage, CHIYODA, http=portal.http)
    portal.submit(pki)
    second = pull_once(portal.storage, CHIYODA, http=portal.http)
    assert (first.stored, second.stored) == (1, 1)
    assert len(logins) == 1
