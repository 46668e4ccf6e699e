"""``jichitai demo``: an embedded SQLite installation with a demo municipality, every zone running.

Seeds tenant 131016 (千代田区) with staff accounts and whatever each built business offers for a
demo (synthetic residents, a test CA with virtual cards), starts each zone as its own process on
loopback, and prints the URLs and demo credentials. ``--smoke`` checks every zone answers, then stops.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from jichitai.platform.config import DEMO_PASSPHRASE, Settings, load_settings, write_settings
from jichitai.platform.plugins import optional_module
from jichitai.platform.storage.engine import Storage, open_zone_keystore
from jichitai.platform.tenants import TenantKind
from jichitai.platform.zones import ALL_ZONES, Zone

DEMO_CARD_PASSPHRASE = "demo-card-passphrase-not-for-production"  # noqa: S105 - demo only
DEMO_TENANT = "131016"
DEMO_TENANT_NAME = "千代田区"
DEMO_TENANT_KANA = "チヨダク"

# (login, password, roles, label) — demo only; refused outside development by the settings
DEMO_STAFF: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("admin", "chiyoda-demo-2026", ("tenant_admin", "auditor"), "団体管理者"),
    ("madoguchi", "demo-staff-2026!", ("application_clerk",), "申請管理担当"),
    ("juki", "demo-staff-2026!", ("registry_clerk",), "住民記録担当"),
    ("jidouteate", "demo-staff-2026!", ("child_allowance_clerk",), "児童手当担当"),
)

Seeder = Callable[[Storage, Console, int], list[tuple[str, str]]]


def _seed_staff(storage: Storage, console: Console, _residents: int) -> list[tuple[str, str]]:
    identity_demo = optional_module("jichitai.platform.identity.demo")
    if identity_demo is None:
        return []
    notes: list[tuple[str, str]] = identity_demo.seed(storage, DEMO_TENANT, DEMO_STAFF)
    return notes


def _optional_seeders() -> list[Seeder]:
    """Seeders of the businesses present in this build (each module has ``seed_demo``)."""
    seeders: list[Seeder] = [_seed_staff]
    for name in (
        "jichitai.mynumber.registry.demo",
        "jichitai.platform.pki.demo",
        "jichitai.internet.demo",
        "jichitai.lgwan.demo",
    ):
        module = optional_module(name)
        if module is not None:
            seeders.append(module.seed_demo)
    return seeders


def prepare(home: Path, residents: int, console: Console) -> tuple[Settings, list[tuple[str, str]]]:
    os.environ.setdefault("JICHITAI_KEYSTORE_PASSPHRASE", DEMO_PASSPHRASE)
    if not (home / "jichitai.toml").exists():
        settings = load_settings(home, backend="sqlite", environment="development")
        write_settings(settings)
        storage = Storage(settings)
        storage.backend.prepare()
        for zone in ALL_ZONES:
            open_zone_keystore(settings, zone, create=True)
        auth = optional_module("jichitai.platform.messaging.auth")
        if auth is not None:
            for zone in (Zone.LGWAN, Zone.MYNUMBER):
                auth.ensure_token(home, zone)
        console.print(f"initialised {home}")
    settings = load_settings(home)
    storage = Storage(settings)
    notes: list[tuple[str, str]] = []
    try:
        if storage.catalog.find(DEMO_TENANT) is None:
            from jichitai.platform.tenancy import NewTenant
            from jichitai.provisioning import add_tenant

            add_tenant(
                storage, NewTenant(DEMO_TENANT, DEMO_TENANT_NAME, DEMO_TENANT_KANA, TenantKind.SPECIAL_WARD)
            )
            console.print(f"added demo tenant {DEMO_TENANT} {DEMO_TENANT_NAME}")
            for seeder in _optional_seeders():
                notes += seeder(storage, console, residents)
        else:
            notes.append(("demo data", f"already seeded in {home} (make clean to start over)"))
    finally:
        storage.close()
    return settings, notes


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def _card_reader(settings: Settings, env: dict[str, str]) -> subprocess.Popen[bytes] | None:
    """The local card-reader helper with the demo's first virtual card inserted."""
    cards = settings.pki_dir / "cards"
    if not cards.is_dir():
        return None
    from jichitai.platform.pki import CardStore

    passphrase = env.get("JICHITAI_CARD_PASSPHRASE", DEMO_CARD_PASSPHRASE)
    listed = CardStore(cards, passphrase.encode()).list_cards()
    if not listed:
        return None
    portal = f"http://{settings.bind_host}:{settings.ports['internet']}"
    port = settings.ports.get("card_reader", 8765)
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable, "-m", "jichitai.cli", "card-reader", "--cards-dir", str(cards),
            "--origin", portal, "--card", listed[0].card_id, "--port", str(port),
        ],
        env={**env, "JICHITAI_CARD_PASSPHRASE": passphrase},  # not on the command line: ps shows that
    )  # fmt: skip


def run_demo(home: Path, *, smoke: bool, residents: int, console: Console) -> int:
    settings, notes = prepare(home, residents, console)
    procs: dict[Zone, subprocess.Popen[bytes]] = {}
    env = {**os.environ, "JICHITAI_HOME": str(home)}
    reader: subprocess.Popen[bytes] | None = None
    try:
        for zone in ALL_ZONES:
            procs[zone] = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "jichitai.cli", "serve", zone.value], env=env
            )
        reader = _card_reader(settings, env)
        table = Table("zone", "URL", "status", title=f"jichitai demo — {DEMO_TENANT_NAME} ({DEMO_TENANT})")
        ok = True
        for zone, proc in procs.items():
            base = f"http://{settings.bind_host}:{settings.ports[zone.value]}"
            healthy = _wait_healthy(f"{base}/healthz", proc)
            ok = ok and healthy
            table.add_row(zone.label_ja, base + "/", "[green]ok[/]" if healthy else "[red]not answering[/]")
        if reader is not None:
            port = settings.ports.get("card_reader", 8765)
            healthy = _wait_healthy(f"http://127.0.0.1:{port}/cards", reader)
            ok = ok and healthy
            table.add_row(
                "カードリーダー (JPKI 利用者クライアント相当)", f"http://127.0.0.1:{port}/",
                "[green]ok[/]" if healthy else "[red]not answering[/]",
            )  # fmt: skip
        console.print(table)
        creds = Table("who", "login", title="demo credentials (development only)")
        creds.add_row("all zones", f"tenant code {DEMO_TENANT}")
        for login, password, _roles, label in DEMO_STAFF:
            creds.add_row(label, f"{login} / {password}")
        for who, what in notes:
            creds.add_row(who, what)
        console.print(creds)
        if smoke:
            console.print("[green]smoke check passed[/]" if ok else "[red]smoke check failed[/]")
            return 0 if ok else 1
        console.print("Press Ctrl-C to stop.")
        while all(p.poll() is None for p in procs.values()):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        everything = [*procs.values(), *([reader] if reader is not None else [])]
        for proc in everything:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in everything:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
