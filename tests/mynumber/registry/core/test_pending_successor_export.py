"""Pending 転出 leave by the exit path (export → import elsewhere) as the registry has them: a 世帯主
who named the one who heads the household from his 転出予定日, and 転出 whose 転入通知 has not come
(still to be confirmed or cancelled, even past their 転出予定日)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from jichitai.mynumber.registry.migration.exporter import ExportOptions, export_file
from jichitai.mynumber.registry.service import CancelMoveOut, RegistryService
from jichitai.platform.errors import JichitaiError
from tests.conftest import add_demo_tenant, close_storage, ctx, make_settings, make_storage
from tests.mynumber.registry.core.support import change_ctx, key, move_in_family, read_ctx
from tests.mynumber.registry.core.test_history_order import _confirm, _move_out, _roles
from tests.mynumber.registry.migration.support import TODAY, read_file, run_import

DAY = date(2025, 6, 20)  # the 転出予定日, ahead of today (2025-06-02)
EXPORT = "platform.data.export"


def _round_trip(
    svc: RegistryService, tmp_path: Path, household: str, *persons: str
) -> dict[str, dict[str, str]]:
    """Export, import into another installation, compare each person's 続柄 and status around
    ``DAY`` and the household on the day before, export again: the same bytes. Returns the rows of
    ``persons`` (by 統合宛名番号)."""
    first = tmp_path / "first.csv"
    export_file(svc.storage, ctx(EXPORT), first, ExportOptions(today=TODAY))
    other = make_storage(make_settings(tmp_path / "other", svc.storage.settings.backend))
    try:
        add_demo_tenant(other)
        summary = run_import(other, first)
        assert summary.rows_rejected == 0
        there = RegistryService(other, clock=svc.clock)
        for on in (DAY - timedelta(days=1), DAY, date(2025, 7, 1)):
            assert _roles(there, on, *persons) == _roles(svc, on, *persons), on
        before = there.household_as_of(read_ctx(), household, DAY - timedelta(days=1)).members
        assert sorted(m.atena_number for m in before) == sorted(persons)
        second = tmp_path / "second.csv"
        export_file(other, ctx(EXPORT), second, ExportOptions(today=TODAY))
        assert second.read_bytes() == first.read_bytes()
    finally:
        close_storage(other)
    rows = read_file(first)
    return {a: rows[svc.person(read_ctx(), a).juminhyo_code] for a in persons}


def test_a_pending_successor_round_trips(svc: RegistryService, tmp_path: Path) -> None:
    result, _ = move_in_family(svc, "前田", "マエダ", on=date(2020, 4, 1))
    head, wife, son = result.atena_numbers
    _move_out(svc, (head,), DAY, remaining_head=wife, remaining_relationships={son: "夫の子"})
    rows = _round_trip(svc, tmp_path, result.household_numbers[0], head, wife, son)
    changed = [rows[wife], rows[son]]
    assert [(r["続柄"], r["異動事由"], r["異動日"]) for r in changed] == [
        ("世帯主", "世帯主変更", "2025-06-20"),
        ("夫の子", "続柄変更", "2025-06-20"),
    ]
    # what they were until then goes with them
    assert [rows[a]["異動前続柄"] for a in (head, wife, son)] == ["", "妻", "子"]


def test_a_relationship_restated_when_a_member_who_is_not_the_head_leaves_round_trips(
    svc: RegistryService, tmp_path: Path
) -> None:
    """Any 転出 may restate the 続柄 of those who stay; the wife's does, the 世帯主 stays (found by
    the state machine: the import refused it, expecting the 世帯主's 転出予定日)."""
    result, _ = move_in_family(svc, "森田", "モリタ", on=date(2020, 4, 1))
    head, wife, son = result.atena_numbers
    _move_out(svc, (wife,), DAY, remaining_relationships={son: "夫の子"})
    rows = _round_trip(svc, tmp_path, result.household_numbers[0], head, wife, son)
    assert (rows[son]["続柄"], rows[son]["異動事由"], rows[son]["異動日"], rows[son]["異動前続柄"]) == (
        "夫の子",
        "続柄変更",
        "2025-06-20",
        "子",
    )
    assert rows[head]["続柄"] == "世帯主"


