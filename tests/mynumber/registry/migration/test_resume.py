"""An import killed (SIGKILL) in the middle resumes after its last committed batch, without duplicates."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from jichitai.mynumber.registry.migration.models import ImportJob
from jichitai.mynumber.registry.models import Change, Person, PersonVersion
from jichitai.platform.storage import Storage
from jichitai.platform.storage.backends import SQLiteBackend
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone
from tests.conftest import TEST_PASSPHRASE, ctx
from tests.mynumber.registry.migration.support import read_file, run_import, synthetic_file

ROWS = 1500
BATCH = 50


def _committed_line(storage: Storage, file_name: str) -> int:
    """The job's last committed line, read without taking the writer's lock."""
    tenant = storage.catalog.get(TenantCode("131016"))
    sql = "SELECT max(last_line) FROM registry_import_jobs WHERE file_name = :f"
    if isinstance(storage.backend, SQLiteBackend):
        path = storage.backend.path(Zone.MYNUMBER, tenant)
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as conn:
            try:
                value = conn.execute(sql.replace(":f", "?"), (file_name,)).fetchone()[0]
            except sqlite3.OperationalError:  # the table is being written; try again
                return 0
    else:
        with storage.tenant_engine(Zone.MYNUMBER, tenant).connect() as conn:
            value = conn.execute(text(sql), {"f": file_name}).scalar()
    return int(value or 0)


@pytest.mark.slow
def test_kill_during_import_then_resume(mig_storage: Storage, tmp_path: Path) -> None:
    path = synthetic_file(tmp_path / "city.csv", ROWS, seed=5)
    env = os.environ | {
        "JICHITAI_HOME": str(mig_storage.settings.home),
        "JICHITAI_KEYSTORE_PASSPHRASE": TEST_PASSPHRASE,
    }
    cmd = [
        sys.executable, "-m", "jichitai.mynumber.registry.migration.cli", "import", str(path),
        "--tenant", "131016", "--batch", str(BATCH), "--workers", "0", "--today", "2025-06-02",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while _committed_line(mig_storage, path.name) < 2 * BATCH:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the import did not commit a batch in time"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed_at = _committed_line(mig_storage, path.name)
    assert 1 < killed_at < ROWS + 1

    summary = run_import(mig_storage, path, batch_size=BATCH)

    assert summary.status == "done" and not summary.already_done
    assert summary.resumed_from_line == killed_at
    assert (summary.rows_read, summary.rows_accepted, summary.rows_rejected) == (ROWS, ROWS, 0)
    codes = list(read_file(path))
    removed = sum(1 for r in read_file(path).values() if r["消除日"])
    with mig_storage.unit_of_work(ctx("registry.migration"), Zone.MYNUMBER) as uow:
        s = uow.session
        persons = 0
        versions = 0
        for i in range(0, len(codes), 900):
            ids = select(Person.id).where(Person.juminhyo_code.in_(codes[i : i + 900]))
            persons += s.scalar(select(func.count()).select_from(ids.subquery())) or 0
            versions += (
                s.scalar(
                    select(func.count()).select_from(PersonVersion).where(PersonVersion.person_id.in_(ids))
                )
                or 0
            )
        job = s.get_one(ImportJob, summary.job_id)
        batches = s.scalar(
            select(func.count()).select_from(Change).where(Change.idempotency_key.like(f"import:{job.id}:%"))
        )
    assert persons == ROWS  # each person exactly once (住民票コード is unique, and all are there)
    assert versions <= ROWS + removed and versions >= ROWS
    assert batches == job.batches  # one 移行 change per committed batch, killed one included none
