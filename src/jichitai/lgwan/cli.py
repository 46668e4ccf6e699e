"""``jichitai lgwan …``: application management from the command line.

The lead mounts it with ``app.add_typer(build_cli(get_storage), name="lgwan")``, giving::

    jichitai lgwan configure --tenant 131016 --portal https://portal.example.lg.jp \\
        --client-id c_xxx --client-secret-stdin [--interval 60]
    jichitai lgwan pull --tenant 131016 [--once]     # without --once: every interval until Ctrl-C
    jichitai lgwan push --tenant 131016              # post waiting status events only
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

import typer
from rich.console import Console

from jichitai.lgwan import config
from jichitai.lgwan.pull import PullReport, pull_once, push_once, run_scheduler
from jichitai.platform.errors import ValidationError
from jichitai.platform.storage import Storage

TenantOpt = typer.Option(..., "--tenant", "-t", help="全国地方公共団体コード (6 digits), e.g. 131016")


def build_cli(get_storage: Callable[[], Storage], console: Console | None = None) -> typer.Typer:
    out = console or Console()
    app = typer.Typer(
        help="Application management (申請管理): pull from the portal, status events.", no_args_is_help=True
    )

    def show(report: PullReport) -> None:
        colour = "red" if report.error else "green"
        out.print(f"[{colour}]{report.tenant}[/] {report.summary()}", highlight=False)

    @app.command("configure")
    def configure(
        tenant: str = TenantOpt,
        portal: str = typer.Option(..., "--portal", help="base URL of the portal's receiving API"),
        client_id: str = typer.Option(..., "--client-id", help="API client id issued in the internet zone"),
        client_secret_stdin: bool = typer.Option(
            False, "--client-secret-stdin", help="read the secret from stdin"
        ),
        interval: int = typer.Option(config.DEFAULT_INTERVAL, "--interval", help="seconds between pulls"),
    ) -> None:
        """Set which portal the tenant pulls from and with which client credentials."""
        if client_secret_stdin:
            secret = sys.stdin.readline().rstrip("\r\n")
        else:
            secret = typer.prompt("Client secret", hide_input=True)
        if not secret:
            raise ValidationError("empty client secret", message_ja="クライアントシークレットが空です")
        conn = config.configure(
            get_storage(),
            tenant,
            portal_url=portal,
            client_id=client_id,
            client_secret=secret,
            interval_seconds=interval,
        )
        out.print(
            f"[green]configured[/] {conn.tenant}: {conn.portal_url} as {conn.client_id}, every {interval}s"
        )

    @app.command("pull")
    def pull(
        tenant: str = TenantOpt,
        once: bool = typer.Option(False, "--once", help="one run, then exit"),
        limit: int = typer.Option(1000, "--limit", help="applications listed per round"),
    ) -> None:
        """Pull new applications (decrypt, verify, store, acknowledge) and post waiting status events."""
        storage = get_storage()
        if once:
            report = pull_once(storage, tenant, limit=limit)
            show(report)
            if report.error:
                raise typer.Exit(1)
            return
        stop = threading.Event()
        try:
            run_scheduler(storage, stop, tenants=[tenant], on_report=show)
        except KeyboardInterrupt:
            stop.set()

    @app.command("push")
    def push(tenant: str = TenantOpt) -> None:
        """Post the status events waiting for the portal."""
        report = push_once(get_storage(), tenant)
        out.print(
            f"posted {report.pushed}, refused {report.refused}, waiting {report.pending} {report.error}"
        )
        if report.error:
            raise typer.Exit(1)

    return app
