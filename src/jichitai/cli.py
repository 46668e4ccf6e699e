"""The ``jichitai`` command line: one Typer application for every zone and every operator task.

Errors print as one line and exit non-zero; ``--debug`` (or JICHITAI_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

import getpass
import os
import sys
import traceback
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jichitai.platform.config import Settings, load_settings, write_settings
from jichitai.platform.context import PURPOSES
from jichitai.platform.errors import ConfigurationError, JichitaiError
from jichitai.platform.storage.engine import Storage, open_zone_keystore
from jichitai.platform.tenants import TenantKind
from jichitai.platform.zones import ALL_ZONES, Zone

app = typer.Typer(
    name="jichitai",
    help="jichitai: online procedures and standardized core systems for Japanese local governments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
tenant_app = typer.Typer(
    help="Tenants (地方公共団体): add, list, show, disable, enable.", no_args_is_help=True
)
keys_app = typer.Typer(help="Keys per tenant: rotate, list, export the submission JWK.", no_args_is_help=True)
audit_app = typer.Typer(help="Audit log per tenant and zone: verify, checkpoint, show.", no_args_is_help=True)
db_app = typer.Typer(help="Databases: apply migrations to every tenant.", no_args_is_help=True)
procedures_app = typer.Typer(
    help="Online procedures per tenant: list, show, enable, disable, guidance, lock.", no_args_is_help=True
)
app.add_typer(tenant_app, name="tenant")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
app.add_typer(procedures_app, name="procedures")

console = Console()
err_console = Console(stderr=True)


class _State:
    home: Path | None = None
    debug: bool = False
    storage: Storage | None = None


state = _State()


@app.callback()
def _root(
    home: Annotated[
        Path | None, typer.Option("--home", envvar="JICHITAI_HOME", help="data directory (default ./var)")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False,
) -> None:
    state.home = home
    state.debug = debug or os.environ.get("JICHITAI_DEBUG") == "1"


def _ask_passphrase(settings: Settings, *, confirm: bool = False) -> Settings:
    if settings.keystore != "file" or settings.keystore_passphrase is not None:
        return settings
    if not sys.stdin.isatty():
        return settings  # the keystore says what is missing when (and if) a command needs it
    pw = getpass.getpass("keystore passphrase: ")
    if confirm and getpass.getpass("again: ") != pw:
        raise ConfigurationError("the two passphrases differ")
    return settings.model_copy(update={"keystore_passphrase": pw})


def settings() -> Settings:
    return load_settings(state.home)


def storage() -> Storage:
    if state.storage is None:
        state.storage = Storage(_ask_passphrase(settings()))
    return state.storage


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console, transient=False,
    )  # fmt: skip


# -- init ----------------------------------------------------------------------------------------


@app.command()
def init(
    backend: Annotated[str, typer.Option(help="sqlite (embedded) or postgresql")] = "sqlite",
    pg_url: Annotated[
        str | None,
        typer.Option(
            help="admin URL of the default PostgreSQL server, e.g. postgresql://postgres@127.0.0.1/postgres"
        ),
    ] = None,
    server: Annotated[
        list[str] | None, typer.Option(help="more PostgreSQL servers for the placement map: NAME=URL")
    ] = None,
    keystore: Annotated[str, typer.Option(help="file (encrypted, default) or pkcs11")] = "file",
    pkcs11_module: Annotated[str | None, typer.Option(help="path of the PKCS#11 module")] = None,
    environment: Annotated[str, typer.Option(help="development, test or production")] = "development",
    db_prefix: Annotated[str, typer.Option(help="prefix of PostgreSQL databases and roles")] = "jichitai",
) -> None:
    """Create an installation: settings file, catalog, zone databases and keystores."""
    home = state.home or Path(os.environ.get("JICHITAI_HOME", "var"))
    servers: dict[str, str] = {}
    if backend == "postgresql":
        if not pg_url:
            raise ConfigurationError("--pg-url is needed with --backend postgresql")
        servers["default"] = pg_url
        for item in server or []:
            name, sep, url = item.partition("=")
            if not sep or not name or not url:
                raise ConfigurationError(f"--server {item!r} must be NAME=URL")
            servers[name] = url
    s = load_settings(
        home, backend=backend, pg_servers=servers, keystore=keystore, pkcs11_module=pkcs11_module,
        environment=environment, db_prefix=db_prefix,
    )  # fmt: skip
    s = _ask_passphrase(s, confirm=True)
    if (home / "catalog.sqlite3").exists() or (home / "jichitai.toml").exists():
        raise ConfigurationError(f"{home} already holds an installation", hint="use another --home")
    write_settings(s)
    st = Storage(s)
    st.backend.prepare()
    for zone in ALL_ZONES:
        open_zone_keystore(s, zone, create=True)
    _linkage_tokens(s)
    console.print(f"[green]initialised[/] {home} ({backend}, keystore {keystore})")


def _linkage_tokens(s: Settings) -> None:
    """Tokens the linkage server presents to the zones it connects to (LGWAN and My Number)."""
    from jichitai.platform.plugins import optional_module

    auth = optional_module("jichitai.platform.messaging.auth")
    if auth is not None:
        for zone in (Zone.LGWAN, Zone.MYNUMBER):
            auth.ensure_token(s.home, zone)


# -- tenants -------------------------------------------------------------------------------------


@tenant_app.command("add")
def tenant_add(
    code: Annotated[str, typer.Argument(help="全国地方公共団体コード, 6 digits with check digit")],
    name: Annotated[str, typer.Option(help="name, e.g. 横浜市")],
    kana: Annotated[str, typer.Option(help="name in katakana, e.g. ヨコハマシ")],
    kind: Annotated[TenantKind, typer.Option(help="kind of body")],
    server: Annotated[str | None, typer.Option(help="PostgreSQL server of the placement map")] = None,
) -> None:
    """Add a tenant: storage, keys and audit log in every zone (all or nothing)."""
    from jichitai.platform.tenancy import NewTenant
    from jichitai.provisioning import add_tenant

    st = storage()
    with _progress() as progress:
        task = progress.add_task(f"adding {code}", total=len(ALL_ZONES) * 2)
        tenant = add_tenant(
            st, NewTenant(code, name, kana, kind, server), progress=lambda _msg: progress.advance(task)
        )
    console.print(
        f"[green]added[/] {tenant.code} {tenant.name} ({tenant.kind.label_ja}, server {tenant.server})"
    )


@tenant_app.command("list")
def tenant_list() -> None:
    """List the tenants."""
    table = Table("code", "name", "kana", "kind", "prefecture", "status", "server")
    for t in storage().catalog.list():
        table.add_row(t.code, t.name, t.kana, t.kind.label_ja, t.prefecture, t.status.value, t.server)
    console.print(table)


@tenant_app.command("show")
def tenant_show(code: str) -> None:
    """Show one tenant and where its data lives."""
    st = storage()
    t = st.catalog.get(code)
    table = Table(show_header=False)
    for k, v in (
        ("code", t.code), ("name", t.name), ("kana", t.kana), ("kind", t.kind.label_ja),
        ("prefecture", t.prefecture), ("status", t.status.value), ("server", t.server),
    ):  # fmt: skip
        table.add_row(k, str(v))
    for zone in ALL_ZONES:
        schema = st.backend.schema(t)
        where = f"schema {schema}" if schema else str(getattr(st.backend, "path")(zone, t))  # noqa: B009
        table.add_row(f"{zone.value}", where)
    console.print(table)


@tenant_app.command("disable")
def tenant_disable(code: str) -> None:
    """Stop serving a tenant; its data and keys stay."""
    from jichitai.platform.tenancy import disable_tenant

    disable_tenant(storage(), code)
    console.print(f"[yellow]disabled[/] {code} (data kept)")


@tenant_app.command("enable")
def tenant_enable(code: str) -> None:
    """Serve a disabled tenant again."""
    from jichitai.platform.tenancy import enable_tenant

    enable_tenant(storage(), code)
    console.print(f"[green]enabled[/] {code}")


# -- keys ----------------------------------------------------------------------------------------


@keys_app.command("rotate")
def keys_rotate(
    tenant: Annotated[str, typer.Option(help="tenant code")],
    zone: Annotated[list[Zone] | None, typer.Option(help="zone(s); default all")] = None,
    signing: Annotated[bool, typer.Option(help="also add a new signing key version")] = False,
    submission: Annotated[bool, typer.Option(help="also add a new submission key pair (LGWAN)")] = False,
) -> None:
    """Add a new KEK version and re-wrap the data keys under it (online; old ciphertext still decrypts)."""
    from jichitai.platform.keys import rotate_tenant_keys

    st = storage()
    for line in rotate_tenant_keys(
        st, tenant, zones=zone or list(ALL_ZONES), signing=signing, submission=submission
    ):
        console.print(line)


@keys_app.command("list")
def keys_list(tenant: Annotated[str, typer.Option(help="tenant code")]) -> None:
    """List key versions per zone."""
    from jichitai.platform.crypto.keystore import KeyKind

    st = storage()
    st.catalog.get(tenant)
    table = Table("zone", "kind", "versions")
    for zone in ALL_ZONES:
        ks = st.keystore(zone)
        for kind in KeyKind:
            try:
                versions = ks.versions(tenant, kind)
            except JichitaiError:
                continue
            table.add_row(zone.value, kind.value, ", ".join(map(str, versions)))
    console.print(table)


@keys_app.command("jwk")
def keys_jwk(tenant: Annotated[str, typer.Option(help="tenant code")]) -> None:
    """Print the tenant's published submission public key (JWK) as the portal serves it."""
    import json

    from jichitai.platform.keys import published_submission_jwk

    console.print_json(json.dumps(published_submission_jwk(storage(), tenant)))


