"""Registry events (住民異動情報): an append-only, ordered feed other core systems poll.

Each accepted change writes one event per person it concerns. ``seq`` comes from a locked head
row, so sequence numbers have no gaps and commit in order: a consumer that remembers the last
``seq`` it processed and asks for ``events_since(last)`` never misses an event, however many
writers run at once (a sequence or autoincrement could commit 8 before 7 and make 7 invisible to
a poller that already moved past it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jichitai.mynumber.registry.models import EventHead, RegistryEvent

HEAD_ID = 1
MAX_PAGE = 1000


class EventType(StrEnum):
    BIRTH = "birth"  # 出生
    DEATH = "death"  # 死亡
    MOVE_IN = "move_in"  # 転入 (and 国外転入)
    MOVE_WITHIN = "move_within"  # 転居
    MOVE_OUT = "move_out"  # 転出, 転出確定, 国外転出
    HOUSEHOLD_CHANGE = "household_change"  # 世帯変更 (分離, 合併, 世帯主変更)
    NAME_CHANGE = "name_change"  # 氏名変更
    CORRECTION = "correction"  # 職権修正, 職権記載, 職権消除, 転籍 (and 転出取消)
    FOREIGN_RESIDENT = "foreign_resident"  # 在留資格変更, 在留期間更新, 通称記載, 通称削除


@dataclass(frozen=True)
class Event:
    """One registry event as consumers see it."""

    seq: int
    event_type: EventType
    atena_number: str  # 統合宛名番号 of the person concerned
    household_number: str | None
    event_date: date  # 異動日
    notified_on: date | None  # 届出日
    recorded_at: datetime
    change_id: str
    payload: dict[str, Any]


def _json_default(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def append_events(session: Session, rows: list[RegistryEvent]) -> list[int]:
    """Give ``rows`` the next sequence numbers (locking the head until commit) and add them."""
    if not rows:
        return []
    head = session.execute(select(EventHead).where(EventHead.id == HEAD_ID).with_for_update()).scalar_one()
    seqs = []
    for row in rows:
        head.last_seq += 1
        row.seq = head.last_seq
        seqs.append(row.seq)
        session.add(row)
    session.flush()
    return seqs


def new_event(
    event_type: EventType,
    *,
    change_id: str,
    atena_number: str,
    household_number: str | None,
    event_date: date,
    notified_on: date | None,
    payload: dict[str, Any],
    recorded_at: datetime | None = None,
) -> RegistryEvent:
    return RegistryEvent(
        event_type=event_type.value,
        change_id=change_id,
        atena_number=atena_number,
        household_number=household_number,
        event_date=event_date,
        notified_on=notified_on,
        recorded_at=recorded_at or datetime.now(UTC),
        payload=json.dumps(payload, ensure_ascii=False, sort_keys=True, default=_json_default),
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def to_event(row: RegistryEvent) -> Event:
    return Event(
        seq=row.seq,
        event_type=EventType(row.event_type),
        atena_number=row.atena_number,
        household_number=row.household_number,
        event_date=row.event_date,
        notified_on=row.notified_on,
        recorded_at=_aware(row.recorded_at),
        change_id=row.change_id,
        payload=json.loads(row.payload),
    )


def event_json(event: Event) -> str:
    """One event as a line of JSON (the fields of :class:`Event`, dates in ISO 8601), for files."""
    record = {
        "seq": event.seq,
        "event_type": event.event_type.value,
        "atena_number": event.atena_number,
        "household_number": event.household_number,
        "event_date": event.event_date.isoformat(),
        "notified_on": event.notified_on.isoformat() if event.notified_on else None,
        "recorded_at": event.recorded_at.isoformat(),
        "change_id": event.change_id,
        "payload": event.payload,
    }
    return json.dumps(record, ensure_ascii=False)


def read_events(session: Session, after_seq: int, limit: int) -> list[Event]:
    """Events with ``seq > after_seq``, oldest first, at most ``limit`` (capped at 1000)."""
    limit = max(1, min(limit, MAX_PAGE))
    rows = session.scalars(
        select(RegistryEvent).where(RegistryEvent.seq > after_seq).order_by(RegistryEvent.seq).limit(limit)
    )
    return [to_event(r) for r in rows]
