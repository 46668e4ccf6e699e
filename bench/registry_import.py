"""Resident import benchmark: our full import next to a plain PostgreSQL COPY of the same file.

Usage:
    .venv/bin/python bench/registry_import.py --residents 3800000 [--runs 3] [--workers 2]
        [--batch 20000] [--backends postgresql,sqlite] [--file PATH] [--no-floor] [--keep HOME]
        [--pg-url URL]

Generates a synthetic 横浜市 (18 wards) once into ``bench/results/registry_<N>.csv`` (reused when it
exists), then in the same run:

1. ``COPY`` of that CSV into an unindexed table with one text column per interchange column
   (psycopg ``copy.write`` of the raw bytes; the server parses the CSV): the reference;
2. ``jichitai registry import`` of the same file into a fresh PostgreSQL installation (tenant 141003
   横浜市): every row validated and normalized, search keys, 個人番号 encrypted twice (registry and
   統合宛名) with its blind index, 統合宛名番号 drawn, versions, households, duplicate checks against
   the database, one audit entry per batch, progress committed per batch;
3. the database floor (``--no-floor`` skips it): the rows step 2 wrote, read back in binary COPY
   format and written again with ``COPY ... (FORMAT BINARY)`` into copies of the four tables, then
   the indexes the load defers built and the tables vacuumed, as the import does. Nothing of
   Python takes part: whatever a loader of this data model does, the database needs this long, so
   it shows how much of the import's time is ours and how close to COPY any loader could come;
4. the same import into SQLite.

``--runs N`` repeats the whole (COPY included) and prints the medians.

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
import csv
import json
import os
import resource
import secrets
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from jichitai.mynumber.registry.migration import indexes
from jichitai.mynumber.registry.migration.importer import ImportOptions, import_file
from jichitai.mynumber.registry.synthetic import write_population
from jichitai.platform.config import Settings, write_settings
from jichitai.platform.context import TenantContext, operator
from jichitai.platform.storage.backends import PostgresBackend
from jichitai.platform.storage.engine import Storage, open_zone_keystore
from jichitai.platform.tenancy import NewTenant, add_tenant
from jichitai.platform.tenants import TenantKind
from jichitai.platform.zones import ALL_ZONES, Zone

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
    with path.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))  # a file generated before a column was added has fewer
    cols = ", ".join(f"c{i} text" for i in range(len(header)))
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


# The tables an import writes, in the order its batches write them.
LOADED_TABLES = ("registry_households", "registry_persons", "registry_person_versions", "atena_persons")


def database_floor(storage: Storage, pg_url: str) -> tuple[float, float]:
    """What the database alone needs for the rows the import wrote: seconds to load them and to
    build the indexes the load defers (then VACUUM ANALYZE, as the import does).

    The loaded tables are read back in binary ``COPY`` format (the same bytes the parsing workers
    encode) and written with ``COPY ... (FORMAT BINARY)`` into copies of the tables in a scratch
    schema that have the indexes the import keeps during a load (those of ``atena_persons``); the
    deferred ones (see :mod:`jichitai.mynumber.registry.migration.indexes`) are built afterwards
    over two sessions. No Python parsing, validation or encryption takes part: this is the floor
    any loader of this data model reaches on this machine, whatever its language.
    """
    backend = storage.backend
    assert isinstance(backend, PostgresBackend)
    tenant = storage.tenant(TENANT)
    url = make_conninfo(pg_url, dbname=backend.database(Zone.MYNUMBER))
    source = backend.schema(tenant)
    deferred = {str(ix.name) for ix in indexes.deferred_indexes()} | {
        str(c.name) for c in indexes.deferred_constraints()
    }
    scratch = "bench_floor"
    buffers: dict[str, bytearray] = {}  # in memory: a few GB at 3.8M residents
    before: list[str] = []
    after: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {scratch} CASCADE")
        conn.execute(f"CREATE SCHEMA {scratch}")
        for table in LOADED_TABLES:
            data = bytearray()
            with conn.cursor().copy(f'COPY "{source}"."{table}" TO STDOUT (FORMAT binary)') as copy:
                for block in copy:
                    data += block
            buffers[table] = data
            conn.execute(f'CREATE TABLE {scratch}."{table}" (LIKE "{source}"."{table}" INCLUDING DEFAULTS)')
            for name, definition in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
                (source, table),
            ):
                sql = definition.replace(f" ON {source}.", f" ON {scratch}.").replace(
                    f' ON "{source}".', f" ON {scratch}."
                )
                (after if name in deferred else before).append(sql)
        for sql in before:
            conn.execute(sql)
    try:
        start = time.perf_counter()
        with psycopg.connect(url) as conn:
            for table in LOADED_TABLES:
                view = memoryview(buffers.pop(table))
                with conn.cursor().copy(f'COPY {scratch}."{table}" FROM STDIN (FORMAT binary)') as copy:
                    for i in range(0, len(view), 1 << 20):
                        copy.write(view[i : i + (1 << 20)])
            conn.commit()
        loaded = time.perf_counter()

        def run(sql: str) -> None:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("SET maintenance_work_mem = '256MB'")
                conn.execute(sql)

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(run, after))
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(run, [f'VACUUM (ANALYZE) {scratch}."{t}"' for t in LOADED_TABLES]))
        done = time.perf_counter()
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {scratch} CASCADE")
    return loaded - start, done - loaded


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
    ap.add_argument("--runs", type=int, default=1, help="repeat COPY and imports; medians are printed")
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
    ap.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after the PostgreSQL import, time the database alone on the rows it wrote (default)",
    )
    ap.add_argument("--keep", type=Path, help="keep the PostgreSQL installation in this home (one run)")
    args = ap.parse_args()
    if args.keep and args.runs != 1:
        ap.error("--keep needs --runs 1")

    path = args.file or RESULTS / f"registry_{args.residents}.csv"
    gen = generate(path, args.residents)
    size = path.stat().st_size
    print(f"file {path} ({size / 1e6:.0f} MB){f', generated in {gen:.1f} s' if gen else ''}")

    seconds: dict[str, list[float]] = {}
    rows_of: dict[str, int] = {}

    def record(name: str, elapsed: float, rows: int) -> None:
        seconds.setdefault(name, []).append(elapsed)
        rows_of[name] = rows

    copy_name = "PostgreSQL COPY (unindexed, text)"
    for run in range(1, args.runs + 1):
        if args.runs > 1:
            print(f"-- run {run} of {args.runs}")
        record(copy_name, plain_copy(args.pg_url, path), args.residents)
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
                    f"importing into {backend} ({args.workers} worker processes, batch {args.batch:,},"
                    f" {mode}) …"
                )
                elapsed, rows = our_import(
                    storage, path, args.workers, args.batch, initial_load=args.initial_load,
                    encoded_copy=not args.value_lists, pg_url=args.pg_url,
                )  # fmt: skip
                record(f"jichitai import → {backend}", elapsed, rows)
                if backend == "postgresql" and args.floor:
                    load_s, index_s = database_floor(storage, args.pg_url)
                    print(f"  database floor: binary COPY {load_s:.1f} s, indexes + vacuum {index_s:.1f} s")
                    record("database floor: COPY binary rows", load_s, rows)
                    record("database floor: + indexes, vacuum", load_s + index_s, rows)
            finally:
                if args.keep and backend == "postgresql":
                    storage.close()
                    print(f"kept the installation in {home} (JICHITAI_KEYSTORE_PASSPHRASE={PASSPHRASE})")
                    (home / "bench-passphrase").write_text(PASSPHRASE)
                else:
                    drop(storage, args.pg_url)
                    shutil.rmtree(home, ignore_errors=True)

    copy_s = statistics.median(seconds[copy_name])
    print()
    print(f"medians of {args.runs} run(s)" if args.runs > 1 else "one run")
    print(f"{'run':<40} {'rows':>11} {'wall s':>9} {'rows/s':>10} {'× COPY':>7}")
    for name, values in seconds.items():
        median, rows = statistics.median(values), rows_of[name]
        print(f"{name:<40} {rows:>11,} {median:>9.1f} {rows / median:>10,.0f} {median / copy_s:>7.1f}")
    if "database floor: + indexes, vacuum" in seconds and "jichitai import → postgresql" in seconds:
        ratio = statistics.median(seconds["jichitai import → postgresql"]) / statistics.median(
            seconds["database floor: + indexes, vacuum"]
        )
        print(f"import ÷ database floor: {ratio:.1f}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"registry_import_{args.residents}.json"
    out.write_text(
        json.dumps(
            {"residents": args.residents, "workers": args.workers, "batch": args.batch,
             "initial_load": args.initial_load,
             "runs": [{"name": n, "seconds": s, "median": statistics.median(s), "rows": rows_of[n]}
                      for n, s in seconds.items()]},
            ensure_ascii=False, indent=2,
        )
    )  # fmt: skip


if __name__ == "__main__":
    main()
