"""The receiving API end to end: submit, list, fetch, acknowledge, status events, replies, retention."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from jichitai.contracts.submission import SubmissionPayload, SubmissionStatus
from jichitai.internet.retention import purge_acknowledged
from jichitai.internet.submissions import get_for_resident, list_for_resident, reply_to_message
from jichitai.internet.submissions.resident import AmendmentPayload
from jichitai.internet.submissions.writes import group_committer
from jichitai.platform.audit.models import AuditEntry
from jichitai.platform.context import KEY_MANAGEMENT, TenantContext, operator
from jichitai.platform.identity.roles import Permission
from jichitai.platform.storage import Storage, segments
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone
from tests.conftest import add_demo_tenant
from tests.internet.api_support import (
    CHIYODA,
    YOKOHAMA,
    bearer,
    create_client,
    json_of,
    make_client,
    publish_lgwan_signing_key,
    signed_event,
    token_for,
)
from tests.internet.conftest import Pki
from tests.internet.factories import PDF, as_json_body, submission

APPS = "/api/v1/tenants/{tenant}/applications"
BATCH = "/api/v1/tenants/{tenant}/applications-batch"


def lgwan_decrypt(storage: Storage, token: str) -> tuple[dict[str, Any], bytes]:
    with storage.unit_of_work(TenantContext.of(CHIYODA, operator(), KEY_MANAGEMENT.code), Zone.LGWAN) as uow:
        return uow.keyring.decrypt_submission(token)


def post_submission(client: TestClient, body: dict[str, Any], tenant: str = CHIYODA) -> Any:
    return client.post(f"/api/v1/tenants/{tenant}/submissions", json=body)


def test_pull_acknowledge_status_and_reply(internet: Storage, pki: Pki) -> None:
    client = make_client(internet)
    kwargs = submission(pki, resident_key=None)
    body = as_json_body(kwargs)
    first = post_submission(client, body)
    assert first.status_code == 201, first.text
    receipt = json_of(first)["receipt_number"]
    again = post_submission(client, body)
    assert again.status_code == 200 and json_of(again)["receipt_number"] == receipt
    assert json_of(again)["replayed"] is True

    token = token_for(client, create_client(internet, CHIYODA))
    listed = client.get(APPS.format(tenant=CHIYODA), headers=bearer(token), params={"status": "received"})
    assert listed.status_code == 200
    assert [a["receipt_number"] for a in json_of(listed)["items"]] == [receipt]
    assert json_of(listed)["total"] == 1

    fetched = client.get(f"{APPS.format(tenant=CHIYODA)}/{receipt}", headers=bearer(token))
    assert fetched.status_code == 200
    detail = json_of(fetched)
    assert detail["kid"] == f"{CHIYODA}-1" and detail["jwe"].count(".") == 4
    _, plaintext = lgwan_decrypt(internet, detail["jwe"])
    assert SubmissionPayload.model_validate_json(plaintext).form == kwargs["form"]

    for _ in range(2):  # acknowledging twice changes nothing the second time
        acked = client.post(f"{APPS.format(tenant=CHIYODA)}/{receipt}/ack", headers=bearer(token))
        assert acked.status_code == 200
        assert json_of(acked)["status"] == "delivered"
    first_ack = json_of(acked)["acknowledged_at"]

    publish_lgwan_signing_key(internet, CHIYODA)
    event = signed_event(
        internet,
        CHIYODA,
        receipt,
        SubmissionStatus.CORRECTION_REQUESTED,
        event_id="ev-1",
        message_ja="通帳の写しが読み取れません。撮り直して添付してください。",
        reply_requested=True,
    )
    posted = client.post(
        f"{APPS.format(tenant=CHIYODA)}/{receipt}/events",
        headers=bearer(token),
        content=event.model_dump_json(),
    )
    assert posted.status_code == 201, posted.text
    repeat = client.post(
        f"{APPS.format(tenant=CHIYODA)}/{receipt}/events",
        headers=bearer(token),
        content=event.model_dump_json(),
    )
    assert repeat.status_code == 200
    events = client.get(f"{APPS.format(tenant=CHIYODA)}/{receipt}/events", headers=bearer(token))
    assert [e["event_id"] for e in json_of(events)["items"]] == ["ev-1"]

    # the resident (keyed here by the signing certificate, since the API call named no resident)
    from jichitai.internet.submissions import resident_key_for_certificate
    from jichitai.platform.pki.verify import load_certificate

    cert = load_certificate(kwargs["certificate_pem"])
    resident = resident_key_for_certificate(cert.issuer.rfc4514_string(), f"{cert.serial_number:X}")
    [mine] = list_for_resident(internet, CHIYODA, resident)
    assert mine.receipt_number == receipt and mine.status is SubmissionStatus.CORRECTION_REQUESTED
    assert mine.reply_requested and mine.status_label == "補正のお願い"
    assert list_for_resident(internet, CHIYODA, "someone-else") == []
    detail_for_resident = get_for_resident(internet, CHIYODA, resident, receipt)
    assert detail_for_resident.events[0].message_ja.startswith("通帳の写し")

    reply_to_message(
        internet,
        CHIYODA,
        resident,
        receipt,
        in_reply_to="ev-1",
        message_ja="撮り直した写しを添付します。",
        attachments=[],
    )
    assert not list_for_resident(internet, CHIYODA, resident)[0].reply_requested
    replies = client.get(f"{APPS.format(tenant=CHIYODA)}/{receipt}/replies", headers=bearer(token))
    [reply] = json_of(replies)["items"]
    header, plaintext = lgwan_decrypt(internet, reply["jwe"])
    assert header["jichitai_type"] == "amendment"
    amendment = AmendmentPayload.model_validate_json(plaintext)
    assert amendment.in_reply_to == "ev-1" and amendment.message_ja == "撮り直した写しを添付します。"

    # retention: nothing goes before the period, the ciphertext goes after it, metadata stays
    assert purge_acknowledged(internet, CHIYODA, timedelta(days=30)).applications == 0
    report = purge_acknowledged(
        internet, CHIYODA, timedelta(days=30), now=datetime.now(UTC) + timedelta(days=31)
    )
    assert (report.applications, report.replies) == (1, 1)
    if internet.settings.backend == "sqlite":  # the ciphertext's segment file goes too, once old
        blobs = Path(internet.settings.home, "zones", "internet", f"{CHIYODA}.blobs")
        assert report.segment_files == 0 and len(segments.segments(blobs)) == 1  # young: kept
        later = purge_acknowledged(internet, CHIYODA, timedelta(days=30), segment_grace_seconds=0)
        assert later.segment_files == 1 and segments.segments(blobs) == []
    gone = json_of(client.get(f"{APPS.format(tenant=CHIYODA)}/{receipt}", headers=bearer(token)))
    assert gone["jwe"] is None and gone["purged"] is True and gone["acknowledged_at"] == first_ack
    assert (
        len(
            json_of(client.get(f"{APPS.format(tenant=CHIYODA)}/{receipt}/events", headers=bearer(token)))[
                "items"
            ]
        )
        == 1
    )


def tenant_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) of the API that names a tenant's applications: found, not listed by hand."""
    found: list[tuple[str, str]] = []
    for route in client.app.state.internet_api_router.routes:  # type: ignore[attr-defined]
        path: str = getattr(route, "path", "")
        if "/tenants/{tenant}/applications" in path:
            methods = getattr(route, "methods", None) or ()
            found.extend((method, path) for method in sorted(methods) if method != "HEAD")
    return found


