"""Change dates checked against all the recorded history, not only the current row.

Each case was found by the state machine over random change sequences
(``test_change_sequences.py``): a change dated before something already recorded rewrote or
contradicted it (a 世帯主 before their own last change, a household without 世帯主 on some days,
a person living in a household before it existed).
"""

from __future__ import annotations

from datetime import date

import pytest

from jichitai.mynumber.registry.errors import RegistryRefusal
from jichitai.mynumber.registry.service import (
    Birth,
    ChangeHead,
    ChangeResult,
    ConfirmMoveOut,
    Correction,
    Death,
    MoveIn,
    MoveOut,
    MoveWithin,
    NameChange,
    RegistryService,
)
from tests.mynumber.registry.core.support import (
    ADDRESS,
    block,
    move_in_family,
    person,
    read_ctx,
    submit,
)
from tests.mynumber.registry.core.test_changes import refused


def _name_change(svc: RegistryService, atena_number: str, on: date, name: str, kana: str) -> None:
    submit(svc, NameChange, on, on, atena_number=atena_number, name=name, name_kana=kana, reason="婚姻")


def _move_out(svc: RegistryService, persons: tuple[str, ...], expected: date, **roles: str) -> None:
    """A 転出届 to Yokohama filed on 2025-06-01 (or on the day, when that is earlier)."""
    submit(
        svc,
        MoveOut,
        expected,
        min(expected, date(2025, 6, 1)),
        persons=persons,
        destination="神奈川県横浜市中区本町1-1",
        **roles,
    )


def _confirm(
    svc: RegistryService, atena_number: str, moved_on: date, remaining_head: str | None = None
) -> ChangeResult:
    return submit(
        svc, ConfirmMoveOut, moved_on, None, atena_number=atena_number, remaining_head=remaining_head
    )


def _death(
    svc: RegistryService,
    atena_number: str,
    on: date,
    new_head: str | None = None,
    relationships: dict[str, str] | None = None,
) -> ChangeResult:
    return submit(
        svc, Death, on, None, atena_number=atena_number, new_head=new_head, relationships=relationships or {}
    )


def test_a_new_head_keeps_their_own_later_changes(svc: RegistryService) -> None:
    """The wife becomes 世帯主 on the day of the death, recorded after her later 氏名変更: the 続柄
    is laid over her record from that day, and the name change stays where it was."""
    result, _ = move_in_family(svc, "前田", "マエダ", on=date(2020, 4, 1))
    head, wife, child = result.atena_numbers
    _name_change(svc, wife, date(2021, 6, 1), "前田　花江", "マエダ　ハナエ")
    _death(svc, head, date(2021, 3, 1), new_head=wife, relationships={child: "子"})
    before, after = (svc.person_as_of(read_ctx(), wife, day) for day in (date(2021, 4, 1), date(2021, 7, 1)))
    assert before is not None and (before.name, before.relationship) == ("前田　花子", "世帯主")
    assert after is not None and (after.name, after.relationship) == ("前田　花江", "世帯主")
    assert svc.person_as_of(read_ctx(), wife, date(2021, 2, 28)).relationship == "妻"  # type: ignore[union-attr]


def test_a_returning_resident_is_not_dated_before_their_removal(svc: RegistryService) -> None:
    result, _ = move_in_family(svc, "岡田", "オカダ", on=date(2020, 4, 1), with_child=False)
    _head, wife = result.atena_numbers
    submit(
        svc,
        MoveOut,
        date(2022, 6, 1),
        date(2022, 6, 1),
        persons=(wife,),
        destination="アメリカ合衆国",
        abroad=True,
    )
    gone = svc.person(read_ctx(), wife)
    back = person(gone.name, gone.name_kana, gone.birth_date, "世帯主", sex="2")
    back = back.__class__(**{**back.__dict__, "juminhyo_code": gone.juminhyo_code})

    def come_back(on: date) -> None:
        submit(
            svc,
            MoveIn,
            on,
            on,
            persons=(back,),
            address=f"{ADDRESS}{block()}",
            previous_address="アメリカ合衆国",
            from_abroad=True,
        )

    with pytest.raises(RegistryRefusal) as exc:
        come_back(date(2022, 5, 1))
    refused(exc, "除票の最後の異動日（2022-06-01）より前です")
    come_back(date(2023, 1, 10))
    assert svc.person(read_ctx(), wife).status == "resident"