# -- audit ---------------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(
    tenant: Annotated[str, typer.Option(help="tenant code")],
    zone: Annotated[list[Zone] | None, typer.Option(help="zone(s); default all")] = None,
) -> None:
    """Check the hash chain and the signed checkpoints; report the first broken link."""
    from jichitai.platform.audit_ops import verify_tenant

    ok = True
    for z, report_ok, text in verify_tenant(storage(), tenant, zones=zone or list(ALL_ZONES)):
        style = "green" if report_ok else "bold red"
        console.print(f"[{style}]{z.value}[/]: {text}")
        ok = ok and report_ok
    if not ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    tenant: Annotated[str, typer.Option(help="tenant code")],
    zone: Annotated[list[Zone] | None, typer.Option(help="zone(s); default all")] = None,
) -> None:
    """Sign a checkpoint now (besides the automatic one every N entries)."""
    from jichitai.platform.audit_ops import checkpoint_tenant

    for z, seq in checkpoint_tenant(storage(), tenant, zones=zone or list(ALL_ZONES)):
        console.print(f"{z.value}: checkpoint at entry {seq}")


@audit_app.command("show")
def audit_show(
    tenant: Annotated[str, typer.Option(help="tenant code")],
    zone: Annotated[Zone, typer.Option(help="zone")] = Zone.MYNUMBER,
    person: Annotated[str | None, typer.Option(help="only entries about this person")] = None,
    limit: Annotated[int, typer.Option(help="how many, newest first")] = 50,
) -> None:
    """Show audit entries (who did what, why, to whose data)."""
    from jichitai.platform.audit_ops import show_entries

    table = Table("seq", "time", "actor", "role", "purpose", "action", "object", "person")
    for e in show_entries(storage(), tenant, zone, person=person, limit=limit):
        table.add_row(*[str(x) for x in e])
    console.print(table)


