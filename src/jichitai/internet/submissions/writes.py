"""Writing submissions: group commit (:class:`GroupCommitter`).

A durable commit waits for the disk (an fsync), so the submissions that arrive together in one
server process are stored in one transaction by :class:`GroupCommitter` and answered after it.
On the embedded (SQLite) backend the transaction, like every unit of work in this zone, first
takes the tenant file's write turn (:mod:`jichitai.platform.storage.write_turn`), and the batch's
ciphertexts are written to the tenant's segment files before it
(:mod:`jichitai.internet.submissions.ciphertexts`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from jichitai.internet.models import Application, ApplicationCiphertext, ApplicationCiphertextSegment
from jichitai.internet.purposes import SUBMISSION_RECEIVE
from jichitai.internet.submissions.ciphertexts import blob_dir, segment_row
from jichitai.platform.audit.entry import PendingEntry
from jichitai.platform.context import Actor, ActorKind, TenantContext
from jichitai.platform.storage import Storage
from jichitai.platform.storage.segments import Location, SegmentWriter
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

_guard = threading.Lock()  # the registry of committers


@dataclass
class PreparedSubmission:
    """One checked, encrypted submission ready to store: its two rows and its audit entry."""

    receipt_number: str
    application: dict[str, Any]  # the routing row (internet_applications)
    ciphertext: dict[str, Any]  # the JWE as an internet_application_ciphertexts row
    audit: PendingEntry  # names the resident as actor (AuditParty)
    # where the writer put the ciphertext in the tenant's segment files, when it keeps them
    location: Location | None = None
    # the outcome, set by the batch that wrote it before it tells the waiter (:func:`finish_all`)
    done: bool = False
    stored: bool = False  # False: a row with the same idempotency key (or receipt number) exists
    error: BaseException | None = None
    # who waits: a thread (GroupCommitter.store) or a future on an event loop (enqueue_async)
    wake: threading.Event | None = None
    waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None

    def outcome(self) -> bool:
        if self.error is not None:
            raise self.error
        return self.stored


def finish_all(items: list[PreparedSubmission]) -> None:
    """Mark the outcomes of ``items`` as set and tell who waits: each waiting thread, and each
    event loop once for all of its submissions (a wake-up of the loop per submission cost it
    more than settling the futures)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for item in items:
        item.done = True
        if item.wake is not None:
            item.wake.set()
        if item.waiter is not None:
            loop, future = item.waiter
            by_loop.setdefault(loop, []).append(future)
    for loop, futures in by_loop.items():
        # a closed loop (the server shutting down) has nobody waiting
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle_all, futures)


_WRITER = Actor(id="internet.submission-writer", kind=ActorKind.SYSTEM, role="group_commit")
_APPLICATIONS = cast(Table, Application.__table__)
_CIPHERTEXTS = cast(Table, ApplicationCiphertext.__table__)
_SEGMENT_ROWS = cast(Table, ApplicationCiphertextSegment.__table__)
# ON CONFLICT DO NOTHING (any unique constraint) with RETURNING: a repeated idempotency key skips
# its row instead of failing the batch, and the answer says which rows went in.
_INSERT_APPLICATIONS = {
    "sqlite": sqlite_insert(_APPLICATIONS).on_conflict_do_nothing().returning(_APPLICATIONS.c.receipt_number),
    "postgresql": pg_insert(_APPLICATIONS).on_conflict_do_nothing().returning(_APPLICATIONS.c.receipt_number),
}
_INSERT_CIPHERTEXTS = insert(_CIPHERTEXTS)
_INSERT_SEGMENT_ROWS = insert(_SEGMENT_ROWS)