@pytest.mark.slow  # a second municipality takes ~2 s to add
def test_a_token_of_one_municipality_never_reaches_another(sqlite_storage: Storage, pki: Pki) -> None:
    pki.install(sqlite_storage)
    add_demo_tenant(sqlite_storage, YOKOHAMA, "横浜市", "ヨコハマシ")
    client = make_client(sqlite_storage)
    receipt = json_of(post_submission(client, as_json_body(submission(pki))))["receipt_number"]
    chiyoda = token_for(client, create_client(sqlite_storage, CHIYODA))
    yokohama = token_for(client, create_client(sqlite_storage, YOKOHAMA))
    routes = tenant_routes(client)
    assert len(routes) == 9  # the six single routes and the three batch routes
    for method, path in routes:
        url = path.format(tenant=CHIYODA, receipt_number=receipt)
        for headers, expected in ((bearer(yokohama), 403), ({}, 401), (bearer("jt_131016_forged"), 401)):
            answer = client.request(method, url, headers=headers, content=b"{}")
            assert answer.status_code == expected, (method, path, answer.text)
            body = json_of(answer)
            assert body["error"] and body["message_ja"]
        own = client.request(method, url, headers=bearer(chiyoda), content=b"{}")
        assert own.status_code != 403, (method, path)
    # and the reverse direction, for the listing
    assert client.get(APPS.format(tenant=YOKOHAMA), headers=bearer(chiyoda)).status_code == 403
    assert json_of(client.get(APPS.format(tenant=YOKOHAMA), headers=bearer(yokohama)))["total"] == 0


