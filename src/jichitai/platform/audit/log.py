"""Writing and reading the audit log: append (chained, in the caller's transaction), checkpoints, queries.

``append`` costs one head lock, one bulk insert and one head update per transaction, whatever the
number of entries, and never re-reads old entries: the head row carries the end of the chain.
Verification lives in :mod:`jichitai.platform.audit.verify` and is re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import cast

from sqlalchemy import ColumnElement, Integer, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from jichitai.platform.audit.chain import checkpoint_payload, detail_text, entry_hash, format_time
from jichitai.platform.audit.entry import AuditParty, PendingEntry
from jichitai.platform.audit.models import HEAD_ID, AuditCheckpoint, AuditEntry, AuditHead
from jichitai.platform.audit.signing import CheckpointVerifier, Signer
from jichitai.platform.audit.verify import Break, BreakKind, VerifyReport, format_report, verify
from jichitai.platform.errors import ConfigurationError, ValidationError

__all__ = [
    "AuditFilter",
    "AuditPage",
    "AuditParty",
    "Break",
    "BreakKind",
    "CheckpointVerifier",
    "Signer",
    "VerifyReport",
    "append",
    "checkpoint",
    "entries_for_person",
    "format_report",
    "list_entries",
    "verify",
]


@lru_cache(maxsize=8)
def _pg_append_sql(columns: tuple[str, ...]) -> str:
    table = AuditEntry.__table__
    arrays = ", ".join(f"%s::{'int8' if isinstance(table.c[c].type, Integer) else 'text'}[]" for c in columns)
    names = ", ".join(f'"{c}"' for c in columns)
    return (
        f'WITH new_entries AS (INSERT INTO "{AuditEntry.__tablename__}" ({names}) '
        f"SELECT * FROM unnest({arrays})) "
        f'UPDATE "{AuditHead.__tablename__}" SET last_seq = %s, last_hash = %s WHERE id = %s'
    )


_SELECT_HEAD = (
    select(AuditHead.last_seq, AuditHead.last_hash).where(AuditHead.id == HEAD_ID).with_for_update()
)
_HEAD_TABLE = cast(Table, AuditHead.__table__)
_INSERT_ENTRIES = insert(cast(Table, AuditEntry.__table__))
_UPDATE_HEAD = (
    update(_HEAD_TABLE)
    .where(_HEAD_TABLE.c.id == HEAD_ID)
    .values(last_seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))
)


def _lock_head(session: Session) -> tuple[int, str]:
    """Lock the head row for the rest of the transaction and return (last seq, last hash).

    FOR UPDATE serializes appenders on PostgreSQL; SQLAlchemy renders nothing for SQLite, where the
    storage layer opens write transactions with BEGIN IMMEDIATE instead.
    """
    # Core on the session's connection: the ORM layer cost more than the query itself
    row = session.connection().execute(_SELECT_HEAD).one_or_none()
    if row is None:
        raise ConfigurationError(
            "the audit log has no head row: the database is not migrated or was damaged",
            hint="run `jichitai db upgrade`; if it is migrated, run `jichitai audit verify`",
        )
    return int(row.last_seq), str(row.last_hash)


def _party_fields(party: AuditParty) -> dict[str, str]:
    return {
        "actor": _text("actor", party.actor),
        "actor_kind": _text("actor_kind", party.actor_kind),
        "role": _text("role", party.role),
        "purpose": _text("purpose", party.purpose),
        "legal_basis": _text("legal_basis", party.legal_basis),
    }


def _text(name: str, value: object) -> str:
    text = str(value)  # Zone, ActorKind and TenantCode are str enums / str subclasses
    if "\x00" in text:
        # PostgreSQL refuses NUL in text; refuse it everywhere so both back ends store the same log.
        raise ValidationError(f"audit field {name} contains a NUL character")
    return text


def append(
    session: Session,
    *,
    zone: str,
    tenant: str,
    actor: str,
    actor_kind: str,
    role: str,
    purpose: str,
    legal_basis: str,
    entries: Sequence[PendingEntry],
    signer: Signer | None,
    checkpoint_every: int,
    now: datetime | None = None,
) -> list[int]:
    """Chain ``entries`` onto the log inside the caller's transaction; return their seq numbers.

    Every entry of one call shares actor, purpose and time (one use case, one transaction), except
    an entry that names its own :class:`AuditParty` (a batch that stores several callers' work). When the
    chain passes a multiple of ``checkpoint_every`` (and a signer is given), a signed checkpoint is
    written at that multiple. Nothing is committed here: the caller commits or rolls back.
    """
    if not entries:
        return []
    at = format_time(now if now is not None else datetime.now(UTC))
    common = {
        "at": at,
        "zone": _text("zone", zone),
        "tenant": _text("tenant", tenant),
        "actor": _text("actor", actor),
        "actor_kind": _text("actor_kind", actor_kind),
        "role": _text("role", role),
        "purpose": _text("purpose", purpose),
        "legal_basis": _text("legal_basis", legal_basis),
    }
    last_seq, prev = _lock_head(session)
    rows: list[dict[str, object]] = []
    for seq, entry in enumerate(entries, start=last_seq + 1):
        party = entry.party
        row: dict[str, object] = {
            **(common if party is None else {**common, **_party_fields(party)}),
            "seq": seq,
            "person": _text("person", entry.person),
            "action": _text("action", entry.action),
            "object_type": _text("object_type", entry.object_type),
            "object_id": _text("object_id", entry.object_id),
            "detail": _text("detail", detail_text(entry.detail)),
            "prev_hash": prev,
        }
        prev = entry_hash(prev, row)
        row["hash"] = prev
        rows.append(row)
    new_last = last_seq + len(rows)
    if session.get_bind().dialect.name == "postgresql":
        # One round trip and one fixed statement (prepared once by the driver): the entries go as
        # one array per column, inserted by a data-modifying CTE of the head UPDATE (PostgreSQL
        # runs it exactly once). A read-only use case's commit path is short, so the round trips
        # and statement compilation here show in every search's latency.
        columns = tuple(rows[0])
        params: list[object] = [[row[c] for row in rows] for c in columns]
        session.connection().exec_driver_sql(_pg_append_sql(columns), (*params, new_last, prev, HEAD_ID))
    else:
        connection = session.connection()
        connection.execute(_INSERT_ENTRIES, rows)
        connection.execute(_UPDATE_HEAD, {"new_seq": new_last, "new_hash": prev})
    if signer is not None and checkpoint_every > 0:
        first_multiple = (last_seq // checkpoint_every + 1) * checkpoint_every
        for seq in range(first_multiple, new_last + 1, checkpoint_every):
            _write_checkpoint(session, seq, str(rows[seq - last_seq - 1]["hash"]), signer, at)
    return list(range(last_seq + 1, new_last + 1))


def _write_checkpoint(session: Session, seq: int, chain_hash: str, signer: Signer, signed_at: str) -> None:
    version, signature = signer.sign(checkpoint_payload(seq, chain_hash, signed_at))
    session.execute(
        insert(AuditCheckpoint).values(
            seq=seq, hash=chain_hash, key_version=version, signature=signature, signed_at=signed_at
        )
    )


def checkpoint(session: Session, signer: Signer, *, now: datetime | None = None) -> AuditCheckpoint | None:
    """Sign the current end of the chain now (on demand); None when the log is empty.

    When a checkpoint already covers the last entry it is returned as is.
    """
    last_seq, last_hash = _lock_head(session)
    if last_seq == 0:
        return None
    existing = session.get(AuditCheckpoint, last_seq)
    if existing is None:
        signed_at = format_time(now if now is not None else datetime.now(UTC))
        _write_checkpoint(session, last_seq, last_hash, signer, signed_at)
        existing = session.get(AuditCheckpoint, last_seq)
    return existing


# -- reading ---------------------------------------------------------------------------------------


def entries_for_person(session: Session, person: str, *, limit: int | None = None) -> list[AuditEntry]:
    """Every entry about one person, oldest first: who looked at their data, when, and why."""
    if not person:
        raise ValidationError("a person identifier is needed to list the entries about a person")
    stmt = select(AuditEntry).where(AuditEntry.person == person).order_by(AuditEntry.seq)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class AuditFilter:
    """What to narrow a listing to; None means any. Times are compared in UTC."""

    person: str | None = None
    actor: str | None = None
    actor_kind: str | None = None
    purpose: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _conditions(f: AuditFilter) -> list[ColumnElement[bool]]:
    columns = {
        AuditEntry.person: f.person,
        AuditEntry.actor: f.actor,
        AuditEntry.actor_kind: f.actor_kind,
        AuditEntry.purpose: f.purpose,
        AuditEntry.action: f.action,
        AuditEntry.object_type: f.object_type,
        AuditEntry.object_id: f.object_id,
    }
    conds = [column == value for column, value in columns.items() if value is not None]
    # the stored time is fixed-width UTC text, so text order is time order
    if f.since is not None:
        conds.append(AuditEntry.at >= format_time(f.since))
    if f.until is not None:
        conds.append(AuditEntry.at < format_time(f.until))
    return conds


def list_entries(
    session: Session,
    filters: AuditFilter | None = None,
    *,
    page: int = 1,
    page_size: int = 50,
    newest_first: bool = True,
) -> AuditPage:
    """One page of entries matching ``filters`` (pages count from 1)."""
    if page < 1 or not 1 <= page_size <= 1000:
        raise ValidationError("page must be ≥ 1 and page_size between 1 and 1000")
    conds = _conditions(filters or AuditFilter())
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*conds)) or 0
    order = AuditEntry.seq.desc() if newest_first else AuditEntry.seq.asc()
    rows = session.scalars(
        select(AuditEntry).where(*conds).order_by(order).offset((page - 1) * page_size).limit(page_size)
    )
    return AuditPage(list(rows), int(total), page, page_size)
