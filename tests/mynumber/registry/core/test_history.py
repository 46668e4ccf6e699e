"""History (bitemporal) queries and the event feed, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from jichitai.mynumber.registry.events import EventType
from jichitai.mynumber.registry.service import (
    Birth,
    Correction,
    Death,
    MoveIn,
    MoveWithin,
    RegistryService,
)
from jichitai.platform.errors import PermissionDenied
from jichitai.platform.storage import Storage
from tests.conftest import ctx
from tests.mynumber.registry.core.support import (
    NOW,
    change_ctx,
    key,
    move_in_family,
    person,
    read_ctx,
    submit,
)

EVENTS = "registry.events.consume"


def test_who_lived_in_the_household_on_a_date(svc: RegistryService) -> None:
    result, address = move_in_family(svc, "中村", "ナカムラ", with_child=False)
    head, wife = result.atena_numbers
    number = result.household_numbers[0]
    child = submit(
        svc,
        Birth,
        date(2022, 10, 10),
        date(2022, 10, 12),
        household_number=number,
        child=person("中村　結衣", "ナカムラ　ユイ", date(2022, 10, 10), "子", sex="2"),
    ).atena_numbers[0]
    mother = submit(
        svc,
        MoveIn,
        date(2023, 6, 1),
        date(2023, 6, 5),
        persons=(person("佐藤　和子", "サトウ　カズコ", date(1955, 1, 1), "妻の母", sex="2"),),
        address=address,
        previous_address="大阪府堺市堺区1-1",
        household_number=number,
    ).atena_numbers[0]
    submit(
        svc,
        Death,
        date(2024, 1, 1),
        date(2024, 1, 2),
        atena_number=head,
        new_head=wife,
        relationships={child: "子", mother: "母"},
    )

    on_2023 = svc.household_as_of(read_ctx(), number, date(2023, 4, 1))
    assert {m.atena_number for m in on_2023.members} == {head, wife, child}
    assert on_2023.head is not None and on_2023.head.atena_number == head

    on_2024 = svc.household_as_of(read_ctx(), number, date(2024, 2, 1))
    assert {m.atena_number for m in on_2024.members} == {wife, child, mother}
    assert on_2024.head is not None and on_2024.head.atena_number == wife
    assert {m.atena_number: m.relationship for m in on_2024.members}[mother] == "母"

    assert svc.household_as_of(read_ctx(), number, date(2019, 1, 1)).members == ()
    # the dead head remains as a 除票 in the current household view with removed persons
    everyone = svc.household(read_ctx(), number, include_removed=True)
    assert {m.atena_number for m in everyone.members if m.is_removed} == {head}


def test_person_history_and_state_as_of(svc: RegistryService) -> None:
    result, first = move_in_family(svc, "前田", "マエダ", with_child=False)
    head = result.atena_numbers[0]
    second = first + "1"  # another 番地 in the same town (1234番地 → 12341番地 …)
    submit(
        svc, MoveWithin, date(2022, 2, 2), None, household_number=result.household_numbers[0], address=second
    )
    history = svc.person_history(read_ctx(), head)
    assert [(v.valid_from, v.valid_to) for v in history] == [
        (date(2020, 4, 1), date(2022, 2, 2)),
        (date(2022, 2, 2), None),
    ]
    assert [v.record.last_change for v in history] == ["転入", "転居"]
    before = svc.person_as_of(read_ctx(), head, date(2021, 1, 1))
    after = svc.person_as_of(read_ctx(), head, date(2023, 1, 1))
    assert before is not None and after is not None
    assert before.address != after.address and after.previous_address == before.address
    assert svc.person_as_of(read_ctx(), head, date(2019, 1, 1)) is None


def test_nothing_is_overwritten_recorded_time_is_kept(reg_storage: Storage) -> None:
    t1 = datetime(2025, 6, 1, 0, 0, tzinfo=UTC)
    t2 = datetime(2025, 6, 2, 0, 0, tzinfo=UTC)
    early = RegistryService(reg_storage, clock=lambda: t1)
    late = RegistryService(reg_storage, clock=lambda: t2)
    result, _ = move_in_family(early, "誤記", "ゴキ", with_child=False)
    wife = result.atena_numbers[1]
    late.submit(
        change_ctx(),
        Correction(
            idempotency_key=key(),
            event_date=date(2020, 4, 1),
            notified_on=None,
            atena_number=wife,
            fields={"name": "誤記　華子"},
            reason="氏名の誤記",
        ),
    )
    now_believed = late.person_as_of(read_ctx(), wife, date(2021, 1, 1))
    believed_before = late.person_as_of(
        read_ctx(), wife, date(2021, 1, 1), known_at=datetime(2025, 6, 1, 12, tzinfo=UTC)
    )
    assert now_believed is not None and now_believed.name == "誤記　華子"
    assert believed_before is not None and believed_before.name == "誤記　花子"
    everything = late.person_history(read_ctx(), wife, include_superseded=True)
    assert len(everything) == 2 and sum(v.superseded_at is not None for v in everything) == 1


def test_events_are_emitted_in_order_and_paged(svc: RegistryService) -> None:
    consumer = ctx(EVENTS)
    start = svc.events_since(consumer, 0, 1000)
    last = start[-1].seq if start else 0
    result, _ = move_in_family(svc, "順序", "ジュンジョ", with_child=False)
    head, wife = result.atena_numbers
    number = result.household_numbers[0]
    submit(
        svc,
        Birth,
        date(2025, 1, 5),
        None,
        household_number=number,
        child=person("順序　蓮", "ジュンジョ　レン", date(2025, 1, 5), "子"),
    )
    submit(svc, Death, date(2025, 2, 1), None, atena_number=head, new_head=wife)
    events = svc.events_since(consumer, last, 100)
    assert [e.event_type for e in events] == [
        EventType.MOVE_IN,
        EventType.MOVE_IN,
        EventType.BIRTH,
        EventType.DEATH,
        EventType.HOUSEHOLD_CHANGE,
    ]
    assert [e.seq for e in events] == list(range(last + 1, last + 6))
    assert events[0].atena_number == head and events[0].household_number == number
    assert events[2].payload["birth_date"] == "2025-01-05" and events[2].payload["head"] == head
    assert events[3].event_date == date(2025, 2, 1) and events[3].payload["change"] == "死亡"
    assert events[4].atena_number == wife and events[4].payload["relationship"] == "世帯主"
    assert events[0].recorded_at == NOW
    # paging: two at a time, resuming from the last seq seen
    seen: list[int] = []
    cursor = last
    while page := svc.events_since(consumer, cursor, 2):
        seen += [e.seq for e in page]
        cursor = page[-1].seq
    assert seen == [e.seq for e in events]


def test_event_feed_needs_a_permitted_purpose(svc: RegistryService) -> None:
    with pytest.raises(PermissionDenied):
        svc.events_since(ctx("platform.identity.admin"), 0, 10)
