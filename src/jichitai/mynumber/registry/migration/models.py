"""Tables of the resident import (データ移行): one row per import job, and its rejected rows.

``registry_import_jobs`` makes an import resumable: it is keyed by the SHA-256 of the file and
records the last line committed with the counts so far; each batch of residents commits together
with its progress, so after a kill the same command continues after the last committed batch.
``registry_import_errors`` keeps every rejected row's problems (line, column, reason) in the same
transactions, so the error report written at the end is complete whatever happened in between.

These tables belong to the ``jichitai.mynumber.registry`` component (their migration is in the
registry's ``migrations/`` folder); the registry's ``models`` module should import this module so
that the component's metadata lists them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.storage.base import Base, utcnow

_COMPONENT = {"component": "jichitai.mynumber.registry"}
CountType = BigInteger().with_variant(Integer(), "sqlite")

JOB_RUNNING = "running"
JOB_DONE = "done"
JOB_FAILED = "failed"  # the file as a whole was refused (header); nothing was imported
# phases of an initial load (``--initial-load``); None for a plain import
PHASE_LOADING = "loading"  # the registry's secondary indexes are dropped while rows are loaded
PHASE_INDEXING = "indexing"  # every row is loaded; the indexes are being built


class ImportJob(Base):
    """One import of one file into the tenant's registry, and how far it got."""

    __tablename__ = "registry_import_jobs"
    __table_args__ = (Index("ix_registry_import_jobs_file_sha256", "file_sha256"), {"info": _COMPONENT})

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(Text)
    file_format: Mapped[str] = mapped_column(String(8))  # csv / jsonl
    gaiji_sha256: Mapped[str | None] = mapped_column(String(64))  # 外字対応表 used (must not change)
    status: Mapped[str] = mapped_column(String(10))  # running / done / failed
    last_line: Mapped[int] = mapped_column(CountType)  # last physical line of the last committed batch
    rows_read: Mapped[int] = mapped_column(CountType)
    rows_accepted: Mapped[int] = mapped_column(CountType)
    rows_rejected: Mapped[int] = mapped_column(CountType)
    households: Mapped[int] = mapped_column(CountType)  # households committed
    batches: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    phase: Mapped[str | None] = mapped_column(String(10))  # PHASE_* of an initial load, else None


class ImportRowError(Base):
    """One problem of one rejected row of an import job (a row can have several)."""

    __tablename__ = "registry_import_errors"
    __table_args__ = (Index("ix_registry_import_errors_job_line", "job_id", "line"), {"info": _COMPONENT})

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32))
    line: Mapped[int] = mapped_column(CountType)
    column_name: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
