"""Resident import benchmark: our full import next to a plain PostgreSQL COPY of the same file.

Usage:
    .venv/bin/python bench/registry_import.py --residents 3800000 [--workers 2] [--batch 20000]
        [--backends postgresql,sqlite] [--file PATH] [--keep HOME] [--pg-url URL]

Generates a synthetic 横浜市 (18 wards) once into ``bench/results/registry_<N>.csv`` (reused when it
exists), then in the same run:

1. ``COPY`` of that CSV into an unindexed table of 31 text columns (psycopg ``copy.write`` of the
   raw bytes; the server parses the CSV): the floor any loader is measured against;
2. ``jichitai registry import`` of the same file into a fresh PostgreSQL installation (tenant 141003
   横浜市): every row validated and normalized, search keys, 個人番号 encrypted twice (registry and
   統合宛名) with its blind index, 統合宛名番号 drawn, versions, households, duplicate checks against
   the database, one audit entry per batch, progress committed per batch;
3. the same into SQLite.

Prints wall time, rows/s and the ratio to COPY, and the CPU seconds of the import: this process,
the parsing workers (reaped children) and the PostgreSQL backends serving the tenant's databases
(read from ``/proc`` at the end, so PostgreSQL must run on this machine; background processes such as
the checkpointer are not counted). ``--value-lists`` imports through the value-list path instead of
rows encoded by the workers (``ImportOptions.encoded_copy=False``), for comparison.

The goal from issue 3: import within 4× COPY and under 10 minutes on 2 cores. ``--keep HOME`` keeps
the PostgreSQL installation (for ``bench/registry_search.py --home HOME``); otherwise everything is
dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import psycopg

from jichitai.mynumber.registry.interchange import COLUMN_NAMES
from jichitai.mynumber.registry.migration.importer import ImportOptions, import_file
from jichitai.mynumber.registry.synthetic import write_population
from jichitai.platform.config import Settings, write_settings
from jichitai.platform.context import TenantContext, operator
from jichitai.platform.storage.engine import Storage, open_zone_keystore
from jichitai.platform.tenancy import NewTenant, add_tenant
from jichitai.platform.tenants import TenantKind
from jichitai.platform.zones import ALL_ZONES

RESULTS = Path(__file__).parent / "results"
TENANT = "141003"
CITY = "横浜市"
WARDS = (
    "鶴見区", "神奈川区", "西区", "中区", "南区", "保土ケ谷区", "磯子区", "金沢区", "港北区", "戸塚区",
    "港南区", "旭区", "緑区", "瀬谷区", "栄区", "泉区", "青葉区", "都筑区",
)  # fmt: skip
PASSPHRASE = "bench-" + secrets.token_hex(16)
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def generate(path: Path, residents: int) -> float:
    if path.exists():
        return 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        write_population(f, residents, 2026, TENANT, CITY, wards=WARDS)
    tmp.replace(path)
    return time.perf_counter() - start


def plain_copy(pg_url: str, path: Path) -> float:
    table = f"bench_copy_{secrets.token_hex(4)}"
    cols = ", ".join(f"c{i} text" for i in range(len(COLUMN_NAMES)))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} ({cols})")
        try:
            start = time.perf_counter()
            sql = f"COPY {table} FROM STDIN (FORMAT csv, HEADER true)"
            with conn.transaction(), conn.cursor() as cur, cur.copy(sql) as copy, path.open("rb") as f:
                while block := f.read(1 << 20):
                    copy.write(block)
            elapsed = time.perf_counter() - start
            rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            print(f"COPY loaded {rows[0] if rows else 0:,} rows")
        finally:
            conn.execute(f"DROP TABLE {table}")
    return elapsed


def installation(home: Path, backend: str, pg_url: str) -> Storage:
    values: dict[str, object] = {
        "home": home, "environment": "test", "backend": backend,
        "keystore_passphrase": PASSPHRASE, "keystore_scrypt_n": 2**10,
    }  # fmt: skip
    if backend == "postgresql":
        values["pg_servers"] = {"default": pg_url}
        values["db_prefix"] = "jtbench" + secrets.token_hex(3)
    settings = Settings(**values)  # type: ignore[arg-type]
    write_settings(settings)
    storage = Storage(settings)
    storage.backend.prepare()
    for zone in ALL_ZONES:
        open_zone_keystore(settings, zone, create=True)
    add_tenant(storage, NewTenant(TENANT, CITY, "ヨコハマシ", TenantKind.DESIGNATED_CITY))
    return storage


def drop(storage: Storage, pg_url: str) -> None:
    storage.close()
    if storage.settings.backend != "postgresql":
        return
    prefix = storage.settings.db_prefix
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for (db,) in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "\\_%",)
        ):
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        for (role,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (prefix + "\\_%",)):
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def server_cpu(pg_url: str, prefix: str) -> float:
    """CPU seconds of the PostgreSQL backends connected to the installation's databases."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        pids = [
            pid
            for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname LIKE %s", (prefix + "\\_%",)
            )
        ]
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def our_import(
    storage: Storage,
    path: Path,
    workers: int,
    batch: int,
    *,
    initial_load: bool = False,
    encoded_copy: bool = True,
    pg_url: str = DEFAULT_PG,
) -> tuple[float, int]:
    ctx = TenantContext.of(TENANT, operator("bench"), "registry.migration")
    last = [0.0]
    indexing = [0.0]

    def progress(p: object) -> None:
        now = time.perf_counter()
        if getattr(p, "phase", "") == "indexing":
            indexing[0] = now
            print(f"  loaded in {now - start:.1f} s; building the indexes …", flush=True)
            return
        if now - last[0] > 30:
            last[0] = now
            print(f"  … {getattr(p, 'rows_read', 0):,} rows", flush=True)

    start = time.perf_counter()
    cpu_main, cpu_workers = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    summary = import_file(
        storage, ctx, path,
        ImportOptions(
            workers=workers, batch_size=batch, errors_path=path.with_suffix(".errors.csv"),
            initial_load=initial_load, encoded_copy=encoded_copy,
        ),
        progress=progress,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    if indexing[0]:
        print(f"  indexes built in {start + elapsed - indexing[0]:.1f} s", flush=True)
    cpu_main = _cpu(resource.RUSAGE_SELF) - cpu_main
    cpu_workers = _cpu(resource.RUSAGE_CHILDREN) - cpu_workers
    server = (
        server_cpu(pg_url, storage.settings.db_prefix) if storage.settings.backend == "postgresql" else 0.0
    )
    n = max(summary.rows_read, 1)
    print(
        f"  CPU s: main {cpu_main:.1f}, workers {cpu_workers:.1f}, server {server:.1f}"
        f" (µs/row: {1e6 * cpu_main / n:.0f} / {1e6 * cpu_workers / n:.0f} / {1e6 * server / n:.0f});"
        f" load {Path('/proc/loadavg').read_text().split()[0]}",
        flush=True,
    )
    assert summary.rows_read == summary.rows_accepted + summary.rows_rejected
    if summary.rows_rejected:
        print(f"  {summary.rows_rejected:,} rows refused (see {summary.errors_path})")
    return elapsed, summary.rows_accepted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--residents", type=int, default=200_000)
    ap.add_argument("--file", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=20_000)
    ap.add_argument("--backends", default="postgresql,sqlite")
    ap.add_argument("--pg-url", default=os.environ.get("JICHITAI_BENCH_PG_URL", DEFAULT_PG))
    ap.add_argument(
        "--initial-load",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="first full load: search indexes built at the end (default; --no-initial-load: row by row)",
    )
    ap.add_argument(
        "--value-lists",
        action="store_true",
        help="write value lists through psycopg instead of rows encoded by the workers (comparison)",
    )
    ap.add_argument("--keep", type=Path, help="keep the PostgreSQL installation in this home")
    args = ap.parse_args()

    path = args.file or RESULTS / f"registry_{args.residents}.csv"
    gen = generate(path, args.residents)
    size = path.stat().st_size
    print(f"file {path} ({size / 1e6:.0f} MB){f', generated in {gen:.1f} s' if gen else ''}")

    results: list[tuple[str, float, int]] = []
    copy_s = plain_copy(args.pg_url, path)
    results.append(("PostgreSQL COPY (unindexed, text)", copy_s, args.residents))
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        home = (
            args.keep
            if (args.keep and backend == "postgresql")
            else Path(tempfile.mkdtemp(prefix="jtbench-"))
        )
        storage = installation(home, backend, args.pg_url)
        try:
            mode = "initial load" if args.initial_load else "row by row indexes"
            print(
                f"importing into {backend} ({args.workers} worker processes, batch {args.batch:,}, {mode}) …"
            )
            elapsed, rows = our_import(
                storage, path, args.workers, args.batch, initial_load=args.initial_load,
                encoded_copy=not args.value_lists, pg_url=args.pg_url,
            )  # fmt: skip
            results.append((f"jichitai import → {backend}", elapsed, rows))
        finally:
            if args.keep and backend == "postgresql":
                storage.close()
                print(f"kept the installation in {home} (JICHITAI_KEYSTORE_PASSPHRASE={PASSPHRASE})")
                (home / "bench-passphrase").write_text(PASSPHRASE)
            else:
                drop(storage, args.pg_url)
                shutil.rmtree(home, ignore_errors=True)

    print()
    print(f"{'run':<40} {'rows':>11} {'wall s':>9} {'rows/s':>10} {'× COPY':>7}")
    for name, seconds, rows in results:
        print(f"{name:<40} {rows:>11,} {seconds:>9.1f} {rows / seconds:>10,.0f} {seconds / copy_s:>7.1f}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"registry_import_{args.residents}.json"
    out.write_text(
        json.dumps(
            {"residents": args.residents, "workers": args.workers, "batch": args.batch,
             "initial_load": args.initial_load,
             "runs": [{"name": n, "seconds": s, "rows": r} for n, s, r in results]},
            ensure_ascii=False, indent=2,
        )
    )  # fmt: skip


if __name__ == "__main__":
    main()
