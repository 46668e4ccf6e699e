"""The pull worker as a process that dies (SIGKILL) at a chosen call to the receiving API.

::

    python -m tests.e2e.pull_crash --tenant 131016 --kill-at fetch:1      # JICHITAI_HOME set

``STAGE:N`` kills the process the N-th time it reaches STAGE: ``list``, ``fetch`` or ``ack``
(a single or a batch request) before the request is sent, or ``acked`` right after the portal
answered an acknowledgement
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

# "METHOD path" of the single requests and of the batch requests (one per up to 100 applications)
_PATTERNS = {
    "list": re.compile(r"^GET .*/applications$"),
    "fetch": re.compile(r"^(GET .*/applications/[^/]+|POST .*/applications-batch/fetch)$"),
    "ack": re.compile(r"^POST .*/(applications/[^/]+|applications-batch)/ack$"),
    "acked": re.compile(r"^POST .*/(applications/[^/]+|applications-batch)/ack$"),
}


class DyingClient(httpx.Client):
    """An ``httpx.Client`` that kills its own process at the chosen request."""

    def __init__(self, stage: str, count: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stage, self.count, self.seen = stage, count, 0
        self.lock = threading.Lock()

    def _due(self, method: str, url: str) -> bool:
        if not _PATTERNS[self.stage].search(f"{method.upper()} {httpx.URL(url).path}"):
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
