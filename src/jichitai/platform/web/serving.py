"""Serving an ASGI app from several worker processes that share one port evenly.

uvicorn's own ``--workers`` gives all workers one listening socket, and whichever worker is idle
at that moment accepts. Connections that stay open (a reverse proxy's pool, residents' browsers
keeping their connection, a load test) then pile up on whichever worker accepted first, and
stay there: in ``bench/submissions.py`` one worker often took all 64 connections and the other
core idled (690 against 1 CPU ticks in one 6-second run), which halved the submissions per second
in a third of the runs. Here each worker binds a socket of its own with ``SO_REUSEPORT``, and the
kernel spreads new connections over the workers by a hash of the addresses.

The supervisor starts the workers, restarts one that dies, and stops them all on SIGTERM or
SIGINT. A worker that cannot start (it dies within :data:`STARTUP_SECONDS`, three times in a row)
stops the whole server: a broken configuration should fail loudly, not loop.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger(__name__)

STARTUP_SECONDS = 5.0
_MAX_QUICK_DEATHS = 3


@dataclass(frozen=True)
class ServerOptions:
    """What every worker's uvicorn is told."""

    host: str
    port: int
    log_level: str = "warning"
    access_log: bool = False
    proxy_headers: bool = False
    loop: str = "auto"  # uvloop where installed
    http: str = "auto"  # httptools where installed


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port) that other workers of this server can bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def _worker(factory: Callable[[], Any], options: ServerOptions) -> None:
    """One worker process: its own socket on the shared port, the app, uvicorn."""
    import uvicorn

    app = factory()  # first: connections the kernel gives this socket would wait for it
    sock = reuse_port_socket(options.host, options.port)
    config = uvicorn.Config(
        app,
        log_level=options.log_level,
        access_log=options.access_log,
        proxy_headers=options.proxy_headers,
        loop=options.loop,
        http=options.http,
    )
    uvicorn.Server(config).run(sockets=[sock])


def serve(factory: Callable[[], Any], options: ServerOptions, *, workers: int = 1) -> int:
    """Run the app that ``factory`` builds on ``options.port``; with ``workers`` > 1 in that many
    processes (``factory`` is then called in each and must be picklable: a module-level function
    or a ``functools.partial`` of one). Returns the exit status."""
    if workers < 1:
        raise ValueError("at least one worker")
    if workers == 1:
        _worker(factory, options)
        return 0
    if options.port == 0:
        raise ValueError("several workers need a fixed port to share")
    # bound once here first, so a port in use fails at once and in this process
    reuse_port_socket(options.host, options.port).close()
    return _Supervisor(factory, options, workers).run()


class _Supervisor:
    def __init__(self, factory: Callable[[], Any], options: ServerOptions, workers: int) -> None:
        self.factory = factory
        self.options = options
        self.count = workers
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[tuple[BaseProcess, float]] = []
        self.stopping = False
        self.quick_deaths = 0

    def _start(self) -> tuple[BaseProcess, float]:
        process = self.context.Process(
            target=_worker, args=(self.factory, self.options), name="jichitai-worker", daemon=False
        )
        process.start()
        return process, time.monotonic()

    def _stop(self, *_args: object) -> None:
        self.stopping = True

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        status = 0
        try:
            self.workers = [self._start() for _ in range(self.count)]
            while not self.stopping:
                time.sleep(0.2)
                for i, (process, started) in enumerate(self.workers):
                    if process.is_alive() or self.stopping:
                        continue
                    quick = time.monotonic() - started < STARTUP_SECONDS
                    self.quick_deaths = self.quick_deaths + 1 if quick else 0
                    log.warning("worker %s exited with %s", process.pid, process.exitcode)
                    if self.quick_deaths >= _MAX_QUICK_DEATHS:
                        print("jichitai: the workers exit as soon as they start; stopping", file=sys.stderr)
                        self.stopping, status = True, 1
                        break
                    self.workers[i] = self._start()
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return status

    def _shutdown(self) -> None:
        for process, _ in self.workers:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)  # uvicorn finishes open requests
        deadline = time.monotonic() + 20
        for process, _ in self.workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


def _import(path: str) -> Callable[[], Any]:
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise SystemExit(f"expected module:function, got {path!r}")
    module = __import__(module_name, fromlist=[attribute])
    factory: Callable[[], Any] = getattr(module, attribute)
    return factory


def main(argv: list[str] | None = None) -> int:
    """``python -m jichitai.platform.web.serving module:factory --port N --workers W``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("factory", help="module:function that builds the ASGI app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    options = ServerOptions(args.host, args.port, log_level=args.log_level)
    # through the module's own name: run with -m this file is __main__, and the workers must find
    # the function they run under a name they can import
    from jichitai.platform.web import serving

    return serving.serve(_import(args.factory), options, workers=args.workers)


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["ServerOptions", "reuse_port_socket", "serve"]
