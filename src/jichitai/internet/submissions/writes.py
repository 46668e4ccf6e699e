"""Writing submissions: group commit (:class:`GroupCommitter`) and the queued write turn.

A durable commit waits for the disk (an fsync), so the submissions that arrive together in one
server process are stored in one transaction by :class:`GroupCommitter` and answered after it.

Queueing writers of one tenant's internet-zone database on the embedded (SQLite) backend:

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
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from jichitai.internet.models import Application, ApplicationCiphertext
from jichitai.internet.purposes import SUBMISSION_RECEIVE
from jichitai.platform.audit.entry import PendingEntry
from jichitai.platform.context import Actor, ActorKind, TenantContext
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

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


# -- group commit ------------------------------------------------------------------------------


@dataclass
class PreparedSubmission:
    """One checked, encrypted submission ready to store: its two rows and its audit entry."""

    receipt_number: str
    application: dict[str, Any]  # the routing row (internet_applications)
    ciphertext: dict[str, Any]  # the JWE (internet_application_ciphertexts)
    audit: PendingEntry  # names the resident as actor (AuditParty)
    # the outcome, set by the batch that wrote it before it sets ``wake``
    done: bool = False
    stored: bool = False  # False: a row with the same idempotency key (or receipt number) exists
    error: BaseException | None = None
    wake: threading.Event = field(default_factory=threading.Event)


_WRITER = Actor(id="internet.submission-writer", kind=ActorKind.SYSTEM, role="group_commit")
_APPLICATIONS = cast(Table, Application.__table__)
_CIPHERTEXTS = cast(Table, ApplicationCiphertext.__table__)
# ON CONFLICT DO NOTHING (any unique constraint) with RETURNING: a repeated idempotency key skips
# its row instead of failing the batch, and the answer says which rows went in.
_INSERT_APPLICATIONS = {
    "sqlite": sqlite_insert(_APPLICATIONS).on_conflict_do_nothing().returning(_APPLICATIONS.c.receipt_number),
    "postgresql": pg_insert(_APPLICATIONS).on_conflict_do_nothing().returning(_APPLICATIONS.c.receipt_number),
}
_INSERT_CIPHERTEXTS = insert(_CIPHERTEXTS)


class GroupCommitter:
    """Stores the submissions of one tenant that arrive together in one transaction: one commit,
    one fsync, one audit head update for the lot.

    The server answers only after a durable commit (SQLite ``synchronous=FULL``, PostgreSQL's
    default ``synchronous_commit``), and a commit costs about the same for one submission or
    thirty. So the first caller that finds no batch in progress becomes the leader: it takes every
    waiting submission (up to ``max_batch``), writes them in its thread and wakes the others; the
    callers that arrived meanwhile form the next batch, led by the first of them. A lone caller
    commits alone, without waiting for company. Every caller is woken once (no crowd of waiters
    re-checking a condition). Each submission keeps its own audit entry naming its resident.

    A batch that fails as a whole (not a repeated key, which only skips its row) is written again
    one submission per transaction, so one bad submission gets its own error and the others are
    stored; a transaction is never half-written.
    """

    def __init__(self, storage: Storage, tenant: TenantCode, max_batch: int = 32) -> None:
        # weak: the process-wide registry is keyed weakly by the storage, which a strong
        # reference from its own value would keep alive for ever
        self._storage = weakref.ref(storage)
        self.tenant = tenant
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[PreparedSubmission] = []
        self._busy = False
        self.batches = 0  # batches written (observability, tests)

    def store(self, item: PreparedSubmission) -> bool:
        """Store ``item`` durably; True when stored, False when its idempotency key (or receipt
        number) was already there. Raises what writing it raised."""
        with self._lock:
            self._queue.append(item)
            lead = not self._busy
            self._busy = True
        if not lead:
            # Woken once: when a batch has written this item, or when the leader before hands
            # the lead to this caller (its item is then first in the queue, not yet written).
            item.wake.wait()
        while not item.done:
            with self._lock:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
            try:
                self.write_batch(batch)
            except BaseException:  # write_batch keeps errors per item: this is an interruption
                for written in batch:
                    if not written.done:
                        written.error = RuntimeError("the batch was interrupted")
                        written.done = True
                        written.wake.set()
                self._hand_on()
                raise
            if item.done:  # this caller's part is over (else its item waits in a later batch)
                self._hand_on()
        if item.error is not None:
            raise item.error
        return item.stored

    def _hand_on(self) -> None:
        """Wake the first waiting caller as the next leader, or end the lead."""
        with self._lock:
            if self._queue:
                self._queue[0].wake.set()
            else:
                self._busy = False

    def write_batch(self, batch: list[PreparedSubmission]) -> None:
        """Write ``batch`` now and set each one's outcome (the leader's work; tests call it directly)."""
        try:
            stored = self._transaction(batch)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:
                for item in batch:  # find the one that spoiled the batch; store the others
                    try:
                        item.stored = item.receipt_number in self._transaction([item])
                    except Exception as single:
                        item.error = single
        else:
            for item in batch:
                item.stored = item.receipt_number in stored
        for item in batch:
            item.done = True
            item.wake.set()

    @property
    def storage(self) -> Storage:
        storage = self._storage()
        if storage is None:
            raise RuntimeError("the storage of this committer is gone")
        return storage

    def _transaction(self, batch: list[PreparedSubmission]) -> set[str]:
        ctx = TenantContext(self.tenant, _WRITER, SUBMISSION_RECEIVE, reason=f"{len(batch)} submissions")
        dialect = self.storage.settings.backend
        writer = queued_writer(self.storage, self.tenant)
        try:
            with self.storage.unit_of_work(ctx, Zone.INTERNET) as uow:
                writer.acquire()  # after the unit of work's own reads, before its first write
                connection = uow.session.connection()
                inserted = set(
                    connection.execute(
                        _INSERT_APPLICATIONS[dialect], [item.application for item in batch]
                    ).scalars()
                )
                ciphertexts = [item.ciphertext for item in batch if item.receipt_number in inserted]
                if ciphertexts:
                    connection.execute(_INSERT_CIPHERTEXTS, ciphertexts)
                for item in batch:
                    if item.receipt_number in inserted:
                        uow.audit(item.audit)
        finally:
            writer.release()  # after the commit, or on any failure
        self.batches += 1
        return inserted


_committers: weakref.WeakKeyDictionary[Storage, dict[str, GroupCommitter]] = weakref.WeakKeyDictionary()


def group_committer(storage: Storage, tenant: TenantCode) -> GroupCommitter:
    """The process's committer for the tenant's submissions on this storage."""
    with _guard:
        per_tenant = _committers.setdefault(storage, {})
        committer = per_tenant.get(tenant)
        if committer is None:
            committer = per_tenant[tenant] = GroupCommitter(storage, tenant)
        return committer


__all__ = ["GroupCommitter", "PreparedSubmission", "QueuedWriter", "group_committer", "queued_writer"]