def test_a_backdated_correction_keeps_the_date_of_the_last_change(svc: RegistryService) -> None:
    result, _ = move_in_family(svc, "今井", "イマイ", on=date(2020, 4, 1), with_child=False)
    head, _wife = result.atena_numbers
    submit(
        svc,
        MoveWithin,
        date(2022, 6, 1),
        date(2022, 6, 1),
        household_number=result.household_numbers[0],
        address=f"{ADDRESS}{block()}",
    )
    submit(
        svc,
        Correction,
        date(2021, 1, 1),
        None,
        atena_number=head,
        fields={"name_kana": "イマイ　タロー"},
        reason="届出書の記載誤り",
    )
    record = svc.person(read_ctx(), head)
    assert record.name_kana == "イマイ　タロー"
    assert (record.last_change, record.last_change_on) == ("転居", date(2022, 6, 1))
    with pytest.raises(RegistryRefusal) as exc:
        _name_change(svc, head, date(2022, 3, 1), "今井　太一", "イマイ　タイチ")
    refused(exc, "直前の異動日（2022-06-01）より前です")


def test_a_birth_is_not_dated_before_the_household_s_present_address(svc: RegistryService) -> None:
    result, _ = move_in_family(svc, "小野", "オノ", on=date(2020, 4, 1), with_child=False)
    household = result.household_numbers[0]
    submit(
        svc,
        MoveWithin,
        date(2024, 6, 1),
        date(2024, 6, 1),
        household_number=household,
        address=f"{ADDRESS}{block()}",
    )

    def born(on: date) -> None:
        submit(
            svc,
            Birth,
            on,
            on,
            household_number=household,
            child=person("小野　陽太", "オノ　ヨウタ", on, "子"),
        )

    with pytest.raises(RegistryRefusal) as exc:
        born(date(2024, 5, 1))
    refused(exc, f"世帯{household}の現住所を定めた日（2024-06-01）より前です")
    with pytest.raises(RegistryRefusal) as exc:
        born(date(2019, 5, 1))
    refused(exc, f"世帯{household}の設けられた日（2020-04-01）より前です")
    born(date(2024, 6, 3))


def test_a_member_whose_move_out_lies_ahead_still_lives_in_the_household(svc: RegistryService) -> None:
    """The wife's 転出予定日 is after the head's death: she lives in the household until then, so it
    needs a 世帯主 and is not dissolved at his death. She becomes 世帯主 that day and leaves as one;
    her recorded 転出 is kept."""
    result, _ = move_in_family(svc, "松井", "マツイ", on=date(2020, 4, 1), with_child=False)
    head, wife = result.atena_numbers
    household = result.household_numbers[0]
    _move_out(svc, (wife,), date(2025, 6, 20))

    with pytest.raises(RegistryRefusal) as exc:
        _death(svc, head, date(2025, 5, 28))
    refused(exc, "新しい世帯主を指定してください")
    assert set(_death(svc, head, date(2025, 5, 28), new_head=wife).atena_numbers) == {head, wife}
    that_day = svc.household_as_of(read_ctx(), household, date(2025, 6, 1))
    assert that_day.head is not None and that_day.head.atena_number == wife
    assert [m.atena_number for m in that_day.members] == [wife]
    record = svc.person(read_ctx(), wife)
    assert (record.relationship, record.removal_reason, record.removed_on) == (
        "世帯主",
        "転出",
        date(2025, 6, 20),
    )
    assert svc.person_as_of(read_ctx(), wife, date(2025, 5, 27)).relationship == "妻"  # type: ignore[union-attr]


def test_a_restated_relationship_does_not_erase_a_later_one(svc: RegistryService) -> None:
    """A member whose 続柄 changed after the change's date cannot be restated before it (the later
    change would be lost): refused, as before."""
    result, _ = move_in_family(svc, "平野", "ヒラノ", on=date(2020, 4, 1), with_child=False)
    head, wife = result.atena_numbers
    household = result.household_numbers[0]
    submit(
        svc,
        ChangeHead,
        date(2025, 5, 1),
        date(2025, 5, 1),
        household_number=household,
        new_head=wife,
        relationships={head: "夫"},
    )
    with pytest.raises(RegistryRefusal) as exc:
        _death(svc, head, date(2025, 4, 1), new_head=wife)
    refused(exc, "直前の異動日（2025-05-01）より前です")


