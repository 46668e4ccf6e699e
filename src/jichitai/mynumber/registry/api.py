"""The registry's linkage API (住民記録システムの連携API) for the municipality's other core systems.

Standardized core systems (国民健康保険, 税, 介護保険 …) follow the resident registry by pulling its
changes, as the standard's API linkage does (pull, not push): they remember the last ``seq`` they
processed and ask for the events after it, then read the records they need.

- ``GET /api/v1/tenants/{tenant}/registry/events?after=<seq>&limit=<n>``: the 住民異動情報 after
  ``seq``, oldest first (at most ``limit``, 1–1000). Sequence numbers have no gaps and commit in
  order (:mod:`.events`), so a system that polls with the last ``seq`` it processed misses none.
  A page shorter than ``limit`` means the system has caught up.
- ``GET /api/v1/tenants/{tenant}/registry/persons/{atena_number}[?as_of=YYYY-MM-DD]``: one
  person's 住民票 (or 除票), now or as it stood on a day.
- ``GET /api/v1/tenants/{tenant}/registry/households/{household_number}[?as_of=YYYY-MM-DD]``: the
  members of a 世帯, now or on a day.

A system authenticates with client credentials (``POST /api/v1/token``, :mod:`platform.web.api_auth`)
of the tenant whose data it reads; a token of another municipality is refused (403), and each
route needs its own scope: ``registry:events:read`` for the feed, ``registry:person:read`` for the
records. The 個人番号 is never answered here. Every answer is audited like a screen's, with the
client as the actor: the events read (and whose they were), each record shown.

The OpenAPI document of these routes, with Japanese descriptions, is at
``/api/v1/openapi.json`` of the My Number zone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from jichitai.mynumber.registry import purposes
from jichitai.mynumber.registry.events import MAX_PAGE, Event
from jichitai.mynumber.registry.service import RegistryService
from jichitai.mynumber.registry.service.queries import HouseholdRecord, PersonRecord
from jichitai.platform.context import Purpose, TenantContext
from jichitai.platform.errors import NotFound
from jichitai.platform.identity.principal import ClientPrincipal
from jichitai.platform.identity.roles import Permission
from jichitai.platform.storage import Storage
from jichitai.platform.web.api_auth import ApiAuth, bearer_openapi, install_api_auth, require_client
from jichitai.platform.zones import Zone

OPENAPI_PATH = "/api/v1/openapi.json"
PREFIX = "/api/v1/tenants/{tenant}/registry"
API_TITLE = "jichitai 住民記録 連携API"
API_VERSION = "1.0.0"
API_DESCRIPTION = """\
住民記録システムの異動情報と住民票の記載事項を、同じ団体の他の基幹業務システム(国民健康保険・税・介護保険など)が
取得するためのAPIです(プル型の連携)。

1. `POST /api/v1/token` で団体ごとのクライアント認証情報からアクセストークンを得ます
   (異動情報は権限 `registry:events:read`、住民票・世帯は `registry:person:read`)。
2. `GET /api/v1/tenants/{tenant}/registry/events?after=<処理済みの最後のseq>` で、その後の異動情報を
   古い順に取得します。seq は欠番なく確定順に付くため、最後に処理した seq を覚えて問い合わせれば
   取りこぼしません。
   取得件数が limit より少なければ、最新まで取得済みです。
3. 必要な住民票・世帯は `…/persons/{統合宛名番号}`・`…/households/{世帯番号}` で取得します。
   `as_of` を指定すると、その日の記載事項(履歴)を返します。

