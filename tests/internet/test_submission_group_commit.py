"""Group commit of submissions: several callers' submissions in one durable transaction, each
with its own audit entry; one bad submission spoils nothing else; what was answered is stored."""

from __future__ import annotations

import asyncio
import os
import pickle
import secrets
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from jichitai.internet.models import Application
from jichitai.internet.submissions import ciphertexts, submit, submit_async
from jichitai.internet.submissions.writes import (
    GroupCommitter,
    PreparedSubmission,
    finish_all,
    group_committer,
)
from jichitai.platform.audit.entry import AuditParty, PendingEntry
from jichitai.platform.audit.models import AuditEntry
from jichitai.platform.audit_ops import verify_tenant
from jichitai.platform.context import KEY_MANAGEMENT, TenantContext, operator
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone
from tests.conftest import TEST_PASSPHRASE
from tests.internet.conftest import Pki
from tests.internet.factories import submission

CHIYODA = "131016"
ROOT = Path(__file__).resolve().parents[2]


def admin() -> TenantContext:
    return TenantContext.of(CHIYODA, operator(), KEY_MANAGEMENT.code)


def prepared(
    n: int, *, idempotency_key: str | None = None, kid: str | None = "131016-1"
) -> PreparedSubmission:
    """A submission as :func:`submit` hands it to the committer (the ciphertext need not decrypt)."""
    now = datetime.now(UTC)
    receipt = f"20261126-{CHIYODA}-T{secrets.token_hex(4).upper()}{n}"
    return PreparedSubmission(
        receipt_number=receipt,
        application={
            "receipt_number": receipt,
            "procedure_id": "child_allowance_claim",
            "procedure_version": "child_allowance_claim@1",
            "received_at": now,
            "status": "received",
            "status_at": now,
            "kid": kid,
            "size": 10,
            "resident_index": secrets.token_bytes(32),
            "idempotency_key": idempotency_key or f"idem-{secrets.token_hex(8)}",
            "fingerprint": "0" * 64,
            "acknowledged_at": None,
            "purged_at": None,
        },
        ciphertext={"receipt_number": receipt, "head": "h.e.a.d", "ciphertext": b"sealed" * 10},
        audit=PendingEntry(
            "create",
            Application.__tablename__,
            receipt,
            f"resident:{n}",
            {"procedure": "child_allowance_claim@1"},
            party=AuditParty(f"jpki:{n}", "resident", "applicant", "internet.submission.receive", "法"),
        ),
    )


def stored(storage: Storage) -> tuple[set[str], set[str], list[AuditEntry]]:
    with storage.unit_of_work(admin(), Zone.INTERNET) as uow:
        apps = set(uow.session.scalars(select(Application.receipt_number)))
        blobs = ciphertexts.stored(uow)
        entries = list(
            uow.session.scalars(select(AuditEntry).where(AuditEntry.object_type == Application.__tablename__))
        )
    return apps, blobs, entries


def chain_ok(storage: Storage) -> bool:
    return all(ok for _, ok, _ in verify_tenant(storage, CHIYODA, zones=[Zone.INTERNET]))


def test_a_batch_is_one_transaction_with_an_audit_entry_per_submission(internet: Storage) -> None:
    committer = group_committer(internet, TenantCode(CHIYODA))
    batch = [prepared(i) for i in range(3)]
    before = committer.batches

    committer.write_batch(batch)

    assert committer.batches == before + 1  # one transaction for the three
    assert all(item.done and item.stored and item.error is None for item in batch)
    apps, blobs, entries = stored(internet)
    receipts = {item.receipt_number for item in batch}
    assert receipts <= apps and receipts <= blobs
    mine = {e.object_id: e for e in entries if e.object_id in receipts}
    assert set(mine) == receipts
    # each entry names its own resident, not the writer that committed the batch
    assert {(e.actor, e.actor_kind, e.person) for e in mine.values()} == {
        (f"jpki:{i}", "resident", f"resident:{i}") for i in range(3)
    }
    assert chain_ok(internet)


def test_a_repeated_key_in_a_batch_skips_only_that_submission(internet: Storage) -> None:
    committer = group_committer(internet, TenantCode(CHIYODA))
    first = prepared(0, idempotency_key="idem-repeated-0001")
    committer.write_batch([first])
    batch = [prepared(1), prepared(2, idempotency_key="idem-repeated-0001"), prepared(3)]

    committer.write_batch(batch)

    assert [item.stored for item in batch] == [True, False, True]
    assert all(item.error is None for item in batch)
    apps, blobs, entries = stored(internet)
    assert batch[1].receipt_number not in apps | blobs  # nothing half-written for the repeat
    assert batch[1].receipt_number not in {e.object_id for e in entries}
    assert {batch[0].receipt_number, batch[2].receipt_number} <= apps & blobs
    assert chain_ok(internet)


