"""Registry events become clerk tasks; the clerk's confirmation applies them (nothing silent)."""

from __future__ import annotations

from datetime import date

import pytest

from jichitai.mynumber.child_allowance.events import TaskKind, TaskService, consume_registry_events
from jichitai.mynumber.child_allowance.service import ChildAllowanceService
from jichitai.mynumber.registry.service import CancelMoveOut, Death, MoveOut, RegistryService
from jichitai.platform.errors import Conflict, ValidationError
from jichitai.platform.storage import Storage
from tests.mynumber.child_allowance.support import (
    Family,
    add_birth,
    application,
    case_id_of,
    change_ctx,
    claim_form,
    clerk_ctx,
    deliver_application,
    key,
    move_in_family,
)


def certify(ca_storage: Storage, registry: RegistryService, ca: ChildAllowanceService) -> tuple[Family, str]:
    family = move_in_family(registry, children=(date(2015, 3, 3), date(2017, 4, 4)))
    app = application(claim_form(family), family.head)
    deliver_application(ca_storage, app)
    decision = ca.certify(clerk_ctx(), case_id_of(ca_storage, app.receipt_number))
    return family, decision.recipient_id or ""


def move_out(registry: RegistryService, *persons: str, remaining_head: str | None = None) -> None:
    """A 転出 to Osaka on 2025-06-20, notified on 2025-06-02."""
    registry.submit(
        change_ctx(),
        MoveOut(
            idempotency_key=key(),
            event_date=date(2025, 6, 20),
            notified_on=date(2025, 6, 2),
            persons=persons,
            destination="大阪府大阪市北区梅田1-1-1",
            remaining_head=remaining_head,
        ),
    )


def test_birth_raises_a_task_and_the_confirmed_increase(
    ca_storage: Storage, registry: RegistryService, ca: ChildAllowanceService
) -> None:
    family, recipient = certify(ca_storage, registry, ca)
    consume_registry_events(ca_storage, "131016", registry=registry)  # catch up with earlier events
    before = ca.recipient(clerk_ctx(), recipient)
    newborn = add_birth(registry, family, date(2025, 5, 28))
    assert consume_registry_events(ca_storage, "131016", registry=registry) == 1
    assert consume_registry_events(ca_storage, "131016", registry=registry) == 0  # the cursor moved on
    tasks = TaskService(ca)
    (task,) = [t for t in tasks.tasks(clerk_ctx()) if t.recipient_id == recipient]
    assert task.kind == TaskKind.BIRTH and task.atena_number == newborn
    # nothing changed before the clerk confirms
    assert ca.recipient(clerk_ctx(), recipient).amounts == before.amounts
    decision = tasks.resolve(clerk_ctx(), task.id, apply=True, filed_on=date(2025, 6, 2))
    assert decision is not None and decision.outcome == "amount_changed"
    # the entitlement itself starts in July 2025, so the newborn counts from July, as the third child
    assert decision.message_ja == "手当額を改定しました。改定年月: 令和7年7月分から（月額 50,000円）"
    after = ca.recipient(clerk_ctx(), recipient)
    assert (after.amounts[0].first, after.amounts[0].amount) == ("令和7年7月", 50_000)
    assert before.amounts[0].amount == 20_000
    with pytest.raises(Conflict):
        tasks.resolve(clerk_ctx(), task.id, apply=False, note="重複")


def test_move_out_ends_and_child_death_reduces(
    ca_storage: Storage, registry: RegistryService, ca: ChildAllowanceService
) -> None:
    family, recipient = certify(ca_storage, registry, ca)
    consume_registry_events(ca_storage, "131016", registry=registry)
    registry.submit(
        change_ctx(),
        Death(idempotency_key=key(), event_date=date(2025, 5, 30), notified_on=date(2025, 6, 1),
              atena_number=family.children[1]),
    )  # fmt: skip
    move_out(registry, family.head, family.wife, family.children[0])
    consume_registry_events(ca_storage, "131016", registry=registry)
    tasks = TaskService(ca)
    mine = {t.kind: t for t in tasks.tasks(clerk_ctx()) if t.recipient_id == recipient}
    assert {TaskKind.CHILD_DIED, TaskKind.RECIPIENT_MOVED_OUT, TaskKind.CHILD_MOVED_OUT} <= set(mine)
    reduced = tasks.resolve(clerk_ctx(), mine[TaskKind.CHILD_DIED].id, apply=True)
    assert reduced is not None and "改定" in reduced.message_ja
    ended = tasks.resolve(clerk_ctx(), mine[TaskKind.RECIPIENT_MOVED_OUT].id, apply=True)
    assert ended is not None and "令和7年6月分まで" in ended.message_ja
    detail = ca.recipient(clerk_ctx(), recipient)
    assert detail.status == "ended" and detail.end_month == "令和7年6月"
    tasks.resolve(clerk_ctx(), mine[TaskKind.CHILD_MOVED_OUT].id, apply=False, note="受給者の消滅で処理済み")
    assert not [t for t in tasks.tasks(clerk_ctx()) if t.recipient_id == recipient]
    assert [v[1] for v in detail.versions] == ["certified", "amount_changed", "ended"]


def test_a_cancelled_move_out_raises_a_task_even_after_the_entitlement_ended(
    ca_storage: Storage, registry: RegistryService, ca: ChildAllowanceService
) -> None:
    family, recipient = certify(ca_storage, registry, ca)
    consume_registry_events(ca_storage, "131016", registry=registry)
    move_out(registry, family.head, remaining_head=family.wife)
    consume_registry_events(ca_storage, "131016", registry=registry)
    tasks = TaskService(ca)
    (moved,) = [t for t in tasks.tasks(clerk_ctx()) if t.recipient_id == recipient]
    tasks.resolve(clerk_ctx(), moved.id, apply=True)
    assert ca.recipient(clerk_ctx(), recipient).status == "ended"
    registry.submit(
        change_ctx(),
        CancelMoveOut(
            idempotency_key=key(),
            event_date=date(2025, 6, 20),
            notified_on=date(2025, 6, 2),
            atena_number=family.head,
        ),
    )
    assert consume_registry_events(ca_storage, "131016", registry=registry) == 1
    (task,) = [t for t in tasks.tasks(clerk_ctx()) if t.recipient_id == recipient]
    assert task.kind == TaskKind.MOVE_OUT_CANCELLED and task.atena_number == family.head
    with pytest.raises(ValidationError) as exc:
        tasks.resolve(clerk_ctx(), task.id, apply=True)
    assert "自動で反映する処理はありません" in (exc.value.message_ja or "")
    tasks.resolve(clerk_ctx(), task.id, apply=False, note="消滅を職権で取り消し、認定を継続")
    assert not [t for t in tasks.tasks(clerk_ctx()) if t.recipient_id == recipient]
