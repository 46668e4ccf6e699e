"""Queueing writers of one tenant's internet-zone database on the embedded (SQLite) backend.

SQLite admits one writer at a time and makes the others wait in its busy handler, which sleeps in
growing steps (1, 2, 5, 10 … ms) instead of waking when the lock is free. Under load (two server
processes, dozens of threads) that turned a 4 ms transaction into a queue of sleepers: about 50
submissions/s with a p99 of 4 s. Writers of the submission store therefore queue on a blocking
lock first, a thread lock inside the process and an ``flock`` across processes, which hands over
at once. PostgreSQL needs none of this (row locks queue and wake properly).
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from jichitai.platform.storage import Storage

_guard = threading.Lock()
_locks: dict[Path, tuple[threading.Lock, int]] = {}


def _lock_for(path: Path) -> tuple[threading.Lock, int]:
    found = _locks.get(path)
    if found is None:
        with _guard:
            found = _locks.get(path)
            if found is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                found = (threading.Lock(), fd)
                _locks[path] = found
    return found


class QueuedWriter:
    """The tenant's write turn: :meth:`acquire` before the first write, :meth:`release` after the
    commit (and on failure). Re-entrant release is harmless; a no-op on PostgreSQL."""

    def __init__(self, lock: tuple[threading.Lock, int] | None) -> None:
        self._lock = lock
        self._held = False

    def acquire(self) -> None:
        if self._lock is None or self._held:
            return
        thread_lock, fd = self._lock
        thread_lock.acquire()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            thread_lock.release()
            raise
        self._held = True

    def release(self) -> None:
        if self._lock is None or not self._held:
            return
        thread_lock, fd = self._lock
        self._held = False
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            thread_lock.release()

    def __enter__(self) -> QueuedWriter:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def queued_writer(storage: Storage, tenant: str) -> QueuedWriter:
    """The write turn of the tenant's internet-zone database (SQLite only)."""
    if storage.settings.backend != "sqlite":
        return QueuedWriter(None)
    return QueuedWriter(_lock_for(storage.settings.home / "locks" / f"internet-{tenant}.lock"))


__all__ = ["QueuedWriter", "queued_writer"]