def test_a_move_out_confirmed_early_is_not_dated_before_the_changes_before_it(svc: RegistryService) -> None:
    result, _ = move_in_family(svc, "森", "モリ", on=date(2020, 4, 1), with_child=False)
    _head, wife = result.atena_numbers
    _name_change(svc, wife, date(2025, 5, 1), "森　花江", "モリ　ハナエ")
    _move_out(svc, (wife,), date(2025, 6, 20))
    with pytest.raises(RegistryRefusal) as exc:
        _confirm(svc, wife, date(2025, 4, 30))
    refused(exc, "転出前の最後の異動日（2025-05-01）より前です")


def test_a_head_confirmed_to_leave_early_takes_the_new_head_s_start_with_him(svc: RegistryService) -> None:
    result, _ = move_in_family(svc, "村上", "ムラカミ", on=date(2020, 4, 1), with_child=False)
    head, wife = result.atena_numbers
    _move_out(svc, (head,), date(2025, 6, 20), remaining_head=wife)
    confirmed = _confirm(svc, head, date(2025, 5, 30))
    assert set(confirmed.atena_numbers) == {head, wife}
    on_the_day = svc.person_as_of(read_ctx(), wife, date(2025, 5, 30))
    assert on_the_day is not None and on_the_day.relationship == "世帯主"
    before = svc.person_as_of(read_ctx(), wife, date(2025, 5, 29))
    assert before is not None and before.relationship == "妻"
    assert svc.person_as_of(read_ctx(), head, date(2025, 5, 30)).status == "removed"  # type: ignore[union-attr]


def test_a_head_confirmed_to_leave_before_his_successor_was_born_is_refused(svc: RegistryService) -> None:
    """The 転出 made a child born that very day 世帯主: confirming it for an earlier day would have
    made the child 世帯主 before birth (found by the state machine)."""
    result, _ = move_in_family(svc, "野口", "ノグチ", on=date(2020, 4, 1), with_child=False)
    head, _wife = result.atena_numbers
    household = result.household_numbers[0]
    born = submit(
        svc,
        Birth,
        date(2025, 6, 1),
        date(2025, 6, 1),
        household_number=household,
        child=person("野口　陽菜", "ノグチ　ヒナ", date(2025, 6, 1), "子", sex="2"),
    )
    (child,) = born.atena_numbers
    _move_out(svc, (head,), date(2025, 6, 1), remaining_head=child)
    with pytest.raises(RegistryRefusal) as exc:
        _confirm(svc, head, date(2025, 5, 25))
    refused(exc, "野口　陽菜", "生年月日より前です")
    assert svc.person(read_ctx(), head).removed_on == date(2025, 6, 1)
    assert svc.person_as_of(read_ctx(), child, date(2025, 5, 31)) is None


def test_someone_may_join_before_a_younger_member_s_birth(svc: RegistryService) -> None:
    """The household's address dates from its earliest member there: a child's 住所を定めた日 is their
    birth, and does not stop a late-notified 転入 dated before it."""
    result, address = move_in_family(svc, "大野", "オオノ", on=date(2020, 4, 1), with_child=False)
    household = result.household_numbers[0]
    submit(
        svc,
        Birth,
        date(2025, 5, 10),
        date(2025, 5, 12),
        household_number=household,
        child=person("大野　蓮", "オオノ　レン", date(2025, 5, 10), "子"),
    )
    joined = submit(
        svc,
        MoveIn,
        date(2025, 5, 1),
        date(2025, 5, 20),
        persons=(person("大野　トメ", "オオノ　トメ", date(1950, 1, 5), "母", sex="2"),),
        address=address,
        previous_address="大阪府大阪市北区梅田1-1-1",
        household_number=household,
    )
    assert joined.late_notification
    members = svc.household_as_of(read_ctx(), household, date(2025, 5, 5)).members
    assert len(members) == 3


def _roles(svc: RegistryService, day: date, *atena_numbers: str) -> list[tuple[str, str] | None]:
    """(続柄, status) of each person on ``day``, as recorded now."""
    out: list[tuple[str, str] | None] = []
    for a in atena_numbers:
        p = svc.person_as_of(read_ctx(), a, day)
        out.append(None if p is None else (p.relationship, p.status))
    return out


