"""The pull worker as a process that dies (SIGKILL) at a chosen call to the receiving API.

::

    python -m tests.e2e.pull_crash --tenant 131016 --kill-at fetch:2      # JICHITAI_HOME set

``STAGE:N`` kills the process the N-th time it reaches STAGE: ``list``, ``fetch`` or ``ack``
before the request is sent, or ``acked`` right after the portal answered an acknowledgement
(the portal has it, application management has not recorded it). Nothing in the worker is
changed: the HTTP client it is given is the only thing that knows about the crash.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import threading
from typing import Any

import httpx

from jichitai.lgwan import config
from jichitai.lgwan.pull import pull_once
from jichitai.platform.config import load_settings
from jichitai.platform.storage import Storage

_PATTERNS = {
    "list": ("GET", re.compile(r"/applications$")),
    "fetch": ("GET", re.compile(r"/applications/[^/]+$")),
    "ack": ("POST", re.compile(r"/applications/[^/]+/ack$")),
    "acked": ("POST", re.compile(r"/applications/[^/]+/ack$")),
}


class DyingClient(httpx.Client):
    """An ``httpx.Client`` that kills its own process at the chosen request."""

    def __init__(self, stage: str, count: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stage, self.count, self.seen = stage, count, 0
        self.lock = threading.Lock()

    def _due(self, method: str, url: str) -> bool:
        want_method, pattern = _PATTERNS[self.stage]
        if method.upper() != want_method or not pattern.search(httpx.URL(url).path):
            return False
        with self.lock:
            self.seen += 1
            return self.seen >= self.count

    def request(self, method: str, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        due = self._due(method, str(url))
        if due and self.stage != "acked":
            os.kill(os.getpid(), signal.SIGKILL)
        answer = super().request(method, url, **kwargs)
        if due:
            os.kill(os.getpid(), signal.SIGKILL)
        return answer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--kill-at", required=True, help="STAGE:N, STAGE one of " + ", ".join(_PATTERNS))
    args = parser.parse_args(argv)
    stage, _, count = str(args.kill_at).partition(":")
    storage = Storage(load_settings())
    portal_url = config.load(storage, args.tenant).portal_url
    with DyingClient(stage, int(count or "1"), base_url=portal_url, timeout=30.0) as http:
        pull_once(storage, args.tenant, http=http)


if __name__ == "__main__":
    main()