@app.command("purge-submissions")
def purge_submissions(
    tenant: Annotated[str, typer.Option(help="tenant code")],
    days: Annotated[int | None, typer.Option(help="retention in days (default from settings)")] = None,
) -> None:
    """Delete the ciphertext of submissions acknowledged by the LGWAN zone longer ago than the retention."""
    from datetime import timedelta

    from jichitai.platform.plugins import optional_module

    retention = optional_module("jichitai.internet.retention")
    if retention is None:
        raise ConfigurationError("the internet zone is not part of this build")
    report = retention.purge_acknowledged(storage(), tenant, None if days is None else timedelta(days=days))
    console.print(
        f"purged {report.applications} submissions and {report.replies} replies "
        f"acknowledged before {report.cutoff:%Y-%m-%d}; removed {report.segment_files} segment files"
    )


@app.command("purposes")
def purposes() -> None:
    """List the registered purpose-of-use codes (利用目的)."""
    import jichitai.apps  # noqa: F401 - registers every business's purposes

    table = Table("code", "利用目的", "根拠")
    for p in PURPOSES.all():
        table.add_row(p.code, p.label_ja, p.legal_basis)
    console.print(table)


# -- procedures ----------------------------------------------------------------------------------


@procedures_app.command("list")
def procedures_list(
    tenant: Annotated[str, typer.Option(help="tenant code")],
    all_: Annotated[bool, typer.Option("--all", help="include the disabled ones")] = False,
) -> None:
    """List the procedures the tenant offers (all 31 with --all)."""
    from jichitai.procedures.store import offered

    table = Table("no", "id", "name", "certificate", "handled by", "enabled")
    for e in offered(storage(), tenant, Zone.LGWAN, include_disabled=all_):
        table.add_row(
            str(e.base.number), e.base.id, e.base.name, e.base.certificate.label_ja, e.base.handled_by.value,
            "yes" if e.enabled else "no",
        )  # fmt: skip
    console.print(table)


