"""Checking the audit log: walk the chain in seq order and name the first broken link.

The walk reads entries in pages by key (``seq > last``), so it runs in constant memory over millions
of entries and holds no lock: appends may continue while it runs. It checks, for each entry, that
its seq is the next one, that it links to the hash of the entry before, and that its hash matches
its contents; at each checkpoint, the signature and that the signed hash is the chain's hash there;
at the end, that the head row and the checkpoints agree with the last entry.

When a link breaks, a few targeted look-ups tell which kind of tampering explains it best (an
edited, deleted, inserted or moved entry). Detection does not depend on that guess being right.

What no hash chain can catch without an outside anchor: someone with write access who rewrites
every entry after the last signed checkpoint and the head row together. Checkpoints signed often
(and exported, e.g. to the catalog or a WORM store) shrink that window.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from jichitai.platform.audit.chain import GENESIS_HASH, checkpoint_payload, entry_hash
from jichitai.platform.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from jichitai.platform.audit.signing import CheckpointVerifier
from jichitai.platform.errors import JichitaiError


class BreakKind(StrEnum):
    """What kind of damage a broken link points to."""

    EDITED = "edited"  # an entry's contents no longer match its hash, or it was rewritten
    DELETED = "deleted"  # an entry is missing from the middle of the chain
    INSERTED = "inserted"  # an entry that was never appended sits in the chain
    REORDERED = "reordered"  # entries were moved to other seq numbers
    CHECKPOINT_SIGNATURE = "checkpoint_signature"  # a checkpoint's signature does not verify
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"  # the chain no longer has the hash that was signed
    CHECKPOINT_MISSING = "checkpoint_missing"  # no checkpoint where one was due
    TRUNCATED = "truncated"  # entries were cut from the end
    HEAD_MISMATCH = "head_mismatch"  # the head row does not match the last entry

    @property
    def label_ja(self) -> str:
        return _LABELS_JA[self]


_LABELS_JA = {
    BreakKind.EDITED: "記録の改ざん",
    BreakKind.DELETED: "記録の削除",
    BreakKind.INSERTED: "記録の挿入",
    BreakKind.REORDERED: "記録の順序の入れ替え",
    BreakKind.CHECKPOINT_SIGNATURE: "チェックポイントの署名が無効",
    BreakKind.CHECKPOINT_MISMATCH: "チェックポイントと記録の不一致",
    BreakKind.CHECKPOINT_MISSING: "チェックポイントの欠落",
    BreakKind.TRUNCATED: "末尾の記録の削除",
    BreakKind.HEAD_MISMATCH: "最終記録の管理情報の不一致",
}


@dataclass(frozen=True)
class Break:
    """The first broken link: where, what kind, and an explanation."""

    seq: int
    kind: BreakKind
    message: str

    @property
    def label_ja(self) -> str:
        return self.kind.label_ja


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    entries_checked: int  # entries found intact before the first break (all of them when ok)
    checkpoints_checked: int
    first_break: Break | None
    head_seq: int | None  # the head row's last seq as read at the end (None when missing)


_COLUMNS = tuple(AuditEntry.__table__.c)
_PAGE = 2000


def _pages(session: Session, after: int) -> Iterator[Row[Any]]:
    while True:
        rows = session.execute(
            select(*_COLUMNS).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(_PAGE)
        ).all()
        yield from rows
        if len(rows) < _PAGE:
            return
        after = rows[-1].seq


def _recomputed(row: Row[Any], prev_hash: str | None = None) -> str:
    fields = row._asdict()
    return entry_hash(row.prev_hash if prev_hash is None else prev_hash, fields)


def _signature_ok(verifier: CheckpointVerifier, cp: AuditCheckpoint) -> bool:
    payload = checkpoint_payload(cp.seq, cp.hash, cp.signed_at)
    try:
        return verifier.verify(cp.key_version, payload, bytes(cp.signature))
    except (JichitaiError, ValueError):
        # a key version the keystore never had, or a malformed signature: nothing vouches for it
        return False


@dataclass(frozen=True)
class _Head:
    last_seq: int
    last_hash: str


def _head(session: Session) -> _Head | None:
    row = session.execute(select(AuditHead.last_seq, AuditHead.last_hash)).first()
    return None if row is None else _Head(int(row.last_seq), str(row.last_hash))


def verify(
    session: Session,
    verifier: CheckpointVerifier,
    *,
    expect_checkpoint_every: int | None = None,
) -> VerifyReport:
    """Walk the whole chain and report the first broken link, if any.

    ``expect_checkpoint_every``: when given, a missing checkpoint at a multiple of it is a break
    (use it when every append ran with a signer).
    """
    checkpoints = {cp.seq: cp for cp in session.scalars(select(AuditCheckpoint))}
    checked = 0
    cps_checked = 0
    expected = 1
    prev_hash = GENESIS_HASH
    prev_prev: str | None = None

    def report(brk: Break | None, head_seq: int | None = None) -> VerifyReport:
        return VerifyReport(brk is None, checked, cps_checked, brk, head_seq)

    while True:
        for row in _pages(session, expected - 1):
            self_ok = _recomputed(row) == row.hash
            if row.seq != expected or row.prev_hash != prev_hash or not self_ok:
                return report(_diagnose(session, row, expected, prev_hash, prev_prev, self_ok))
            checked += 1
            cp = checkpoints.pop(row.seq, None)
            due = bool(expect_checkpoint_every) and row.seq % (expect_checkpoint_every or 1) == 0
            if cp is None and due:
                cp = session.get(AuditCheckpoint, row.seq)  # signed by an append during the walk?
            if cp is not None:
                if not _signature_ok(verifier, cp):
                    return report(
                        Break(
                            cp.seq,
                            BreakKind.CHECKPOINT_SIGNATURE,
                            f"the checkpoint at seq {cp.seq} does not carry a valid signature of key "
                            f"version {cp.key_version}: it was forged or altered",
                        )
                    )
                if cp.hash != row.hash:
                    return report(
                        Break(
                            cp.seq,
                            BreakKind.CHECKPOINT_MISMATCH,
                            f"the chain hash at seq {cp.seq} differs from the one signed in its checkpoint: "
                            "entries up to it were rewritten and re-chained",
                        )
                    )
                cps_checked += 1
            elif due:
                return report(
                    Break(
                        row.seq,
                        BreakKind.CHECKPOINT_MISSING,
                        f"no checkpoint at seq {row.seq}, where one was due",
                    )
                )
            prev_prev, prev_hash = prev_hash, row.hash
            expected += 1
        last = expected - 1
        # The head is read after the entries: an append commits its entries and the head together,
        # so a head ahead of the entries seen means either appends that landed during the walk (go
        # on reading) or entries cut from the end.
        head = _head(session)
        if head is None:
            return report(Break(last, BreakKind.HEAD_MISMATCH, "the head row of the audit log is missing"))
        if head.last_seq > last:
            if session.scalar(select(AuditEntry.seq).where(AuditEntry.seq > last).limit(1)) is not None:
                continue
            return report(
                Break(
                    last + 1,
                    BreakKind.TRUNCATED,
                    f"the head says the log ends at seq {head.last_seq} but the last entry is seq {last}: "
                    f"entries from seq {last + 1} were removed",
                ),
                head.last_seq,
            )
        break
    if head.last_seq < last:
        return report(
            Break(
                head.last_seq + 1,
                BreakKind.INSERTED,
                f"entries from seq {head.last_seq + 1} to {last} lie beyond the head of the log "
                f"(seq {head.last_seq}): they were never appended through the log",
            ),
            head.last_seq,
        )
    if head.last_hash != prev_hash:
        return report(
            Break(
                last,
                BreakKind.HEAD_MISMATCH,
                f"the head's hash does not match entry {last}: the last entry was rewritten, or the head was",
            ),
            head.last_seq,
        )
    if checkpoints:
        seq = min(checkpoints)
        if seq > last:
            return report(
                Break(
                    last + 1,
                    BreakKind.TRUNCATED,
                    f"a checkpoint was signed at seq {seq} but the log ends at seq {last}: "
                    f"entries from seq {last + 1} were removed (and the head moved back)",
                ),
                head.last_seq,
            )
        return report(
            Break(seq, BreakKind.CHECKPOINT_MISMATCH, f"the checkpoint at seq {seq} covers no entry"),
            head.last_seq,
        )
    return report(None, head.last_seq)


def _next_row(session: Session, after: int) -> Row[Any] | None:
    return session.execute(
        select(*_COLUMNS).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(1)
    ).first()


def _successor_seq(session: Session, prev_hash: str, other_than: int) -> int | None:
    """The seq of an entry chained to ``prev_hash`` (the true successor), wherever it now is."""
    return session.scalar(
        select(AuditEntry.seq)
        .where(AuditEntry.prev_hash == prev_hash, AuditEntry.seq != other_than)
        .order_by(AuditEntry.seq)
        .limit(1)
    )


def _diagnose(session: Session, row: Row[Any], n: int, hp: str, hpp: str | None, self_ok: bool) -> Break:
    """Name the damage at position ``n``: entries 1 … n−1 are intact and end with hash ``hp``.

    ``hpp`` is the prev_hash of entry n−1 (None when n = 1); ``row`` is the first entry in seq
    order at or after n.
    """
    if row.seq > n:
        moved = _successor_seq(session, hp, other_than=row.seq)
        if moved is not None and moved > n:
            return Break(
                n, BreakKind.REORDERED, f"the entry that belongs at seq {n} was moved to seq {moved}"
            )
        missing = f"seq {n}" if row.seq == n + 1 else f"seq {n} to {row.seq - 1}"
        return Break(n, BreakKind.DELETED, f"entry {missing} is missing: the chain jumps to seq {row.seq}")

    if row.prev_hash == hp:  # linked as it should be, yet its own hash does not match
        nxt = _next_row(session, n)
        if nxt is not None and nxt.prev_hash == hp:
            return Break(
                n,
                BreakKind.INSERTED,
                f"entry {n} was inserted: the entry after it links past it to seq {n - 1}",
            )
        if nxt is None:
            head = _head(session)
            if head is not None and head.last_seq < n:
                return Break(
                    n, BreakKind.INSERTED, f"entry {n} lies beyond the head of the log (seq {head.last_seq})"
                )
        return Break(n, BreakKind.EDITED, f"entry {n} was edited: its contents no longer match its hash")

    if hpp is not None and row.prev_hash == hpp:
        return Break(
            n - 1,
            BreakKind.INSERTED,
            f"entry {n - 1} was inserted: entry {n} links past it to seq {n - 2}",
        )
    if not self_ok and _recomputed(row, hp) == row.hash:
        return Break(
            n, BreakKind.EDITED, f"entry {n} was edited: its link to the entry before it was changed"
        )
    moved = _successor_seq(session, hp, other_than=n)
    if moved is not None and moved > n:
        return Break(
            n,
            BreakKind.REORDERED,
            f"entry {n} is out of place: the entry that belongs there is at seq {moved}",
        )
    if self_ok and n > 1:
        return Break(
            n - 1,
            BreakKind.EDITED,
            f"entry {n - 1} was rewritten after entry {n} was chained to it (its hash changed)",
        )
    return Break(
        n,
        BreakKind.DELETED,
        f"the entry that belongs at seq {n} is missing and the entries after it were renumbered",
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def format_report(report: VerifyReport) -> str:
    """A few lines for the command line, in English with the Japanese label."""
    entries = _count(report.entries_checked, "entry", "entries")
    checkpoints = _count(report.checkpoints_checked, "signed checkpoint", "signed checkpoints")
    if report.ok:
        return f"audit log intact: {entries} and {checkpoints} verified (監査ログに異常はありません)"
    brk = report.first_break
    assert brk is not None  # not ok always carries a break
    return "\n".join(
        [
            f"audit log BROKEN at seq {brk.seq}: {brk.kind.value} ({brk.label_ja})",
            f"  {brk.message}",
            f"  intact before it: {entries}, {checkpoints}",
        ]
    )
