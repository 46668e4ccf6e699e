"""Tampering past the triggers: each kind is found, at the right seq, on SQLite and PostgreSQL.

The log under attack has 10 entries with signed checkpoints at 4 and 8. The attacker drops the
triggers (or writes to the SQLite file directly) and has every right on the tables, but not the
tenant's signing key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from jichitai.platform.audit.chain import checkpoint_payload, entry_hash
from jichitai.platform.audit.log import BreakKind, format_report
from tests.platform.audit.audit_support import AuditDb, EcdsaSigner

N = 10
EVERY = 4

_COLS = (
    "seq, at, zone, tenant, actor, actor_kind, role, purpose, legal_basis, person, action, "
    "object_type, object_id, detail, prev_hash, hash"
)
_VALS = (
    ":seq, :at, :zone, :tenant, :actor, :actor_kind, :role, :purpose, :legal_basis, :person, :action, "
    ":object_type, :object_id, :detail, :prev_hash, :hash"
)


def insert_row(row: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return f"INSERT INTO audit_entries ({_COLS}) VALUES ({_VALS})", row


def set_hash(seq: int, prev_hash: str, hash_: str) -> tuple[str, dict[str, Any]]:
    return (
        "UPDATE audit_entries SET prev_hash = :p, hash = :h WHERE seq = :s",
        {"p": prev_hash, "h": hash_, "s": seq},
    )


def move_seqs(first: int, delta: int) -> list[str]:
    # two steps through negative numbers, so no statement ever collides with a primary key
    return [
        f"UPDATE audit_entries SET seq = -seq WHERE seq >= {first}",
        f"UPDATE audit_entries SET seq = -seq + ({delta}) WHERE seq < 0",
    ]


def swap(a: int, b: int) -> list[str]:
    return [
        f"UPDATE audit_entries SET seq = -1 WHERE seq = {a}",
        f"UPDATE audit_entries SET seq = {a} WHERE seq = {b}",
        f"UPDATE audit_entries SET seq = {b} WHERE seq = -1",
    ]


def forged(prev_hash: str, seq: int, template: dict[str, Any], good_hash: bool = True) -> dict[str, Any]:
    row = {**template, "seq": seq, "actor": "intruder", "object_id": "forged", "prev_hash": prev_hash}
    row["hash"] = entry_hash(prev_hash, row) if good_hash else "ab" * 32
    return row


def rechain_from(rows: list[dict[str, Any]], first: int) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    """What a smart attacker does after an edit: recompute every hash from ``first`` on.

    Returns the statements and the new last hash.
    """
    out = []
    prev = rows[first - 2]["hash"] if first > 1 else "0" * 64
    for row in rows[first - 1 :]:
        row = {**row, "prev_hash": prev}
        prev = entry_hash(prev, row)
        out.append(set_hash(row["seq"], row["prev_hash"], prev))
    return out, prev


Attack = Callable[[AuditDb, list[dict[str, Any]]], None]


def edit_field(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    db.tamper("UPDATE audit_entries SET purpose = 'marketing' WHERE seq = 6")


def edit_detail_same_meaning(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    # same JSON meaning, different bytes: still an edit
    db.tamper('UPDATE audit_entries SET detail = \'{"note": "住民票の写し", "i": 6}\' WHERE seq = 6')


def edit_time(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    db.tamper("UPDATE audit_entries SET at = '2026-11-26T09:30:06.123457Z' WHERE seq = 6")


def edit_link(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    db.tamper(("UPDATE audit_entries SET prev_hash = :h WHERE seq = 6", {"h": "cd" * 32}))


def edit_and_rehash_one(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    row = {**rows[5], "person": "P9999"}
    db.tamper(
        (
            "UPDATE audit_entries SET person = 'P9999', hash = :h WHERE seq = 6",
            {"h": entry_hash(row["prev_hash"], row)},
        )
    )


def edit_and_rechain_all(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    rows = [dict(r) for r in rows]
    rows[5]["person"] = "P9999"
    rechain, last_hash = rechain_from(rows, 6)
    db.tamper(
        "UPDATE audit_entries SET person = 'P9999' WHERE seq = 6",
        *rechain,
        ("UPDATE audit_head SET last_hash = :h", {"h": last_hash}),
    )


def edit_last_and_rehash(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    row = {**rows[-1], "action": "update"}
    db.tamper(
        (
            "UPDATE audit_entries SET action = 'update', hash = :h WHERE seq = 10",
            {"h": entry_hash(row["prev_hash"], row)},
        )
    )


def delete_middle(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    db.tamper("DELETE FROM audit_entries WHERE seq = 6")


def delete_first(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    db.tamper("DELETE FROM audit_entries WHERE seq = 1")


def delete_two(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    db.tamper("DELETE FROM audit_entries WHERE seq IN (6, 7)")


def delete_and_renumber(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    db.tamper(
        "DELETE FROM audit_entries WHERE seq = 6", *move_seqs(7, -1), "UPDATE audit_head SET last_seq = 9"
    )


def insert_rechained(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    fake = forged(rows[4]["hash"], 6, rows[5])
    db.tamper(*move_seqs(6, +1), insert_row(fake), "UPDATE audit_head SET last_seq = 11")


def insert_bad_hash(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    fake = forged(rows[4]["hash"], 6, rows[5], good_hash=False)
    db.tamper(*move_seqs(6, +1), insert_row(fake))


def insert_at_end(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    db.tamper(insert_row(forged(rows[-1]["hash"], 11, rows[-1])))


def insert_at_end_bad_hash(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    db.tamper(insert_row(forged(rows[-1]["hash"], 11, rows[-1], good_hash=False)))


def reorder(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    db.tamper(*swap(3, 7))


def reorder_adjacent(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    db.tamper(*swap(5, 6))


def move_away(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    db.tamper("UPDATE audit_entries SET seq = 100 WHERE seq = 6")


def truncate_tail(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    db.tamper("DELETE FROM audit_entries WHERE seq > 8")


def truncate_tail_and_head(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    # the head is moved back too; the checkpoint signed at 8 still says the log went that far
    db.tamper(
        "DELETE FROM audit_entries WHERE seq > 6",
        ("UPDATE audit_head SET last_seq = 6, last_hash = :h", {"h": rows[5]["hash"]}),
    )


def checkpoint_signature_altered(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    with db.engine.connect() as conn:
        sig = bytes(conn.execute(text("SELECT signature FROM audit_checkpoints WHERE seq = 4")).scalar_one())
    bad = sig[:-1] + bytes([sig[-1] ^ 1])
    db.tamper(("UPDATE audit_checkpoints SET signature = :s WHERE seq = 4", {"s": bad}))


def checkpoint_hash_altered(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    db.tamper(("UPDATE audit_checkpoints SET hash = :h WHERE seq = 4", {"h": rows[2]["hash"]}))


def checkpoint_unknown_key_version(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    db.tamper("UPDATE audit_checkpoints SET key_version = 99 WHERE seq = 4")


def checkpoint_signed_by_intruder(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    # a rechained log with checkpoints re-signed by a key the tenant never had
    intruder = EcdsaSigner()
    edit_and_rechain_all(db, rows)
    new_rows = db.rows()
    h = new_rows[7]["hash"]
    signed_at = "2026-11-26T10:00:00.000000Z"
    _version, sig = intruder.sign(checkpoint_payload(8, h, signed_at))
    db.tamper(
        (
            "UPDATE audit_checkpoints SET hash = :h, signature = :s, signed_at = :t WHERE seq = 8",
            {"h": h, "s": sig, "t": signed_at},
        )
    )


def head_lost(db: AuditDb, rows: list[dict[str, Any]]) -> None:
    db.tamper("DELETE FROM audit_head")


CASES: list[tuple[Attack, BreakKind, int]] = [
    (edit_field, BreakKind.EDITED, 6),
    (edit_detail_same_meaning, BreakKind.EDITED, 6),
    (edit_time, BreakKind.EDITED, 6),
    (edit_link, BreakKind.EDITED, 6),
    (edit_and_rehash_one, BreakKind.EDITED, 6),
    (edit_and_rechain_all, BreakKind.CHECKPOINT_MISMATCH, 8),
    (edit_last_and_rehash, BreakKind.HEAD_MISMATCH, 10),
    (delete_middle, BreakKind.DELETED, 6),
    (delete_first, BreakKind.DELETED, 1),
    (delete_two, BreakKind.DELETED, 6),
    (delete_and_renumber, BreakKind.DELETED, 6),
    (insert_rechained, BreakKind.INSERTED, 6),
    (insert_bad_hash, BreakKind.INSERTED, 6),
    (insert_at_end, BreakKind.INSERTED, 11),
    (insert_at_end_bad_hash, BreakKind.INSERTED, 11),
    (reorder, BreakKind.REORDERED, 3),
    (reorder_adjacent, BreakKind.REORDERED, 5),
    (move_away, BreakKind.REORDERED, 6),
    (truncate_tail, BreakKind.TRUNCATED, 9),
    (truncate_tail_and_head, BreakKind.TRUNCATED, 7),
    (checkpoint_signature_altered, BreakKind.CHECKPOINT_SIGNATURE, 4),
    (checkpoint_hash_altered, BreakKind.CHECKPOINT_SIGNATURE, 4),
    (checkpoint_unknown_key_version, BreakKind.CHECKPOINT_SIGNATURE, 4),
    (checkpoint_signed_by_intruder, BreakKind.CHECKPOINT_SIGNATURE, 8),
    (head_lost, BreakKind.HEAD_MISMATCH, 10),
]


@pytest.mark.parametrize(("attack", "kind", "seq"), CASES, ids=[c[0].__name__ for c in CASES])
def test_tampering_is_found_at_the_first_broken_seq(
    db: AuditDb, signer: EcdsaSigner, attack: Attack, kind: BreakKind, seq: int
) -> None:
    db.fill(N, signer, EVERY)
    before = db.verify(signer)
    assert before.ok, format_report(before)
    attack(db, db.rows())
    report = db.verify(signer)
    assert not report.ok
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (kind, seq), report.first_break.message
    shown = format_report(report)
    assert f"seq {seq}" in shown
    assert report.first_break.label_ja in shown


def test_deleted_checkpoint_is_found_when_checkpoints_are_expected(db: AuditDb, signer: EcdsaSigner) -> None:
    db.fill(N, signer, EVERY)
    db.tamper("DELETE FROM audit_checkpoints WHERE seq = 4")
    assert db.verify(signer).ok  # without the expectation a missing checkpoint is not an error
    report = db.verify(signer, expect_checkpoint_every=EVERY)
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.CHECKPOINT_MISSING, 4)


def test_entries_checked_counts_the_intact_prefix(db: AuditDb, signer: EcdsaSigner) -> None:
    db.fill(N, signer, EVERY)
    db.tamper("UPDATE audit_entries SET actor = 'someone' WHERE seq = 7")
    report = db.verify(signer)
    assert report.entries_checked == 6
    assert report.checkpoints_checked == 1