@procedures_app.command("show")
def procedures_show(
    procedure: Annotated[str, typer.Argument(help="procedure id, e.g. child_allowance_claim")],
    tenant: Annotated[str, typer.Option(help="tenant code")],
) -> None:
    """Show one procedure as the tenant offers it."""
    from jichitai.procedures.store import show_settings

    table = Table(show_header=False)
    for key, value in show_settings(storage(), tenant, procedure).items():
        table.add_row(key, str(value))
    console.print(table)


@procedures_app.command("enable")
def procedures_enable(
    procedure: Annotated[str, typer.Argument(help="procedure id")],
    tenant: Annotated[str, typer.Option(help="tenant code")],
) -> None:
    """Offer a procedure on the portal."""
    from jichitai.procedures.store import change_settings

    e = change_settings(storage(), tenant, procedure, "enable")
    console.print(f"[green]enabled[/] {e.base.name} ({e.effective_id})")


@procedures_app.command("disable")
def procedures_disable(
    procedure: Annotated[str, typer.Argument(help="procedure id")],
    tenant: Annotated[str, typer.Option(help="tenant code")],
) -> None:
    """Stop offering a procedure (applications already made keep their version)."""
    from jichitai.procedures.store import change_settings

    e = change_settings(storage(), tenant, procedure, "disable")
    console.print(f"[yellow]disabled[/] {e.base.name}")


@procedures_app.command("guidance")
def procedures_guidance(
    procedure: Annotated[str, typer.Argument(help="procedure id")],
    tenant: Annotated[str, typer.Option(help="tenant code")],
    text: Annotated[
        str | None, typer.Option(help="guidance shown to residents (Japanese); empty clears")
    ] = None,
) -> None:
    """Set the tenant's own guidance text for a procedure (a new form version)."""
    from jichitai.procedures.store import change_settings

    e = change_settings(storage(), tenant, procedure, "set_guidance", guidance_ja=text or None)
    console.print(f"[green]guidance set[/] ({e.effective_id})")


@procedures_app.command("extra-fields")
def procedures_extra_fields(
    procedure: Annotated[str, typer.Argument(help="procedure id")],
    tenant: Annotated[str, typer.Option(help="tenant code")],
    schema_file: Annotated[Path, typer.Option("--schema", help="JSON file: {field: JSON Schema, ...}")],
    required: Annotated[list[str] | None, typer.Option(help="required extra fields")] = None,
) -> None:
    """Add the tenant's own fields to a procedure's form (validated like the rest; a new version)."""
    import json

    from jichitai.procedures.store import change_settings

    try:
        fields = json.loads(schema_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {schema_file}: {exc}") from exc
    e = change_settings(
        storage(), tenant, procedure, "set_extra_fields", fields=fields, required=tuple(required or ())
    )
    console.print(f"[green]extra fields set[/] ({e.effective_id})")


@procedures_app.command("lock")
def procedures_lock() -> None:
    """Record the content hash of every definition version (after adding a new version file)."""
    from jichitai.procedures.catalog import write_version_lock

    console.print(f"locked {len(write_version_lock())} definition versions")


# -- db ------------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to the catalog and to every tenant in every zone."""
    from jichitai.platform.tenancy import upgrade_all

    st = storage()
    st.backend.prepare()
    tenants = st.catalog.list()
    with _progress() as progress:
        task = progress.add_task("migrating", total=len(tenants) * len(ALL_ZONES))
        n = upgrade_all(st, progress=lambda _t, _z: progress.advance(task))
    console.print(f"[green]up to date[/]: {n} tenant databases")


# -- serve and demo ------------------------------------------------------------------------------


@app.command()
def serve(
    zone: Annotated[Zone, typer.Argument(help="internet (portal), lgwan, linkage or mynumber")],
    port: Annotated[int | None, typer.Option(help="port (default from settings)")] = None,
    host: Annotated[str | None, typer.Option(help="bind address (default from settings, loopback)")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1, max=64, help="worker processes sharing the port evenly (SO_REUSEPORT; one per core)"
        ),
    ] = 1,
) -> None:
    """Run one zone's server."""
    import uvicorn

    from jichitai.apps import create_app, tune_server_process, zone_server_app
    from jichitai.platform.web.serving import ServerOptions
    from jichitai.platform.web.serving import serve as serve_workers

    st = storage()
    s = st.settings
    bind, listen = host or s.bind_host, port or s.ports[zone.value]
    if workers > 1:
        stop_background = _start_background(zone, st)  # the zone's loops run once, in this process
        try:
            app_of_worker = partial(zone_server_app, zone, s)
            status = serve_workers(app_of_worker, ServerOptions(bind, listen), workers=workers)
        finally:
            stop_background()
        if status:
            raise typer.Exit(status)
        return
    application = create_app(zone, st)
    tune_server_process(zone)
    stop_background = _start_background(zone, st)
    try:
        uvicorn.run(application, host=bind, port=listen, log_level="warning", proxy_headers=False)
    finally:
        stop_background()


