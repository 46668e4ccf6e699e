"""The registry's linkage API: another core system pulls the 異動情報 and reads records, by token.

On both backends, through the My Number zone's real app (token endpoint included): the feed in
order and by pages, records now and as of a day, the tenant and scope of the token, refusals as
JSON with Japanese messages, the audit naming the calling system, and the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from jichitai.mynumber import web
from jichitai.mynumber.registry.seal import forget_sealers
from jichitai.mynumber.registry.service import MoveWithin, RegistryService
from jichitai.platform.audit.log import entries_for_person
from jichitai.platform.audit.models import AuditEntry
from jichitai.platform.context import STAFF_ADMIN, TenantContext, operator
from jichitai.platform.identity.service import IdentityService
from jichitai.platform.identity.testing import fast_hasher
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.web.api_auth import install_api_auth
from jichitai.platform.web.app import create_base_app
from jichitai.platform.zones import Zone
from tests.conftest import BACKENDS, add_demo_tenant, close_storage, ctx, make_settings, make_storage
from tests.mynumber.registry.core.support import ADDRESS, NOW, block, move_in_family, read_ctx, submit

EVENTS, PERSONS = "registry:events:read", "registry:person:read"


@pytest.fixture(scope="module", params=BACKENDS)
def api_storage(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Storage]:
    home: Path = tmp_path_factory.mktemp("registry-api") / "home"
    st = make_storage(make_settings(home, str(request.param)))
    try:
        add_demo_tenant(st)
        add_demo_tenant(st, "141003", "横浜市", "ヨコハマシ")
        yield st
    finally:
        forget_sealers()
        close_storage(st)


@pytest.fixture(scope="module")
def client(api_storage: Storage) -> TestClient:
    app = create_base_app("住民記録システム")
    install_api_auth(app, lambda: api_storage, Zone.MYNUMBER, hasher=fast_hasher())
    web.register(app, api_storage)
    return TestClient(app)


@pytest.fixture
def svc(api_storage: Storage) -> RegistryService:
    return RegistryService(api_storage, clock=lambda: NOW)


def _token(client: TestClient, storage: Storage, scopes: list[str], tenant: str = "131016") -> dict[str, str]:
    """A bearer header for a new API client of ``tenant`` with ``scopes``."""
    admin = TenantContext(TenantCode(tenant), operator("test"), STAFF_ADMIN)
    with storage.unit_of_work(admin, Zone.MYNUMBER) as uow:
        new = IdentityService.of(uow, hasher=fast_hasher()).create_client("国保システム", scopes)
    answer = client.post(
        "/api/v1/token",
        data={"grant_type": "client_credentials", "client_id": new.client.client_id,
              "client_secret": new.client_secret},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}", "X-Client-Id": new.client.client_id}


def _pull_all(client: TestClient, headers: dict[str, str], after: int, limit: int) -> list[dict[str, object]]:
    """Every event after ``after``, page by page, as a polling system reads them."""
    out: list[dict[str, object]] = []
    while True:
        page = client.get("/api/v1/tenants/131016/registry/events", params={"after": after, "limit": limit},
                          headers=headers)  # fmt: skip
        assert page.status_code == 200, page.text
        body = page.json()
        out += body["events"]
        assert body["next_after"] == (body["events"][-1]["seq"] if body["events"] else after)
        after = body["next_after"]
        if len(body["events"]) < limit:
            return out


def test_a_system_pulls_the_changes_in_order_and_reads_the_records(
    client: TestClient, api_storage: Storage, svc: RegistryService
) -> None:
    headers = _token(client, api_storage, [EVENTS, PERSONS])
    start = _pull_all(client, headers, 0, 1000)
    last = int(start[-1]["seq"]) if start else 0  # type: ignore[call-overload]
    family, _address = move_in_family(svc, "連携", "レンケイ")
    head = family.atena_numbers[0]
    moved = f"{ADDRESS}{block()}"
    submit(svc, MoveWithin, date(2024, 6, 1), date(2024, 6, 3), household_number=family.household_numbers[0],
           address=moved)  # fmt: skip

    events = _pull_all(client, headers, last, 2)  # pages of two
    assert [e["seq"] for e in events] == list(range(last + 1, last + 1 + len(events)))  # no gap
    mine = [(e["event_type"], e["atena_number"], e["event_date"]) for e in events]
    assert mine[:3] == [("move_in", a, "2020-04-01") for a in family.atena_numbers]
    assert mine[3:] == [("move_within", a, "2024-06-01") for a in family.atena_numbers]
    assert (
        events[3]["household_number"] == family.household_numbers[0]
        and events[3]["notified_on"] == "2024-06-03"
    )
    assert _pull_all(client, headers, int(events[-1]["seq"]), 100) == []  # type: ignore[call-overload]

    now = client.get(f"/api/v1/tenants/131016/registry/persons/{head}", headers=headers)
    assert now.status_code == 200, now.text
    record = now.json()
    # the address as the registry normalized it (番地 dropped …), before and after the 転居
    old = svc.person_as_of(read_ctx(), head, date(2024, 5, 31))
    assert old is not None and old.address != svc.person(read_ctx(), head).address
    assert (record["name"], record["last_change"]) == ("連携　太郎", "転居")
    assert record["address"] == svc.person(read_ctx(), head).address and record["address"].startswith(
        moved[:10]
    )
    assert record["previous_address"] == old.address and "individual_number" not in record
    before = client.get(f"/api/v1/tenants/131016/registry/persons/{head}", params={"as_of": "2024-05-31"},
                        headers=headers).json()  # fmt: skip
    assert before["address"] == old.address and before["last_change"] == "転入"
    unborn = client.get(f"/api/v1/tenants/131016/registry/persons/{head}", params={"as_of": "1900-01-01"},
                        headers=headers)  # fmt: skip
    assert unborn.status_code == 404 and "1900-01-01 時点の記載はありません" in unborn.json()["message_ja"]

    household = client.get(f"/api/v1/tenants/131016/registry/households/{family.household_numbers[0]}",
                           params={"as_of": "2024-05-31"}, headers=headers).json()  # fmt: skip
    assert household["head_atena_number"] == head
    assert [m["atena_number"] for m in household["members"]] == list(family.atena_numbers)
    assert {m["address"] for m in household["members"]} == {old.address}

    # the audit names the calling system as the actor of each read, with the purpose
    system = headers["X-Client-Id"]
    with api_storage.unit_of_work(ctx("platform.audit.review"), Zone.MYNUMBER) as uow:
        shown = [e for e in entries_for_person(uow.session, head) if e.action == "read" and system in e.actor]
        feed = uow.session.scalars(
            select(AuditEntry).where(
                AuditEntry.object_type == "registry.events", AuditEntry.actor.contains(system)
            )
        ).all()
    assert shown and {(e.actor_kind, e.purpose) for e in shown} == {("system", "registry.person.read")}
    assert feed and {e.purpose for e in feed} == {"registry.events.consume"}
    assert any(head in e.detail for e in feed)  # whose events the system read


def test_tokens_are_of_one_tenant_and_scope(client: TestClient, api_storage: Storage) -> None:
    events_only = _token(client, api_storage, [EVENTS])
    refused = client.get("/api/v1/tenants/131016/registry/persons/000000000000001", headers=events_only)
    assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"
    assert "住民記録の閲覧" in refused.json()["message_ja"]
    persons_only = _token(client, api_storage, [PERSONS])
    refused = client.get("/api/v1/tenants/131016/registry/events", headers=persons_only)
    assert refused.status_code == 403 and "住民異動情報の取得" in refused.json()["message_ja"]

    yokohama = _token(client, api_storage, [EVENTS, PERSONS], tenant="141003")
    other = client.get("/api/v1/tenants/131016/registry/events", headers=yokohama)
    assert other.status_code == 403
    assert other.json()["message_ja"] == "このアクセストークンでは他の団体のデータを扱えません"
    own = client.get("/api/v1/tenants/141003/registry/events", headers=yokohama)
    assert own.status_code == 200 and own.json()["events"] == []  # 横浜市 has recorded nothing

    no_token = client.get("/api/v1/tenants/131016/registry/events")
    assert no_token.status_code == 401 and no_token.headers["www-authenticate"].startswith("Bearer")
    bad = client.get("/api/v1/tenants/131016/registry/events", params={"limit": 5000}, headers=events_only)
    assert bad.status_code == 422 and bad.json()["message_ja"]
    unknown = client.get("/api/v1/tenants/131016/registry/persons/999999999999999", headers=persons_only)
    assert unknown.status_code == 404 and unknown.json()["message_ja"]


def test_the_openapi_document_describes_the_linkage_api(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["info"]["title"] == "jichitai 住民記録 連携API"
    paths = doc["paths"]
    assert set(paths) == {
        "/api/v1/token",
        "/api/v1/tenants/{tenant}/registry/events",
        "/api/v1/tenants/{tenant}/registry/persons/{atena_number}",
        "/api/v1/tenants/{tenant}/registry/households/{household_number}",
    }
    events = paths["/api/v1/tenants/{tenant}/registry/events"]["get"]
    assert events["security"] == [{"bearerAuth": []}]
    assert {p["name"] for p in events["parameters"]} == {"tenant", "after", "limit"}
    person = doc["components"]["schemas"]["PersonOut"]["properties"]
    assert person["atena_number"]["description"] == "統合宛名番号" and "individual_number" not in person
