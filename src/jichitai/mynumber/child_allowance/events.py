"""Registry events (住民異動情報) → clerk tasks: nothing about a recipient changes silently.

:func:`consume_registry_events` polls the registry's feed from the stored cursor and raises a task
for each event that concerns a certified recipient or one of the children counted for them:

- a birth in a recipient's household → 額改定（増額）の確認 (the 額改定請求 is still needed);
- the recipient moves out or dies → 消滅 at the month of the event;
- a counted child dies or moves out → 額改定（減額） from the following month;
- a counted child leaves the recipient's household (世帯変更, 転居) → 監護状況の確認.

The cursor and the tasks are written in one transaction; a task is unique per (event, recipient,
kind), so reading an event again after a crash never raises it twice. :meth:`TaskService.resolve`
is the clerk's confirmation: apply the suggested decision (which issues its notice) or dismiss.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from jichitai.mynumber.child_allowance import purposes
from jichitai.mynumber.child_allowance.models import (
    Child,
    EventCursor,
    Recipient,
    RecipientStatus,
    Task,
    TaskStatus,
)
from jichitai.mynumber.child_allowance.service import (
    AmountChange,
    ChildAllowanceService,
    Decision,
    EndKind,
    EndRequest,
    NewChild,
    Removal,
)
from jichitai.mynumber.child_allowance.service.records import new_id
from jichitai.mynumber.registry.events import EventType
from jichitai.mynumber.registry.service import Event, RegistryService
from jichitai.platform.context import TenantContext, system
from jichitai.platform.errors import Conflict, NotFound, ValidationError
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.zones import Zone

log = logging.getLogger(__name__)

CURSOR_ID = 1


class TaskKind:
    BIRTH = "birth"  # 出生: 額改定（増額）の確認
    RECIPIENT_MOVED_OUT = "recipient_moved_out"  # 受給者の転出: 消滅
    RECIPIENT_DIED = "recipient_died"  # 受給者の死亡: 消滅
    CHILD_DIED = "child_died"  # 児童の死亡: 減額
    CHILD_MOVED_OUT = "child_moved_out"  # 児童の転出: 減額
    CHILD_LEFT_HOUSEHOLD = "child_left_household"  # 児童の世帯異動: 監護状況の確認
    # 転出取消: the 転出 did not happen; a 消滅 or 減額 confirmed for it must be looked at again
    MOVE_OUT_CANCELLED = "move_out_cancelled"


# Tasks with no decision to apply: the clerk records what was done (the note) to close them.
NOTE_ONLY = frozenset({TaskKind.MOVE_OUT_CANCELLED})


TASK_LABELS = {
    TaskKind.BIRTH: "出生（額改定の確認）",
    TaskKind.RECIPIENT_MOVED_OUT: "受給者の転出（消滅）",
    TaskKind.RECIPIENT_DIED: "受給者の死亡（消滅）",
    TaskKind.CHILD_DIED: "児童の死亡（額改定・減額）",
    TaskKind.CHILD_MOVED_OUT: "児童の転出（額改定・減額）",
    TaskKind.CHILD_LEFT_HOUSEHOLD: "児童の世帯異動（監護状況の確認）",
    TaskKind.MOVE_OUT_CANCELLED: "転出取消（転出による消滅・減額の確認）",
}


def consumer_ctx(tenant: str) -> TenantContext:
    return TenantContext.of(
        tenant, system("child-allowance-events", "child_allowance"), purposes.EVENTS_CONSUME.code
    )


def _cursor(uow: UnitOfWork) -> EventCursor:
    row = uow.session.execute(
        select(EventCursor).where(EventCursor.id == CURSOR_ID).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        row = EventCursor(id=CURSOR_ID, last_seq=0)
        uow.session.add(row)
        uow.session.flush()
    return row


def _task(recipient: Recipient, kind: str, event: Event, **detail: Any) -> Task:
    return Task(
        id=new_id(),
        recipient_id=recipient.id,
        kind=kind,
        event_seq=event.seq,
        event_type=event.event_type.value,
        atena_number=event.atena_number,
        event_date=event.event_date,
        detail=json.dumps(
            {"change": event.payload.get("change", ""), "household": event.household_number, **detail},
            ensure_ascii=False,
            default=str,
        ),
        status=TaskStatus.OPEN,
    )


def tasks_for(uow: UnitOfWork, event: Event) -> list[Task]:
    """The tasks an event raises (none when it concerns no certified recipient)."""
    certified = Recipient.status == RecipientStatus.CERTIFIED
    tasks: list[Task] = []
    moving = event.event_type in (EventType.MOVE_OUT, EventType.DEATH)
    for r in uow.session.scalars(
        select(Recipient).where(Recipient.atena_number == event.atena_number, certified)
    ):
        if event.event_type is EventType.MOVE_OUT:
            tasks.append(_task(r, TaskKind.RECIPIENT_MOVED_OUT, event))
        elif event.event_type is EventType.DEATH:
            tasks.append(_task(r, TaskKind.RECIPIENT_DIED, event))
        elif event.household_number and event.household_number != r.household_number:
            r.household_number = event.household_number  # the recipient's own household moved
    rows = uow.session.execute(
        select(Child, Recipient)
        .join(Recipient, Recipient.id == Child.recipient_id)
        .where(Child.atena_number == event.atena_number, Child.active.is_(True), certified)
    ).all()
    for child, r in rows:
        if event.event_type is EventType.DEATH:
            tasks.append(_task(r, TaskKind.CHILD_DIED, event, child_id=child.id, name=child.name))
        elif event.event_type is EventType.MOVE_OUT:
            tasks.append(_task(r, TaskKind.CHILD_MOVED_OUT, event, child_id=child.id, name=child.name))
        elif (
            not moving
            and not child.lives_apart
            and event.household_number
            and r.household_number
            and event.household_number != r.household_number
        ):
            tasks.append(_task(r, TaskKind.CHILD_LEFT_HOUSEHOLD, event, child_id=child.id, name=child.name))
    if event.event_type is EventType.CORRECTION and event.payload.get("kind") == "転出取消":
        tasks += _cancelled_move_out_tasks(uow, event)
    if event.event_type is EventType.BIRTH and event.household_number:
        for r in uow.session.scalars(
            select(Recipient).where(Recipient.household_number == event.household_number, certified)
        ):
            tasks.append(_task(r, TaskKind.BIRTH, event, child_atena=event.atena_number))
    return tasks


def _cancelled_move_out_tasks(uow: UnitOfWork, event: Event) -> list[Task]:
    """A 転出取消 of a recipient or a child, whether or not the 転出 was acted on (the entitlement
    may have ended, the child may have been taken off): the clerk looks at it again."""
    recipients = {
        r.id: r
        for r in uow.session.scalars(select(Recipient).where(Recipient.atena_number == event.atena_number))
    }
    for r in uow.session.scalars(
        select(Recipient)
        .join(Child, Child.recipient_id == Recipient.id)
        .where(Child.atena_number == event.atena_number)
    ):
        recipients.setdefault(r.id, r)
    return [_task(r, TaskKind.MOVE_OUT_CANCELLED, event) for r in recipients.values()]


def consume_registry_events(
    storage: Storage, tenant: str, *, registry: RegistryService | None = None, batch: int = 500
) -> int:
    """Read the registry events since the cursor and raise tasks; returns how many were raised."""
    ctx = consumer_ctx(tenant)
    registry = registry or RegistryService(storage)
    raised = 0
    while True:
        with storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
            after = _cursor(uow).last_seq
        events = registry.events_since(ctx, after, batch)
        if not events:
            return raised
        with storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
            cursor = _cursor(uow)
            if cursor.last_seq != after:
                raise Conflict(
                    "another consumer moved the cursor", message_ja="異動情報の取込みが同時に実行されました"
                )
            known = {
                (seq, rid, kind)
                for seq, rid, kind in uow.session.execute(
                    select(Task.event_seq, Task.recipient_id, Task.kind).where(
                        Task.event_seq.between(events[0].seq, events[-1].seq)
                    )
                )
            }
            for event in events:
                for task in tasks_for(uow, event):
                    if (task.event_seq, task.recipient_id, task.kind) in known:
                        continue
                    known.add((task.event_seq, task.recipient_id, task.kind))
                    uow.session.add(task)
                    raised += 1
            cursor.last_seq = events[-1].seq
            cursor.updated_at = datetime.now(UTC)
        if len(events) < batch:
            return raised


@dataclass(frozen=True)
class TaskRow:
    id: str
    recipient_id: str
    recipient_number: str
    recipient_name: str
    kind: str
    kind_ja: str
    event_type: str
    event_date: date
    atena_number: str
    detail: dict[str, Any]
    status: str
    resolution: str | None


class TaskService:
    """The clerk's task list and confirmations."""

    def __init__(self, service: ChildAllowanceService) -> None:
        self.service = service
        self.storage = service.storage

    def _uow(self, ctx: TenantContext) -> Any:
        return self.service._uow(ctx, purposes.CASE_PROCESS.code)

    def tasks(self, ctx: TenantContext, *, status: str | None = TaskStatus.OPEN) -> list[TaskRow]:
        with self._uow(ctx) as uow:
            stmt = select(Task, Recipient).join(Recipient, Recipient.id == Task.recipient_id)
            if status:
                stmt = stmt.where(Task.status == status)
            rows = uow.session.execute(stmt.order_by(Task.event_seq).limit(500)).all()
            return [_row(t, r) for t, r in rows]

    def task(self, ctx: TenantContext, task_id: str) -> TaskRow:
        with self._uow(ctx) as uow:
            t, r = self._get(uow, task_id)
            return _row(t, r)

    def resolve(
        self,
        ctx: TenantContext,
        task_id: str,
        *,
        apply: bool,
        note: str = "",
        filed_on: date | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> Decision | None:
        """Confirm a task: apply its decision (額改定・消滅 with notice) or dismiss it with a note."""
        row = self.task(ctx, task_id)
        if row.status != TaskStatus.OPEN:
            raise Conflict(f"task {task_id} is {row.status}", message_ja="このタスクは確認済みです")
        decision: Decision | None = None
        if apply:
            decision = self._apply(ctx, row, filed_on)
        elif not note.strip():
            raise ValidationError(
                "dismissing needs a note", message_ja="対応不要とする理由を入力してください"
            )
        with self._uow(ctx) as uow:
            t, _ = self._get(uow, task_id)
            t.status = TaskStatus.APPLIED if apply else TaskStatus.DISMISSED
            t.resolved_at = (clock or self.service.clock)()
            t.resolved_by = str(ctx.actor)[:100]
            t.resolution = decision.message_ja if decision else note.strip()
        return decision

    def _apply(self, ctx: TenantContext, row: TaskRow, filed_on: date | None) -> Decision:
        svc = self.service
        if row.kind in (TaskKind.RECIPIENT_MOVED_OUT, TaskKind.RECIPIENT_DIED):
            kind = EndKind.MOVED_OUT if row.kind == TaskKind.RECIPIENT_MOVED_OUT else EndKind.DIED
            return svc.end_entitlement(
                ctx, row.recipient_id, EndRequest(kind, row.event_date), task_id=row.id
            )
        if row.kind in (TaskKind.CHILD_DIED, TaskKind.CHILD_MOVED_OUT, TaskKind.CHILD_LEFT_HOUSEHOLD):
            removal = Removal(
                str(row.detail["child_id"]), row.event_date, died=row.kind == TaskKind.CHILD_DIED
            )
            change = AmountChange(filed_on=filed_on or svc.today(), remove=[removal])
            return svc.change_amount(ctx, row.recipient_id, change, task_id=row.id)
        if row.kind == TaskKind.BIRTH:
            if filed_on is None:
                raise ValidationError(
                    "an increase needs the day of the 額改定請求", message_ja="額改定請求日を入力してください"
                )
            change = AmountChange(filed_on=filed_on, add=[NewChild(row.atena_number)], birth=True)
            return svc.change_amount(ctx, row.recipient_id, change, task_id=row.id)
        if row.kind in NOTE_ONLY:
            raise ValidationError(
                f"task kind {row.kind} has no decision to apply",
                message_ja="この確認事項には自動で反映する処理はありません。対応した内容を入力して完了してください",
            )
        raise ValidationError(f"unknown task kind {row.kind}")

    @staticmethod
    def _get(uow: UnitOfWork, task_id: str) -> tuple[Task, Recipient]:
        found = uow.session.execute(
            select(Task, Recipient)
            .join(Recipient, Recipient.id == Task.recipient_id)
            .where(Task.id == task_id)
        ).first()
        if found is None:
            raise NotFound(f"no task {task_id}", message_ja="該当するタスクがありません")
        return found[0], found[1]


def _row(t: Task, r: Recipient) -> TaskRow:
    return TaskRow(
        id=t.id,
        recipient_id=r.id,
        recipient_number=r.recipient_number,
        recipient_name=r.name,
        kind=t.kind,
        kind_ja=TASK_LABELS.get(t.kind, t.kind),
        event_type=t.event_type,
        event_date=t.event_date,
        atena_number=t.atena_number,
        detail=json.loads(t.detail),
        status=t.status,
        resolution=t.resolution,
    )
