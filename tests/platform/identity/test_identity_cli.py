from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from jichitai.platform.context import STAFF_AUTH, Actor, ActorKind, TenantContext
from jichitai.platform.errors import Conflict
from jichitai.platform.identity import credentials as cred
from jichitai.platform.identity.cli import build_cli
from jichitai.platform.identity.service import IdentityService
from jichitai.platform.identity.testing import MemoryStorage, demo_tenant, fast_hasher
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

runner = CliRunner()


@pytest.fixture
def mem_storage() -> MemoryStorage:
    return MemoryStorage([demo_tenant()])


@pytest.fixture(autouse=True)
def _fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cred, "default_hasher", fast_hasher)


def uow_service(storage: MemoryStorage):  # type: ignore[no-untyped-def]
    ctx = TenantContext(TenantCode("131016"), Actor("t", ActorKind.STAFF), STAFF_AUTH)
    return storage.unit_of_work(ctx, Zone.LGWAN)


def test_staff_add_list_disable(mem_storage: MemoryStorage) -> None:
    cli = build_cli(lambda: mem_storage)
    added = runner.invoke(
        cli,
        ["add", "--tenant", "131016", "--login", "suzuki", "--name", "鈴木 花子", "--role", "registry_clerk",
         "--role", "auditor", "--password-stdin"],
        input="correct horse battery\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "suzuki" in added.output
    with uow_service(mem_storage) as uow:
        assert IdentityService.of(uow, hasher=fast_hasher()).login("suzuki", "correct horse battery").ok

    listed = runner.invoke(cli, ["list", "--tenant", "131016"])
    assert listed.exit_code == 0
    assert "auditor, registry_clerk" in listed.output

    disabled = runner.invoke(cli, ["disable", "--tenant", "131016", "--login", "suzuki"])
    assert disabled.exit_code == 0
    with uow_service(mem_storage) as uow:
        assert not IdentityService.of(uow, hasher=fast_hasher()).login("suzuki", "correct horse battery").ok
    assert {"staff_created", "staff_disabled"} <= set(mem_storage.actions())
    operator_entries = [e for e in mem_storage.audit if e.action == "staff_created"]
    assert operator_entries[0].purpose == "platform.identity.admin"


def test_staff_add_refuses_weak_password_and_duplicates(mem_storage: MemoryStorage) -> None:
    cli = build_cli(lambda: mem_storage)
    args = ["add", "--tenant", "131016", "--login", "suzuki", "--name", "鈴木", "--role", "registry_clerk",
            "--password-stdin"]  # fmt: skip
    weak = runner.invoke(cli, args, input="short\n")
    assert weak.exit_code != 0
    assert "12" in str(weak.exception)
    assert runner.invoke(cli, args, input="correct horse battery\n").exit_code == 0
    again = runner.invoke(cli, args, input="correct horse battery\n")
    assert isinstance(again.exception, Conflict)


def test_generated_password_is_printed_once_and_works(mem_storage: MemoryStorage) -> None:
    cli = build_cli(lambda: mem_storage)
    added = runner.invoke(
        cli,
        [
            "add",
            "--tenant",
            "131016",
            "--login",
            "sato",
            "--name",
            "佐藤",
            "--role",
            "auditor",
            "--generate-password",
        ],
    )
    assert added.exit_code == 0, added.output
    password = re.search(r"initial password \(shown once\): (\S+)", added.output)
    assert password is not None
    with uow_service(mem_storage) as uow:
        assert IdentityService.of(uow, hasher=fast_hasher()).login("sato", password.group(1)).ok


def test_client_add_prints_secret_once(mem_storage: MemoryStorage) -> None:
    cli = build_cli(lambda: mem_storage)
    result = runner.invoke(
        cli,
        ["client", "add", "--tenant", "131016", "--name", "申請管理システム", "--scope",
         "applications:submission:pull", "--scope", "applications:status:post"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    client_id = re.search(r"client_id:\s+(\S+)", result.output)
    secret = re.search(r"client_secret:\s+(\S+)", result.output)
    assert client_id is not None
    assert secret is not None
    with uow_service(mem_storage) as uow:
        issued = IdentityService.of(uow, hasher=fast_hasher()).issue_token(
            client_id.group(1), secret.group(1)
        )
    assert issued.token is not None
    listed = runner.invoke(cli, ["client", "list", "--tenant", "131016"])
    assert client_id.group(1) in listed.output
    assert secret.group(1) not in listed.output
    bad = runner.invoke(cli, ["client", "add", "--tenant", "131016", "--name", "x", "--scope", "root:all:do"])
    assert bad.exit_code != 0
