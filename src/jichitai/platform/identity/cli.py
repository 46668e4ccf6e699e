"""``jichitai staff …``: staff accounts and API clients of a tenant, from the command line.

The lead mounts it with ``app.add_typer(build_cli(get_storage), name="staff")``, giving::

    jichitai staff add --tenant 131016 --login suzuki --name "鈴木 花子" --role registry_clerk
    jichitai staff list --tenant 131016
    jichitai staff disable --tenant 131016 --login suzuki
    jichitai staff client add --tenant 131016 --name "申請管理" --scope applications:submission:pull

Every command acts as the operator under the purpose 職員アカウントの管理 and is audited.
Platform errors propagate as :class:`JichitaiError`, which the main CLI prints as one line.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.table import Table

from jichitai.platform.context import STAFF_ADMIN, TenantContext, operator
from jichitai.platform.identity.roles import Permission, Role
from jichitai.platform.identity.service import IdentityService, StorageLike, UnitOfWorkLike
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

TenantOpt = typer.Option(..., "--tenant", "-t", help="全国地方公共団体コード (6 digits), e.g. 131016")
ZoneOpt = typer.Option(Zone.LGWAN, "--zone", "-z", help="zone whose staff accounts to manage")


def build_cli(get_storage: Callable[[], StorageLike], console: Console | None = None) -> typer.Typer:
    """The ``staff`` command group; ``get_storage`` opens the installation's storage."""
    out = console or Console()
    app = typer.Typer(
        help="Staff accounts (職員) and API clients (連携システム) of a tenant.", no_args_is_help=True
    )
    clients = typer.Typer(help="API clients with client credentials.", no_args_is_help=True)
    app.add_typer(clients, name="client")

    @contextmanager
    def service(tenant: str, zone: Zone) -> Iterator[IdentityService]:
        ctx = TenantContext(TenantCode(tenant), operator("cli"), STAFF_ADMIN)
        uow: UnitOfWorkLike
        with get_storage().unit_of_work(ctx, zone) as uow:
            yield IdentityService.of(uow)

    @app.command("add")
    def add(
        tenant: str = TenantOpt,
        login: str = typer.Option(..., "--login", help="login id: a–z, 0–9, . _ - (3–64)"),
        name: str = typer.Option(..., "--name", help="display name, e.g. 鈴木 花子"),
        role: list[str] = typer.Option(
            ..., "--role", help=f"repeatable; one of {', '.join(r.value for r in Role)}"
        ),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
        generate_password: bool = typer.Option(
            False, "--generate-password", help="make a random initial password and print it once"
        ),
        zone: Zone = ZoneOpt,
    ) -> None:
        """Add a staff account."""
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        elif generate_password:
            password = secrets.token_urlsafe(15)
        else:
            password = typer.prompt("Password (12+ characters)", hide_input=True, confirmation_prompt=True)
        with service(tenant, zone) as svc:
            info = svc.create_staff(login, name, role, password)
        roles = "、".join(r.label_ja for r in sorted(info.roles))
        out.print(
            f"[green]added[/] staff [bold]{info.login_id}[/] ({info.display_name}; {roles}) to {tenant}"
        )
        if generate_password:
            out.print(f"initial password (shown once): [bold]{password}[/]")

    @app.command("list")
    def list_(tenant: str = TenantOpt, zone: Zone = ZoneOpt) -> None:
        """List the staff accounts of a tenant."""
        with service(tenant, zone) as svc:
            staff = svc.list_staff()
        table = Table(title=f"staff of {tenant} ({zone.value})")
        for column in ("login id", "name", "roles", "status", "created"):
            table.add_column(column)
        for s in staff:
            roles = ", ".join(sorted(r.value for r in s.roles))
            table.add_row(s.login_id, s.display_name, roles, s.status, s.created_at.strftime("%Y-%m-%d"))
        out.print(table)

    @app.command("disable")
    def disable(
        tenant: str = TenantOpt, login: str = typer.Option(..., "--login"), zone: Zone = ZoneOpt
    ) -> None:
        """Disable a staff account; its sessions end at once."""
        with service(tenant, zone) as svc:
            svc.disable_staff(login)
        out.print(f"[yellow]disabled[/] staff [bold]{login}[/] of {tenant}")

    @app.command("enable")
    def enable(
        tenant: str = TenantOpt, login: str = typer.Option(..., "--login"), zone: Zone = ZoneOpt
    ) -> None:
        """Enable a disabled staff account again."""
        with service(tenant, zone) as svc:
            svc.enable_staff(login)
        out.print(f"[green]enabled[/] staff [bold]{login}[/] of {tenant}")

    @app.command("unlock")
    def unlock(
        tenant: str = TenantOpt, login: str = typer.Option(..., "--login"), zone: Zone = ZoneOpt
    ) -> None:
        """Lift a lock caused by failed logins."""
        with service(tenant, zone) as svc:
            svc.unlock(login)
        out.print(f"[green]unlocked[/] staff [bold]{login}[/] of {tenant}")

    @app.command("roles")
    def roles() -> None:
        """Show every role and the permissions it grants."""
        from jichitai.platform.identity.roles import ROLE_PERMISSIONS

        table = Table(title="roles")
        table.add_column("role")
        table.add_column("label")
        table.add_column("permissions")
        for role, perms in ROLE_PERMISSIONS.items():
            table.add_row(role.value, role.label_ja, "\n".join(sorted(p.value for p in perms)))
        out.print(table)

    @clients.command("add")
    def client_add(
        tenant: str = TenantOpt,
        name: str = typer.Option(..., "--name", help="what the system is, e.g. 申請管理システム"),
        scope: list[str] = typer.Option(
            ..., "--scope", help="repeatable; a permission such as applications:submission:pull"
        ),
        zone: Zone = ZoneOpt,
    ) -> None:
        """Add an API client; its secret is printed once and cannot be shown again."""
        for s in scope:
            Permission.parse(s)
        with service(tenant, zone) as svc:
            new = svc.create_client(name, scope)
        out.print(f"[green]added[/] API client [bold]{new.client.name}[/] to {tenant}")
        out.print(f"client_id:     {new.client.client_id}", highlight=False)
        out.print(f"client_secret: {new.client_secret}", highlight=False)
        out.print("[yellow]store the secret now: it is kept only as a hash and will not be shown again[/]")

    @clients.command("list")
    def client_list(tenant: str = TenantOpt, zone: Zone = ZoneOpt) -> None:
        """List the API clients of a tenant."""
        with service(tenant, zone) as svc:
            found = svc.list_clients()
        table = Table(title=f"API clients of {tenant} ({zone.value})")
        for column in ("client id", "name", "scopes", "status"):
            table.add_column(column)
        for c in found:
            table.add_row(c.client_id, c.name, "\n".join(sorted(p.value for p in c.scopes)), c.status)
        out.print(table)

    @clients.command("disable")
    def client_disable(
        tenant: str = TenantOpt, client_id: str = typer.Option(..., "--client-id"), zone: Zone = ZoneOpt
    ) -> None:
        """Disable an API client; its tokens stop working at once."""
        with service(tenant, zone) as svc:
            svc.disable_client(client_id)
        out.print(f"[yellow]disabled[/] API client [bold]{client_id}[/] of {tenant}")

    return app