個人番号は返しません。他の団体のアクセストークンでは取得できません(403)。取得はすべてアクセス記録に残ります。"""

_BEARER: dict[str, list[str]] = {"bearerAuth": []}

EventReader = Annotated[ClientPrincipal, Depends(require_client(Permission.REGISTRY_EVENTS_READ))]
PersonReader = Annotated[ClientPrincipal, Depends(require_client(Permission.REGISTRY_PERSON_READ))]
TenantPath = Annotated[str, Path(description="団体コード(6桁)", pattern=r"^\d{6}$")]
AsOf = Annotated[
    date | None,
    Query(description="この日の記載事項を返す(省略時は現在)。YYYY-MM-DD", examples=["2024-04-01"]),
]


class EventOut(BaseModel):
    """住民異動情報(1人分)。"""

    seq: int = Field(description="異動情報の通番(欠番なし・確定順)")
    event_type: str = Field(
        description="種別: birth 出生, death 死亡, move_in 転入, move_within 転居, move_out 転出, "
        "household_change 世帯変更, name_change 氏名変更, correction 職権修正等, "
        "foreign_resident 在留資格変更等"
    )
    atena_number: str = Field(description="統合宛名番号")
    household_number: str | None = Field(description="世帯番号")
    event_date: date = Field(description="異動日")
    notified_on: date | None = Field(description="届出日(職権の場合は空)")
    recorded_at: datetime = Field(description="記録日時(UTC)")
    change_id: str = Field(description="異動の識別子(同じ異動の異動情報は同じ値)")
    payload: dict[str, Any] = Field(
        description="異動の内容(change: 記録した異動の種類、kind: 異動事由、新しい続柄・氏名など)"
    )


class EventPage(BaseModel):
    events: list[EventOut] = Field(description="after より後の異動情報(古い順)")
    next_after: int = Field(description="次の問い合わせの after(この応答の最後の seq。空なら after のまま)")


class PersonOut(BaseModel):
    """住民票(又は除票)の記載事項。個人番号は含みません。"""

    atena_number: str = Field(description="統合宛名番号")
    juminhyo_code: str = Field(description="住民票コード")
    household_number: str = Field(description="世帯番号")
    relationship: str = Field(description="続柄")
    name: str = Field(description="氏名")
    name_kana: str = Field(description="氏名カナ")
    alias: str | None = Field(description="通称(外国人住民)")
    alias_kana: str | None = Field(description="通称カナ")
    former_surname: str | None = Field(description="旧氏(日本人住民、請求により記載)")
    former_surname_kana: str | None = Field(description="旧氏カナ")
    birth_date: date = Field(description="生年月日")
    sex: str = Field(description="性別(1 男, 2 女)")
    kind: str = Field(description="住民種別(日本人, 外国人)")
    became_resident_on: date = Field(description="住民となった年月日")
    address: str = Field(description="住所")
    address_note: str | None = Field(description="方書")
    address_since: date = Field(description="住所を定めた年月日")
    previous_address: str | None = Field(description="前住所")
    address_before_move_in: str | None = Field(description="転入前住所")
    honseki: str | None = Field(description="本籍(日本人住民)")
    hittosha: str | None = Field(description="筆頭者(日本人住民)")
    nationality: str | None = Field(description="国籍・地域(外国人住民)")
    residence_status: str | None = Field(description="在留資格(外国人住民)")
    stay_expires_on: date | None = Field(description="在留期間の満了の日")
    residence_card_number: str | None = Field(description="在留カード等の番号")
    status: str = Field(description="resident 住民, removed 除票")
    removal_reason: str | None = Field(description="消除事由")
    removed_on: date | None = Field(description="消除日(転出は確定まで転出予定日)")
    moved_out_to: str | None = Field(description="転出先")
    move_out_confirmed: bool | None = Field(description="転出確定済みか(転出でなければ空)")
    last_change: str = Field(description="直近の異動事由")
    last_change_on: date = Field(description="直近の異動日")
    last_notified_on: date | None = Field(description="直近の届出日")


class HouseholdOut(BaseModel):
    household_number: str = Field(description="世帯番号")
    as_of: date | None = Field(description="記載事項の基準日(省略時は現在)")
    head_atena_number: str | None = Field(description="世帯主の統合宛名番号(世帯員がいなければ空)")
    members: list[PersonOut] = Field(description="世帯員(世帯主、次に生年月日順)")


def _event(e: Event) -> EventOut:
    return EventOut.model_validate(e, from_attributes=True)


def _person(p: PersonRecord) -> PersonOut:
    return PersonOut.model_validate(p, from_attributes=True)  # its fields: no 個人番号


def _household(h: HouseholdRecord) -> HouseholdOut:
    return HouseholdOut(
        household_number=h.household_number,
        as_of=h.as_of,
        head_atena_number=h.head.atena_number if h.head else None,
        members=[_person(m) for m in h.members],
    )


def _ctx(principal: ClientPrincipal, purpose: Purpose) -> TenantContext:
    """The calling system as the actor of what it reads (the audit names its client id)."""
    return principal.context(purpose.code)


def build_router(storage: Storage) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["住民記録 連携"])
    service = RegistryService(storage)

    @router.get(
        "/events",
        name="registry_api_events",
        summary="異動情報の取得",
        response_model=EventPage,
        openapi_extra={"security": [_BEARER]},
    )
    async def events(
        tenant: TenantPath,
        client: EventReader,
        after: Annotated[int, Query(ge=0, description="処理済みの最後の seq(初回は 0)")] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="最大件数(1〜1000)")] = 100,
    ) -> EventPage:
        found = await run_in_threadpool(
            service.events_since, _ctx(client, purposes.EVENTS_CONSUME), after, limit
        )
        return EventPage(events=[_event(e) for e in found], next_after=found[-1].seq if found else after)

    @router.get(
        "/persons/{atena_number}",
        name="registry_api_person",
        summary="住民票の記載事項の取得",
        response_model=PersonOut,
        openapi_extra={"security": [_BEARER]},
    )
    async def person(
        tenant: TenantPath,
        client: PersonReader,
        atena_number: Annotated[str, Path(description="統合宛名番号(15桁)", pattern=r"^\d{15}$")],
        as_of: AsOf = None,
    ) -> PersonOut:
        ctx = _ctx(client, purposes.PERSON_READ)

        def read() -> PersonRecord | None:
            if as_of is None:
                return service.person(ctx, atena_number)
            return service.person_as_of(ctx, atena_number, as_of)

        record = await run_in_threadpool(read)
        if record is None:
            raise NotFound(
                f"person {atena_number} has no record on {as_of}",
                message_ja=f"統合宛名番号 {atena_number} の {as_of} 時点の記載はありません",
            )
        return _person(record)

    @router.get(
        "/households/{household_number}",
        name="registry_api_household",
        summary="世帯の取得",
        response_model=HouseholdOut,
        openapi_extra={"security": [_BEARER]},
    )
    async def household(
        tenant: TenantPath,
        client: PersonReader,
        household_number: Annotated[str, Path(description="世帯番号", pattern=r"^\d{1,15}$")],
        as_of: AsOf = None,
    ) -> HouseholdOut:
        ctx = _ctx(client, purposes.PERSON_READ)

        def read() -> HouseholdRecord:
            if as_of is None:
                return service.household(ctx, household_number)
            return service.household_as_of(ctx, household_number, as_of)

        return _household(await run_in_threadpool(read))

    return router


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the token endpoint and the routes above (cached on the app)."""
    cached: dict[str, Any] | None = getattr(app.state, "registry_openapi", None)
    if cached is not None:
        return cached
    routes = [*app.state.api_auth.router().routes, *app.state.registry_api_router.routes]
    doc = bearer_openapi(API_TITLE, API_VERSION, API_DESCRIPTION, routes)
    app.state.registry_openapi = doc
    return doc


def install_api(app: FastAPI, storage: Storage) -> None:
    """Mount the token endpoint (unless present), the linkage routes and their OpenAPI document."""
    if not isinstance(getattr(app.state, "api_auth", None), ApiAuth):
        install_api_auth(app, lambda: storage, Zone.MYNUMBER)
    router = build_router(storage)
    app.state.registry_api_router = router
    app.include_router(router)

    @app.get(OPENAPI_PATH, include_in_schema=False)
    def openapi_json() -> JSONResponse:
        return JSONResponse(openapi_document(app))
