"""A back-office app on the in-memory storage stand-in, with two tenants and a few staff."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Request, Response
from fastapi.testclient import TestClient

from jichitai.platform.context import STAFF_ADMIN, Actor, ActorKind, TenantContext
from jichitai.platform.errors import Conflict, NotFound
from jichitai.platform.identity.principal import ClientPrincipal, StaffPrincipal
from jichitai.platform.identity.roles import Permission, Role
from jichitai.platform.identity.service import IdentityService
from jichitai.platform.identity.testing import TEST_PASSWORD, Clock, MemoryStorage, demo_tenant, fast_hasher
from jichitai.platform.tenants import TenantCode
from jichitai.platform.web.api_auth import install_api_auth, require_client
from jichitai.platform.web.app import create_base_app, render
from jichitai.platform.web.staff_auth import install_staff_auth, require_staff, staff_page_context
from jichitai.platform.zones import Zone

ZONE = Zone.LGWAN


def add_staff(
    storage: MemoryStorage, clock: Clock, login: str, roles: list[Role], tenant: str = "131016"
) -> None:
    ctx = TenantContext(TenantCode(tenant), Actor("cli", ActorKind.OPERATOR), STAFF_ADMIN)
    with storage.unit_of_work(ctx, ZONE) as uow:
        IdentityService.of(uow, clock=clock, hasher=fast_hasher()).create_staff(
            login, "鈴木 花子", roles, TEST_PASSWORD
        )


def add_client(
    storage: MemoryStorage, clock: Clock, scopes: list[str], tenant: str = "131016"
) -> tuple[str, str]:
    ctx = TenantContext(TenantCode(tenant), Actor("cli", ActorKind.OPERATOR), STAFF_ADMIN)
    with storage.unit_of_work(ctx, ZONE) as uow:
        new = IdentityService.of(uow, clock=clock, hasher=fast_hasher()).create_client(
            "申請管理システム", scopes
        )
    return new.client.client_id, new.client_secret


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mem_storage(clock: Clock) -> Iterator[MemoryStorage]:
    storage = MemoryStorage([demo_tenant(), demo_tenant("141003", "横浜市", "ヨコハマシ")])
    add_staff(storage, clock, "suzuki", [Role.REGISTRY_CLERK])
    add_staff(storage, clock, "tanaka", [Role.CHILD_ALLOWANCE_CLERK])
    storage.audit.clear()
    yield storage
    storage.close()


def build_app(storage: MemoryStorage, clock: Clock) -> FastAPI:
    app = create_base_app("職員用業務システム")
    install_staff_auth(app, lambda: storage, ZONE, hasher=fast_hasher(), clock=clock)
    install_api_auth(app, lambda: storage, ZONE, hasher=fast_hasher(), clock=clock)

    @app.get("/staff/registry")
    def registry(
        request: Request,
        staff: Annotated[StaffPrincipal, Depends(require_staff(Permission.REGISTRY_CERTIFICATE_ISSUE))],
    ) -> Response:
        return render(
            request, "error.html", staff_page_context(staff, title="住民記録", message_ja="住民記録の画面")
        )

    @app.post("/staff/registry/action")
    def registry_action(
        staff: Annotated[StaffPrincipal, Depends(require_staff(Permission.REGISTRY_PERSON_WRITE))],
    ) -> dict[str, str]:
        return {"done_by": staff.login_id}

    @app.get("/staff/missing")
    def missing() -> None:
        raise NotFound("no such case", message_ja="該当する案件はありません")

    @app.get("/staff/conflict")
    def conflict() -> None:
        raise Conflict("already decided")

    @app.get("/api/v1/{tenant}/ping")
    def ping(
        tenant: str,
        client: Annotated[ClientPrincipal, Depends(require_client(Permission.APPLICATIONS_SUBMISSION_PULL))],
    ) -> dict[str, str]:
        return {"tenant": tenant, "client": client.client_id}

    return app


@pytest.fixture
def app(mem_storage: MemoryStorage, clock: Clock) -> FastAPI:
    return build_app(mem_storage, clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


@pytest.fixture
def new_api_client(mem_storage: MemoryStorage, clock: Clock) -> Callable[..., tuple[str, str]]:
    """Create an API client; returns (client_id, secret)."""

    def make(scopes: list[str], tenant: str = "131016") -> tuple[str, str]:
        return add_client(mem_storage, clock, scopes, tenant)

    return make


@pytest.fixture
def new_staff(mem_storage: MemoryStorage, clock: Clock) -> Callable[..., None]:
    def make(login: str, roles: list[Role], tenant: str = "131016") -> None:
        add_staff(mem_storage, clock, login, roles, tenant)

    return make
