"""End-to-end submissions per second over HTTP, next to a bare endpoint of the same web stack.

Usage::

    .venv/bin/python bench/submissions.py [--runs 3] [--seconds 8] [--connections 64]
                                          [--backend sqlite|postgresql|both] [--driver wrk|httpx]
                                          [--tenants 1..4]

What it does, all on loopback, for each backend (both by default: SQLite, then PostgreSQL):

1. builds a fresh installation in a temporary directory (tenant 131016 千代田区, with
   ``--tenants N`` also 中央区, 港区, 新宿区; their keys and submission keys published to the
   internet zone), a JPKI-style test CA with a 署名用 certificate, and its CRL where the settings
   look for them;
2. prepares ONE request: the 児童手当 認定請求 (about 2 KB of form data, signed once in advance:
   the card's signing is not the server's work) with one 200 KB attachment, as the portal page
   posts it to ``POST /api/v1/tenants/131016/submissions`` (JSON, the attachment in base64);
3. serves the real internet-zone app (``jichitai.apps.create_app``) and a bare app: the SAME app
   factory, middleware, routes and body limit, plus one route beside the real one
   (``POST /api/v1/tenants/{tenant}/bare-submissions``) that receives the same request and
   answers without doing anything; each as ``jichitai serve --workers 2`` serves
   (:mod:`jichitai.platform.web.serving`: 2 uvicorn worker processes with uvloop and httptools,
   each with its own ``SO_REUSEPORT`` socket, so the kernel spreads the connections evenly);
4. drives both with ``wrk`` (Debian's package, one thread: it shares the 2 cores; a Lua script
   gives every request its own ``Idempotency-Key`` header, so each one is a real new submission:
   verified, encrypted and stored durably, i.e. answered after a commit that reached the disk,
   and spreads the requests over the tenants in turn) or, without wrk, an asyncio httpx driver;
   runs alternate bare/real, so each ratio compares two runs made side by side.

By default 64 connections drive each server: on a busy day thousands of residents submit at once,
and each waits for its own durable commit, so the rate depends on how many are in flight;
``--connections 16`` gives the lighter load (measured both ways in the issue's note).

Submissions that arrive together in one server process are stored in one transaction (group
commit, :mod:`jichitai.internet.submissions.writes`): one fsync for the lot. With PostgreSQL the
two workers write in parallel, but each tenant's audit chain head is one row lock, so a single
tenant serializes its batches; ``--tenants 4`` shows the spread-out case.

Prints each run (rate, latency, the server's CPU time per request from /proc, load average), then
per backend the medians: bare req/s, submissions/s, the ratio real/bare (median of the per-run
ratios; goal ≥ 0.3; rate goal ≥ 500/s), and checks that the database holds at least as many
applications as the server answered 201 for. The machine has 2 cores shared with the load
generator (and, here, other work): wall-clock rates are noisy, CPU per request much less so.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

TENANT = "131016"
TENANTS = [
    (TENANT, "千代田区", "チヨダク"),
    ("131024", "中央区", "チュウオウク"),
    ("131032", "港区", "ミナトク"),
    ("131041", "新宿区", "シンジュクク"),
]
URL_PATH = f"/api/v1/tenants/{TENANT}/submissions"


def url_paths(tenants: int, bare: bool) -> list[str]:
    last = "bare-submissions" if bare else "submissions"
    return [f"/api/v1/tenants/{code}/{last}" for code, _, _ in TENANTS[:tenants]]


PASSPHRASE = "bench-passphrase-0123456789"
ATTACHMENT_BYTES = 200 * 1024

LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
local counter = 0
local prefix = "bench-" .. os.getenv("BENCH_RUN") .. "-"
local paths = {}
for p in string.gmatch(os.getenv("BENCH_PATHS"), "[^,]+") do
  table.insert(paths, p)
end
function init(args)
  prefix = prefix .. tostring(math.random(100000000, 999999999)) .. "-"
end
function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = prefix .. counter
  return wrk.format(nil, paths[(counter % #paths) + 1])
end
"""


# --- the two apps (uvicorn imports these with --factory) ---------------------------------------


def real_app() -> Any:
    """The internet zone's app over the installation in $JICHITAI_HOME, in a process tuned as
    ``jichitai serve internet`` tunes its own."""
    from jichitai.apps import create_app, tune_server_process
    from jichitai.platform.config import load_settings
    from jichitai.platform.storage import Storage
    from jichitai.platform.zones import Zone
    from jichitai.procedures import default_catalog

    default_catalog()  # loaded before serving, as a server is after its first request
    app = create_app(Zone.INTERNET, Storage(load_settings(Path(os.environ["JICHITAI_HOME"]))))
    tune_server_process(Zone.INTERNET)
    return app