def test_a_token_without_the_scope_is_refused(sqlite_storage: Storage, pki: Pki) -> None:
    client = make_client(sqlite_storage)
    reader = token_for(
        client, create_client(sqlite_storage, CHIYODA, (Permission.APPLICATIONS_SUBMISSION_PULL,))
    )
    answer = client.post(f"{APPS.format(tenant=CHIYODA)}/x/events", headers=bearer(reader), content=b"{}")
    assert answer.status_code == 403
    batch = client.post(f"{BATCH.format(tenant=CHIYODA)}/events", headers=bearer(reader), content=b"{}")
    assert batch.status_code == 403


def test_refusals_of_submissions_are_clear_json(internet_sqlite: Storage, pki: Pki) -> None:
    client = make_client(internet_sqlite)
    revoked = post_submission(client, as_json_body(submission(pki, cert=pki.revoked_cert)))
    assert revoked.status_code == 400 and json_of(revoked)["error"] == "certificate_revoked"
    assert "失効" in json_of(revoked)["message_ja"]

    bad = as_json_body(submission(pki))
    bad["form"]["claimant"]["postal_code"] = "abc"
    invalid = post_submission(client, bad)
    assert invalid.status_code == 422
    body = json_of(invalid)
    assert body["error"] == "invalid_form"
    assert {e["pointer"] for e in body["errors"]} >= {"/claimant/postal_code"}

    other_bytes = as_json_body(submission(pki))
    other_bytes["signed_data_b64"] = base64.b64encode(b'{"other":1}').decode()
    answer = post_submission(client, other_bytes)
    assert answer.status_code == 400 and json_of(answer)["error"] == "signed_bytes_mismatch"

    replay = as_json_body(submission(pki))
    assert post_submission(client, replay).status_code == 201
    changed = as_json_body(submission(pki, idempotency_key=replay["idempotency_key"], resident_key="x"))
    changed["form"]["claimant"]["name"] = "別人　太郎"
    changed["signature_b64"] = base64.b64encode(b"\x00" * 256).decode()
    conflict = post_submission(client, changed)
    assert conflict.status_code in (400, 409)  # the signature fails before the key is looked at

    too_big = as_json_body(submission(pki, attachments=[]))
    too_big["attachments"] = [
        {
            "kind": "passbook_copy",
            "filename": "a.pdf",
            "content_type": "application/pdf",
            "data_b64": base64.b64encode(PDF + bytes(11 * 1024 * 1024)).decode(),
        }
    ]
    oversized = post_submission(client, too_big)
    assert oversized.status_code == 422 and json_of(oversized)["errors"][0]["keyword"] == "max_size"
    # each request was announced to the tenant's writer on arrival; none is still awaited
    assert group_committer(internet_sqlite, TenantCode(CHIYODA)).expected == 0


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("POST", "/api/v1/tenants/131016/submissions", {"content": b"{not json"}, 422),
        ("POST", "/api/v1/tenants/131016/submissions", {"json": []}, 422),
        ("POST", "/api/v1/tenants/131016/submissions", {"json": {"form": "x"}}, 422),
        ("POST", "/api/v1/tenants/999999/submissions", {"json": {}}, 422),
        ("POST", "/api/v1/tenants/131016/submissions", {"headers": {"content-length": "999999999999"}}, 413),
        ("POST", "/api/v1/token", {"data": {"grant_type": "password"}}, 400),
        (
            "POST",
            "/api/v1/token",
            {
                "data": {
                    "grant_type": "client_credentials",
                    "client_id": "jt_131016_x",
                    "client_secret": "nope",
                }
            },
            401,
        ),
        (
            "POST",
            "/api/v1/token",
            {"content": b"\xff\xfe", "headers": {"content-type": "application/json"}},
            400,
        ),
        # the standard library's JSON parser makes "\udc80" a lone surrogate, which failed at the
        # first UTF-8 encoding (argon2, the database), and recursed past its limit on deep nesting
        (
            "POST",
            "/api/v1/token",
            {
                "content": b'{"grant_type":"client_credentials","client_id":"jt_131016_x",'
                b'"client_secret":"\\udc80"}',
                "headers": {"content-type": "application/json"},
            },
            400,
        ),
        (
            "POST",
            "/api/v1/token",
            {"content": b"[" * 1000, "headers": {"content-type": "application/json"}},
            400,
        ),
        ("GET", "/api/v1/tenants/131016/applications?page=0", {}, 401),
    ],
)
def test_malformed_requests_get_4xx_json(
    sqlite_storage: Storage, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    client = make_client(sqlite_storage)
    answer = client.request(method, path, **kwargs)
    assert answer.status_code == status, answer.text
    body = json_of(answer)
    assert body["error"]
    assert body.get("message_ja")
    # a refused request withdraws its announcement (else every commit would wait for it)
    assert group_committer(sqlite_storage, TenantCode(CHIYODA)).expected == 0


def test_malformed_receiving_calls_with_a_valid_token(internet_sqlite: Storage, pki: Pki) -> None:
    client = make_client(internet_sqlite)
    receipt = json_of(post_submission(client, as_json_body(submission(pki))))["receipt_number"]
    token = token_for(client, create_client(internet_sqlite, CHIYODA))
    base = APPS.format(tenant=CHIYODA)
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", base + "?page=0", {}, 422),
        ("GET", base + "?per_page=100000", {}, 422),
        ("GET", base + "?status=unknown", {}, 422),
        ("GET", base + "?since=yesterday", {}, 422),
        ("GET", base + "?since=2026-01-01T00:00:00", {}, 400),
        ("GET", base + "/20990101-131016-NOTHERE0", {}, 404),
        ("POST", base + "/20990101-131016-NOTHERE0/ack", {}, 404),
        ("POST", f"{base}/{receipt}/events", {"content": b"{}"}, 422),
        ("POST", f"{base}/{receipt}/events", {"content": b"[1,2"}, 422),
    ]
    publish = signed_event(internet_sqlite, CHIYODA, receipt, SubmissionStatus.UNDER_REVIEW, event_id="e1")
    # signed with a key version the internet zone was never given: refused, stored nowhere
    unknown_key = publish.model_copy(update={"key_version": 99})
    cases.append(("POST", f"{base}/{receipt}/events", {"content": unknown_key.model_dump_json()}, 400))
    for method, url, kwargs, status in cases:
        answer = client.request(method, url, headers=bearer(token), **kwargs)
        assert answer.status_code == status, (url, answer.text)
        assert json_of(answer)["message_ja"]

    publish_lgwan_signing_key(internet_sqlite, CHIYODA)
    forged = publish.model_copy(update={"message_ja": "署名の後で書き換えた連絡"})
    wrong_receipt = signed_event(
        internet_sqlite, CHIYODA, "20990101-131016-OTHER000", SubmissionStatus.UNDER_REVIEW, event_id="e2"
    )
    received = signed_event(internet_sqlite, CHIYODA, receipt, SubmissionStatus.RECEIVED, event_id="e3")
    for bad, status in ((forged, 400), (wrong_receipt, 400), (received, 400)):
        answer = client.post(f"{base}/{receipt}/events", headers=bearer(token), content=bad.model_dump_json())
        assert answer.status_code == status, answer.text
    assert (
        client.post(
            f"{base}/{receipt}/events", headers=bearer(token), content=publish.model_dump_json()
        ).status_code
        == 201
    )
    reused = signed_event(internet_sqlite, CHIYODA, receipt, SubmissionStatus.ACCEPTED, event_id="e1")
    conflict = client.post(
        f"{base}/{receipt}/events", headers=bearer(token), content=reused.model_dump_json()
    )
    assert conflict.status_code == 409 and json_of(conflict)["error"] == "event_conflict"
    events = json_of(client.get(f"{base}/{receipt}/events", headers=bearer(token)))["items"]
    assert [(e["event_id"], e["status"]) for e in events] == [("e1", "under_review")]