def test_a_bad_submission_gets_its_error_and_the_others_are_stored(internet: Storage) -> None:
    committer = group_committer(internet, TenantCode(CHIYODA))
    batch = [prepared(1), prepared(2, kid=None), prepared(3)]  # kid is NOT NULL: the batch fails

    committer.write_batch(batch)

    assert isinstance(batch[1].error, IntegrityError) and not batch[1].stored
    assert batch[0].stored and batch[2].stored and batch[0].error is None and batch[2].error is None
    apps, blobs, entries = stored(internet)
    assert batch[1].receipt_number not in apps | blobs | {e.object_id for e in entries}
    assert {batch[0].receipt_number, batch[2].receipt_number} <= apps & blobs
    assert chain_ok(internet)


def test_concurrent_submissions_share_commits_and_each_is_answered_and_stored(
    internet: Storage, pki: Pki
) -> None:
    threads_n = 8
    kwargs = [submission(pki) for _ in range(threads_n)]
    kwargs.append(dict(kwargs[0]))  # the same submission sent twice at once: one application
    start = threading.Barrier(len(kwargs))
    receipts: list[Any] = [None] * len(kwargs)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        start.wait()
        try:
            receipts[i] = submit(internet, CHIYODA, **kwargs[i])
        except BaseException as exc:  # reported below
            errors.append(exc)

    committer = group_committer(internet, TenantCode(CHIYODA))
    before = committer.batches
    workers = [threading.Thread(target=run, args=(i,)) for i in range(len(kwargs))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    assert errors == []
    assert receipts[-1].receipt_number == receipts[0].receipt_number
    assert receipts[-1].replayed != receipts[0].replayed  # one stored it, the other was told so
    numbers = {r.receipt_number for r in receipts}
    assert len(numbers) == threads_n
    # never more transactions than submissions sent (the repeated one is a submission too)
    assert committer.batches - before <= len(kwargs)
    apps, blobs, entries = stored(internet)
    assert numbers <= apps and numbers <= blobs
    assert sorted(e.object_id for e in entries if e.object_id in numbers) == sorted(numbers)
    assert all(e.actor_kind == "resident" and e.actor.startswith("jpki:") for e in entries)
    assert chain_ok(internet)


def test_submissions_on_an_event_loop_are_stored_by_the_writer_and_each_is_answered(
    internet: Storage, pki: Pki
) -> None:
    kwargs = [submission(pki) for _ in range(6)]
    kwargs.append(dict(kwargs[0]))  # the same submission twice: one application
    committer = group_committer(internet, TenantCode(CHIYODA))
    before = committer.batches

    async def main() -> list[Any]:
        return await asyncio.gather(*(submit_async(internet, CHIYODA, **k) for k in kwargs))

    # a loop of its own in a thread of its own: a browser test's loop may be running in this one
    with ThreadPoolExecutor(1) as pool:
        receipts = pool.submit(asyncio.run, main()).result()
    assert receipts[-1].receipt_number == receipts[0].receipt_number
    assert receipts[-1].replayed != receipts[0].replayed  # one stored it, the other was told so
    numbers = {r.receipt_number for r in receipts}
    assert len(numbers) == 6
    assert committer.batches - before <= len(kwargs)
    assert committer.expected == 0
    apps, blobs, entries = stored(internet)
    assert numbers <= apps and numbers <= blobs
    assert sorted(e.object_id for e in entries if e.object_id in numbers) == sorted(numbers)
    assert chain_ok(internet)


def test_a_batch_wakes_each_waiting_loop_once_and_each_waiting_thread() -> None:
    def run() -> None:
        loop = asyncio.new_event_loop()
        wakes: list[object] = []
        original = loop.call_soon_threadsafe

        def counting(callback: Any, *args: Any) -> Any:
            wakes.append(callback)
            return original(callback, *args)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        try:
            on_loop = [prepared(i) for i in range(5)]
            futures = [loop.create_future() for _ in on_loop]
            for item, future in zip(on_loop, futures, strict=True):
                item.waiter = (loop, future)
            in_thread = prepared(9)
            in_thread.wake = threading.Event()
            finish_all([*on_loop, in_thread])
            assert len(wakes) == 1  # one wake-up of the loop for its five submissions
            loop.run_until_complete(asyncio.gather(*futures))
            assert in_thread.wake.is_set()
            assert all(item.done for item in [*on_loop, in_thread])
        finally:
            loop.close()
        late = prepared(10)
        late.waiter = (loop, futures[0])
        finish_all([late])  # a closed loop (a server shutting down) has nobody to tell
        assert late.done

    # a loop of its own in a thread of its own: a browser test's loop may be running in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(run).result()


def _store_in_thread(
    committer: GroupCommitter, item: PreparedSubmission, *, expected: bool = False
) -> threading.Thread:
    thread = threading.Thread(
        target=committer.store, args=(item,), kwargs={"expected": expected}, daemon=True
    )
    thread.start()
    return thread


def test_a_writer_waits_for_an_announced_submission_and_commits_it_along(internet: Storage) -> None:
    # a long delay: without the announcement the first would be committed alone at once
    committer = GroupCommitter(internet, TenantCode(CHIYODA), commit_delay=60.0)
    committer.expect()
    committer.expect()
    first, second = prepared(1), prepared(2)
    # whichever is queued first, the writer waits for the other one still announced
    waiting = _store_in_thread(committer, first, expected=True)
    assert committer.store(second, expected=True)
    waiting.join(30)
    assert not waiting.is_alive() and first.stored
    assert committer.batches == 1  # both in one transaction
    assert committer.expected == 0
    apps, blobs, _ = stored(internet)
    assert {first.receipt_number, second.receipt_number} <= apps & blobs


def test_a_withdrawn_announcement_lets_the_writer_commit_at_once(internet: Storage) -> None:
    committer = GroupCommitter(internet, TenantCode(CHIYODA), commit_delay=600.0)
    committer.expect()
    item = prepared(1)
    waiting = _store_in_thread(committer, item)
    committer.unexpect()  # e.g. its checks refused it
    waiting.join(60)  # a hang detector, not a timing: the delay would be ten minutes
    assert not waiting.is_alive() and item.stored
    assert committer.batches == 1 and committer.expected == 0


CHILD = """
import pickle, sys, threading
from pathlib import Path
from jichitai.internet.submissions import submit
from jichitai.platform.config import load_settings
from jichitai.platform.storage import Storage

storage = Storage(load_settings(Path(sys.argv[1])))
jobs = pickle.loads(Path(sys.argv[2]).read_bytes())
lock = threading.Lock()

def run(part):
    for kwargs in part:
        receipt = submit(storage, "131016", **kwargs)
        with lock:
            print(receipt.receipt_number, flush=True)  # the answer: only after the commit

threads = [threading.Thread(target=run, args=(jobs[i::4],)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


def test_answered_submissions_survive_a_killed_server(
    internet_sqlite: Storage, pki: Pki, tmp_path: Path
) -> None:
    storage = internet_sqlite
    jobs = tmp_path / "jobs.pickle"
    jobs.write_bytes(pickle.dumps([submission(pki) for _ in range(60)]))
    env = {
        **os.environ,
        "JICHITAI_KEYSTORE_PASSPHRASE": TEST_PASSPHRASE,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(storage.settings.home), str(jobs)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    answered: list[str] = []
    deadline = time.monotonic() + 120
    while len(answered) < 8 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        answered.append(line.strip())
    child.send_signal(signal.SIGKILL)  # in the middle of further batches
    child.wait()
    assert len(answered) >= 8, "the child answered too few submissions before it was killed"

    reopened = Storage(storage.settings)  # fresh engines and connections: what is on disk
    try:
        apps, blobs, _ = stored(reopened)
        assert set(answered) <= apps and set(answered) <= blobs
        assert chain_ok(reopened)
        # and each answered ciphertext reads back whole (on SQLite from its segment file)
        with reopened.unit_of_work(admin(), Zone.INTERNET) as uow:
            tokens = ciphertexts.tokens(uow, answered)
        with reopened.unit_of_work(admin(), Zone.LGWAN) as uow:
            for receipt in answered:
                header, _ = uow.keyring.decrypt_submission(tokens[receipt])
                assert header["receipt_number"] == receipt
    finally:
        reopened.close()


@pytest.mark.parametrize("size", [1, 3])
def test_a_batch_counts_its_rows_once(internet: Storage, size: int) -> None:
    committer = group_committer(internet, TenantCode(CHIYODA))
    batch = [prepared(i) for i in range(size)]
    committer.write_batch(batch)
    with internet.unit_of_work(admin(), Zone.INTERNET) as uow:
        count = uow.session.scalar(
            select(func.count())
            .select_from(Application)
            .where(Application.receipt_number.in_([b.receipt_number for b in batch]))
        )
    assert count == size


def test_sqlite_commits_wait_for_the_disk(internet_sqlite: Storage) -> None:
    # synchronous=FULL (2): in WAL mode a commit returns after the WAL is synced, so an answered
    # submission survives a power loss, not only a killed process
    with internet_sqlite.unit_of_work(admin(), Zone.INTERNET) as uow:
        level = uow.session.connection().exec_driver_sql("PRAGMA synchronous").scalar()
    assert level == 2