def _start_background(zone: Zone, st: Storage) -> Any:
    """The zone's own loops: the linkage server's transfers, the LGWAN pull worker."""
    from jichitai.platform.plugins import optional_module

    stops: list[Any] = []
    if zone is Zone.LINKAGE:
        config = optional_module("jichitai.linkage.config")
        server = optional_module("jichitai.linkage.server")
        if config is not None and server is not None:
            _thread, stop = server.start_in_thread(st, config.load_config(st.settings))
            stops.append(stop.set)
    if zone is Zone.LGWAN:
        pull = optional_module("jichitai.lgwan.pull")
        if pull is not None:
            _pull_thread, pull_stop = pull.start_scheduler(st)
            stops.append(pull_stop.set)

    if zone is Zone.MYNUMBER:
        for name in ("jichitai.mynumber.atena.publish", "jichitai.mynumber.child_allowance.scheduler"):
            loop = optional_module(name)
            if loop is not None:
                _thread, loop_stop = loop.start_scheduler(st)
                stops.append(loop_stop.set)

    def stop_all() -> None:
        for stop in stops:
            stop()

    return stop_all


@app.command()
def demo(
    smoke: Annotated[bool, typer.Option(help="start everything, check it answers, stop")] = False,
    residents: Annotated[int, typer.Option(help="synthetic residents in the demo municipality")] = 200,
) -> None:
    """Prepare a demo installation (SQLite), seed a demo municipality and start every zone."""
    from jichitai.demo import run_demo

    home = state.home or Path(os.environ.get("JICHITAI_HOME", ".demo"))
    raise typer.Exit(run_demo(home, smoke=smoke, residents=residents, console=console))


def _mount_optional() -> None:
    """Sub-applications owned by other packages, mounted when present."""
    from jichitai.platform.plugins import optional_module

    identity = optional_module("jichitai.platform.identity.cli")
    if identity is not None:
        app.add_typer(identity.build_cli(storage), name="staff")
    lgwan = optional_module("jichitai.lgwan.cli")
    if lgwan is not None:
        app.add_typer(lgwan.build_cli(storage), name="lgwan")
    registry = optional_module("jichitai.mynumber.registry.migration.cli")
    if registry is not None:
        app.add_typer(registry.build_cli(storage), name="registry")
    certificates = optional_module("jichitai.mynumber.registry.cert_cli")
    if certificates is not None:
        app.add_typer(certificates.build_cli(storage), name="certificate")
    pki = optional_module("jichitai.platform.pki.cli")
    if pki is not None:
        app.add_typer(pki.app, name="pki")
        app.command("card-reader")(pki.card_reader_command)


_mount_optional()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("JICHITAI_DEBUG") == "1"
    try:
        result: Any = app(args=args, standalone_mode=False, prog_name="jichitai")
        return int(result) if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        err_console.print("aborted")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except JichitaiError as exc:
        if debug:
            traceback.print_exc()
        err_console.print(f"[bold red]error:[/] {exc.one_line()}", highlight=False, soft_wrap=True)
        return 1
    except Exception as exc:
        if debug:
            traceback.print_exc()
        err_console.print(
            f"[bold red]error:[/] {type(exc).__name__}: {exc} (run with --debug for the traceback)",
            highlight=False, soft_wrap=True,
        )  # fmt: skip
        return 1
    finally:
        if state.storage is not None:
            state.storage.close()
            state.storage = None


if __name__ == "__main__":
    sys.exit(main())