def bare_app() -> Any:
    """The same app as :func:`real_app` (factory, middleware, routes, body limit) with one route
    beside the real submissions route: it reads the same request's body and answers without
    doing anything. Only the work of a submission separates the two rates."""
    from fastapi import APIRouter
    from fastapi.routing import APIRoute

    app = real_app()
    router: APIRouter = app.state.internet_api_router  # the API's router, prefix /api/v1

    async def receive(request: Request, tenant: str) -> JSONResponse:
        await request.body()
        return JSONResponse({"receipt_number": "-", "status": "received"}, status_code=201)

    router.add_api_route("/tenants/{tenant}/bare-submissions", receive, methods=["POST"], status_code=201)
    # matched at the place of the real route, so both walk the same routing table
    routes = router.routes
    bare = routes.pop()
    real = [
        i
        for i, r in enumerate(routes)
        if isinstance(r, APIRoute) and r.path.endswith("/{tenant}/submissions")
    ]
    if len(real) != 1:
        raise RuntimeError(f"the real submissions route was not found once: {real}")
    routes.insert(real[0], bare)
    return app


# --- installation and request -------------------------------------------------------------------


def set_up(home: Path, backend: str, tenants: int = 1) -> tuple[Path, dict[str, str]]:
    """A fresh installation with the tenant, the test CA and one signed request; returns (body, env)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    from jichitai.platform.config import Settings, write_settings
    from jichitai.platform.pki import TestCA
    from jichitai.platform.pki.ca import new_rsa_key
    from jichitai.platform.pki.rules import BasicFacts, Sex
    from jichitai.platform.storage.engine import Storage, open_zone_keystore
    from jichitai.platform.tenancy import NewTenant, add_tenant
    from jichitai.platform.tenants import TenantKind
    from jichitai.platform.zones import ALL_ZONES
    from jichitai.procedures import canonical_form_bytes, default_catalog, sample_application

    values: dict[str, Any] = {
        "home": home,
        "environment": "development",
        "backend": backend,
        "keystore_passphrase": PASSPHRASE,
        "keystore_scrypt_n": 2**14,
    }
    if backend == "postgresql":
        values["pg_servers"] = {
            "default": os.environ.get("JICHITAI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        }
        values["db_prefix"] = "jtbench" + secrets.token_hex(3)
    settings = Settings(**values)
    write_settings(settings)
    storage = Storage(settings)
    storage.backend.prepare()
    for zone in ALL_ZONES:
        open_zone_keystore(settings, zone, create=True)
    for code, name, kana in TENANTS[:tenants]:
        add_tenant(storage, NewTenant(code, name, kana, TenantKind.SPECIAL_WARD))
    storage.close()

    now = datetime.now(UTC)
    ca = TestCA.create(home / "ca", b"bench-ca-passphrase", now=now - timedelta(days=30))
    key = new_rsa_key()
    facts = BasicFacts("山田　花子", "東京都千代田区霞が関二丁目1番2号", date(1990, 1, 2), Sex.FEMALE)
    cert = ca.issue_signing_certificate(key.public_key(), facts, now=now - timedelta(days=1))
    ca.publish_crl(now=now - timedelta(minutes=5))
    settings.pki_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ca.directory / TestCA.CERT_FILE, settings.pki_dir / "ca-cert.pem")
    shutil.copyfile(ca.directory / "crl.pem", settings.pki_dir / "crl.pem")

    definition = default_catalog().get("child_allowance_claim")
    form = sample_application(definition)
    signed = canonical_form_bytes(form)
    signature = key.sign(signed, padding.PKCS1v15(), hashes.SHA256())  # pre-signed once
    attachment = b"\xff\xd8\xff\xe0" + os.urandom(ATTACHMENT_BYTES - 4)
    body = {
        "procedure_id": definition.id,
        "procedure_version": definition.ref,
        "form": form,
        "signature_b64": base64.b64encode(signature).decode(),
        "certificate_pem": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "certificate_use": "signing",
        "attachments": [
            {
                "kind": "passbook_copy",
                "filename": "passbook.jpg",
                "content_type": "image/jpeg",
                "data_b64": base64.b64encode(attachment).decode(),
            }
        ],
    }
    body_path = home / "body.json"
    body_path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    print(
        f"request: form {len(signed)} bytes (canonical), attachment {len(attachment)} bytes, "
        f"body {body_path.stat().st_size} bytes"
    )
    env = {
        **os.environ,
        "JICHITAI_HOME": str(home),
        "JICHITAI_KEYSTORE_PASSPHRASE": PASSPHRASE,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    return body_path, env


def count_applications(home: Path, tenants: int = 1) -> int:
    from sqlalchemy import func, select

    from jichitai.internet.models import Application
    from jichitai.platform.config import load_settings
    from jichitai.platform.context import PLATFORM_ADMIN, TenantContext, operator
    from jichitai.platform.storage import Storage
    from jichitai.platform.tenants import TenantCode
    from jichitai.platform.zones import Zone

    os.environ["JICHITAI_KEYSTORE_PASSPHRASE"] = PASSPHRASE
    storage = Storage(load_settings(home))
    try:
        total = 0
        for code, _, _ in TENANTS[:tenants]:
            ctx = TenantContext(TenantCode(code), operator("bench"), PLATFORM_ADMIN)
            with storage.unit_of_work(ctx, Zone.INTERNET) as uow:
                total += int(uow.session.scalar(select(func.count()).select_from(Application)) or 0)
        return total
    finally:
        storage.close()


def drop_postgres(home: Path) -> None:
    from jichitai.platform.config import load_settings

    os.environ["JICHITAI_KEYSTORE_PASSPHRASE"] = PASSPHRASE
    settings = load_settings(home)
    if settings.backend != "postgresql":
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    url = settings.pg_servers["default"].replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        like = settings.db_prefix + r"\_%"
        for (db,) in conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": like}):
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        for (role,) in conn.execute(text("SELECT rolname FROM pg_roles WHERE rolname LIKE :p"), {"p": like}):
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
    engine.dispose()


# --- serving --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """The app in 2 worker processes (jichitai.platform.web.serving) on loopback; stopped on exit."""

    def __init__(self, factory: str, env: dict[str, str], workers: int = 2) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "jichitai.platform.web.serving", f"bench.submissions:{factory}",
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )  # fmt: skip

    def __enter__(self) -> Server:
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.__exit__()
                raise RuntimeError("the server exited during start-up")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__()  # the supervisor stays up when its workers fail: stop it
        raise RuntimeError("the server did not start within 60 s")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server: supervisor and workers, from /proc."""
        tick = os.sysconf("SC_CLK_TCK")
        pending, total = [self.proc.pid], 0.0
        while pending:
            pid = pending.pop()
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            pending.extend(int(c) for c in children)
        return total

    def __exit__(self, *_exc: object) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