def test_a_member_who_stays_after_all_heads_the_household_from_the_day(
    svc: RegistryService, tmp_path: Path
) -> None:
    """Both were to leave; the wife's 転出 is cancelled: she heads the household from the day he
    leaves, and was 妻 until then."""
    result, _ = move_in_family(svc, "松田", "マツダ", on=date(2020, 4, 1), with_child=False)
    head, wife = result.atena_numbers
    _move_out(svc, (head, wife), DAY)
    svc.submit(
        change_ctx(),
        CancelMoveOut(idempotency_key=key(), event_date=DAY, notified_on=TODAY, atena_number=wife),
    )
    rows = _round_trip(svc, tmp_path, result.household_numbers[0], head, wife)
    assert (rows[wife]["続柄"], rows[wife]["異動事由"], rows[wife]["異動前続柄"]) == (
        "世帯主",
        "転出取消",
        "妻",
    )


def test_a_move_out_awaiting_its_notice_can_still_be_confirmed_or_cancelled_after_leaving(
    svc: RegistryService, tmp_path: Path
) -> None:
    """The wife and the son filed a 転出 for 2025-05-20 (before today, 2025-06-02); the wife's
    転入通知 came (she left on the 18th), the son's has not."""
    result, _ = move_in_family(svc, "石田", "イシダ", on=date(2020, 4, 1))
    _, wife, son = result.atena_numbers
    left = date(2025, 5, 20)
    _move_out(svc, (son, wife), left)
    _confirm(svc, wife, date(2025, 5, 18))
    first = tmp_path / "first.csv"
    export_file(svc.storage, ctx(EXPORT), first, ExportOptions(today=TODAY, include_removed=True))
    rows = read_file(first)
    son_row = rows[svc.person(read_ctx(), son).juminhyo_code]
    wife_row = rows[svc.person(read_ctx(), wife).juminhyo_code]
    assert (son_row["異動事由"], son_row["消除日"], son_row["転出確定"]) == ("転出", "2025-05-20", "未確定")
    assert (wife_row["異動事由"], wife_row["消除日"], wife_row["転出確定"]) == ("転出", "2025-05-18", "確定")

    other = make_storage(make_settings(tmp_path / "other", svc.storage.settings.backend))
    try:
        add_demo_tenant(other)
        assert run_import(other, first).rows_rejected == 0
        there = RegistryService(other, clock=svc.clock)
        assert there.person(read_ctx(), son).move_out_confirmed is False
        assert there.person(read_ctx(), wife).move_out_confirmed is True
        with pytest.raises(JichitaiError, match="既に転出確定されています"):
            _confirm(there, wife, date(2025, 5, 18))
        # the 転入通知 arrives after the migration: the actual day replaces the 転出予定日
        _confirm(there, son, date(2025, 5, 19))
        moved = there.person(read_ctx(), son)
        assert (moved.move_out_confirmed, moved.removed_on) == (True, date(2025, 5, 19))
    finally:
        close_storage(other)


def test_a_move_out_awaiting_its_notice_can_be_cancelled_after_leaving(
    svc: RegistryService, tmp_path: Path
) -> None:
    result, _ = move_in_family(svc, "石井", "イシイ", on=date(2020, 4, 1))
    head, wife, son = result.atena_numbers
    _move_out(svc, (son,), date(2025, 5, 20))
    first = tmp_path / "first.csv"
    export_file(svc.storage, ctx(EXPORT), first, ExportOptions(today=TODAY, include_removed=True))
    other = make_storage(make_settings(tmp_path / "other", svc.storage.settings.backend))
    try:
        add_demo_tenant(other)
        assert run_import(other, first).rows_rejected == 0
        there = RegistryService(other, clock=svc.clock)
        there.submit(
            change_ctx(),
            CancelMoveOut(
                idempotency_key=key(), event_date=date(2025, 5, 20), notified_on=TODAY, atena_number=son
            ),
        )
        back = there.person(read_ctx(), son)
        assert (back.status, back.removed_on) == ("resident", None)
        members = there.household_as_of(read_ctx(), result.household_numbers[0], TODAY).members
        assert sorted(m.atena_number for m in members) == sorted((head, wife, son))
    finally:
        close_storage(other)