def test_a_member_confirmed_to_leave_before_the_head_leaves_the_new_head_where_it_was(
    svc: RegistryService,
) -> None:
    """Husband and wife leave by one 転出, their son stays as 世帯主 from the 転出予定日. The wife is
    confirmed to have left early: the husband is still 世帯主 until he leaves, so the son's start
    does not move with her (it did, and two 世帯主 were refused)."""
    result, _ = move_in_family(svc, "松本", "マツモト", on=date(2020, 4, 1))
    head, wife, son = result.atena_numbers
    _move_out(svc, (head, wife), date(2025, 6, 20), remaining_head=son)
    _confirm(svc, wife, date(2025, 5, 20))
    assert _roles(svc, date(2025, 5, 20), head, wife, son) == [
        ("世帯主", "resident"),
        ("妻", "removed"),
        ("子", "resident"),
    ]
    assert _roles(svc, date(2025, 6, 20), head, son) == [("世帯主", "removed"), ("世帯主", "resident")]
    # the husband confirmed earlier still: his son takes over on his day, the wife stays till hers
    _confirm(svc, head, date(2025, 5, 10))
    assert _roles(svc, date(2025, 5, 9), head, wife, son)[2] == ("子", "resident")
    assert _roles(svc, date(2025, 5, 10), head, wife, son) == [
        ("世帯主", "removed"),
        ("妻", "resident"),
        ("世帯主", "resident"),
    ]


def test_a_head_who_left_first_leaves_the_one_who_left_later_as_head(svc: RegistryService) -> None:
    """Both left by one 転出, nobody stayed; the 転入通知 say the wife left ten days after her husband.
    In between she was 世帯主 of her household of one: recorded without being asked, since her own
    day is confirmed."""
    result, _ = move_in_family(svc, "井上", "イノウエ", on=date(2020, 4, 1), with_child=False)
    head, wife = result.atena_numbers
    household = result.household_numbers[0]
    _move_out(svc, (head, wife), date(2025, 6, 20))
    _confirm(svc, wife, date(2025, 5, 20))
    confirmed = _confirm(svc, head, date(2025, 5, 10))
    assert set(confirmed.atena_numbers) == {head, wife}
    assert _roles(svc, date(2025, 5, 9), head, wife) == [("世帯主", "resident"), ("妻", "resident")]
    assert _roles(svc, date(2025, 5, 10), head, wife) == [("世帯主", "removed"), ("世帯主", "resident")]
    assert _roles(svc, date(2025, 5, 20), wife) == [("世帯主", "removed")]
    members = svc.household_as_of(read_ctx(), household, date(2025, 5, 15)).members
    assert [m.atena_number for m in members] == [wife]


def test_a_head_who_left_first_names_the_head_of_those_still_pending(svc: RegistryService) -> None:
    """The wife's own 転出確定 has not come yet: she may turn out to have left the same day, so she is
    not made 世帯主 unasked. The clerk either confirms her first or names her."""
    result, _ = move_in_family(svc, "木村", "キムラ", on=date(2020, 4, 1), with_child=False)
    head, wife = result.atena_numbers
    _move_out(svc, (head, wife), date(2025, 6, 20))
    with pytest.raises(RegistryRefusal) as exc:
        _confirm(svc, head, date(2025, 5, 10))
    refused(
        exc,
        "木村　花子が世帯主のいない世帯に残ります",
        "残る世帯の新しい世帯主を指定するか、",
        "同じ日に転出した場合は先に木村　花子の転出確定を記録してください",
    )
    _confirm(svc, head, date(2025, 5, 10), remaining_head=wife)
    # she is 世帯主 from his day and leaves as 世帯主 on her 転出予定日, still pending
    assert _roles(svc, date(2025, 5, 10), head, wife) == [("世帯主", "removed"), ("世帯主", "resident")]
    assert _roles(svc, date(2025, 6, 20), wife) == [("世帯主", "removed")]
    assert svc.person(read_ctx(), wife).move_out_confirmed is False


def test_a_new_head_named_on_confirmation_must_be_one_who_stayed(svc: RegistryService) -> None:
    result, _ = move_in_family(svc, "清水", "シミズ", on=date(2020, 4, 1))
    head, wife, son = result.atena_numbers
    _move_out(svc, (head, wife, son), date(2025, 6, 20))
    _confirm(svc, son, date(2025, 5, 10))
    _confirm(svc, wife, date(2025, 5, 20))

    with pytest.raises(RegistryRefusal) as exc:
        _confirm(svc, head, date(2025, 5, 15), remaining_head=son)  # gone on 05-10
    refused(exc, f"新しい世帯主（統合宛名番号 {son}）は2025-05-15に世帯に残る者ではありません")
    # the wife alone stayed, her day confirmed: she is 世帯主 without being named
    _confirm(svc, head, date(2025, 5, 15))
    assert _roles(svc, date(2025, 5, 15), wife) == [("世帯主", "resident")]