# How long a writer with submissions to commit waits, at most, for the ones announced in the same
# process (GroupCommitter.expect: received or being checked at that moment). A commit has a fixed
# cost (the transaction, the audit head, the fsync: here about 2.8 ms of CPU against 0.9 ms per
# submission in a batch of 16), and under load the event loop checks the next submission while
# the writer commits: waiting for it turns runs of single commits into batches. 15 ms gave more
# submissions/s than 5 ms in three paired runs of bench/submissions.py; 30 ms then looked no
# better over HTTP, whose figures move by several per cent between runs, but in-process (the
# delay switched between rounds of one process, 32 submissions in flight, 6 rounds each) it cost
# 3 % less CPU per submission than 15 ms (1.121 against 1.158 ms; 8 ms: 1.202 against 1.218).
# A lone submission, with nothing announced, is committed at once; under load an answer waits
# this much longer at most, and a slow upload in progress delays the commits meanwhile by this
# much at most.
COMMIT_DELAY_SECONDS = 0.03


def _settle_all(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():  # a request whose client went away was cancelled meanwhile
            future.set_result(None)


class GroupCommitter:
    """Stores the submissions of one tenant that arrive together in one transaction: one commit,
    one fsync, one audit head update for the lot.

    The server answers only after a durable commit (SQLite ``synchronous=FULL``, PostgreSQL's
    default ``synchronous_commit``), and a commit costs about the same for one submission or
    thirty. So one writer thread per tenant and process takes every waiting submission (up to
    ``max_batch``), writes them in one transaction and tells each caller; the submissions that
    arrive meanwhile form the next batch. A lone submission is written at once, without waiting
    for company. The writer is started by the first submission and ends after ``idle_seconds``
    without one.

    Callers wait in their own thread (:meth:`store`) or, on the server's event loop, without
    a thread of their own (:meth:`enqueue_async`): then a request needs no worker thread at all, and
    the process's threads no longer queue for the interpreter lock around every submission.
    Each submission keeps its own audit entry naming its resident.

    A batch that fails as a whole (not a repeated key, which only skips its row) is written again
    one submission per transaction, so one bad submission gets its own error and the others are
    stored; a transaction is never half-written.
    """

    def __init__(
        self,
        storage: Storage,
        tenant: TenantCode,
        max_batch: int = 32,
        idle_seconds: float = 5.0,
        commit_delay: float = COMMIT_DELAY_SECONDS,
    ) -> None:
        # weak: the process-wide registry is keyed weakly by the storage, which a strong
        # reference from its own value would keep alive for ever
        self._storage = weakref.ref(storage)
        self.tenant = tenant
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self.commit_delay = commit_delay
        self._expected = 0  # submissions being checked on their way to the queue (expect())
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[PreparedSubmission] = []
        self._writer: threading.Thread | None = None
        self._segments: SegmentWriter | None = None
        self.batches = 0  # batches written (observability, tests)

    def store(self, item: PreparedSubmission, *, expected: bool = False) -> bool:
        """Store ``item`` durably; True when stored, False when its idempotency key (or receipt
        number) was already there. Raises what writing it raised. ``expected``: the submission
        was announced with :meth:`expect`."""
        item.wake = threading.Event()
        self._enqueue(item, expected)
        item.wake.wait()
        return item.outcome()

    def expect(self) -> None:
        """Announce a submission that is being checked and will be stored (or :meth:`unexpect`
        it): a writer about to commit waits for it briefly, see :data:`COMMIT_DELAY_SECONDS`."""
        with self._cond:
            self._expected += 1

    @property
    def expected(self) -> int:
        """Announced submissions not yet queued (observability, tests)."""
        return self._expected

    def unexpect(self) -> None:
        """The announced submission will not come (its checks refused it)."""
        with self._cond:
            self._expected -= 1
            if self._wakes_writer():
                self._cond.notify()

    def enqueue_async(self, item: PreparedSubmission, *, expected: bool = False) -> asyncio.Future[None]:
        """:meth:`store` for a caller on an event loop, which awaits the future it gives without
        blocking the loop: the future is done once ``item``'s outcome is set
        (:meth:`PreparedSubmission.outcome` then answers as :meth:`store` would have)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        item.waiter = (loop, future)
        self._enqueue(item, expected)
        return future

    def _enqueue(self, item: PreparedSubmission, expected: bool = False) -> None:
        with self._cond:
            self._queue.append(item)
            if expected:
                self._expected -= 1
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._run, name=f"group-commit-{self.tenant}", daemon=True
                )
                self._writer.start()
            elif len(self._queue) == 1 or self._wakes_writer():
                self._cond.notify()

    def _wakes_writer(self) -> bool:
        """Whether a writer waiting for announced submissions should stop waiting (under the
        lock): none is announced any more, or the batch is full. Any other arrival would only
        wake it to wait again (a thread switch and a hand-over of the interpreter lock)."""
        return not self._expected or len(self._queue) >= self.max_batch

    def _run(self) -> None:
        """The writer: batches until the queue stays empty for ``idle_seconds``."""
        while True:
            with self._cond:
                if not self._queue:
                    idle_until = time.monotonic() + self.idle_seconds
                    while not self._queue and (left := idle_until - time.monotonic()) > 0:
                        self._cond.wait(left)
                    if not self._queue:
                        self._writer = None
                        self.close()  # a later batch starts a new segment
                        return
                if self._expected and len(self._queue) < self.max_batch:
                    deadline = time.monotonic() + self.commit_delay
                    while self._expected and len(self._queue) < self.max_batch:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        self._cond.wait(remaining)
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
            try:
                self.write_batch(batch)
            except BaseException as exc:  # write_batch keeps errors per item: this is unexpected
                unfinished = [item for item in batch if not item.done]
                for item in unfinished:
                    item.error = RuntimeError(f"the batch was interrupted: {exc!r}")
                finish_all(unfinished)

    def write_batch(self, batch: list[PreparedSubmission]) -> None:
        """Write ``batch`` now and set each one's outcome (the leader's work; tests call it directly)."""
        try:
            self._place(batch)
        except Exception as exc:  # nothing is committed: every submission gets the error
            for item in batch:
                item.error = exc
            finish_all(batch)
            return
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
        finish_all(batch)

    def close(self) -> None:
        """Close the segment this committer writes (the next batch opens a new one)."""
        if self._segments is not None:
            self._segments.close()

    def _place(self, batch: list[PreparedSubmission]) -> None:
        """On a backend with segment files: the batch's ciphertexts to disk, durably, in one write,
        before the transaction that records where they are (a repeated submission's copy is left
        unreferenced and goes with its segment)."""
        todo = [item for item in batch if item.location is None]
        if not todo:
            return
        if self._segments is None:
            directory = blob_dir(self.storage, self.tenant)
            if directory is None:
                return
            self._segments = SegmentWriter(directory)
        locations = self._segments.append(
            [(item.receipt_number, item.ciphertext["ciphertext"]) for item in todo]
        )
        for item, location in zip(todo, locations, strict=True):
            item.location = location

    @property
    def storage(self) -> Storage:
        storage = self._storage()
        if storage is None:
            raise RuntimeError("the storage of this committer is gone")
        return storage

    def _transaction(self, batch: list[PreparedSubmission]) -> set[str]:
        ctx = TenantContext(self.tenant, _WRITER, SUBMISSION_RECEIVE, reason=f"{len(batch)} submissions")
        dialect = self.storage.settings.backend
        with self.storage.unit_of_work(ctx, Zone.INTERNET) as uow:
            connection = uow.session.connection()
            inserted = set(
                connection.execute(
                    _INSERT_APPLICATIONS[dialect], [item.application for item in batch]
                ).scalars()
            )
            fresh = [item for item in batch if item.receipt_number in inserted]
            inline = [item.ciphertext for item in fresh if item.location is None]
            if inline:
                connection.execute(_INSERT_CIPHERTEXTS, inline)
            placed = [
                segment_row(item.receipt_number, item.ciphertext["head"], item.location)
                for item in fresh
                if item.location is not None
            ]
            if placed:
                connection.execute(_INSERT_SEGMENT_ROWS, placed)
            for item in batch:
                if item.receipt_number in inserted:
                    uow.audit(item.audit)
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


__all__ = ["GroupCommitter", "PreparedSubmission", "group_committer"]