# --- load -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    rate: float  # responses per second
    p50_ms: float
    p99_ms: float
    ok: int  # 2xx answers
    other: int  # anything else (must be 0)


def _ms(text: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"cannot read latency {text!r}")
    factor = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m[2]]
    return float(m[1]) * factor


def run_wrk(port: int, body: Path, seconds: int, connections: int, run_id: str, paths: list[str]) -> Result:
    script = body.with_name("post.lua")
    script.write_text(LUA, encoding="utf-8")
    out = subprocess.run(
        [
            "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
            "-s", str(script), f"http://127.0.0.1:{port}{paths[0]}",
        ],
        env={**os.environ, "BENCH_BODY": str(body), "BENCH_RUN": run_id, "BENCH_PATHS": ",".join(paths)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out)[1])  # type: ignore[index]
    total = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out)[1])  # type: ignore[index]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    other = (int(bad[1]) if bad else 0) + (sum(int(x) for x in errors.groups()) if errors else 0)
    return Result(rate, p50, p99, total - (int(bad[1]) if bad else 0), other)


def run_httpx(port: int, body: Path, seconds: int, connections: int, run_id: str, paths: list[str]) -> Result:
    import httpx

    payload = body.read_bytes()
    latencies: list[float] = []
    counts = {"ok": 0, "other": 0}

    async def worker(client: httpx.AsyncClient, wid: int, stop: float) -> None:
        n = 0
        while time.perf_counter() < stop:
            n += 1
            headers = {"Content-Type": "application/json", "Idempotency-Key": f"bench-{run_id}-{wid}-{n}"}
            start = time.perf_counter()
            answer = await client.post(paths[n % len(paths)], content=payload, headers=headers)
            latencies.append(time.perf_counter() - start)
            counts["ok" if 200 <= answer.status_code < 300 else "other"] += 1

    async def main() -> float:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
        ) as client:
            start = time.perf_counter()
            stop = start + seconds
            await asyncio.gather(*(worker(client, i, stop) for i in range(connections)))
            return time.perf_counter() - start

    elapsed = asyncio.run(main())
    latencies.sort()
    total = len(latencies)
    return Result(
        total / elapsed,
        latencies[total // 2] * 1000,
        latencies[min(total - 1, int(total * 0.99))] * 1000,
        counts["ok"],
        counts["other"],
    )


@dataclass(frozen=True)
class Summary:
    backend: str
    bare: float  # median req/s
    real: float  # median submissions/s
    ratio: float  # median of the per-run ratios real/bare (each pair measured side by side)
    bare_cpu_ms: float  # server CPU per request, median
    real_cpu_ms: float
    real_p50_ms: float
    real_p99_ms: float
    failed: int


def bench_backend(args: argparse.Namespace, backend: str) -> Summary:
    """Bare and real servers on a fresh installation, alternating runs; the medians."""
    drive = run_wrk if args.driver == "wrk" else run_httpx
    home = Path(tempfile.mkdtemp(prefix="jichitai-bench-"))
    try:
        body, env = set_up(home / "home", backend, args.tenants)
        print(
            f"driver {args.driver}, {args.connections} connections, {args.seconds} s per run,",
            f"backend {backend}, {args.tenants} tenant(s), {args.workers} workers",
        )
        paths = {"bare": url_paths(args.tenants, bare=True), "real": url_paths(args.tenants, bare=False)}
        results: dict[str, list[Result]] = {"bare": [], "real": []}
        cpu: dict[str, list[float]] = {"bare": [], "real": []}
        with Server("bare_app", env, args.workers) as bare, Server("real_app", env, args.workers) as real:
            # caches, connections, JIT-free warm-up
            drive(real.port, body, 2, args.connections, "warmup", paths["real"])
            drive(bare.port, body, 2, args.connections, "warmup", paths["bare"])
            for i in range(args.runs):
                for name, server in (("bare", bare), ("real", real)):
                    before = server.cpu_seconds()
                    result = drive(server.port, body, args.seconds, args.connections, f"r{i}", paths[name])
                    cpu_ms = 1000 * (server.cpu_seconds() - before) / max(1, result.ok + result.other)
                    results[name].append(result)
                    cpu[name].append(cpu_ms)
                    print(
                        f"run {i + 1} {name:4}: {result.rate:8.1f}/s  p50 {result.p50_ms:7.2f} ms  "
                        f"p99 {result.p99_ms:7.2f} ms  server CPU {cpu_ms:5.2f} ms/req  "
                        f"2xx {result.ok}  other {result.other}  load {_loadavg()}"
                    )
        stored = count_applications(home / "home", args.tenants)
        answered = sum(r.ok for r in results["real"])
        print(f"applications stored: {stored} (2xx answers in measured runs: {answered}, plus warm-up)")
        if stored < answered:
            print("fewer applications stored than answered as stored", file=sys.stderr)

        def med(name: str, attr: str) -> float:
            return float(statistics.median(float(getattr(r, attr)) for r in results[name]))

        ratios = [r.rate / b.rate for r, b in zip(results["real"], results["bare"], strict=True)]
        return Summary(
            backend=backend,
            bare=med("bare", "rate"),
            real=med("real", "rate"),
            ratio=float(statistics.median(ratios)),
            bare_cpu_ms=float(statistics.median(cpu["bare"])),
            real_cpu_ms=float(statistics.median(cpu["real"])),
            real_p50_ms=med("real", "p50_ms"),
            real_p99_ms=med("real", "p99_ms"),
            failed=sum(r.other for rs in results.values() for r in rs) + max(0, answered - stored),
        )
    finally:
        if backend == "postgresql":
            try:
                drop_postgres(home / "home")
            except Exception as exc:
                print(f"could not drop the benchmark databases: {exc}", file=sys.stderr)
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument(
        "--connections",
        type=int,
        default=64,
        help="concurrent clients (64: a busy day has thousands of residents submitting at once; "
        "the group commit answers a submission only after its durable commit, so fewer clients "
        "leave the server waiting on the disk instead of working: 16 is the light-load figure)",
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--driver", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes of each server")
    parser.add_argument(
        "--tenants",
        type=int,
        default=1,
        choices=range(1, len(TENANTS) + 1),
        help="spread the load over N tenants",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary installation")
    args = parser.parse_args()
    if not 1 <= args.runs <= 20 or not 1 <= args.seconds <= 120:
        parser.error("runs 1–20 and seconds 1–120 keep the load bounded")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    summaries = []
    for backend in backends:
        summaries.append(bench_backend(args, backend))
        print()
    print(f"medians of {args.runs} runs (bare and real alternate; ratio per pair of runs):")
    print("backend      bare req/s  submissions/s  ratio  p50 ms  p99 ms  CPU ms/req bare / real")
    for s in summaries:
        print(
            f"{s.backend:11} {s.bare:11.1f} {s.real:14.1f} {s.ratio:6.3f} {s.real_p50_ms:7.1f} "
            f"{s.real_p99_ms:7.1f}  {s.bare_cpu_ms:9.2f} / {s.real_cpu_ms:.2f}"
        )
    print("goals: ratio ≥ 0.3 and ≥ 500 submissions/s")
    failed = sum(s.failed for s in summaries)
    if failed:
        print(f"{failed} requests failed (or were answered but not stored)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
