"""転出取消: a 転出 notified in advance that did not happen."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from jichitai.mynumber.registry.errors import RegistryRefusal
from jichitai.mynumber.registry.migration.exporter import ExportOptions, export_file
from jichitai.mynumber.registry.service import (
    CancelMoveOut,
    ChangeResult,
    Correction,
    MoveOut,
    RegistryService,
)
from tests.conftest import ctx
from tests.mynumber.registry.core.support import move_in_family, read_ctx, submit
from tests.mynumber.registry.core.test_changes import refused
from tests.mynumber.registry.core.test_history_order import _confirm, _move_out, _name_change, _roles
from tests.mynumber.registry.migration.support import read_file

DAY = date(2025, 6, 20)  # the 転出予定日 (today is 2025-06-02)


def _cancel(svc: RegistryService, atena_number: str, on: date = DAY) -> ChangeResult:
    return submit(svc, CancelMoveOut, on, date(2025, 6, 2), atena_number=atena_number)


def test_a_cancelled_move_out_of_the_whole_household_leaves_it_as_it_was(
    svc: RegistryService, tmp_path: Path
) -> None:
    result, _ = move_in_family(svc, "高田", "タカダ", on=date(2020, 4, 1), with_child=False)
    head, wife = result.atena_numbers
    household = result.household_numbers[0]
    _move_out(svc, (head, wife), DAY)
    assert svc.household_as_of(read_ctx(), household, DAY).members == ()
    _cancel(svc, head)
    _cancel(svc, wife)
    assert _roles(svc, DAY, head, wife) == [("世帯主", "resident"), ("妻", "resident")]
    for atena in (head, wife):
        record = svc.person(read_ctx(), atena)
        assert (record.status, record.removal_reason, record.removed_on, record.moved_out_to) == (
            "resident",
            None,
            None,
            None,
        )
        assert record.address_since == date(2020, 4, 1)
    members = svc.household_as_of(read_ctx(), household, date(2025, 7, 1)).members
    assert sorted(m.atena_number for m in members) == sorted((head, wife))
    events = [e for e in svc.events_since(read_ctx(), 0, 1000) if e.atena_number == head]
    assert events[-1].event_type.value == "correction" and events[-1].payload["kind"] == "転出取消"
    # the interchange format knows the change (an unknown one would be exported as 移行)
    out = tmp_path / "export.csv"
    export_file(svc.storage, ctx("platform.data.export"), out, ExportOptions(today=date(2025, 6, 2)))
    exported = read_file(out)[svc.person(read_ctx(), head).juminhyo_code]
    assert (exported["異動事由"], exported["異動日"], exported["消除事由"]) == ("転出取消", "2025-06-20", "")
    # and a resident again can move out again
    _move_out(svc, (head, wife), date(2025, 6, 25))


def test_a_head_who_stays_takes_back_his_household(svc: RegistryService) -> None:
    """The 転出 made the son 世帯主 from the day; the father stays after all: the son is 子 again."""
    result, _ = move_in_family(svc, "岡本", "オカモト", on=date(2020, 4, 1))
    head, wife, son = result.atena_numbers
    _move_out(svc, (head, wife), DAY, remaining_head=son)
    assert _roles(svc, DAY, son) == [("世帯主", "resident")]
    cancelled = _cancel(svc, head)
    assert set(cancelled.atena_numbers) == {head, son}
    assert _roles(svc, DAY, head, wife, son) == [
        ("世帯主", "resident"),
        ("妻", "removed"),  # her 転出 stands
        ("子", "resident"),
    ]


def test_a_member_who_stays_heads_what_is_left_when_nobody_was_named(svc: RegistryService) -> None:
    result, _ = move_in_family(svc, "西田", "ニシダ", on=date(2020, 4, 1), with_child=False)
    head, wife = result.atena_numbers
    _move_out(svc, (head, wife), DAY)
    _cancel(svc, wife)
    assert _roles(svc, DAY, head, wife) == [("世帯主", "removed"), ("世帯主", "resident")]
    assert _roles(svc, date(2025, 6, 19), wife) == [("妻", "resident")]


def test_only_a_pending_move_out_on_its_own_day_can_be_cancelled(svc: RegistryService) -> None:
    result, _ = move_in_family(svc, "小池", "コイケ", on=date(2020, 4, 1))
    head, wife, son = result.atena_numbers
    with pytest.raises(RegistryRefusal) as exc:
        _cancel(svc, son)
    refused(exc, "転出の届出がないため転出取消はできません")
    _move_out(svc, (son,), DAY)
    with pytest.raises(RegistryRefusal) as exc:
        _cancel(svc, son, date(2025, 6, 1))
    refused(exc, "異動日には取り消す転出の転出予定日（2025-06-20）を入力してください")
    _confirm(svc, son, date(2025, 5, 30))
    with pytest.raises(RegistryRefusal) as exc:
        _cancel(svc, son, date(2025, 5, 30))
    refused(exc, "転出確定の後は転出取消はできません")
    submit(
        svc,
        MoveOut,
        date(2025, 6, 1),
        date(2025, 6, 1),
        persons=(wife,),
        destination="アメリカ合衆国",
        abroad=True,
    )
    with pytest.raises(RegistryRefusal) as exc:
        _cancel(svc, wife, date(2025, 6, 1))
    refused(exc, "国外転出は届出により確定しているため転出取消はできません")
    assert svc.person(read_ctx(), head).status == "resident"


def test_a_cancellation_does_not_undo_a_later_change_of_the_new_head(svc: RegistryService) -> None:
    """The son, 世帯主 from the 転出予定日, has a change recorded after it: what the 転出 made of him
    cannot be undone without erasing that, so the clerk corrects it first."""
    result, _ = move_in_family(svc, "平野", "ヒラノ", on=date(2020, 4, 1))
    head, _wife, son = result.atena_numbers
    _move_out(svc, (head,), date(2025, 5, 20), remaining_head=son)
    _name_change(svc, son, date(2025, 5, 28), "平野　一朗", "ヒラノ　イチロウ")
    with pytest.raises(RegistryRefusal) as exc:
        _cancel(svc, head, date(2025, 5, 20))
    refused(exc, "平野　一朗: 転出の後に異動が記録されているため、転出で変わった続柄を戻せません")
    assert svc.person(read_ctx(), head).status == "removed"


def test_a_correction_of_the_removed_record_stays_after_the_cancellation(svc: RegistryService) -> None:
    """A 職権修正 recorded on the 除票 for a day after the 転出予定日 (found by the state machine): the
    cancellation replaces the 除票 from the 転出予定日, and keeps the corrected value from then on."""
    result, _ = move_in_family(svc, "原田", "ハラダ", on=date(2020, 4, 1))
    _head, wife, _son = result.atena_numbers
    _move_out(svc, (wife,), date(2025, 5, 20))
    submit(
        svc,
        Correction,
        date(2025, 5, 28),
        None,
        atena_number=wife,
        fields={"previous_address": "大阪府堺市堺区南瓦町3-1"},
        reason="誤記",
    )
    _cancel(svc, wife, date(2025, 5, 20))
    on_the_day = svc.person_as_of(read_ctx(), wife, date(2025, 5, 20))
    assert on_the_day is not None and on_the_day.status == "resident"
    assert on_the_day.previous_address == "大阪府堺市堺区南瓦町3-1"
    assert svc.person(read_ctx(), wife).status == "resident"