def test_a_new_head_is_named_on_confirmation_only_when_the_head_left_first(svc: RegistryService) -> None:
    result, _ = move_in_family(svc, "山口", "ヤマグチ", on=date(2020, 4, 1))
    head, wife, son = result.atena_numbers
    _move_out(svc, (head,), date(2025, 6, 20), remaining_head=wife)
    with pytest.raises(RegistryRefusal) as exc:
        _confirm(svc, head, date(2025, 5, 10), remaining_head=son)
    refused(exc, "新しい世帯主は転出の届出で指定されているため、ここでは指定できません")
    assert svc.person(read_ctx(), head).move_out_confirmed is False


def test_a_death_before_the_move_out_day_replaces_the_pending_move_out(svc: RegistryService) -> None:
    """Husband and wife filed a 転出 (their son stays as 世帯主); the husband dies before the day.
    He never moved: his 除票 is by death, and his son is 世帯主 from that day (it was refused as
    the 死亡 of a 除票, so a death before the move could not be recorded)."""
    result, _ = move_in_family(svc, "中島", "ナカジマ", on=date(2020, 4, 1))
    head, wife, son = result.atena_numbers
    _move_out(svc, (head, wife), date(2025, 6, 20), remaining_head=son)
    died = _death(svc, head, date(2025, 5, 10))
    assert set(died.atena_numbers) == {head, son}
    record = svc.person(read_ctx(), head)
    assert (record.removal_reason, record.removed_on) == ("死亡", date(2025, 5, 10))
    assert record.moved_out_to is None
    assert _roles(svc, date(2025, 5, 9), head, son) == [("世帯主", "resident"), ("子", "resident")]
    assert _roles(svc, date(2025, 5, 10), head, wife, son) == [
        ("世帯主", "removed"),
        ("妻", "resident"),
        ("世帯主", "resident"),
    ]
    assert _roles(svc, date(2025, 6, 20), wife) == [("妻", "removed")]  # her 転出 stands
    events = [e for e in svc.events_since(read_ctx(), 0, 1000) if e.atena_number == head]
    assert events[-1].event_type.value == "death" and events[-1].payload["replaces_move_out"] is True


def test_a_member_s_death_before_the_move_out_day_leaves_the_head_s_move_out_as_it_was(
    svc: RegistryService,
) -> None:
    result, _ = move_in_family(svc, "石川", "イシカワ", on=date(2020, 4, 1))
    head, wife, son = result.atena_numbers
    _move_out(svc, (head, wife), date(2025, 6, 20), remaining_head=son)
    _death(svc, wife, date(2025, 5, 10))
    assert svc.person(read_ctx(), wife).removal_reason == "死亡"
    assert _roles(svc, date(2025, 5, 10), head, son) == [("世帯主", "resident"), ("子", "resident")]
    assert _roles(svc, date(2025, 6, 20), head, son) == [("世帯主", "removed"), ("世帯主", "resident")]
    # after the day he has moved: his death is the new municipality's to record
    with pytest.raises(RegistryRefusal) as exc:
        _death(svc, head, date(2025, 6, 20))
    refused(exc, "除票（消除された住民）のため死亡は記録できません")


def test_a_head_s_death_before_a_move_out_with_nobody_staying_names_the_new_head(
    svc: RegistryService,
) -> None:
    result, _ = move_in_family(svc, "前川", "マエカワ", on=date(2020, 4, 1), with_child=False)
    head, wife = result.atena_numbers
    _move_out(svc, (head, wife), date(2025, 6, 20))
    with pytest.raises(RegistryRefusal) as exc:
        _death(svc, head, date(2025, 5, 10))
    refused(exc, "世帯主が転出予定日より前に死亡したため、前川　花子が世帯主のいない世帯に残ります")
    _death(svc, head, date(2025, 5, 10), new_head=wife)
    assert _roles(svc, date(2025, 5, 10), wife) == [("世帯主", "resident")]
    assert _roles(svc, date(2025, 6, 20), wife) == [("世帯主", "removed")]
