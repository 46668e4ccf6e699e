"""Appending, checkpoints, triggers and queries of the audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from jichitai.platform.audit import log
from jichitai.platform.audit.chain import GENESIS_HASH, entry_hash
from jichitai.platform.audit.entry import PendingEntry
from jichitai.platform.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from jichitai.platform.errors import ConfigurationError, ValidationError
from tests.platform.audit.audit_support import T0, AuditDb, EcdsaSigner

JST = timezone(timedelta(hours=9))


def _entry(i: int = 1, person: str = "P0001", **detail: object) -> PendingEntry:
    return PendingEntry("read", "registry.person", str(i), person, dict(detail))


def test_append_chains_entries_with_consecutive_seqs(db: AuditDb, signer: EcdsaSigner) -> None:
    first = db.append([_entry(1), _entry(2)], now=T0)
    second = db.append([_entry(3)], now=T0 + timedelta(microseconds=1))
    assert (first, second) == ([1, 2], [3])
    with db.session() as s:
        rows = list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        head = s.scalars(select(AuditHead)).one()
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert (head.last_seq, head.last_hash) == (3, rows[-1].hash)
    assert rows[0].at == "2026-11-26T09:30:00.123456Z"
    assert rows[2].at == "2026-11-26T09:30:00.123457Z"
    assert (rows[0].zone, rows[0].tenant, rows[0].actor, rows[0].role) == (
        "mynumber",
        "131016",
        "clerk1",
        "registry_clerk",
    )
    assert rows[0].legal_basis == "住民基本台帳法第12条"
    report = db.verify(signer)
    assert report.ok and report.entries_checked == 3 and report.head_seq == 3


def test_stored_fields_rehash_identically_after_the_round_trip(db: AuditDb) -> None:
    # Japanese text, nested detail, a date and microseconds in JST: what the DB gives back hashes the same
    db.append(
        [
            PendingEntry(
                "update",
                "registry.person",
                "42",
                "P0042",
                {"氏名": "髙橋 﨑子", "z": [1, {"b": 2, "a": None}]},
            )
        ],
        now=datetime(2026, 4, 1, 9, 0, 0, 1, tzinfo=JST),
    )
    (row,) = db.rows()
    assert row["at"] == "2026-04-01T00:00:00.000001Z"
    assert row["detail"] == '{"z":[1,{"a":null,"b":2}],"氏名":"髙橋 﨑子"}'
    assert entry_hash(row["prev_hash"], row) == row["hash"]


def test_appending_nothing_touches_nothing(db: AuditDb) -> None:
    assert db.append([]) == []
    assert db.rows() == []


def test_rollback_leaves_neither_entries_nor_head_moved(db: AuditDb) -> None:
    db.append([_entry(1)])
    with db.session() as s:
        s.begin()
        log.append(
            s, zone="mynumber", tenant="131016", actor="a", actor_kind="staff", role="r", purpose="p",
            legal_basis="b", entries=[_entry(2)], signer=None, checkpoint_every=0,
        )  # fmt: skip
        assert [r.seq for r in s.scalars(select(AuditEntry))] == [1, 2]
        s.rollback()  # the use case failed after recording
    assert [r["seq"] for r in db.rows()] == [1]
    assert db.append([_entry(3)]) == [2]


def test_checkpoints_are_signed_at_each_multiple(db: AuditDb, signer: EcdsaSigner) -> None:
    for size in (2, 2, 5, 1):  # crosses 3, 6 and 9 inside batches
        db.append([_entry(i) for i in range(size)], signer, every=3)
    with db.session() as s:
        cps = list(s.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)))
        hashes = {row.seq: row.hash for row in s.execute(select(AuditEntry.seq, AuditEntry.hash))}
    assert [c.seq for c in cps] == [3, 6, 9]
    assert all(c.hash == hashes[c.seq] and c.key_version == 1 for c in cps)
    report = db.verify(signer, expect_checkpoint_every=3)
    assert report.ok and report.checkpoints_checked == 3


def test_no_signer_means_no_checkpoint(db: AuditDb, signer: EcdsaSigner) -> None:
    db.append([_entry(i) for i in range(5)], None, every=2)
    assert db.verify(signer).checkpoints_checked == 0
    assert db.verify(signer, expect_checkpoint_every=2).first_break is not None


def test_checkpoint_on_demand(db: AuditDb, signer: EcdsaSigner) -> None:
    with db.session() as s, s.begin():
        assert log.checkpoint(s, signer) is None  # nothing to sign yet
    db.append([_entry(1), _entry(2)])
    with db.session() as s, s.begin():
        cp = log.checkpoint(s, signer, now=T0)
        assert cp is not None and cp.seq == 2 and cp.signed_at == "2026-11-26T09:30:00.123456Z"
    with db.session() as s, s.begin():
        again = log.checkpoint(s, signer)
        assert again is not None and again.signed_at == cp.signed_at  # the same one, not a second
    assert signer.signed == 1
    assert db.verify(signer).checkpoints_checked == 1


def test_checkpoints_from_older_key_versions_still_verify(db: AuditDb, signer: EcdsaSigner) -> None:
    db.append([_entry(i) for i in range(4)], signer, every=2)
    signer.rotate()
    db.append([_entry(i) for i in range(4)], signer, every=2)
    with db.session() as s:
        versions = list(s.scalars(select(AuditCheckpoint.key_version).order_by(AuditCheckpoint.seq)))
    assert versions == [1, 1, 2, 2]
    assert db.verify(signer).checkpoints_checked == 4
    # another tenant's key (or a forger's) does not vouch for these checkpoints
    report = db.verify(EcdsaSigner())
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (log.BreakKind.CHECKPOINT_SIGNATURE, 2)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_entries SET actor = 'x'",
        "DELETE FROM audit_entries",
        "UPDATE audit_checkpoints SET key_version = 9",
        "DELETE FROM audit_checkpoints",
    ],
)
def test_triggers_refuse_changes(db: AuditDb, signer: EcdsaSigner, sql: str) -> None:
    db.append([_entry(1), _entry(2)], signer, every=1)
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
        conn.execute(text(sql))
    assert db.verify(signer).ok


@pytest.mark.postgres
def test_postgres_refuses_truncate(pg_db: AuditDb) -> None:
    pg_db.append([_entry(1)])
    with pytest.raises(DBAPIError, match="append-only"), pg_db.engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_entries"))


def test_missing_head_is_a_clear_error(db: AuditDb) -> None:
    db.tamper("DELETE FROM audit_head")
    with pytest.raises(ConfigurationError, match="head row"):
        db.append([_entry(1)])


def test_bad_input_is_refused(db: AuditDb) -> None:
    with pytest.raises(ValidationError, match="NUL"):
        db.append([PendingEntry("read", "registry.person", "1\x00", "P1")])
    with pytest.raises(ValidationError, match="canonical JSON"):
        db.append([PendingEntry("read", "registry.person", "1", "P1", {"x": float("nan")})])
    with pytest.raises(ValidationError, match="canonical JSON"):
        db.append([PendingEntry("read", "registry.person", "1", "P1", {"x": object()})])
    with pytest.raises(ValueError, match="timezone-aware"):
        db.append([_entry(1)], now=datetime(2026, 1, 1))
    assert db.rows() == []


def test_concurrent_appends_serialize_without_gaps(db: AuditDb, signer: EcdsaSigner) -> None:
    # PostgreSQL: the head row's FOR UPDATE lock; SQLite: BEGIN IMMEDIATE, as the storage layer does
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            for i in range(15):
                db.append([_entry(i), _entry(i + 100)], signer, every=7, actor=name)
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = db.verify(signer, expect_checkpoint_every=7)
    assert report.ok, log.format_report(report)
    assert report.entries_checked == 90 and report.checkpoints_checked == 12


def test_entries_for_person_oldest_first(db: AuditDb) -> None:
    db.fill(6)  # people alternate P0001 / P0000
    with db.session() as s:
        rows = log.entries_for_person(s, "P0001")
        assert [r.seq for r in rows] == [1, 3, 5]
        assert all(r.person == "P0001" and r.purpose == "registry.certificate.issue" for r in rows)
        assert [r.seq for r in log.entries_for_person(s, "P0001", limit=2)] == [1, 3]
        assert log.entries_for_person(s, "nobody") == []
        with pytest.raises(ValidationError):
            log.entries_for_person(s, "")


def test_list_entries_filters_and_pages(db: AuditDb) -> None:
    db.fill(7)  # at T0 + 1s … T0 + 7s
    db.append(
        [_entry(99, person="P0099")],
        actor="auditor1",
        purpose="platform.audit.review",
        now=T0 + timedelta(seconds=8),
    )
    with db.session() as s:
        page = log.list_entries(s, page=1, page_size=3)
        assert (page.total, page.pages, [e.seq for e in page.entries]) == (8, 3, [8, 7, 6])
        last = log.list_entries(s, page=3, page_size=3)
        assert [e.seq for e in last.entries] == [2, 1]
        oldest = log.list_entries(s, page_size=2, newest_first=False)
        assert [e.seq for e in oldest.entries] == [1, 2]
        by_actor = log.list_entries(s, log.AuditFilter(actor="auditor1"))
        assert [e.seq for e in by_actor.entries] == [8]
        window = log.list_entries(
            s,
            log.AuditFilter(person="P0001", since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=7)),
        )
        assert [e.seq for e in window.entries] == [5, 3]
        # a time in JST compares as the same instant
        jst = log.list_entries(s, log.AuditFilter(since=(T0 + timedelta(seconds=7)).astimezone(JST)))
        assert [e.seq for e in jst.entries] == [8, 7]
        with pytest.raises(ValidationError):
            log.list_entries(s, page=0)
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 8


def test_format_report_when_intact(db: AuditDb, signer: EcdsaSigner) -> None:
    db.fill(4, signer, 2)
    shown = log.format_report(db.verify(signer))
    assert (
        shown == "audit log intact: 4 entries and 2 signed checkpoints verified (監査ログに異常はありません)"
    )


def test_verify_an_empty_log(db: AuditDb, signer: EcdsaSigner) -> None:
    report = db.verify(signer)
    assert report.ok and report.entries_checked == 0 and report.head_seq == 0


def test_verify_walks_past_one_page(
    db: AuditDb, signer: EcdsaSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jichitai.platform.audit import verify as verify_module

    monkeypatch.setattr(verify_module, "_PAGE", 4)
    db.append([_entry(i) for i in range(11)], signer, every=5, now=datetime(2026, 1, 1, tzinfo=UTC))
    report = db.verify(signer)
    assert report.ok and report.entries_checked == 11 and report.checkpoints_checked == 2
    db.tamper("UPDATE audit_entries SET object_id = 'x' WHERE seq = 9")
    brk = db.verify(signer).first_break
    assert brk is not None and (brk.kind, brk.seq) == (log.BreakKind.EDITED, 9)


@pytest.mark.postgres
def test_verify_runs_while_appends_continue(
    pg_db: AuditDb, signer: EcdsaSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jichitai.platform.audit import verify as verify_module

    monkeypatch.setattr(verify_module, "_PAGE", 4)
    pg_db.fill(6, signer, 2)

    class AppendingVerifier:
        """Checks signatures, and the first time commits more entries from another session."""

        appended = False

        def verify(self, version: int, data: bytes, signature: bytes) -> bool:
            if not self.appended:
                self.appended = True
                pg_db.append([_entry(i) for i in range(3)], signer, every=2)
            return signer.verify(version, data, signature)

    report = pg_db.verify(AppendingVerifier(), expect_checkpoint_every=2)
    assert report.ok, log.format_report(report)
    assert (report.entries_checked, report.checkpoints_checked, report.head_seq) == (9, 4, 9)
