"""The write turn of a tenant's embedded (SQLite) database: writers queue instead of polling.

SQLite admits one writer at a time and makes the others wait in its busy handler, which sleeps in
growing steps (1, 2, 5, 10 … ms) instead of waking when the lock is free. Under load (two server
processes, a writer thread committing batches of submissions back to back) that turned a 4 ms
transaction into a queue of sleepers: about 50 submissions/s with a p99 of 4 s, and a resident's
page view, whose session update also writes, could wait behind writers that handed the lock to
each other at once. So every unit of work on a tenant's file in a zone listed in
:data:`QUEUED_ZONES` first takes the file's write turn: a lock inside the process and an
``flock`` across processes, which hand over in order and at once. (Each such unit of work begins
``IMMEDIATE``, i.e. it is a writer for SQLite whether or not it writes.) PostgreSQL needs none of
this: its row locks queue and wake properly.

The turn is re-entrant within a thread, so a nested unit of work on the same file behaves as it
did before (SQLite refuses its second writer after the busy timeout) instead of hanging.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from jichitai.platform.zones import Zone

# The zones whose tenant files have concurrent writers in a server (the internet zone: the
# submission writer, portal sessions and drafts, the receiving API).
QUEUED_ZONES = frozenset({Zone.INTERNET})


class _Turn:
    """One file's turn in this process: a re-entrant thread lock, and the ``flock`` while held."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.RLock()
        self.depth = 0  # guarded by ``lock``


_guard = threading.Lock()
_turns: dict[Path, _Turn] = {}


def _turn_for(path: Path) -> _Turn:
    found = _turns.get(path)
    if found is None:
        with _guard:
            found = _turns.get(path)
            if found is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                found = _Turn(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
                _turns[path] = found
    return found


class WriteTurn:
    """A tenant file's write turn: :meth:`acquire` before the first statement, :meth:`release`
    after the commit or rollback. Releasing a turn not held is harmless."""

    def __init__(self, turn: _Turn) -> None:
        self._turn = turn
        self._held = False

    def acquire(self) -> None:
        if self._held:
            return
        turn = self._turn
        turn.lock.acquire()
        try:
            if turn.depth == 0:
                fcntl.flock(turn.fd, fcntl.LOCK_EX)
            turn.depth += 1
        except BaseException:
            turn.lock.release()
            raise
        self._held = True

    def release(self) -> None:
        if not self._held:
            return
        turn = self._turn
        self._held = False
        try:
            turn.depth -= 1
            if turn.depth == 0:
                fcntl.flock(turn.fd, fcntl.LOCK_UN)
        finally:
            turn.lock.release()

    def __enter__(self) -> WriteTurn:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def write_turn(home: Path, zone: Zone, tenant: str) -> WriteTurn:
    """The write turn of ``tenant``'s file in ``zone`` under the installation ``home``."""
    return WriteTurn(_turn_for(home / "locks" / f"{zone.value}-{tenant}.lock"))


__all__ = ["QUEUED_ZONES", "WriteTurn", "write_turn"]