def test_openapi_is_published_with_japanese_descriptions(sqlite_storage: Storage) -> None:
    client = make_client(sqlite_storage)
    doc = json_of(client.get("/api/v1/openapi.json"))
    paths = doc["paths"]
    assert {
        "/api/v1/token",
        "/api/v1/tenants/{tenant}/applications",
        "/api/v1/tenants/{tenant}/applications/{receipt_number}/ack",
    } <= set(paths)
    listing = paths["/api/v1/tenants/{tenant}/applications"]["get"]
    assert listing["summary"] == "申請の一覧" and listing["security"] == [{"bearerAuth": []}]
    assert "403" in listing["responses"]
    assert json.dumps(doc, ensure_ascii=False).count("受付番号") > 3


def test_batches_fetch_acknowledge_and_post_events(internet: Storage, pki: Pki) -> None:
    client = make_client(internet)
    receipts = [
        json_of(post_submission(client, as_json_body(submission(pki))))["receipt_number"] for _ in range(3)
    ]
    token = token_for(client, create_client(internet, CHIYODA))
    base = BATCH.format(tenant=CHIYODA)
    missing = "20990101-131016-NOTHERE0"

    fetched = client.post(
        f"{base}/fetch", headers=bearer(token), json={"receipt_numbers": [receipts[2], missing, *receipts]}
    )
    assert fetched.status_code == 200, fetched.text
    body = json_of(fetched)
    assert [i["receipt_number"] for i in body["items"]] == [receipts[2], receipts[0], receipts[1]]
    assert body["not_found"] == [missing]
    for item in body["items"]:
        header, plaintext = lgwan_decrypt(internet, item["jwe"])
        assert header["receipt_number"] == item["receipt_number"]
        assert SubmissionPayload.model_validate_json(plaintext).procedure_id == item["procedure_id"]
    with internet.unit_of_work(
        TenantContext.of(CHIYODA, operator(), KEY_MANAGEMENT.code), Zone.INTERNET
    ) as uow:
        audited = set(
            uow.session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "ciphertext_fetched"))
        )
    assert audited == set(receipts)  # each application's fetch is on the record, under its own id

    # acknowledging is idempotent: the second batch changes nothing, an unknown receipt is named
    first = json_of(client.post(f"{base}/ack", headers=bearer(token), json={"receipt_numbers": receipts[:2]}))
    again = json_of(
        client.post(f"{base}/ack", headers=bearer(token), json={"receipt_numbers": [*receipts, missing]})
    )
    assert [i["status"] for i in first["items"]] == ["delivered", "delivered"]
    assert again["not_found"] == [missing]
    stamps = {i["receipt_number"]: i["acknowledged_at"] for i in again["items"]}
    assert all(stamps[i["receipt_number"]] == i["acknowledged_at"] for i in first["items"])
    listed = client.get(APPS.format(tenant=CHIYODA), headers=bearer(token), params={"status": "received"})
    assert json_of(listed)["total"] == 0

    # status events: a tampered one, one for an unknown application and one for another
    # municipality are refused with their reasons; the others are stored all the same
    publish_lgwan_signing_key(internet, CHIYODA)
    good = [
        signed_event(internet, CHIYODA, r, SubmissionStatus.UNDER_REVIEW, event_id=f"b-{n}")
        for n, r in enumerate(receipts)
    ]
    tampered = good[1].model_copy(update={"message_ja": "署名の後で書き換えた連絡"})
    unknown = signed_event(internet, CHIYODA, missing, SubmissionStatus.UNDER_REVIEW, event_id="b-x")
    foreign = good[2].model_copy(update={"tenant": YOKOHAMA, "event_id": "b-y"})
    batch = [good[0], tampered, unknown, foreign, good[2]]
    answer = client.post(
        f"{base}/events",
        headers=bearer(token),
        content=json.dumps({"events": [json.loads(e.model_dump_json()) for e in batch]}),
    )
    assert answer.status_code == 200, answer.text
    results = json_of(answer)["results"]
    assert [(r["event_id"], r["status"]) for r in results] == [
        ("b-0", 201), ("b-1", 400), ("b-x", 404), ("b-y", 400), ("b-2", 201),
    ]  # fmt: skip
    assert all(r["message_ja"] for r in results if r["status"] >= 400)
    # repeated: stored once (200); the same id with other content is a conflict (409)
    reused = signed_event(internet, CHIYODA, receipts[0], SubmissionStatus.ACCEPTED, event_id="b-0")
    repeat = client.post(
        f"{base}/events",
        headers=bearer(token),
        content=json.dumps({"events": [json.loads(e.model_dump_json()) for e in (good[0], good[1], reused)]}),
    )
    assert [r["status"] for r in json_of(repeat)["results"]] == [200, 201, 409]
    for receipt, expected in zip(receipts, (["b-0"], ["b-1"], ["b-2"]), strict=True):
        events = json_of(client.get(f"{APPS.format(tenant=CHIYODA)}/{receipt}/events", headers=bearer(token)))
        assert [e["event_id"] for e in events["items"]] == expected

    # a batch holds 1–100 items
    for receipts_sent in ([], [missing] * 101):
        refused = client.post(f"{base}/ack", headers=bearer(token), json={"receipt_numbers": receipts_sent})
        assert refused.status_code == 422 and json_of(refused)["message_ja"]
