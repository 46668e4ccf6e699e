"""CPU per submission in-process: the internet zone's app called directly, without HTTP.

Usage::

    .venv/bin/python bench/submission_cpu.py [--rounds 8] [--requests 800] [--concurrency 32]
                                             [--backend sqlite|postgresql]

``bench/submissions.py`` measures what the issue asks (submissions/s over HTTP next to a bare
endpoint), with a load generator on the same 2 cores. This script measures only the part of the
work that is the app's own, without HTTP and without the load generator:

1. the same installation and the same signed request as ``bench/submissions.py`` (its
   ``set_up``), and the same app (its ``bare_app``: the real internet-zone app, tuned as a server
   process, plus the bare route);
2. ASGI calls straight into the app from one event loop (uvloop), ``--concurrency`` at a time,
   each a new submission (its own Idempotency-Key) stored durably by the group commit's writer
   thread, as in the server;
3. rounds of ``--requests`` alternate between the bare route and the real one; for each it
   reports the process's CPU per request (all threads: the loop and the writer) and the event
   loop thread's own, as medians over the rounds.

On this kind of machine (a VM on a shared host) the rounds of one run agree within a few per
cent, but separate runs of the same code differ by up to ±10 %: compare two versions of the code
by alternating several runs of each, or switch a runtime setting between rounds of one run.

Not measured here: uvicorn's HTTP parsing, the kernel's sockets, the load generator: about
0.2 ms a request, the same for both routes. The difference of the two routes' CPU per request is
the submission's own work (checks, encryption, storing), which is what a change to it moves.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Receive, Send], Awaitable[None]]
CHUNK = 65536  # what uvicorn hands the app at a time, about


async def call(app: App, path: str, body: bytes, key: str) -> int:
    """One POST of ``body`` to ``path``, as uvicorn would make it; the answer's status."""
    chunks = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"idempotency-key", key.encode()),
    ]
    scope: Message = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = 0
    status: list[int] = []

    async def receive() -> Message:
        nonlocal sent
        sent += 1
        return {"type": "http.request", "body": chunks[sent - 1], "more_body": sent < len(chunks)}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))

    await app(scope, receive, send)
    return status[0]


async def measure(args: argparse.Namespace, body: bytes) -> dict[str, list[tuple[float, float]]]:
    from bench.submissions import bare_app, url_paths

    app: App = bare_app()
    paths = {"bare": url_paths(1, bare=True)[0], "real": url_paths(1, bare=False)[0]}
    gate = asyncio.Semaphore(args.concurrency)
    counter = 0

    async def one(path: str) -> int:
        nonlocal counter
        counter += 1
        key = f"cpu-{os.getpid()}-{counter}"  # taken now: the counter moves on while this waits
        async with gate:
            return await call(app, path, body, key)

    async def batch(name: str, n: int) -> tuple[float, float]:
        cpu, loop_thread = time.process_time(), time.thread_time()
        answers = await asyncio.gather(*(one(paths[name]) for _ in range(n)))
        cpu, loop_thread = time.process_time() - cpu, time.thread_time() - loop_thread
        if set(answers) != {201}:
            raise RuntimeError(f"{name}: unexpected answers {sorted(set(answers))}")
        return 1000 * cpu / n, 1000 * loop_thread / n

    for name in ("real", "bare"):  # warm-up: caches, the writer thread, the connections
        await batch(name, min(300, args.requests))
    results: dict[str, list[tuple[float, float]]] = {"bare": [], "real": []}
    for i in range(args.rounds):
        for name in ("bare", "real"):
            cpu_ms, loop_ms = await batch(name, args.requests)
            results[name].append((cpu_ms, loop_ms))
            print(f"round {i + 1} {name:4}: CPU {cpu_ms:6.3f} ms/req (event loop thread {loop_ms:6.3f})")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=800, help="requests per round")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    if not (1 <= args.rounds <= 50 and 1 <= args.requests <= 20000 and 1 <= args.concurrency <= 256):
        parser.error("rounds 1–50, requests 1–20000 and concurrency 1–256 keep the run bounded")

    import uvloop
    from bench.submissions import drop_postgres, set_up

    home = Path(tempfile.mkdtemp(prefix="jichitai-cpu-"))
    try:
        body_path, env = set_up(home / "home", args.backend)
        for name in ("JICHITAI_HOME", "JICHITAI_KEYSTORE_PASSPHRASE"):
            os.environ[name] = env[name]
        results = uvloop.run(measure(args, body_path.read_bytes()))
    finally:
        if args.backend == "postgresql":
            drop_postgres(home / "home")
        shutil.rmtree(home, ignore_errors=True)

    def med(name: str, at: int) -> float:
        return float(statistics.median(r[at] for r in results[name]))

    print(f"\nmedians of {args.rounds} rounds of {args.requests} requests, {args.concurrency} at a time:")
    print("route  CPU ms/req  event loop thread ms/req")
    for name in ("bare", "real"):
        print(f"{name:5}  {med(name, 0):10.3f}  {med(name, 1):10.3f}")
    print(f"a submission's own work (real - bare): {med('real', 0) - med('bare', 0):.3f} ms of CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
